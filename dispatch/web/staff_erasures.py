"""The erasure queue (``/staff/erasures``): members' requests from the preference centre.

Whoever holds a member's letter could ask for the member's erasure, so a request is
never carried out by itself: customer service confirm it with the member (by phone,
at a store) and then erase or decline it here. Erasing is the same audited
:func:`dispatch.privacy.erasure.erase_member` as ``dispatch member erase``; declining
is audited too. Part of the ``/staff`` router (:mod:`.staff`), and so CSRF-checked.
The queue's bookkeeping is :mod:`dispatch.members.requests`, shared with the postal
exports (:mod:`.staff_exports`).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from dispatch.accounts.roles import Action
from dispatch.members import requests
from dispatch.members.models import ErasureRequest, RequestStatus
from dispatch.privacy import erasure
from dispatch.web.access import DB, Principal, origin_of, require
from dispatch.web.lists import Paging, paginate
from dispatch.web.pages import render

router = APIRouter()
Handler = Annotated[Principal, Depends(require(Action.MEMBER_ERASURE))]
Reason = Annotated[str, Form(min_length=3, max_length=200)]


@router.get("/erasures", response_class=HTMLResponse)
def queue(request: Request, session: DB, paging: Paging, _: Handler) -> Response:
    """Open requests first, oldest first; then the handled ones."""
    page = paginate(session, requests.queue(ErasureRequest), paging)
    return render(request, "staff_erasures.html", {"page": page})


@router.post("/erasures/{request_id}/erase")
def erase(
    request: Request, session: DB, request_id: str, principal: Handler, reason: Reason
) -> Response:
    """Erase the member (after confirming with them): audited as ``member.erase``."""
    found = requests.open_request(session, ErasureRequest, request_id)
    erasure.erase_member(
        session, found.member_id, actor=principal.name, reason=f"{reason} ({found.public_id})"
    )
    requests.close(found, RequestStatus.ERASED, principal.name, reason)
    return RedirectResponse("/staff/erasures", status_code=303)


@router.post("/erasures/{request_id}/decline")
def decline(
    request: Request, session: DB, request_id: str, principal: Handler, reason: Reason
) -> Response:
    """Decline (the member did not confirm it, or it was not theirs): audited."""
    found = requests.open_request(session, ErasureRequest, request_id)
    requests.decline(session, found, actor=principal.name, reason=reason, origin=origin_of(request))
    return RedirectResponse("/staff/erasures", status_code=303)
