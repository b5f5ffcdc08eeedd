"""The request's database session: one transaction per request, and none for a route
that only reads (on PostgreSQL), which still records a session's sliding expiry."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import pytest
from fastapi import Depends, Request
from fastapi.routing import APIRoute
from sqlalchemy import select, text, update

from dispatch.accounts import services as accounts
from dispatch.accounts.models import ApiToken, WebSession
from dispatch.accounts.roles import Action
from dispatch.creatives.models import Partner
from dispatch.db.engine import session_scope
from dispatch.db.types import utcnow
from dispatch.web.access import DB, Principal, reads_only, require
from dispatch.web.problems import Problem
from tests.web.access_routes import api_routes
from tests.web.conftest import Site

Viewer = Annotated[Principal, Depends(require(Action.PARTNER_VIEW))]


def test_only_get_routes_are_marked_as_reading_only(site: Site) -> None:
    marked = {
        (path, method)
        for path, methods, route in api_routes(site.app)
        if isinstance(route, APIRoute) and getattr(route.endpoint, "reads_only", False)
        for method in methods
    }
    # The routes that bench/serve.py measures are among them.
    assert {("/partner", "GET"), ("/api/v1/campaigns", "GET")} <= marked
    assert {method for _, method in marked} <= {"GET", "HEAD"}


def _add_probes(site: Site) -> None:
    """Two routes that report whether the request's connection is in a transaction."""

    def state(session: DB) -> dict[str, bool]:
        session.execute(text("SELECT 1"))
        connection = session.connection().connection.dbapi_connection
        assert connection is not None
        return {"in_transaction": connection.info.transaction_status.name == "INTRANS"}

    @reads_only
    def read_probe(request: Request, session: DB, me: Viewer) -> dict[str, bool]:
        if request.query_params.get("fail"):
            raise Problem(409, "the probe fails on request")
        return state(session)

    def write_probe(session: DB, me: Viewer) -> dict[str, bool]:
        return state(session)

    site.app.router.add_api_route("/api/v1/probe/read", read_probe, methods=["GET"])
    site.app.router.add_api_route("/api/v1/probe/write", write_probe, methods=["GET"])


# SQLite may share one connection between requests, so there every route keeps its
# transaction (and pysqlite opens one only at the first write: nothing to probe).
@pytest.mark.parametrize(
    "db_url", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)
def test_a_route_that_only_reads_has_no_transaction_on_postgresql(site: Site) -> None:
    _add_probes(site)
    client = site.api("a_viewer", scope="read")

    read = client.get("/api/v1/probe/read")
    write = client.get("/api/v1/probe/write")

    assert read.status_code == write.status_code == 200
    assert write.json() == {"in_transaction": True}
    assert read.json() == {"in_transaction": False}
    # A read route that fails answers its error and gives its connection back.
    failed = client.get("/api/v1/probe/read", params={"fail": "1"})
    assert failed.status_code == 409
    assert site.app.state.engine.pool.checkedout() == 0


def test_an_error_page_after_a_rollback_still_names_the_signed_in_user(site: Site) -> None:
    """The principal is plain values, not an ORM object that the rollback of a failed
    request expires: the error page's header still says who is signed in, on a partner
    route as on a staff one."""

    def fails_after_a_write(session: DB, me: Viewer) -> None:
        session.add(Partner(name="Rolled Back"))
        session.flush()
        raise Problem(409, "the probe fails after writing")

    site.app.router.add_api_route("/partner/probe/fail", fails_after_a_write, methods=["GET"])
    browser = site.client("a_viewer")

    failed = browser.get("/partner/probe/fail")

    assert failed.status_code == 409
    assert "A Viewer" in failed.text and "the probe fails after writing" in failed.text
    with session_scope(site.engine) as session:
        assert session.scalar(select(Partner.id).where(Partner.name == "Rolled Back")) is None
    assert site.app.state.engine.pool.checkedout() == 0


def test_a_refusal_page_says_who_is_signed_in(site: Site) -> None:
    """A partner user who opens a staff page is refused with their own navigation, so
    that they can find their way back (and a staff user likewise on a partner page)."""
    refused = site.client("a_viewer").get("/staff")

    assert refused.status_code == 403
    assert "A Viewer" in refused.text and 'href="/partner/creatives"' in refused.text
    assert 'href="/staff/audit"' not in refused.text


def test_a_route_that_only_reads_still_slides_the_session_and_records_the_token_use(
    site: Site,
) -> None:
    browser = site.client("a_viewer")
    api = site.api("a_viewer", scope="read")
    assert browser.get("/partner").status_code == 200
    assert api.get("/api/v1/campaigns").status_code == 200
    # Make the last use older than the minute in which nothing is written.
    long_ago = utcnow() - accounts.TOUCH_EVERY - dt.timedelta(minutes=5)
    with session_scope(site.engine) as session:
        idle_end = long_ago + accounts.SESSION_IDLE
        session.execute(update(WebSession).values(last_seen_at=long_ago, expires_at=idle_end))
        session.execute(update(ApiToken).values(last_used_at=long_ago))

    assert browser.get("/partner").status_code == 200
    assert api.get("/api/v1/campaigns").status_code == 200

    with session_scope(site.engine) as session:
        seen = session.scalars(select(WebSession.last_seen_at)).all()
        used = session.scalars(select(ApiToken.last_used_at)).all()
        expiries = session.scalars(select(WebSession.expires_at)).all()
    assert seen and all(value > long_ago for value in seen)
    assert used and all(value is not None and value > long_ago for value in used)
    assert all(value > long_ago + accounts.SESSION_IDLE for value in expiries)


@pytest.mark.parametrize(
    "db_url", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)
def test_a_route_that_only_reads_may_not_lock_rows(site: Site) -> None:
    """Without a transaction a lock would end with its statement: refused, loudly."""
    locking = select(Partner.id).with_for_update()

    @reads_only
    def read_lock(session: DB, me: Viewer) -> dict[str, int]:
        return {"partners": len(session.scalars(locking).all())}

    def write_lock(session: DB, me: Viewer) -> dict[str, int]:
        return {"partners": len(session.scalars(locking).all())}

    site.app.router.add_api_route("/api/v1/probe/read-lock", read_lock, methods=["GET"])
    site.app.router.add_api_route("/api/v1/probe/write-lock", write_lock, methods=["GET"])
    client = site.api("a_viewer", scope="read")

    assert client.get("/api/v1/probe/write-lock").json() == {"partners": 3}
    refused = client.get("/api/v1/probe/read-lock")
    assert refused.status_code == 500
    assert "reads_only" not in refused.text  # the reason is logged, not shown
    # The other routes' sessions, on the same pool, still lock as before.
    assert client.get("/api/v1/probe/write-lock").status_code == 200
    assert site.app.state.engine.pool.checkedout() == 0
