"""The staff portal's pages (``/staff``): overview, and the creative review queue.

Campaign pages are in :mod:`.staff_campaigns`, segments, member lookup and the audit
log in :mod:`.staff_records`, members' requests in :mod:`.staff_erasures` and
:mod:`.staff_exports`; all hang off this router, so every staff page shares
its CSRF check. What a page does is in :mod:`.staff_ops` (shared with the API).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Form, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from sqlalchemy import func, select

from dispatch.accounts.roles import Action
from dispatch.campaigns.models import Campaign, CampaignStatus
from dispatch.campaigns.states import ACTIVE
from dispatch.creatives.models import CreativeVersion
from dispatch.members import requests
from dispatch.members.models import RequestKind
from dispatch.rendering.preview import LANGUAGES
from dispatch.web import (
    csrf,
    staff_campaigns,
    staff_erasures,
    staff_exports,
    staff_ops,
    staff_records,
)
from dispatch.web.access import DB, Principal, require
from dispatch.web.lists import Paging, paginate
from dispatch.web.pages import render
from dispatch.web.previews import MEDIA_TYPES, previews
from dispatch.web.problems import not_found
from dispatch.web.routing import Router
from dispatch.web.staff_models import version_detail, version_item

router = Router(
    prefix="/staff",
    dependencies=[Depends(csrf.check)],
    include_in_schema=False,
)

#: The e-mail preview is partner HTML: shown only inside a sandboxed frame of ours,
#: with nothing but its own inline styles and embedded images.
EMAIL_FRAME_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; img-src data:; style-src 'unsafe-inline'; frame-ancestors 'self'"
    ),
    "X-Frame-Options": "SAMEORIGIN",
}


def _page_csp_with_frames() -> dict[str, str]:
    from dispatch.web.app import SECURITY_HEADERS  # the app imports this module

    return {
        "Content-Security-Policy": SECURITY_HEADERS["Content-Security-Policy"]
        + "; frame-src 'self'"
    }


@router.get("", response_class=HTMLResponse)
def home(
    request: Request,
    session: DB,
    principal: Annotated[Principal, Depends(require(Action.STAFF_HOME))],
) -> Response:
    """What each role starts its day with: its queue, its campaigns, its tools."""
    counts: dict[str, int] = {}
    if principal.may(Action.CREATIVE_VIEW):
        counts["queue"] = staff_ops.queue_size(session)
    if principal.may(Action.MEMBER_ERASURE) or principal.may(Action.MEMBER_POSTAL_EXPORT):
        waiting = requests.open_counts(session)
        counts["erasures"] = waiting.get(RequestKind.ERASURE.value, 0)
        counts["exports"] = waiting.get(RequestKind.POSTAL_EXPORT.value, 0)
    active: list[Campaign] = []
    if principal.may(Action.CAMPAIGN_VIEW):
        by_status = dict(
            session.execute(select(Campaign.status, func.count()).group_by(Campaign.status)).all()
        )
        counts["drafts"] = int(by_status.get(CampaignStatus.DRAFT.value, 0))
        counts["approved"] = int(by_status.get(CampaignStatus.APPROVED.value, 0))
        active = list(
            session.scalars(
                select(Campaign)
                .where(Campaign.status.in_([s.value for s in ACTIVE]))
                .order_by(Campaign.id.desc())
                .limit(10)
            )
        )
    return render(request, "staff_home.html", {"counts": counts, "active": active})


@router.get("/creatives", response_class=HTMLResponse)
def review_queue(
    request: Request,
    session: DB,
    paging: Paging,
    _: Annotated[Principal, Depends(require(Action.CREATIVE_VIEW))],
) -> Response:
    page = paginate(session, staff_ops.review_queue(), paging)
    items = [version_item(v) for v in page.items]
    return render(request, "staff_creatives.html", {"page": page, "items": items})


@router.get("/versions/{version_id}", response_class=HTMLResponse)
def review(
    request: Request,
    session: DB,
    version_id: str,
    principal: Annotated[Principal, Depends(require(Action.CREATIVE_VIEW))],
    lang: str = "fi",
) -> Response:
    """The previews beside the validation result, and the decision forms."""
    version = staff_ops.find_version(session, version_id)
    lang = lang if lang in LANGUAGES else LANGUAGES[0]
    rendered = previews(request.app.state.settings, version)
    text_file = rendered.path(f"email-{lang}.txt")
    context = {
        "v": version_detail(version),
        "lang": lang,
        "languages": LANGUAGES,
        "pages": rendered.letter_pages(lang),
        "has_pdf": rendered.has(f"letter-{lang}.pdf"),
        "has_email": rendered.has(f"email-{lang}.html"),
        "email_text": text_file.read_text(encoding="utf-8") if text_file else None,
        "base": f"/staff/versions/{version.public_id}/preview",
        "may_decide": principal.may(Action.CREATIVE_DECIDE),
        "four_eyes": request.app.state.settings.four_eyes,
    }
    return render(request, "staff_version.html", context, headers=_page_csp_with_frames())


@router.get("/versions/{version_id}/preview/{name}")
def preview_file(
    request: Request,
    session: DB,
    version_id: str,
    name: str,
    _: Annotated[Principal, Depends(require(Action.CREATIVE_VIEW))],
) -> Response:
    return preview_response(request, staff_ops.find_version(session, version_id), name)


def preview_response(request: Request, version: CreativeVersion, name: str) -> Response:
    """A rendered preview file; partner HTML only with the sandboxing headers."""
    path = previews(request.app.state.settings, version).path(name)
    if path is None:
        raise not_found("no such preview file")
    headers = EMAIL_FRAME_HEADERS if path.suffix == ".html" else {}
    return FileResponse(path, media_type=MEDIA_TYPES[path.suffix], headers=headers)


@router.post("/versions/{version_id}/approve")
def approve(
    request: Request,
    session: DB,
    version_id: str,
    principal: Annotated[Principal, Depends(require(Action.CREATIVE_DECIDE))],
) -> Response:
    version = staff_ops.find_version(session, version_id)
    staff_ops.decide(request, session, principal, version, approve=True)
    return RedirectResponse(f"/staff/versions/{version.public_id}", status_code=303)


@router.post("/versions/{version_id}/reject")
def reject(
    request: Request,
    session: DB,
    version_id: str,
    principal: Annotated[Principal, Depends(require(Action.CREATIVE_DECIDE))],
    reason: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    version = staff_ops.find_version(session, version_id)
    staff_ops.decide(request, session, principal, version, approve=False, reason=reason)
    return RedirectResponse(f"/staff/versions/{version.public_id}", status_code=303)


router.include_router(staff_campaigns.router)
router.include_router(staff_records.router)
router.include_router(staff_erasures.router)
router.include_router(staff_exports.router)
