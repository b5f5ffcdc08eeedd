"""Routers that decline a request outside their paths without trying each route.

FastAPI (0.165) finds a request's route by asking every included router in turn, and
each router tries each of its routes (about 20,000 CPU instructions a route, counted
with callgrind). Nothing skips a router whose paths cannot match: a request for
``/partner`` paid for the health, sign-in and account routes first, and a member's
link (``/u/...``, ``/p/...``), the service's most frequent request, for about a hundred
routes, some 2.5 million instructions before its handler ran (bench/HISTORY.md).

:class:`Router` knows the first path segments its routes can start with (its prefix's,
or those of its routes when it has none) and declines any other path at once. A path
it declines could match none of its routes, so routing answers exactly as before:
the same route, the same 404 or 405, the same redirect for a trailing slash.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter
from fastapi.routing import APIRoute
from starlette._utils import get_route_path
from starlette.routing import Match
from starlette.types import Scope

from dispatch.web.access import admitted_in_handler


def first_segment(path: str) -> str:
    """``"/partner/creatives"`` → ``"partner"``; ``"/"`` → ``""``."""
    return path[1:].partition("/")[0]


class Router(APIRouter):
    """An :class:`~fastapi.APIRouter` that declines paths outside its first segments.

    Include it in the app without a prefix of the include's own (the segments come from
    the router's prefix and its routes' paths); a route whose path starts with a
    parameter, or a router it includes without a prefix of its own, turns the shortcut
    off, and the router then matches as a plain APIRouter does.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._segments: frozenset[str] | None = None
        self._segments_of = -1  # len(self.routes) when _segments was worked out

    def segments(self) -> frozenset[str] | None:
        """The first segments a matching path can have, or None for any."""
        if self._segments_of != len(self.routes):  # routes added since: work it out again
            self._segments = self._first_segments()
            self._segments_of = len(self.routes)
        return self._segments

    def _first_segments(self) -> frozenset[str] | None:
        if self.prefix:
            return frozenset({first_segment(self.prefix)})
        heads = set()
        for route in self.routes:
            if not isinstance(route, APIRoute):
                return None
            head = first_segment(route.path)
            if "{" in head:
                return None
            heads.add(head)
        return frozenset(heads)

    def add_api_route(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        super().add_api_route(path, admitted_in_handler(endpoint), **kwargs)

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        segments = self.segments()
        if segments is not None and first_segment(get_route_path(scope)) not in segments:
            return Match.NONE, {}
        return super().matches(scope)
