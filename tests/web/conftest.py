"""A running service on the test database, with a user of every role and two partners.

``site.client("a_editor")`` is a TestClient signed in as that user (session cookie
and CSRF cookie set; ``client.csrf`` is the form token); ``site.api("a_editor")`` one
that sends a write-scoped API token (``scope="read"`` for a read-only one).
Partner A is Nordic Air, partner B Fuel Co; each has one submitted creative version.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest
from anyio.from_thread import BlockingPortal, start_blocking_portal
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from dispatch import batchformat as bf
from dispatch.accounts import services as accounts
from dispatch.accounts.roles import Role
from dispatch.config import Settings
from dispatch.creatives import services as creatives
from dispatch.creatives.bundle import load_bundle
from dispatch.db.engine import session_scope
from dispatch.jobs import tasks
from dispatch.web import csrf
from dispatch.web.access import SESSION_COOKIE
from dispatch.web.app import create_app
from tests.web.live import browser

__all__ = ["browser"]  # one Chromium for every browser test of the session

ROOT = Path(__file__).resolve().parents[2]
CREATIVES = ROOT / "templates" / "creatives"
PASSWORD = "correct horse battery staple"
PARTNER_A = "Nordic Air"
PARTNER_B = "Fuel Co"
HOUSE = "Osuuskauppa"

#: username -> (role, partner name or None)
USERS: dict[str, tuple[Role, str | None]] = {
    "manager": (Role.CAMPAIGN_MANAGER, None),
    "approver": (Role.APPROVER, None),
    "service": (Role.CUSTOMER_SERVICE, None),
    "auditor": (Role.AUDITOR, None),
    "admin": (Role.ADMIN, None),
    "a_admin": (Role.PARTNER_ADMIN, PARTNER_A),
    "a_editor": (Role.PARTNER_EDITOR, PARTNER_A),
    "a_viewer": (Role.PARTNER_VIEWER, PARTNER_A),
    "b_admin": (Role.PARTNER_ADMIN, PARTNER_B),
    "b_editor": (Role.PARTNER_EDITOR, PARTNER_B),
    "b_viewer": (Role.PARTNER_VIEWER, PARTNER_B),
}
STAFF = [name for name, (role, _) in USERS.items() if not role.is_partner]
PARTNER_USERS = [name for name, (role, _) in USERS.items() if role.is_partner]


@dataclass
class Site:
    app: FastAPI
    engine: Engine
    settings: Settings
    #: partner name -> public id of its demo creative version
    versions: dict[str, str] = field(default_factory=dict)
    _tokens: dict[tuple[str, str], str] = field(default_factory=dict)
    #: One event loop thread for every client of the test (set by the ``site``
    #: fixture). A TestClient used outside ``with`` starts a thread and an event loop
    #: for each request (about 2 ms), and inside ``with`` it would also run the app's
    #: lifespan, which starts the in-process worker.
    portal: BlockingPortal | None = None

    def anonymous(self) -> TestClient:
        client = TestClient(self.app, base_url="https://testserver")
        client.portal = self.portal
        return client

    def client(self, username: str) -> TestClient:
        """A client signed in as ``username`` (second factor already given)."""
        with session_scope(self.engine) as session:
            user = accounts.get_user(session, username)
            opened = accounts.open_session(session, user, "testclient", verified=True)
        client = self.anonymous()
        client.cookies.set(SESSION_COOKIE, opened.value)
        cookie = f"test-csrf-{username}-0123456789"
        client.cookies.set(csrf.COOKIE, cookie)
        client.csrf = csrf.token_for(self.settings.secret_key, cookie)  # type: ignore[attr-defined]
        return client

    def api(self, username: str, scope: str = "write") -> TestClient:
        key = (username, scope)
        if key not in self._tokens:
            with session_scope(self.engine) as session:
                user = accounts.get_user(session, username)
                _, value = accounts.create_token(
                    session, user, name="test", scope=scope, days=1, actor=username
                )
            self._tokens[key] = value
        client = self.anonymous()
        client.headers["Authorization"] = f"Bearer {self._tokens[key]}"
        return client


def form_token(html: str) -> str:
    """The CSRF token of the first form on a page."""
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "page has no CSRF field"
    return found.group(1)


def make_site(engine: Engine, settings: Settings) -> Site:
    with session_scope(engine) as session:
        partners = {
            PARTNER_A: creatives.create_partner(session, PARTNER_A),
            PARTNER_B: creatives.create_partner(session, PARTNER_B),
            HOUSE: creatives.create_partner(session, HOUSE, house=True),
        }
        for username, (role, partner) in USERS.items():
            accounts.create_user(
                session,
                username=username,
                role=role,
                actor="test",
                display_name=username.replace("_", " ").title(),
                partner=partners[partner] if partner else None,
                password=PASSWORD,
            )
        versions = {}
        for name, editor in ((PARTNER_A, "a_editor"), (PARTNER_B, "b_editor")):
            bundle = load_bundle(CREATIVES / "nordic-air-spring")
            version = creatives.store_bundle(session, partners[name], bundle, submitted_by=editor)
            versions[name] = version.public_id
    return Site(create_app(settings), engine, settings, versions)


@pytest.fixture
def site(env: dict[str, str], settings: Settings, engine: Engine) -> Iterator[Site]:
    tasks.reset_runtime()
    made = make_site(engine, settings)
    try:
        with start_blocking_portal() as portal:
            made.portal = portal
            yield made
    finally:
        made.app.state.engine.dispose()
        tasks.reset_runtime()


def set_min_partner_audience(site: Site, monkeypatch: pytest.MonkeyPatch, minimum: int) -> None:
    """The partner minimum for the jobs (from the environment) and the running app alike.

    The app read its settings when it was made; campaign create and approve check the
    minimum with those, the snapshot job with the environment's.
    """
    monkeypatch.setenv("DISPATCH_MIN_PARTNER_AUDIENCE", str(minimum))
    site.app.state.settings = replace(site.app.state.settings, min_partner_audience=minimum)


def set_print_house_key(site: Site, monkeypatch: pytest.MonkeyPatch) -> str:
    """A print house key for the jobs (from the environment) and the running app alike
    (starting a post campaign checks it with the app's settings); the recipient."""
    _, recipient = bf.generate_identity()
    monkeypatch.setenv("DISPATCH_PRINTHOUSE_RECIPIENT", recipient)
    site.app.state.settings = replace(site.app.state.settings, printhouse_recipient=recipient)
    return recipient


def no_member_data(body: str | bytes, secrets: list[str]) -> list[str]:
    """Which of ``secrets`` (member names, addresses, ids...) appear in ``body``."""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    return [s for s in secrets if s and s in text]


def problem(response: Any) -> dict[str, Any]:
    assert response.headers["content-type"].startswith("application/problem+json"), response.text
    doc: dict[str, Any] = response.json()
    return doc
