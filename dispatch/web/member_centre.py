"""The preference centre (``/centre``): choices, objection, "my data", erasure.

Reached only with a session that an e-mail's link or a letter's code opened
(:func:`dispatch.web.access.member_visit`). Whatever a session does can only restrict
what the member receives; switching something on sends a confirmation to the
member's registered e-mail address (:mod:`dispatch.members.choices`). The member's
data is never shown here: it goes to that address, or, for a member the service
cannot mail, customer service post it. Every form carries a CSRF token.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Form, Request
from fastapi.responses import HTMLResponse, Response

from dispatch.members import choices, links, mail, requests, services
from dispatch.members.services import Visit
from dispatch.members.texts import LANGUAGES, format_date, text
from dispatch.register.models import Member
from dispatch.register.tokens import LinkPurpose
from dispatch.rendering.identity import LinkSettings
from dispatch.web import csrf
from dispatch.web.access import DB, MEMBER_COOKIE, member_page, member_visit, origin_of
from dispatch.web.member_pages import mailer, render
from dispatch.web.problems import Problem
from dispatch.web.routing import Router

router = Router(
    prefix="/centre",
    dependencies=[Depends(member_page), Depends(csrf.check)],
    include_in_schema=False,
)
VisitDep = Annotated[Visit, Depends(member_visit())]


def _page(
    request: Request, session: DB, visit: Visit, notes: list[tuple[str, str]], status: int = 200
) -> HTMLResponse:
    """The centre as it stands now, with ``notes`` (kind, text) at the top."""
    language = visit.language
    cells = services.cells(session, visit.member_id)
    rows: dict[str, list[choices.Cell]] = {}
    for cell in cells:
        rows.setdefault(cell.purpose.value, []).append(cell)
    context: dict[str, Any] = {
        "notes": notes,
        "rows": rows,
        "objected": services.objected(session, visit.member_id),
        # Says how "my data" will come: by e-mail, or posted by customer service.
        "has_email": bool(session.get_one(Member, visit.member_id).email),
    }
    return render(request, "centre.html", language, context, status_code=status)


@router.get("", response_class=HTMLResponse)
def centre(request: Request, session: DB, visit: VisitDep) -> Response:
    asked = request.query_params.get("lang")
    if asked in LANGUAGES and asked != visit.language:
        services.set_language(session, visit, asked)
        visit = Visit(visit.member_id, visit.campaign_id, visit.via, asked, visit.digest)
    return _page(request, session, visit, [])


def _pairs(language: str, pairs: list[choices.Pair]) -> str:
    return "; ".join(
        f"{text(language, f'purpose.{p}')}: {text(language, f'channel.{c}')}" for p, c in pairs
    )


@router.post("", response_class=HTMLResponse)
def save(
    request: Request,
    session: DB,
    visit: VisitDep,
    allow: Annotated[list[str] | None, Form(max_length=40)] = None,
) -> Response:
    """The choices form: restrictions at once, widenings only after a confirmation."""
    lang = visit.language
    outcome = services.apply_choices(session, visit, choices.parse_keys(allow or []))
    notes: list[tuple[str, str]] = []
    if outcome.restricted:
        notes.append(("ok", text(lang, "centre.saved")))
    if outcome.confirmation is not None:
        notes.append(_send_confirmation(request, session, visit, outcome))
    elif outcome.blocked:
        key = "centre.confirm_no_email" if outcome.blocked == "no_email" else "centre.confirm_limit"
        notes.append(("warn", text(lang, key)))
    if outcome.refused:
        notes.append(("warn", text(lang, "centre.refused", items=_pairs(lang, outcome.refused))))
    return _page(request, session, visit, notes or [("info", text(lang, "centre.nothing"))])


def _send_confirmation(
    request: Request, session: DB, visit: Visit, outcome: services.Outcome
) -> tuple[str, str]:
    member = session.get_one(Member, visit.member_id)
    settings = request.app.state.settings
    link_settings = LinkSettings.from_settings(settings)
    url = link_settings.url(LinkPurpose.CONFIRM, outcome.confirmation or "")
    items = _pairs(visit.language, outcome.pending).split("; ")
    email_settings = link_settings.email_settings()
    message = mail.confirmation(member.email or "", visit.language, items, url, email_settings)
    sent = mail.send(mailer(request), member.email or "", message, email_settings)
    if sent.status != "sent":
        # The restrictions stay; the confirmation that did not go is no link at all.
        links.revoke(session, outcome.confirmation or "", LinkPurpose.CONFIRM)
        return ("error", text(visit.language, "centre.data.failed"))
    return ("ok", text(visit.language, "centre.confirm_sent"))


@router.post("/object", response_class=HTMLResponse)
def object_all(request: Request, session: DB, visit: VisitDep) -> Response:
    """The single button: no direct marketing at all, from now on (Art. 21(2))."""
    services.object_all(session, visit)
    return _page(request, session, visit, [("ok", text(visit.language, "centre.objection.done"))])


@router.post("/export", response_class=HTMLResponse)
def send_my_data(request: Request, session: DB, visit: VisitDep) -> Response:
    """ "My data" (Art. 15): mailed to the registered address, never shown here.

    Without a registered address, or when the mailer refuses it for good, the request
    goes to customer service, who post the data (:mod:`dispatch.members.requests`).
    """
    lang = visit.language
    settings = LinkSettings.from_settings(request.app.state.settings).email_settings()
    try:
        address, message = services.export_message(session, visit, settings)
    except services.ExportRefused as refused:
        if refused.kind == "no_email":
            return _by_post(request, session, visit, "no_email")
        return _page(request, session, visit, [("warn", text(lang, "centre.data.limit"))])
    sent = mail.send(mailer(request), address, message, settings)
    if sent.status == "failed":
        # Refused for good: nothing went, so the export's audit entry goes too (the log
        # says only what was really sent), and the letter is asked for instead.
        session.rollback()
        return _by_post(request, session, visit, "undeliverable")
    if sent.status != "sent":
        # Rolled back with the audit entry: the log says only what was really sent.
        raise Problem(503, text(lang, "centre.data.failed"))
    return _page(request, session, visit, [("ok", text(lang, "centre.data.sent"))])


def _by_post(request: Request, session: DB, visit: Visit, cause: str) -> HTMLResponse:
    """Queue the export for customer service to post; say by when it will be posted."""
    answer = requests.request_postal_export(session, visit, origin_of(request), cause)
    key = {
        "queued": "centre.data.undeliverable" if cause == "undeliverable" else "centre.data.posted",
        "open": "centre.data.post_open",
        "limit": "centre.data.post_limit",
    }[answer.state]
    due = format_date(answer.due.isoformat())
    kind = "warn" if answer.state == "limit" else "ok"
    return _page(request, session, visit, [(kind, text(visit.language, key, due=due))])


@router.post("/erasure", response_class=HTMLResponse)
def ask_erasure(request: Request, session: DB, visit: VisitDep) -> Response:
    """Erasure (Art. 17) goes to customer service's queue, who confirm it first."""
    queued = requests.request_erasure(session, visit, origin_of(request))
    key = "centre.erase.sent" if queued is not None else "centre.erase.open"
    return _page(request, session, visit, [("ok", text(visit.language, key))])


@router.post("/leave", response_class=HTMLResponse)
def leave(request: Request, session: DB, visit: VisitDep) -> Response:
    """End the visit on a shared computer: the session is dead, the cookie gone."""
    services.end_visit(session, visit)
    response = render(request, "left.html", visit.language)
    response.delete_cookie(MEMBER_COOKIE, path="/")
    return response
