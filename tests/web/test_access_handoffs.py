"""The access check in the handler's own thread-pool call, where nothing else needs
checking between the two (``admitted_in_handler`` in dispatch/web/access.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated, Any

import anyio.to_thread
import pytest
from fastapi import Depends, Request

from dispatch.accounts.roles import Action
from dispatch.web.access import DB, Principal, admitted_in_handler, require
from dispatch.web.routing import Router
from tests.web.conftest import Site

Viewer = Annotated[Principal, Depends(require(Action.PARTNER_VIEW))]


@pytest.fixture
def handed_off(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The names of the functions the app hands to the thread pool, in order."""
    names: list[str] = []
    real = anyio.to_thread.run_sync

    async def run_sync(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        # A functools.partial; FastAPI's wraps a handler as its ``function`` argument.
        inner = getattr(func, "keywords", {}).get("function", getattr(func, "func", func))
        names.append(getattr(inner, "__name__", repr(inner)))
        return await real(func, *args, **kwargs)

    monkeypatch.setattr(anyio.to_thread, "run_sync", run_sync)
    yield names


def test_the_dashboard_is_checked_and_served_in_one_thread_pool_call(
    site: Site, handed_off: list[str]
) -> None:
    client = site.client("a_editor")
    handed_off.clear()
    assert client.get("/partner").status_code == 200
    # The commit (``_end``) is a call of its own where the route has a transaction.
    assert [name for name in handed_off if name != "_end"] == ["dashboard"]


def test_a_route_with_other_inputs_keeps_the_check_a_dependency(
    site: Site, handed_off: list[str]
) -> None:
    client = site.client("a_editor")
    handed_off.clear()
    assert client.get("/partner/creatives").status_code == 200
    assert [name for name in handed_off if name != "_end"] == ["dependency", "creatives_page"]


def test_only_routes_without_other_inputs_are_wrapped() -> None:
    def bare(request: Request, session: DB, me: Viewer) -> None: ...

    def with_path(session: DB, me: Viewer, version_id: str) -> None: ...

    async def asynchronous(session: DB, me: Viewer) -> None: ...

    def public(request: Request, session: DB) -> None: ...

    assert admitted_in_handler(bare) is not bare
    for unchanged in (with_path, asynchronous, public):
        assert admitted_in_handler(unchanged) is unchanged


def test_answers_are_those_of_the_check_as_a_dependency(site: Site) -> None:
    ran: list[str] = []
    router = Router()

    def bare(request: Request, session: DB, me: Viewer) -> dict[str, str]:
        ran.append("bare")
        return {"me": me.name}

    def with_query(session: DB, me: Viewer, page: int) -> dict[str, int]:
        ran.append("with_query")
        return {"page": page}

    router.add_api_route("/api/v1/probe/bare", bare)
    router.add_api_route("/api/v1/probe/query", with_query)
    site.app.include_router(router)

    anonymous = site.anonymous()
    assert anonymous.get("/api/v1/probe/bare").status_code == 401
    # Not 422: the check still comes before the query is validated.
    assert anonymous.get("/api/v1/probe/query", params={"page": "x"}).status_code == 401
    staff = site.api("auditor")
    assert staff.get("/api/v1/probe/bare").status_code == 403
    assert staff.get("/api/v1/probe/query", params={"page": "x"}).status_code == 403
    assert ran == []  # no handler ran for a refused caller

    partner = site.api("a_viewer", scope="read")
    answer = partner.get("/api/v1/probe/bare")
    assert answer.status_code == 200 and answer.json() == {"me": "a_viewer"}
    assert partner.get("/api/v1/probe/query", params={"page": "x"}).status_code == 422
    assert partner.get("/api/v1/probe/query", params={"page": "3"}).json() == {"page": 3}
    assert ran == ["bare", "with_query"]
