"""Users, their sessions, API tokens and invitations, and the service's own bookkeeping.

Nothing secret is stored as given: passwords are Argon2id hashes, TOTP secrets are
encrypted with a key derived from ``DISPATCH_SECRET_KEY``, and session, token and
invitation values are stored as their SHA-256 only (the value is shown once).
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from functools import partial
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from dispatch.accounts.roles import PARTNER_ROLES, Role
from dispatch.creatives.models import Partner
from dispatch.db.base import Base
from dispatch.db.ids import new_public_id
from dispatch.db.types import BigId, UTCDateTime, enum_check, utcnow


class TokenScope(StrEnum):
    READ = "read"
    WRITE = "write"


_PARTNER_ROLE_LIST = ", ".join(f"'{r.value}'" for r in sorted(PARTNER_ROLES))


class User(Base):
    """A person with a personal account: staff, or a user of exactly one partner."""

    __tablename__ = "users"
    __table_args__ = (
        enum_check("role", Role),
        # Partner roles belong to a partner; staff roles to none.
        CheckConstraint(
            f"(role IN ({_PARTNER_ROLE_LIST})) = (partner_id IS NOT NULL)",
            name="partner_role_has_partner",
        ),
        Index(None, "partner_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    public_id: Mapped[str] = mapped_column(
        String(24), unique=True, default=partial(new_public_id, "us")
    )
    #: The login name, and the name recorded on every action (audit, decisions).
    username: Mapped[str] = mapped_column(String(80), unique=True)
    display_name: Mapped[str] = mapped_column(String(120))
    email: Mapped[str | None] = mapped_column(String(254))
    role: Mapped[str] = mapped_column(String(20))
    partner_id: Mapped[int | None] = mapped_column(ForeignKey("partners.id"))
    #: Argon2id; None until an invited user sets a password.
    password_hash: Mapped[str | None] = mapped_column(String(200))
    #: Fernet-encrypted base32 TOTP secret; None until enrolled.
    totp_secret: Mapped[str | None] = mapped_column(String(300))
    #: The last TOTP time step accepted, so that a code cannot be replayed.
    totp_last_step: Mapped[int | None] = mapped_column(BigId)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    disabled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[str] = mapped_column(String(80))

    partner: Mapped[Partner | None] = relationship()

    @property
    def role_enum(self) -> Role:
        return Role(self.role)

    @property
    def is_partner(self) -> bool:
        return self.role_enum.is_partner

    @property
    def is_active(self) -> bool:
        return self.disabled_at is None and self.password_hash is not None


class WebSession(Base):
    """A signed-in browser. The cookie holds a random value; this row its SHA-256."""

    __tablename__ = "web_sessions"
    __table_args__ = (Index(None, "user_id"),)

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    #: False between password and second factor: such a session reaches nothing else.
    verified: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    origin: Mapped[str | None] = mapped_column(String(64))

    user: Mapped[User] = relationship()


class ApiToken(Base):
    """A personal API token: shown once, stored hashed, scoped, expiring, revocable."""

    __tablename__ = "api_tokens"
    __table_args__ = (enum_check("scope", TokenScope), Index(None, "user_id"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    public_id: Mapped[str] = mapped_column(
        String(24), unique=True, default=partial(new_public_id, "tk")
    )
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(80))
    scope: Mapped[str] = mapped_column(String(8))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship()


class Invitation(Base):
    """A one-time link with which an invited user sets their password."""

    __tablename__ = "invitations"
    __table_args__ = (Index(None, "user_id"),)

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[str] = mapped_column(String(80))
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship()


class LoginFailure(Base):
    """A failed login, by origin: what the per-address rate limit counts."""

    __tablename__ = "login_failures"
    __table_args__ = (Index(None, "origin", "at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    origin: Mapped[str] = mapped_column(String(64))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class IdempotentRequest(Base):
    """The answer to a create made with an ``Idempotency-Key``, replayed on a retry."""

    __tablename__ = "idempotent_requests"
    __table_args__ = (UniqueConstraint("user_id", "key"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    key: Mapped[str] = mapped_column(String(100))
    #: SHA-256 of method, path and body: the same key with another body is refused.
    request_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int] = mapped_column(Integer)
    response: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
