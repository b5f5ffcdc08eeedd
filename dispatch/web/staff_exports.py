"""The postal export queue (``/staff/exports``): "my data" for members without e-mail.

A member who has no e-mail address in the register (or whose address the mailer
refused for good) asks for their data in the preference centre; the request waits
here. Customer service download its letter, a PDF for a window envelope made on
request (:mod:`dispatch.members.letter`), print it, post it and mark it posted, or
decline it with a reason. The letter never goes through the print house: it says why
the member was chosen, which the print house may never learn (invariant 6).

Every download is an access to the member's whole export, audited like
``dispatch member export`` with the staff member, their reason and the client's
address. The PDF is streamed from memory with ``Cache-Control: no-store`` and is
never written to disk; the URL and the file name carry the request's public id only.
Part of the ``/staff`` router (:mod:`.staff`), and so CSRF-checked.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select

from dispatch.accounts.roles import Action
from dispatch.db.types import utcnow
from dispatch.members import requests
from dispatch.members.models import PostalExportRequest
from dispatch.register.models import Member
from dispatch.rendering.identity import LinkSettings
from dispatch.web.access import DB, Principal, origin_of, require
from dispatch.web.lists import Paging, paginate
from dispatch.web.pages import render

router = APIRouter()
Handler = Annotated[Principal, Depends(require(Action.MEMBER_POSTAL_EXPORT))]
Reason = Annotated[str, Form(min_length=3, max_length=200)]
#: The letter holds everything kept about the member: no cache may keep a copy.
PDF_HEADERS = {"Cache-Control": "no-store", "Pragma": "no-cache"}


@router.get("/exports", response_class=HTMLResponse)
def queue(request: Request, session: DB, paging: Paging, _: Handler) -> Response:
    """Open requests first, the oldest (the nearest deadline) first; then handled ones."""
    page = paginate(session, requests.queue(PostalExportRequest), paging)
    # Whether the letter can reach the member: shown so that customer service call
    # them first when it cannot (the address itself is only in the letter).
    ids = [r.member_id for r in page.items]
    reach = {
        member_id: (status, address_status, bool(street and postcode and post_town))
        for member_id, status, address_status, street, postcode, post_town in session.execute(
            select(
                Member.id,
                Member.status,
                Member.address_status,
                Member.street,
                Member.postcode,
                Member.post_town,
            ).where(Member.id.in_(ids))
        )
    }
    items = [(r, requests.due_date(r.requested_at), reach.get(r.member_id)) for r in page.items]
    today = utcnow().date()
    return render(request, "staff_exports.html", {"page": page, "items": items, "today": today})


@router.post("/exports/{export_id}/letter")
def letter(
    request: Request, session: DB, export_id: str, principal: Handler, reason: Reason
) -> Response:
    """The letter as PDF, made now: audited as ``member.export`` (destination post)."""
    found = requests.open_request(session, PostalExportRequest, export_id)
    sender = LinkSettings.from_settings(request.app.state.settings).sender()
    pdf = requests.export_letter(
        session,
        found,
        sender,
        actor=principal.name,
        reason=reason,
        origin=origin_of(request),
    )
    disposition = f'attachment; filename="{found.public_id}.pdf"'
    return Response(
        pdf,
        media_type="application/pdf",
        headers={**PDF_HEADERS, "Content-Disposition": disposition},
    )


@router.post("/exports/{export_id}/posted")
def posted(
    request: Request, session: DB, export_id: str, principal: Handler, reason: Reason
) -> Response:
    """The letter is in the post (only after a download): audited."""
    found = requests.open_request(session, PostalExportRequest, export_id)
    requests.mark_posted(
        session, found, actor=principal.name, note=reason, origin=origin_of(request)
    )
    return RedirectResponse("/staff/exports", status_code=303)


@router.post("/exports/{export_id}/decline")
def decline(
    request: Request, session: DB, export_id: str, principal: Handler, reason: Reason
) -> Response:
    """Decline (no address to post to, the member asked otherwise): audited."""
    found = requests.open_request(session, PostalExportRequest, export_id)
    requests.decline(session, found, actor=principal.name, reason=reason, origin=origin_of(request))
    return RedirectResponse("/staff/exports", status_code=303)
