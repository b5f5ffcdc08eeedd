"""The demo's accounts: one person of every staff role, and partner users, to sign in as.

Passwords are generated on every run and printed once: an account the demo made
before gets a new one (and loses any lock), so that what is printed always works
and no password is ever written in the code or a file. A second factor enrolled
earlier is kept; staff without one enrol it at their first sign-in (a QR code).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, select

from dispatch.accounts import services as accounts
from dispatch.accounts.models import User
from dispatch.accounts.roles import Role
from dispatch.creatives import services as creatives
from dispatch.db.engine import session_scope
from dispatch.register import audit


@dataclass(frozen=True)
class DemoAccount:
    username: str
    role: Role
    partner: str | None
    #: What to open after signing in: where this role's work is.
    page: str


#: The administrator who makes the others (and, the first time, itself).
DEMO_ADMIN = "demo.admin"


def demo_accounts(nordic: str, house: str) -> tuple[DemoAccount, ...]:
    """The demo's people: ``nordic`` is the partner Nordic Air, ``house`` the cooperative."""
    return (
        DemoAccount(DEMO_ADMIN, Role.ADMIN, None, "/staff"),
        DemoAccount("demo.campaign-manager", Role.CAMPAIGN_MANAGER, None, "/staff/campaigns"),
        DemoAccount("demo.approver", Role.APPROVER, None, "/staff/creatives"),
        DemoAccount("demo.service", Role.CUSTOMER_SERVICE, None, "/staff/members"),
        DemoAccount("demo.auditor", Role.AUDITOR, None, "/staff/audit"),
        DemoAccount("nordic.admin", Role.PARTNER_ADMIN, nordic, "/partner"),
        DemoAccount("nordic.editor", Role.PARTNER_EDITOR, nordic, "/partner"),
        DemoAccount("nordic.viewer", Role.PARTNER_VIEWER, nordic, "/partner"),
        DemoAccount("coop.editor", Role.PARTNER_EDITOR, house, "/partner"),
    )


def ensure_accounts(engine: Engine, people: tuple[DemoAccount, ...]) -> list[dict[str, Any]]:
    """Create each account, or give an existing one a new password; say which and how.

    The returned documents hold the new passwords: the caller prints them once.
    """
    done: list[dict[str, Any]] = []
    with session_scope(engine) as session:
        for person in people:
            password = accounts.generate_password()
            user = session.scalar(select(User).where(User.username == person.username))
            created = user is None
            if user is None:
                partner = creatives.get_partner(session, person.partner) if person.partner else None
                user = accounts.create_user(
                    session,
                    username=person.username,
                    role=person.role,
                    actor=DEMO_ADMIN,
                    display_name=_display_name(person.username),
                    partner=partner,
                    password=password,
                )
            else:
                accounts.set_password(session, user, password)
                user.disabled_at = None
                # A new password ends what the old one opened, as a real reset would.
                accounts.end_all_sessions(session, user)
                audit.record(
                    session,
                    actor=DEMO_ADMIN,
                    action="account_password_reset",
                    member_id=None,
                    detail={"user": user.username},
                )
            done.append(
                {
                    "username": user.username,
                    "role": user.role,
                    "partner": person.partner,
                    "created": created,
                    "password": password,
                    "second_factor": _second_factor(user),
                    "page": person.page,
                }
            )
    return done


def _second_factor(user: User) -> str:
    if user.totp_secret:
        return "enrolled"
    return "enrol at first sign-in" if accounts.needs_totp(user) else "optional"


def _display_name(username: str) -> str:
    first, _, rest = username.partition(".")
    return f"{first.title()} {rest.replace('-', ' ').title()}".strip()
