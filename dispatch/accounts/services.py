"""Account operations: what the ``dispatch account`` commands and the portals call.

Creating a user never sets a password someone else knows: a user is created with an
invitation (a one-time link) or, by an admin from the CLI, with a generated password
shown once. Logins count failures per account (locked after
:data:`LOCK_AFTER`) and per origin (rate-limited), and every attempt is audited.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, bindparam, delete, func, select, update
from sqlalchemy.orm import Session

from dispatch.accounts import credentials
from dispatch.accounts.models import (
    ApiToken,
    Invitation,
    LoginFailure,
    TokenScope,
    User,
    WebSession,
)
from dispatch.accounts.roles import Role
from dispatch.creatives.models import Partner
from dispatch.db.types import utcnow
from dispatch.errors import InputError, OperationError
from dispatch.register import audit

USERNAME = re.compile(r"[a-z0-9][a-z0-9._@-]{1,79}\Z")
LOCK_AFTER = 5
LOCK_FOR = dt.timedelta(minutes=15)
#: Failed logins from one origin within :data:`RATE_WINDOW` before it is refused.
RATE_LIMIT = 20
RATE_WINDOW = dt.timedelta(minutes=10)
SESSION_IDLE = dt.timedelta(hours=8)
#: A live session's expiry slides with use, and a token records when it was last used,
#: but each is written at most this often: a write on every request would make every
#: page and API call an UPDATE and a commit.
TOUCH_EVERY = dt.timedelta(minutes=1)
SESSION_PENDING = dt.timedelta(minutes=10)
INVITE_FOR = dt.timedelta(days=7)
TOKEN_DAYS_MAX = 365


class LoginRefused(OperationError):
    """Wrong name or password, a locked or disabled account: the same message for all."""


class RateLimited(OperationError):
    """Too many failed logins from one origin."""


# --- users ---------------------------------------------------------------------------


def _username(value: str) -> str:
    name = value.strip().lower()
    if not USERNAME.match(name):
        raise InputError(
            "a user name is 2-80 characters: lowercase letters, digits, and . _ @ -",
            where="USERNAME",
        )
    return name


def create_user(
    session: Session,
    *,
    username: str,
    role: Role | str,
    actor: str,
    display_name: str | None = None,
    email: str | None = None,
    partner: Partner | None = None,
    password: str | None = None,
) -> User:
    """A new personal account; without ``password`` it can only be reached by invitation."""
    name = _username(username)
    try:
        role = Role(role)
    except ValueError:
        allowed = ", ".join(r.value for r in Role)
        raise InputError(f"unknown role {role!r}; use one of {allowed}", where="--role") from None
    if role.is_partner and partner is None:
        raise InputError(f"a {role.value} belongs to a partner: give --partner", where="--partner")
    if not role.is_partner and partner is not None:
        raise InputError(
            f"{role.value} is a staff role; staff belong to no partner", where="--partner"
        )
    if session.scalar(select(User.id).where(User.username == name)) is not None:
        raise InputError(f"user {name!r} exists already", where="USERNAME")
    if password is not None:
        check_new_password(password)
    user = User(
        username=name,
        display_name=(display_name or name).strip()[:120] or name,
        email=(email or "").strip() or None,
        role=role.value,
        partner_id=partner.id if partner else None,
        password_hash=credentials.hash_password(password) if password else None,
        failed_logins=0,
        created_at=utcnow(),
        created_by=actor,
    )
    session.add(user)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="account_create",
        member_id=None,
        detail={"user": name, "role": role.value, "partner": partner.name if partner else None},
    )
    return user


def check_new_password(password: str) -> None:
    if len(password) < credentials.MIN_PASSWORD or len(password) > 200:
        raise InputError(
            f"a password is {credentials.MIN_PASSWORD}-200 characters", where="password"
        )


def get_user(session: Session, username: str) -> User:
    user = session.scalar(select(User).where(User.username == username.strip().lower()))
    if user is None:
        raise InputError(f"no user named {username!r}", where="USERNAME")
    return user


def list_users(session: Session, partner: Partner | None = None) -> list[User]:
    query = select(User).order_by(User.username)
    if partner is not None:
        query = query.where(User.partner_id == partner.id)
    return list(session.scalars(query))


def disable_user(session: Session, user: User, actor: str, origin: str | None = None) -> None:
    """Disable the account and end its sessions and tokens at once."""
    now = utcnow()
    user.disabled_at = user.disabled_at or now
    session.execute(
        update(WebSession)
        .where(WebSession.user_id == user.id, WebSession.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    session.execute(
        update(ApiToken)
        .where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    audit.record(
        session,
        actor=actor,
        action="account_disable",
        member_id=None,
        detail={"user": user.username},
        origin=origin,
    )


def set_password(session: Session, user: User, password: str) -> None:
    check_new_password(password)
    user.password_hash = credentials.hash_password(password)
    user.failed_logins = 0
    user.locked_until = None


def generate_password() -> str:
    return secrets.token_urlsafe(15)


# --- invitations ---------------------------------------------------------------------


def invite(session: Session, user: User, actor: str, origin: str | None = None) -> str:
    """A one-time invitation value for ``user`` (valid :data:`INVITE_FOR`)."""
    value = credentials.new_token("inv")
    session.add(
        Invitation(
            token_hash=credentials.token_hash(value),
            user_id=user.id,
            created_at=utcnow(),
            created_by=actor,
            expires_at=utcnow() + INVITE_FOR,
        )
    )
    audit.record(
        session,
        actor=actor,
        action="account_invite",
        member_id=None,
        detail={"user": user.username},
        origin=origin,
    )
    session.flush()
    return value


def open_invitation(session: Session, value: str) -> Invitation:
    invitation = session.get(Invitation, credentials.token_hash(value))
    if (
        invitation is None
        or invitation.used_at is not None
        or invitation.expires_at <= utcnow()
        or invitation.user.disabled_at is not None
    ):
        raise InputError("this invitation link is not valid (used, expired or withdrawn)")
    return invitation


def accept_invitation(session: Session, value: str, password: str) -> User:
    """Set the invited user's password; the invitation then works no more."""
    invitation = open_invitation(session, value)
    claimed = session.execute(
        update(Invitation)
        .where(Invitation.token_hash == invitation.token_hash, Invitation.used_at.is_(None))
        .values(used_at=utcnow())
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        raise InputError("this invitation link is not valid (used, expired or withdrawn)")
    set_password(session, invitation.user, password)
    return invitation.user


# --- second factor -------------------------------------------------------------------


def needs_totp(user: User) -> bool:
    """Staff must use a second factor; partner users may."""
    return not user.is_partner or user.totp_secret is not None


def start_totp(secret_key: str) -> tuple[str, str]:
    """A new secret and its sealed form (stored only once a code confirms it)."""
    secret = credentials.new_totp_secret()
    return secret, credentials.seal(secret_key, secret)


def enrol_totp(session: Session, user: User, secret_key: str, secret: str, code: str) -> bool:
    """Store ``secret`` as the user's second factor if ``code`` proves they have it."""
    step = credentials.totp_step(secret, code, after=None)
    if step is None:
        return False
    user.totp_secret = credentials.seal(secret_key, secret)
    user.totp_last_step = step
    return True


def verify_totp(session: Session, user: User, secret_key: str, code: str) -> bool:
    secret = credentials.unseal(secret_key, user.totp_secret or "")
    if secret is None:
        return False
    step = credentials.totp_step(secret, code, after=user.totp_last_step)
    if step is None:
        return False
    # Conditional: two requests with the same code cannot both pass.
    done = session.execute(
        update(User)
        .where(
            User.id == user.id,
            (User.totp_last_step.is_(None)) | (User.totp_last_step < step),
        )
        .values(totp_last_step=step)
        .execution_options(synchronize_session=False)
    )
    session.refresh(user)
    return bool(done.rowcount)  # type: ignore[attr-defined]


# --- logins and sessions -------------------------------------------------------------


def authenticate(session: Session, username: str, password: str, origin: str) -> User:
    """The user whose name and password these are, or :class:`LoginRefused`.

    Failures are counted per origin (rate limit) and per account (lock); every
    attempt is audited. A refusal says nothing about which part was wrong.
    """
    now = utcnow()
    recent = session.scalar(
        select(func.count())
        .select_from(LoginFailure)
        .where(LoginFailure.origin == origin, LoginFailure.at > now - RATE_WINDOW)
    )
    if (recent or 0) >= RATE_LIMIT:
        audit.record(
            session, actor="anonymous", action="login_rate_limited", member_id=None, origin=origin
        )
        raise RateLimited("too many failed logins from your address; try again in a few minutes")
    name = username.strip().lower()[:80]
    user = session.scalar(select(User).where(User.username == name))
    ok = credentials.check_password(user.password_hash if user else None, password)
    locked = user is not None and user.locked_until is not None and user.locked_until > now
    if user is None or not ok or locked or user.disabled_at is not None:
        session.add(LoginFailure(origin=origin, at=now))
        if user is not None and not locked:
            user.failed_logins += 1
            if user.failed_logins >= LOCK_AFTER:
                user.locked_until = now + LOCK_FOR
                user.failed_logins = 0
        audit.record(
            session,
            actor=name or "anonymous",
            action="login_failed",
            member_id=None,
            detail={"locked": bool(user and user.locked_until and user.locked_until > now)},
            origin=origin,
        )
        raise LoginRefused("wrong user name or password, or the account is locked")
    user.failed_logins = 0
    user.locked_until = None
    return user


@dataclass(frozen=True)
class NewSession:
    value: str
    row: WebSession


def open_session(session: Session, user: User, origin: str, *, verified: bool) -> NewSession:
    """A new browser session; ``verified`` False until the second factor is given."""
    value = credentials.new_token("ses")
    now = utcnow()
    row = WebSession(
        token_hash=credentials.token_hash(value),
        user_id=user.id,
        verified=verified,
        created_at=now,
        last_seen_at=now,
        expires_at=now + (SESSION_IDLE if verified else SESSION_PENDING),
        origin=origin,
    )
    session.add(row)
    session.flush()
    if verified:
        audit.record(session, actor=user.username, action="login", member_id=None, origin=origin)
    return NewSession(value, row)


@dataclass(frozen=True)
class Identity:
    """The account a live credential belongs to, as plain values: what a request needs
    to decide access and to say who is signed in. Not an ORM object, so it stays
    readable after the request's session has rolled back or closed (an error page
    still names the user); code that changes the account loads it (``User``)."""

    user_id: int
    public_id: str
    username: str
    display_name: str
    role: Role
    partner_id: int | None
    partner_name: str | None

    @property
    def is_partner(self) -> bool:
        return self.role.is_partner


@dataclass(frozen=True)
class Credential:
    """A live session or API token: whose it is, and what it admits."""

    identity: Identity
    #: A session past its second factor (a session before it reaches nothing else);
    #: tokens always.
    verified: bool
    #: What the credential may do: a token's scope; a session's is write.
    scope: TokenScope


def _credential_lookup(
    kind: type[WebSession] | type[ApiToken], *own: Any
) -> Select[*tuple[Any, ...]]:
    """The credential whose hash is ``:hash`` with its user and partner, as one row of
    columns: every request asks this first, so the statement is built once."""
    return (
        select(
            kind.token_hash,
            kind.expires_at,
            kind.revoked_at,
            *own,
            User.id.label("user_id"),
            User.public_id,
            User.username,
            User.display_name,
            User.role,
            User.partner_id,
            User.disabled_at,
            Partner.name.label("partner_name"),
        )
        .join(User, User.id == kind.user_id)
        .outerjoin(Partner, Partner.id == User.partner_id)
        .where(kind.token_hash == bindparam("hash"))
    )


_SESSION_LOOKUP = _credential_lookup(
    WebSession, WebSession.verified, WebSession.last_seen_at.label("touched_at")
)
_TOKEN_LOOKUP = _credential_lookup(
    ApiToken, ApiToken.scope, ApiToken.last_used_at.label("touched_at")
)


def _live(
    session: Session, statement: Select[*tuple[Any, ...]], value: str, now: dt.datetime
) -> Any:
    """The lookup row of credential ``value``, or None unless it is live at ``now``:
    known, not revoked, not expired, and its user not disabled. Run on the session's
    connection: for a row of columns the ORM's execution path costs more than the query."""
    params = {"hash": credentials.token_hash(value)}
    found = session.connection().execute(statement, params).first()
    if found is None or found.revoked_at is not None or found.disabled_at is not None:
        return None
    return found if found.expires_at > now else None


def _identity(row: Any) -> Identity:
    return Identity(
        user_id=row.user_id,
        public_id=row.public_id,
        username=row.username,
        display_name=row.display_name,
        role=Role(row.role),
        partner_id=row.partner_id,
        partner_name=row.partner_name,
    )


def _touch(
    session: Session, kind: type[WebSession] | type[ApiToken], token_hash: str, **values: Any
) -> None:
    """Write a credential's sliding times now, in one UPDATE: a route that only reads
    runs without a transaction and never flushes (dispatch.web.access.db_session)."""
    session.connection().execute(update(kind).where(kind.token_hash == token_hash).values(**values))


def check_session(session: Session, value: str) -> Credential | None:
    """The credential of a session cookie's ``value``, or None; a verified session's
    expiry slides with use (written at most every :data:`TOUCH_EVERY`)."""
    now = utcnow()
    row = _live(session, _SESSION_LOOKUP, value, now)
    if row is None:
        return None
    if row.verified and now - row.touched_at >= TOUCH_EVERY:
        _touch(session, WebSession, row.token_hash, last_seen_at=now, expires_at=now + SESSION_IDLE)
    return Credential(_identity(row), row.verified, TokenScope.WRITE)


def find_session(session: Session, value: str) -> WebSession | None:
    """The live session of a cookie's ``value`` as its row, for the sign-in steps that
    change it (:func:`check_session` is what a request checks)."""
    if check_session(session, value) is None:
        return None
    return session.get(WebSession, credentials.token_hash(value))


def end_session(session: Session, value: str) -> None:
    session.execute(
        update(WebSession)
        .where(WebSession.token_hash == credentials.token_hash(value))
        .values(revoked_at=utcnow())
    )


def prune(session: Session) -> None:
    """Forget expired sessions and old login failures (called now and then)."""
    now = utcnow()
    session.execute(delete(WebSession).where(WebSession.expires_at < now - dt.timedelta(days=30)))
    session.execute(delete(LoginFailure).where(LoginFailure.at < now - RATE_WINDOW))


# --- API tokens ----------------------------------------------------------------------


def create_token(
    session: Session,
    user: User,
    *,
    name: str,
    scope: TokenScope | str,
    days: int,
    actor: str,
    origin: str | None = None,
) -> tuple[ApiToken, str]:
    """A new API token for ``user``: the row, and the value (shown once, never stored)."""
    try:
        scope = TokenScope(scope)
    except ValueError:
        raise InputError("scope is read or write", where="--scope") from None
    if not 1 <= days <= TOKEN_DAYS_MAX:
        raise InputError(f"a token lasts 1-{TOKEN_DAYS_MAX} days", where="--days")
    label = name.strip()[:80]
    if not label:
        raise InputError("give the token a name (what it is for)", where="--name")
    value = credentials.new_token("dsp")
    token = ApiToken(
        user_id=user.id,
        token_hash=credentials.token_hash(value),
        name=label,
        scope=scope.value,
        created_at=utcnow(),
        expires_at=utcnow() + dt.timedelta(days=days),
    )
    session.add(token)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="token_create",
        member_id=None,
        detail={"user": user.username, "token": token.public_id, "scope": scope.value},
        origin=origin,
    )
    return token, value


def check_token(session: Session, value: str) -> Credential | None:
    """The credential of an API token's ``value``, or None; its last use is recorded
    (written at most every :data:`TOUCH_EVERY`)."""
    now = utcnow()
    row = _live(session, _TOKEN_LOOKUP, value, now)
    if row is None:
        return None
    if row.touched_at is None or now - row.touched_at >= TOUCH_EVERY:
        _touch(session, ApiToken, row.token_hash, last_used_at=now)
    return Credential(_identity(row), True, TokenScope(row.scope))


def list_tokens(session: Session, user: User) -> list[ApiToken]:
    return list(
        session.scalars(
            select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.created_at)
        )
    )


def revoke_token(
    session: Session,
    user: User,
    public_id: str,
    actor: str,
    origin: str | None = None,
    *,
    where: str = "TOKEN",
) -> ApiToken:
    """Revoke the user's token ``public_id``; InputError at ``where`` if there is none."""
    token = session.scalar(
        select(ApiToken).where(ApiToken.public_id == public_id, ApiToken.user_id == user.id)
    )
    if token is None:
        raise InputError(f"no token {public_id!r} of {user.username}", where=where)
    token.revoked_at = token.revoked_at or utcnow()
    audit.record(
        session,
        actor=actor,
        action="token_revoke",
        member_id=None,
        detail={"user": user.username, "token": public_id},
        origin=origin,
    )
    return token


def record_failure(session: Session, user: User, origin: str, action: str) -> None:
    """A failed second factor counts like a failed password (rate limit and lock)."""
    now = utcnow()
    session.add(LoginFailure(origin=origin, at=now))
    user.failed_logins += 1
    if user.failed_logins >= LOCK_AFTER:
        user.locked_until = now + LOCK_FOR
        user.failed_logins = 0
        end_all_sessions(session, user)
    audit.record(session, actor=user.username, action=action, member_id=None, origin=origin)


def end_all_sessions(session: Session, user: User) -> None:
    session.execute(
        update(WebSession)
        .where(WebSession.user_id == user.id, WebSession.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
