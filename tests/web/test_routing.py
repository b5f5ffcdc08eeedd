"""Routers that decline paths outside their first segments (dispatch/web/routing.py)."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from starlette.routing import Match
from starlette.types import Scope

from dispatch.web import app as web_app
from dispatch.web.routing import Router, first_segment
from tests.web.conftest import PARTNER_A, Site


def test_first_segment() -> None:
    assert first_segment("/partner/creatives/x") == "partner"
    assert first_segment("/partner") == "partner"
    assert first_segment("/") == ""
    assert first_segment("/api/v1/campaigns") == "api"


def test_segments_come_from_the_prefix_or_else_the_routes() -> None:
    prefixed = Router(prefix="/partner")
    prefixed.add_api_route("/x", lambda: None)
    assert prefixed.segments() == frozenset({"partner"})

    bare = Router()
    bare.add_api_route("/login", lambda: None)
    bare.add_api_route("/", lambda: None)
    assert bare.segments() == frozenset({"login", ""})
    bare.add_api_route("/account/tokens", lambda: None)  # added later: seen
    assert bare.segments() == frozenset({"login", "", "account"})

    bare.add_api_route("/{anything}", lambda: None)  # could match any first segment
    assert bare.segments() is None


@pytest.fixture
def tried(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The paths of the routes that routing tries, in order."""
    paths: list[str] = []
    real = APIRoute.matches

    def matches(self: APIRoute, scope: Scope) -> tuple[Match, Scope]:
        paths.append(self.path)
        return real(self, scope)

    monkeypatch.setattr(APIRoute, "matches", matches)
    yield paths


def two_routers() -> TestClient:
    app = FastAPI()
    first = Router()
    for name in ("one", "two", "three"):
        first.add_api_route(f"/{name}", lambda: {"at": "first"})
    second = Router(prefix="/second")
    second.add_api_route("/item/{key}", lambda key: {"key": key})
    second.add_api_route("/form", lambda: {"posted": True}, methods=["POST"])
    app.include_router(first)
    app.include_router(second)
    return TestClient(app)


def test_a_router_declines_other_paths_without_trying_its_routes(tried: list[str]) -> None:
    client = two_routers()
    response = client.get("/second/item/7")
    assert response.json() == {"key": "7"}
    assert "/one" not in tried and "/two" not in tried and "/three" not in tried


def test_answers_are_those_of_plain_routers(tried: list[str]) -> None:
    client = two_routers()
    assert client.get("/two").json() == {"at": "first"}
    assert client.get("/nowhere").status_code == 404
    assert client.get("/second/nowhere").status_code == 404
    assert client.get("/second/form").status_code == 405  # a path of its, another method
    redirected = client.get("/two/", follow_redirects=False)
    assert redirected.status_code == 307
    assert redirected.headers["location"].endswith("/two")


def test_every_router_of_the_service_is_one(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """So that a router added later keeps the shortcut (or says why not here)."""
    included: list[object] = []
    real = FastAPI.include_router

    def include_router(self: FastAPI, router: object, **kwargs: object) -> None:
        included.append(router)
        real(self, router, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(FastAPI, "include_router", include_router)
    monkeypatch.setenv("DISPATCH_SECRET_KEY", "x" * 40)
    monkeypatch.setenv("DISPATCH_VAR_DIR", str(tmp_path))
    monkeypatch.setenv("DISPATCH_DATABASE_URL", f"sqlite:///{tmp_path / 'unused.db'}")
    monkeypatch.setattr(web_app, "ensure_current", lambda engine: None)
    web_app.create_app().state.engine.dispose()
    assert included
    assert [type(r).__name__ for r in included if not isinstance(r, Router)] == []
    assert all(r.segments() for r in included)  # type: ignore[attr-defined]


def test_the_access_log_names_the_route_template_the_static_mount_too(
    site: Site, caplog: pytest.LogCaptureFixture
) -> None:
    client = site.client("a_viewer")
    with caplog.at_level(logging.INFO, logger="dispatch.web.access"):
        assert client.get("/static/site.css").status_code == 200
        assert client.get(f"/partner/versions/{site.versions[PARTNER_A]}").status_code == 200
        assert client.get("/nowhere/at/all").status_code == 404
    logged = [
        json.loads(r.getMessage())["route"]
        for r in caplog.records
        if r.name == "dispatch.web.access"
    ]
    assert logged == ["/static/{path}", "/partner/versions/{version_id}", "(unmatched)"]
