"""Which action a route declared: read from its dependencies, as the service sees it."""

from __future__ import annotations

import fastapi.routing
from fastapi import FastAPI
from fastapi.routing import APIRoute

from dispatch.accounts.roles import Action
from dispatch.register.tokens import LinkPurpose


def _declared(route: APIRoute, attribute: str) -> list[object]:
    found: list[object] = []
    pending = list(route.dependant.dependencies)
    while pending:
        dependant = pending.pop()
        value = getattr(dependant.call, attribute, None)
        if value is not None:
            found.append(value)
        pending.extend(dependant.dependencies)
    assert len(set(found)) <= 1, f"{route.path} declares several {attribute}s: {found}"
    return found


def route_action(route: APIRoute) -> Action | None:
    """The action a route declared through ``require`` (None: a public route)."""
    found = _declared(route, "action")
    return Action(str(found[0])) if found else None


def route_member_link(route: APIRoute) -> LinkPurpose | None:
    """The member link a member route is opened by (``access.member_link`` or
    ``access.member_visit``), or None."""
    found = _declared(route, "member_link")
    return LinkPurpose(str(found[0])) if found else None


def api_routes(app: FastAPI) -> list[tuple[str, set[str], APIRoute]]:
    """Every API route of ``app`` as (full path, methods, route).

    Newer FastAPI keeps included routers as objects of their own; its
    ``iter_route_contexts`` gives each route with its full path.
    """
    contexts = getattr(fastapi.routing, "iter_route_contexts", None)
    found: list[tuple[str, set[str], APIRoute]] = []
    if contexts is not None:
        for context in contexts(app.routes):
            if isinstance(context.route, APIRoute):
                found.append((context.path, set(context.methods or ()), context.route))
    else:
        for route in app.routes:
            if isinstance(route, APIRoute):
                found.append((route.path, set(route.methods), route))
    assert found, "no routes found: has FastAPI changed how it keeps them?"
    return found
