"""``dispatch account``: personal accounts of staff and partner users, and their API tokens.

Every command here is an administrator's action: it needs an actor (``--as NAME`` or
``DISPATCH_ACTOR``) and the service functions audit it. No secret is ever stored as
shown: a generated password, an invitation link and a token value are printed once,
and only their hashes stay in the database (docs/service.md).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import click
from sqlalchemy.orm import Session

from dispatch.accounts import services as accounts
from dispatch.accounts.models import ApiToken, TokenScope, User
from dispatch.accounts.roles import Role
from dispatch.cli.context import AppContext, emit_json, json_option, pass_app
from dispatch.creatives import services as creatives
from dispatch.db.engine import session_scope
from dispatch.db.types import utcnow
from dispatch.errors import InputError, OperationError

WHY = "account changes are an administrator's action"
DEFAULT_BASE_URL = "http://127.0.0.1:8000"

_as_option = click.option(
    "--as",
    "actor",
    metavar="NAME",
    default=None,
    help="Your personal account name (or DISPATCH_ACTOR); recorded in the audit log.",
)
_base_url_option = click.option(
    "--base-url",
    default=DEFAULT_BASE_URL,
    show_default=True,
    help="Where the service is reached, for the invitation link.",
)


@click.group("account")
def group() -> None:
    """Personal accounts: staff and partner users, invitations and API tokens.

    Roles (see docs/service.md for what each may do): staff roles campaign_manager,
    approver, customer_service, auditor, admin; partner roles partner_admin,
    partner_editor, partner_viewer (these need --partner). Staff sign in with a
    password and a TOTP second factor, which they enrol on their first sign-in.
    """


def _role(value: str) -> Role:
    """The role named ``value``; the error lists the roles, for a mistyped name."""
    try:
        return Role(value.strip().lower())
    except ValueError:
        names = ", ".join(r.value for r in Role)
        raise InputError(f"unknown role {value!r}; use one of {names}", where="--role") from None


def _is_locked(user: User, now: dt.datetime) -> bool:
    return user.locked_until is not None and user.locked_until > now


def _user_doc(user: User, now: dt.datetime) -> dict[str, Any]:
    """What may be shown of an account: never a hash, secret or token value."""
    return {
        "id": user.public_id,
        "username": user.username,
        "display_name": user.display_name,
        "email": user.email,
        "role": user.role,
        "partner": user.partner.name if user.partner else None,
        "second_factor": user.totp_secret is not None,
        "password_set": user.password_hash is not None,
        "disabled": user.disabled_at is not None,
        "locked": _is_locked(user, now),
        "created_at": user.created_at.isoformat(),
        "created_by": user.created_by,
    }


def _token_doc(token: ApiToken, now: dt.datetime) -> dict[str, Any]:
    state = "active"
    if token.revoked_at is not None:
        state = "revoked"
    elif token.expires_at <= now:
        state = "expired"
    return {
        "id": token.public_id,
        "name": token.name,
        "scope": token.scope,
        "state": state,
        "created_at": token.created_at.isoformat(),
        "expires_at": token.expires_at.isoformat(),
        "last_used_at": token.last_used_at.isoformat() if token.last_used_at else None,
    }


def invitation_link(base_url: str, value: str) -> str:
    return f"{base_url.rstrip('/')}/invite/{value}"


@group.command("create")
@click.argument("username")
@click.option("--role", "role_name", required=True, metavar="ROLE", help="One of the roles above.")
@click.option("--partner", default=None, help="The partner of a partner_* user (its name).")
@click.option("--name", "display_name", default=None, help="Display name (default: USERNAME).")
@click.option("--email", default=None, help="Contact address of the user (optional).")
@click.option(
    "--invite",
    is_flag=True,
    help="Print a one-time invitation link instead of a generated password.",
)
@_base_url_option
@_as_option
@json_option
@pass_app
def create(
    app: AppContext,
    username: str,
    role_name: str,
    partner: str | None,
    display_name: str | None,
    email: str | None,
    invite: bool,
    base_url: str,
    actor: str | None,
    as_json: bool,
) -> None:
    """Create the personal account USERNAME with ROLE.

    Prints a generated password once (give it to the user by a safe channel), or
    with --invite a link valid for 7 days with which the user sets their own.
    Neither can be shown again: `dispatch account invite` makes a new link.
    """
    who = app.actor(actor, why=WHY)
    role = _role(role_name)
    if role.is_partner and not partner:
        raise InputError(f"a {role.value} belongs to a partner: give --partner", where="--partner")
    if not role.is_partner and partner:
        raise InputError(
            f"{role.value} is a staff role; staff belong to no partner (drop --partner)",
            where="--partner",
        )
    password = None if invite else accounts.generate_password()
    with session_scope(app.engine()) as session:
        owner = creatives.get_partner(session, partner, where="--partner") if partner else None
        user = accounts.create_user(
            session,
            username=username,
            role=role,
            actor=who,
            display_name=display_name,
            email=email,
            partner=owner,
            password=password,
        )
        doc = _user_doc(user, utcnow())
        link = invitation_link(base_url, accounts.invite(session, user, who)) if invite else None
    if as_json:
        emit_json({**doc, "password": password, "invitation": link})
        return
    where = f" of {doc['partner']}" if doc["partner"] else ""
    click.echo(f"account {doc['username']} ({doc['role']}{where}) created")
    _echo_secret(password, link)
    if not role.is_partner:
        click.echo("Staff enrol their second factor (TOTP, a QR code) at the first sign-in.")


def _echo_secret(password: str | None, link: str | None) -> None:
    if password is not None:
        click.echo(f"password (shown once): {password}")
    if link is not None:
        click.echo(f"invitation link (one use, valid 7 days): {link}")


@group.command("invite")
@click.argument("username")
@_base_url_option
@_as_option
@json_option
@pass_app
def invite(app: AppContext, username: str, base_url: str, actor: str | None, as_json: bool) -> None:
    """Print a new one-time invitation link for the existing account USERNAME.

    For a user who never set a password or forgot it: the link sets a new one (the
    old password works until then). Disabled accounts get no link.
    """
    who = app.actor(actor, why=WHY)
    with session_scope(app.engine()) as session:
        user = accounts.get_user(session, username)
        if user.disabled_at is not None:
            raise OperationError(f"{user.username} is disabled; its links would not work")
        link = invitation_link(base_url, accounts.invite(session, user, who))
        name = user.username
    if as_json:
        emit_json({"username": name, "invitation": link})
    else:
        _echo_secret(None, link)


@group.command("disable")
@click.argument("username")
@_as_option
@json_option
@pass_app
def disable(app: AppContext, username: str, actor: str | None, as_json: bool) -> None:
    """Disable the account USERNAME: its sessions and API tokens end at once."""
    who = app.actor(actor, why=WHY)
    with session_scope(app.engine()) as session:
        user = accounts.get_user(session, username)
        accounts.disable_user(session, user, who)
        doc = _user_doc(user, utcnow())
    if as_json:
        emit_json(doc)
    else:
        click.echo(f"account {doc['username']} disabled; its sessions and tokens have ended")


@group.command("list")
@click.option("--partner", default=None, help="Only the users of this partner.")
@_as_option
@json_option
@pass_app
def list_(app: AppContext, partner: str | None, actor: str | None, as_json: bool) -> None:
    """List accounts: role, partner, second factor, disabled, locked (never secrets)."""
    app.actor(actor, why=WHY)
    now = utcnow()
    with session_scope(app.engine()) as session:
        owner = creatives.get_partner(session, partner, where="--partner") if partner else None
        docs = [_user_doc(u, now) for u in accounts.list_users(session, owner)]
    if as_json:
        emit_json(docs)
        return
    if not docs:
        click.echo("no accounts yet: add one with `dispatch account create USERNAME --role ROLE`")
        return
    click.echo(f"{'username':<28} {'role':<17} {'partner':<24} 2fa  state")
    for d in docs:
        state = "disabled" if d["disabled"] else "locked" if d["locked"] else "active"
        if not d["password_set"] and state == "active":
            state = "invited"
        click.echo(
            f"{d['username']:<28} {d['role']:<17} {d['partner'] or '-':<24} "
            f"{'on ' if d['second_factor'] else 'off'}  {state}"
        )


@group.command("token")
@click.argument("username")
@click.option(
    "--name", "token_name", default=None, help="What the token is for (required to make one)."
)
@click.option(
    "--scope",
    type=click.Choice([s.value for s in TokenScope]),
    default=TokenScope.READ.value,
    show_default=True,
    help="read: GET only; write: also uploads and other changes.",
)
@click.option(
    "--days",
    type=click.IntRange(1, accounts.TOKEN_DAYS_MAX),
    default=90,
    show_default=True,
    help="Days until the token expires.",
)
@click.option("--revoke", "revoke_id", metavar="TOKEN_ID", default=None, help="Revoke this token.")
@click.option("--list", "list_them", is_flag=True, help="List USERNAME's tokens instead.")
@_as_option
@json_option
@pass_app
def token(
    app: AppContext,
    username: str,
    token_name: str | None,
    scope: str,
    days: int,
    revoke_id: str | None,
    list_them: bool,
    actor: str | None,
    as_json: bool,
) -> None:
    """Make an API token for USERNAME (value printed once), or --revoke or --list them.

    The token acts as USERNAME with USERNAME's role, limited by its scope; send it
    as `Authorization: Bearer VALUE` (docs/partners.md).
    """
    who = app.actor(actor, why=WHY)
    if sum((bool(token_name), bool(revoke_id), list_them)) != 1:
        raise InputError(
            "give exactly one of --name (new token), --revoke TOKEN_ID or --list", where="--name"
        )
    now = utcnow()
    with session_scope(app.engine()) as session:
        user = accounts.get_user(session, username)
        if list_them:
            _emit_tokens(session, user, now, as_json)
            return
        if revoke_id:
            doc = _token_doc(
                accounts.revoke_token(session, user, revoke_id, who, where="--revoke"), now
            )
            value = None
        else:
            if user.disabled_at is not None:
                raise OperationError(f"{user.username} is disabled; it gets no new tokens")
            made, value = accounts.create_token(
                session, user, name=token_name or "", scope=scope, days=days, actor=who
            )
            doc = _token_doc(made, now)
    if as_json:
        emit_json({**doc, "username": user.username, "value": value} if value else doc)
    elif value:
        click.echo(
            f"token {doc['id']} ({doc['scope']}, until {doc['expires_at'][:10]}) for {username}"
        )
        click.echo(f"value (shown once): {value}")
    else:
        click.echo(f"token {doc['id']} of {username} revoked")


def _emit_tokens(session: Session, user: User, now: dt.datetime, as_json: bool) -> None:
    docs = [_token_doc(t, now) for t in accounts.list_tokens(session, user)]
    if as_json:
        emit_json(docs)
        return
    if not docs:
        click.echo(f"{user.username} has no API tokens")
    for d in docs:
        used = d["last_used_at"][:16] if d["last_used_at"] else "never used"
        click.echo(
            f"{d['id']}  {d['scope']:<5}  {d['state']:<7}  until {d['expires_at'][:10]}  "
            f"{used}  {d['name']}"
        )
