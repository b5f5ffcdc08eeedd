"""The member's ways in: one-click unsubscribe, the e-mail's and the letter's links,
and the double opt-in confirmation. The preference centre itself is
:mod:`.member_centre`.

``/u/{token}`` is the List-Unsubscribe URL of RFC 8058. Its POST (what a mail client
sends for ``List-Unsubscribe-Post: List-Unsubscribe=One-Click``) withdraws at once:
no page, no sign-in, no CSRF token (the mail client has none; the token is the
authority, and it can only restrict). A GET never changes anything, because mail
filters fetch links to look at them: it shows the member's state in their language
with one button that makes the same POST, and a link to the preference centre.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from dispatch.campaigns import links as campaign_links
from dispatch.campaigns.models import MemberLink
from dispatch.db.types import Channel
from dispatch.members import services
from dispatch.members.texts import text
from dispatch.register import consent
from dispatch.register.models import Member
from dispatch.register.tokens import LinkPurpose
from dispatch.rendering.email import centre_token
from dispatch.web import csrf
from dispatch.web.access import DB, member_link, member_page
from dispatch.web.member_pages import pick_language, render, set_session
from dispatch.web.routing import Router

#: RFC 8058 POSTs come from mail clients with no CSRF token: a router of their own.
unsubscribe_router = Router(dependencies=[Depends(member_page)], include_in_schema=False)
router = Router(dependencies=[Depends(member_page), Depends(csrf.check)], include_in_schema=False)

UnsubscribeLink = Annotated[MemberLink, Depends(member_link(LinkPurpose.UNSUBSCRIBE))]
SESSION_SECONDS = int(campaign_links.LIFETIMES[LinkPurpose.SESSION].total_seconds())


def _unsubscribe_page(request: Request, session: DB, link: MemberLink) -> HTMLResponse:
    member = session.get_one(Member, link.member_id)
    language = pick_language(request, member.language)
    purpose = services.campaign_purpose(session, link.campaign_id)
    states = consent.current_states(session, member.id)
    done = purpose is None or not consent.allows(
        states, purpose, Channel.EMAIL, on_optout_register=False
    )
    secret = request.app.state.settings.secret_key
    context = {
        "done": done,
        "purpose": text(language, f"purpose.{purpose}") if purpose else "",
        "action": f"{request.url.path}?lang={language}",
        # The centre link of the same e-mail (issued with it): whoever holds this
        # unsubscribe link holds that e-mail and its centre link already.
        "centre_url": f"/p/{centre_token(secret, link.campaign_id, link.member_id)}",
    }
    return render(request, "unsubscribe.html", language, context)


@unsubscribe_router.get("/u/{token}", response_class=HTMLResponse)
def unsubscribe_page(request: Request, session: DB, link: UnsubscribeLink) -> Response:
    """The unsubscribe link opened in a browser: the state, and the one button."""
    return _unsubscribe_page(request, session, link)


@unsubscribe_router.post("/u/{token}", response_class=HTMLResponse)
def one_click(request: Request, session: DB, link: UnsubscribeLink) -> Response:
    """RFC 8058 one-click: withdraw the e-mail permission for the campaign's purpose."""
    services.withdraw_email(session, link, source=services.ONE_CLICK)
    return _unsubscribe_page(request, session, link)


def _open(request: Request, session: DB, link: MemberLink) -> Response:
    asked = request.query_params.get("lang")
    value, _ = services.open_visit(session, link, asked if asked in {"fi", "sv"} else None)
    response = RedirectResponse("/centre", status_code=303)
    set_session(request, response, value, SESSION_SECONDS)
    return response


@router.get("/p/{token}")
def from_email(
    request: Request,
    session: DB,
    link: Annotated[MemberLink, Depends(member_link(LinkPurpose.CENTRE))],
) -> Response:
    """The preference-centre link at the foot of an e-mail: opens a session."""
    return _open(request, session, link)


@router.get("/k", response_class=HTMLResponse)
def code_form(request: Request) -> Response:
    """Where a member with a letter types its code (the notice's short address)."""
    return render(request, "code.html", pick_language(request))


@router.post("/k")
def from_code(
    request: Request,
    session: DB,
    link: Annotated[MemberLink, Depends(member_link(LinkPurpose.LETTER, field="code"))],
) -> Response:
    """A letter's code, typed in: opens a session (an unknown code: the form again)."""
    return _open(request, session, link)


@router.get("/k/{token}")
@router.get("/K/{token}")
def from_qr(
    request: Request,
    session: DB,
    link: Annotated[MemberLink, Depends(member_link(LinkPurpose.LETTER))],
) -> Response:
    """A letter's QR code (the scheme and host in capitals keep the code compact)."""
    return _open(request, session, link)


ConfirmLink = Annotated[MemberLink, Depends(member_link(LinkPurpose.CONFIRM))]


def _grant_names(language: str, link: MemberLink) -> list[str]:
    return [
        f"{text(language, f'purpose.{p}')}: {text(language, f'channel.{c}')}"
        for p, c in services.grants_of(link)
    ]


@router.get("/c/{token}", response_class=HTMLResponse)
def confirmation(request: Request, session: DB, link: ConfirmLink) -> Response:
    """The double opt-in link from the member's mailbox: what would be switched on."""
    member = session.get_one(Member, link.member_id)
    language = pick_language(request, member.language)
    context = {"items": _grant_names(language, link), "action": request.url.path, "done": False}
    return render(request, "confirm.html", language, context)


@router.post("/c/{token}", response_class=HTMLResponse)
def confirm(request: Request, session: DB, link: ConfirmLink) -> Response:
    """Switch on what the member confirmed; the link is spent (a replay is 410)."""
    member = session.get_one(Member, link.member_id)
    language = pick_language(request, member.language)
    items = _grant_names(language, link)
    services.confirm(session, link)
    return render(request, "confirm.html", language, {"items": items, "done": True})
