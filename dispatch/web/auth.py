"""Signing in and out, the second factor, invitations, and one's own account and tokens."""

from __future__ import annotations

import io
from typing import Annotated

import segno
from fastapi import Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel

from dispatch.accounts import credentials
from dispatch.accounts import services as accounts
from dispatch.accounts.models import ApiToken, User, WebSession
from dispatch.accounts.roles import Action, Role
from dispatch.errors import DispatchError
from dispatch.register import audit
from dispatch.web import csrf
from dispatch.web.access import DB, SESSION_COOKIE, Principal, identify, origin_of, require
from dispatch.web.pages import render
from dispatch.web.problems import Problem
from dispatch.web.routing import Router

router = Router(dependencies=[Depends(csrf.check)], include_in_schema=False)
api = Router(prefix="/api/v1", tags=["account"])
SETUP_COOKIE = "dispatch_totp_setup"
Self = Annotated[Principal, Depends(require(Action.SELF))]


def home_of(role: Role) -> str:
    return "/partner" if role.is_partner else "/staff"


def _safe_next(value: str | None, user: User) -> str:
    # Only a path of this site (never "//host" or a scheme): no open redirect.
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return home_of(user.role_enum)


def _set_session(request: Request, response: Response, value: str, max_age: int) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        value,
        max_age=max_age,
        httponly=True,
        secure=request.app.state.settings.env != "development",
        samesite="lax",
        path="/",
    )


def _signed_in(request: Request, session: DB, user: User, target: str | None) -> Response:
    opened = accounts.open_session(session, user, origin_of(request), verified=True)
    response = RedirectResponse(_safe_next(target, user), status_code=303)
    _set_session(request, response, opened.value, int(accounts.SESSION_IDLE.total_seconds()))
    response.delete_cookie(SETUP_COOKIE, path="/")
    return response


def _pending(request: Request, session: DB) -> WebSession:
    cookie = request.cookies.get(SESSION_COOKIE, "")
    row = accounts.find_session(session, cookie) if cookie else None
    if row is None or row.verified:
        raise Problem(401, "sign in with your password first")
    return row


@router.get("/", response_class=HTMLResponse)
def index(request: Request, session: DB) -> Response:
    principal = identify(request, session)
    return RedirectResponse(home_of(principal.role) if principal else "/login", status_code=303)


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, next: str | None = None) -> Response:
    return render(request, "login.html", {"next": next or ""})


@router.post("/login", response_class=HTMLResponse)
def login(
    request: Request,
    session: DB,
    username: Annotated[str, Form(max_length=200)],
    password: Annotated[str, Form(max_length=200)],
    next: Annotated[str, Form(max_length=300)] = "",
) -> Response:
    try:
        user = accounts.authenticate(session, username, password, origin_of(request))
    except DispatchError as exc:
        status = 429 if isinstance(exc, accounts.RateLimited) else 401
        # Returned, not raised: the failure and its audit entry are committed.
        return render(
            request,
            "login.html",
            {"error": exc.message, "next": next, "username": username[:80]},
            status_code=status,
        )
    if not accounts.needs_totp(user):
        return _signed_in(request, session, user, next)
    pending = accounts.open_session(session, user, origin_of(request), verified=False)
    step = "/login/totp" if user.totp_secret else "/login/totp/setup"
    response = RedirectResponse(f"{step}?next={next}" if next else step, status_code=303)
    _set_session(request, response, pending.value, int(accounts.SESSION_PENDING.total_seconds()))
    return response


@router.get("/login/totp", response_class=HTMLResponse)
def totp_page(request: Request, session: DB, next: str | None = None) -> Response:
    _pending(request, session)
    return render(request, "totp.html", {"next": next or ""})


@router.post("/login/totp", response_class=HTMLResponse)
def totp(
    request: Request,
    session: DB,
    code: Annotated[str, Form(max_length=20)],
    next: Annotated[str, Form(max_length=300)] = "",
) -> Response:
    pending = _pending(request, session)
    user = pending.user
    secret_key = request.app.state.settings.secret_key
    if not accounts.verify_totp(session, user, secret_key, code):
        accounts.record_failure(session, user, origin_of(request), "login_totp_failed")
        return render(
            request, "totp.html", {"error": "that code is not right", "next": next}, status_code=401
        )
    accounts.end_session(session, request.cookies.get(SESSION_COOKIE, ""))
    return _signed_in(request, session, user, next)


def _qr_svg(uri: str) -> str:
    buffer = io.BytesIO()
    segno.make(uri, error="m").save(buffer, kind="svg", scale=4, xmldecl=False, svgns=True)
    return buffer.getvalue().decode()


def _setup_page(
    request: Request,
    user: User,
    sealed: str,
    secret: str,
    action: str = "/login/totp/setup",
    **extra: object,
) -> Response:
    uri = credentials.provisioning_uri(secret, user.username)
    response = render(
        request,
        "totp_setup.html",
        {"secret": secret, "qr": _qr_svg(uri), "uri": uri, "action": action, **extra},
        status_code=401 if extra.get("error") else 200,
    )
    response.set_cookie(
        SETUP_COOKIE,
        sealed,
        max_age=600,
        httponly=True,
        secure=request.app.state.settings.env != "development",
        samesite="strict",
        path="/",
    )
    return response


def _setup_secret(request: Request) -> tuple[str, str]:
    secret_key = request.app.state.settings.secret_key
    sealed = request.cookies.get(SETUP_COOKIE, "")
    secret = credentials.unseal(secret_key, sealed) if sealed else None
    if secret is None:
        secret, sealed = accounts.start_totp(secret_key)
    return secret, sealed


@router.get("/login/totp/setup", response_class=HTMLResponse)
def totp_setup_page(request: Request, session: DB, next: str | None = None) -> Response:
    user = _pending(request, session).user
    secret, sealed = _setup_secret(request)
    return _setup_page(request, user, sealed, secret, next=next or "")


@router.post("/login/totp/setup", response_class=HTMLResponse)
def totp_setup(
    request: Request,
    session: DB,
    code: Annotated[str, Form(max_length=20)],
    next: Annotated[str, Form(max_length=300)] = "",
) -> Response:
    pending = _pending(request, session)
    secret, sealed = _setup_secret(request)
    secret_key = request.app.state.settings.secret_key
    if not accounts.enrol_totp(session, pending.user, secret_key, secret, code):
        return _setup_page(
            request, pending.user, sealed, secret, next=next, error="that code is not right"
        )
    user = pending.user
    audit.record(
        session, actor=user.username, action="totp_enrol", member_id=None, origin=origin_of(request)
    )
    accounts.end_session(session, request.cookies.get(SESSION_COOKIE, ""))
    return _signed_in(request, session, pending.user, next)


@router.post("/logout")
def logout(request: Request, session: DB) -> Response:
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        accounts.end_session(session, cookie)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/invite/{value}", response_class=HTMLResponse)
def invitation_page(request: Request, session: DB, value: str) -> Response:
    invitation = accounts.open_invitation(session, value)
    return render(request, "invite.html", {"invited": invitation.user, "value": value})


@router.post("/invite/{value}", response_class=HTMLResponse)
def accept_invitation(
    request: Request,
    session: DB,
    value: str,
    password: Annotated[str, Form(max_length=300)],
    repeat: Annotated[str, Form(max_length=300)],
) -> Response:
    invitation = accounts.open_invitation(session, value)
    if password != repeat:
        return render(
            request,
            "invite.html",
            {"invited": invitation.user, "value": value, "error": "the passwords differ"},
            status_code=422,
        )
    try:
        accounts.accept_invitation(session, value, password)
    except DispatchError as exc:
        return render(
            request,
            "invite.html",
            {"invited": invitation.user, "value": value, "error": exc.message},
            status_code=422,
        )
    return RedirectResponse("/login", status_code=303)


# --- one's own account ------------------------------------------------------------


def _account(user: User, tokens: list[ApiToken]) -> dict[str, object]:
    return {"tokens": tokens, "second_factor": user.totp_secret is not None}


@router.get("/account", response_class=HTMLResponse)
def account_page(request: Request, session: DB, me: Self) -> Response:
    user = me.user(session)
    tokens = accounts.list_tokens(session, user)
    return render(request, "account.html", _account(user, tokens))


@router.post("/account/tokens", response_class=HTMLResponse)
def create_token(
    request: Request,
    session: DB,
    me: Self,
    name: Annotated[str, Form(max_length=80)],
    scope: Annotated[str, Form(max_length=8)] = "read",
    days: Annotated[int, Form(ge=1, le=accounts.TOKEN_DAYS_MAX)] = 90,
) -> Response:
    user = me.user(session)
    token, value = accounts.create_token(
        session, user, name=name, scope=scope, days=days, actor=me.name, origin=me.origin
    )
    tokens = accounts.list_tokens(session, user)
    page = _account(user, tokens)
    return render(request, "account.html", {**page, "new_token": value, "new": token})


@router.post("/account/tokens/{public_id}/revoke")
def revoke_token(request: Request, session: DB, me: Self, public_id: str) -> Response:
    accounts.revoke_token(session, me.user(session), public_id, me.name, me.origin)
    return RedirectResponse("/account", status_code=303)


@router.get("/account/totp", response_class=HTMLResponse)
def account_totp_page(request: Request, session: DB, me: Self) -> Response:
    """Turn on a second factor (optional for partner users; staff have one already)."""
    user = me.user(session)
    if user.totp_secret is not None:
        return RedirectResponse("/account", status_code=303)
    secret, sealed = _setup_secret(request)
    return _setup_page(request, user, sealed, secret, action="/account/totp")


@router.post("/account/totp", response_class=HTMLResponse)
def account_totp(
    request: Request,
    session: DB,
    me: Self,
    code: Annotated[str, Form(max_length=20)],
) -> Response:
    user = me.user(session)
    if user.totp_secret is not None:
        return RedirectResponse("/account", status_code=303)
    secret, sealed = _setup_secret(request)
    secret_key = request.app.state.settings.secret_key
    if not accounts.enrol_totp(session, user, secret_key, secret, code):
        return _setup_page(
            request, user, sealed, secret, action="/account/totp", error="that code is not right"
        )
    audit.record(session, actor=me.name, action="totp_enrol", member_id=None, origin=me.origin)
    response = RedirectResponse("/account", status_code=303)
    response.delete_cookie(SETUP_COOKIE, path="/")
    return response


class Me(BaseModel):
    id: str
    username: str
    display_name: str
    role: str
    partner: str | None


@api.get("/me", summary="The account this token belongs to")
def me(principal: Self) -> Me:
    who = principal.identity
    return Me(
        id=who.public_id,
        username=who.username,
        display_name=who.display_name,
        role=who.role.value,
        partner=who.partner_name,
    )
