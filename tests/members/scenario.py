"""Members who got real campaigns, and the service they follow the links to.

Built on the campaign tests' :class:`~tests.campaigns.conftest.World` (register,
approved creatives, real batch jobs, maildir mailer and outbox under the test's var
folder) plus the web service on the same database. ``Members.mail_to(member)`` is
the member's latest e-mail as the mailer stored it; ``unsubscribe_path`` and
``centre_path`` read the links out of it as a mail client would.
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import re
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from email.message import EmailMessage
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from dispatch.accounts import services as accounts
from dispatch.accounts.roles import Role
from dispatch.campaigns.models import MemberLink
from dispatch.config import load_settings
from dispatch.db.engine import session_scope
from dispatch.members import services
from dispatch.members.models import ErasureRequest
from dispatch.register import tokens
from dispatch.register.models import ConsentEvent, Member, PurchaseSummary
from dispatch.web import csrf
from dispatch.web.access import SESSION_COOKIE
from dispatch.web.app import create_app
from tests import factories
from tests.campaigns.conftest import OWN, PARTNER, World

__all__ = ["OWN", "PARTNER", "Members"]

STAFF_CSRF_COOKIE = "staff-csrf-cookie-0123456789"


@dataclass
class Members:
    world: World
    app: FastAPI

    @property
    def secret(self) -> str:
        return str(self.app.state.settings.secret_key)

    def client(self) -> TestClient:
        return TestClient(self.app, base_url="http://testserver")

    def email_campaign(self, members: int) -> tuple[int, list[int]]:
        """``members`` new members who opted in to e-mail, and a completed partner e-mail
        campaign to them (the demo's e-mail creative is Nordic Air's)."""
        ids = self.world.add_members(members, email_opt_in=True)
        cid = self.email_dispatching()
        assert self.world.finish(cid) == "completed"
        return cid, ids

    def email_dispatching(self) -> int:
        """A partner e-mail campaign, snapshotted, its batches not yet run."""
        return self.world.dispatching("partner_email", creative=PARTNER)

    def mails(self) -> list[tuple[str, EmailMessage]]:
        """Every stored mail: (the envelope recipient, the message)."""
        found: list[tuple[str, EmailMessage]] = []
        folder = self.world.var / "mail" / "new"
        if not folder.is_dir():  # made by the first mail (post-only runs make no mailer)
            return found
        for path in sorted(folder.iterdir()):
            raw = path.read_bytes()
            message = email.message_from_bytes(raw, policy=email.policy.default)
            found.append((str(message["Delivered-To"]), message))  # type: ignore[arg-type]
        return found

    def address(self, member_id: int) -> str:
        with session_scope(self.world.engine) as session:
            return session.get_one(Member, member_id).email or ""

    def mail_to(self, member_id: int, subject: str | None = None) -> EmailMessage:
        """The member's latest mail (with ``subject`` in its subject, if given)."""
        address = self.address(member_id)
        found = [
            m
            for to, m in self.mails()
            if to == address and (subject is None or subject in str(m["Subject"]))
        ]
        assert found, f"no mail to member {member_id}"
        return found[-1]

    def ledger(self, member_id: int) -> list[dict[str, Any]]:
        with session_scope(self.world.engine) as session:
            return services.ledger_of(session, member_id)

    def ledger_size(self) -> int:
        with session_scope(self.world.engine) as session:
            return len(session.scalars(select(ConsentEvent.id)).all())

    def letter_code(self, campaign_id: int, member_id: int) -> str:
        return tokens.letter_code(self.secret, campaign_id, member_id)

    def add_purchases(self, member_id: int) -> None:
        """Fruit (under the top-level group "Ruoka" / "Mat") for 12.50 in September
        2026 and 30.25 in October: 42.75 in all."""
        with session_scope(self.world.engine) as session:
            food = factories.product_group(session, "food-x")
            food.name_fi, food.name_sv = "Ruoka", "Mat"
            fruit = factories.product_group(session, "fruit-x", parent=food)
            for month, amount in ((dt.date(2026, 9, 1), "12.50"), (dt.date(2026, 10, 1), "30.25")):
                session.add(
                    PurchaseSummary(
                        member_id=member_id,
                        product_group_id=fruit.id,
                        month=month,
                        amount=Decimal(amount),
                        count=3,
                    )
                )

    def staff(self, username: str, role: Role = Role.CUSTOMER_SERVICE) -> TestClient:
        """A client signed in as a new staff user (second factor given); its form token
        is :attr:`staff_csrf`."""
        with session_scope(self.world.engine) as session:
            user = accounts.create_user(
                session, username=username, role=role, actor="test", password="x" * 12
            )
            opened = accounts.open_session(session, user, "testclient", verified=True)
        client = self.client()
        client.cookies.set(SESSION_COOKIE, opened.value)
        client.cookies.set(csrf.COOKIE, STAFF_CSRF_COOKIE)
        return client

    @property
    def staff_csrf(self) -> str:
        return csrf.token_for(self.secret, STAFF_CSRF_COOKIE)

    def erasures(self) -> list[str]:
        """The public ids of the erasure requests in the queue."""
        with session_scope(self.world.engine) as session:
            return list(session.scalars(select(ErasureRequest.public_id)))

    def links_of(self, member_id: int) -> list[MemberLink]:
        with session_scope(self.world.engine) as session:
            return list(
                session.scalars(select(MemberLink).where(MemberLink.member_id == member_id))
            )


def unsubscribe_path(message: EmailMessage) -> str:
    """The path of the https URL in List-Unsubscribe (what a mail client POSTs to)."""
    urls = re.findall(r"<([^>]+)>", str(message["List-Unsubscribe"]))
    web = [u for u in urls if u.startswith("http")]
    assert len(web) == 1 and message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    return "/" + web[0].split("/", 3)[3]


def mailto_token(message: EmailMessage) -> tuple[str, str]:
    """(address, subject) of the List-Unsubscribe mailto: URL."""
    urls = re.findall(r"<mailto:([^>?]+)\?subject=([^>]+)>", str(message["List-Unsubscribe"]))
    assert len(urls) == 1
    return urls[0]


def centre_path(message: EmailMessage) -> str:
    """The preference-centre link at the foot of an e-mail (its plain-text part)."""
    text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    found = re.findall(r"https?://\S+/p/[A-Za-z0-9_-]{43}", text)
    assert len(found) == 1, text
    return "/" + found[0].split("/", 3)[3]


def confirmation_path(message: EmailMessage) -> str:
    text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    found = re.findall(r"https?://\S+/c/[A-Za-z0-9_-]{43}", text)
    assert len(found) == 1, text
    return "/" + found[0].split("/", 3)[3]


@pytest.fixture
def members(world: World) -> Iterator[Members]:
    app = create_app(load_settings())
    try:
        yield Members(world, app)
    finally:
        app.state.engine.dispose()
        mailer = getattr(app.state, "mailer", None)
        if mailer is not None:
            mailer.close()
