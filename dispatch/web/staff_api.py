"""The staff API (``/api/v1/staff``): the staff portal's operations as JSON.

Every operation calls the same :mod:`.staff_ops` function as its page and answers
with a model of :mod:`.staff_models`, so the OpenAPI document describes exactly
what is sent. Lists are ``{"items": [...], "page": {...}}``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query, Request
from fastapi.responses import JSONResponse, Response

from dispatch.accounts.roles import Action
from dispatch.campaigns.models import CampaignStatus
from dispatch.web import idempotency, staff_ops
from dispatch.web.access import DB, Principal, require
from dispatch.web.lists import Paging, page_info, paginate
from dispatch.web.previews import previews
from dispatch.web.routing import Router
from dispatch.web.staff import preview_response
from dispatch.web.staff_models import (
    AuditItem,
    CampaignCreate,
    CampaignDetail,
    CampaignItem,
    Cancelled,
    Decision,
    MemberExport,
    MemberLookup,
    Paged,
    SegmentDetail,
    SegmentItem,
    Started,
    VersionDetail,
    VersionItem,
    campaign_detail,
    campaign_item,
    count_doc,
    version_detail,
    version_item,
)
from dispatch.web.staff_records import segment_list, segment_view

router = Router(
    prefix="/api/v1/staff",
    tags=["staff"],
)
PROBLEMS: dict[int | str, dict[str, object]] = {
    status: {"description": text, "content": {"application/problem+json": {}}}
    for status, text in (
        (401, "Not signed in"),
        (403, "The role (or a read-only token) does not allow this"),
        (404, "No such object"),
        (409, "Not possible in the object's current state"),
        (422, "Invalid input"),
    )
}
StatusFilter = Annotated[CampaignStatus | None, Query(description="Only campaigns in this state")]


def _detail(request: Request, version_id: str, session: DB) -> VersionDetail:
    version = staff_ops.find_version(session, version_id)
    base = f"/api/v1/staff/versions/{version.public_id}/preview"
    return version_detail(version, previews(request.app.state.settings, version).as_json(base))


# --- creatives -----------------------------------------------------------------------


@router.get("/creatives", responses=PROBLEMS)
def list_versions(
    session: DB, paging: Paging, _: Annotated[Principal, Depends(require(Action.CREATIVE_VIEW))]
) -> Paged[VersionItem]:
    """The review queue: versions waiting for a decision first, then newest first."""
    page = paginate(session, staff_ops.review_queue(), paging)
    return Paged[VersionItem](items=[version_item(v) for v in page.items], page=page_info(page))


@router.get("/versions/{version_id}", responses=PROBLEMS)
def get_version(
    request: Request,
    session: DB,
    version_id: str,
    _: Annotated[Principal, Depends(require(Action.CREATIVE_VIEW))],
) -> VersionDetail:
    """A version's validation result (manifest, files, verified hash) and preview URLs."""
    return _detail(request, version_id, session)


@router.get(
    "/versions/{version_id}/preview/{name}",
    responses={**PROBLEMS, 200: {"description": "A preview file (PNG, PDF, HTML or text)"}},
    response_class=Response,
)
def get_preview_file(
    request: Request,
    session: DB,
    version_id: str,
    name: str,
    _: Annotated[Principal, Depends(require(Action.CREATIVE_VIEW))],
) -> Response:
    """One rendered preview file of a version (names as listed in ``previews``)."""
    return preview_response(request, staff_ops.find_version(session, version_id), name)


@router.post("/versions/{version_id}/approve", responses=PROBLEMS)
def approve_version(
    request: Request,
    session: DB,
    version_id: str,
    principal: Annotated[Principal, Depends(require(Action.CREATIVE_DECIDE))],
) -> VersionDetail:
    """Approve a submitted version (never one you uploaded, with four eyes on); audited."""
    version = staff_ops.find_version(session, version_id)
    staff_ops.decide(request, session, principal, version, approve=True)
    return _detail(request, version_id, session)


@router.post("/versions/{version_id}/reject", responses=PROBLEMS)
def reject_version(
    request: Request,
    session: DB,
    version_id: str,
    decision: Decision,
    principal: Annotated[Principal, Depends(require(Action.CREATIVE_DECIDE))],
) -> VersionDetail:
    """Reject a submitted version with a reason the partner sees; audited."""
    version = staff_ops.find_version(session, version_id)
    staff_ops.decide(request, session, principal, version, approve=False, reason=decision.reason)
    return _detail(request, version_id, session)


# --- campaigns -----------------------------------------------------------------------


@router.get("/campaigns", responses=PROBLEMS)
def list_campaigns(
    session: DB,
    paging: Paging,
    _: Annotated[Principal, Depends(require(Action.CAMPAIGN_VIEW))],
    status: StatusFilter = None,
) -> Paged[CampaignItem]:
    """Campaigns, newest first."""
    page = paginate(session, staff_ops.campaign_list(status.value if status else None), paging)
    items = [campaign_item(session, c) for c in page.items]
    return Paged[CampaignItem](items=items, page=page_info(page))


async def _body_hash(request: Request) -> str:
    return await idempotency.request_hash(request)


@router.post("/campaigns", status_code=201, responses=PROBLEMS, response_model=CampaignDetail)
def create_campaign(
    request: Request,
    session: DB,
    body: CampaignCreate,
    digest: Annotated[str, Depends(_body_hash)],
    principal: Annotated[Principal, Depends(require(Action.CAMPAIGN_MANAGE))],
    key: idempotency.KeyHeader = None,
) -> Response:
    """Create a draft campaign; a retry with the same ``Idempotency-Key`` creates nothing."""
    replayed = idempotency.replay(session, principal.user_id, key, digest)
    if replayed is not None:
        return replayed
    campaign = staff_ops.create_campaign(
        session,
        principal,
        staff_ops.segments_dir(request),
        creative=body.creative,
        segment=body.segment,
        channel=body.channel,
        send_at=body.send_at,
        min_partner_audience=request.app.state.settings.min_partner_audience,
        holdout_percent=body.holdout_percent,
    )
    doc = campaign_detail(session, campaign).model_dump(mode="json")
    idempotency.remember(session, principal.user_id, key, digest, 201, doc)
    return JSONResponse(doc, status_code=201)


@router.get("/campaigns/{campaign_id}", responses=PROBLEMS)
def get_campaign(
    session: DB,
    campaign_id: str,
    _: Annotated[Principal, Depends(require(Action.CAMPAIGN_VIEW))],
) -> CampaignDetail:
    """Facts, progress, and (after the snapshot) the reconciliation with its funnel."""
    return campaign_detail(session, staff_ops.find_campaign(session, campaign_id))


@router.post("/campaigns/{campaign_id}/approve", responses=PROBLEMS)
def approve_campaign(
    request: Request,
    session: DB,
    campaign_id: str,
    principal: Annotated[Principal, Depends(require(Action.CAMPAIGN_APPROVE))],
) -> CampaignDetail:
    """Approve a draft (not one you created, with four eyes on); audited."""
    campaign = staff_ops.find_campaign(session, campaign_id)
    staff_ops.approve_campaign(request, session, principal, campaign)
    return campaign_detail(session, campaign)


@router.post("/campaigns/{campaign_id}/start", responses=PROBLEMS)
def start_campaign(
    request: Request,
    session: DB,
    campaign_id: str,
    principal: Annotated[Principal, Depends(require(Action.CAMPAIGN_MANAGE))],
) -> Started:
    """Schedule an approved campaign, or resume an active one that stopped part-way.

    409 with the one-line reason when a setting its channel needs cannot work."""
    campaign = staff_ops.find_campaign(session, campaign_id)
    started = staff_ops.start_campaign(request, session, principal, campaign)
    return Started(campaign=campaign_detail(session, campaign), resumed=started.resumed)


@router.post("/campaigns/{campaign_id}/cancel", responses=PROBLEMS)
def cancel_campaign(
    session: DB,
    campaign_id: str,
    principal: Annotated[Principal, Depends(require(Action.CAMPAIGN_MANAGE))],
) -> Cancelled:
    """Stop a campaign; nothing more is handed off."""
    campaign = staff_ops.find_campaign(session, campaign_id)
    stopped = staff_ops.cancel_campaign(session, principal, campaign)
    return Cancelled(campaign=campaign_detail(session, campaign), stopped=stopped)


# --- segments, members, audit --------------------------------------------------------


@router.get("/segments", responses=PROBLEMS)
def list_segments(
    request: Request, session: DB, _: Annotated[Principal, Depends(require(Action.SEGMENT_VIEW))]
) -> list[SegmentItem]:
    """Every segment file with its check result."""
    return segment_list(request, session)


@router.get("/segments/{name}", responses=PROBLEMS)
def get_segment(
    request: Request,
    session: DB,
    name: str,
    _: Annotated[Principal, Depends(require(Action.SEGMENT_VIEW))],
) -> SegmentDetail:
    """A segment's text, problems and policy waterfall (matched, removed per rule, selected)."""
    view = segment_view(request, session, name)
    count = view["count"]
    return SegmentDetail(
        **view["item"].model_dump(),
        source=view["source"],
        count=count_doc(count) if count else None,
    )


@router.post("/members/lookup", responses=PROBLEMS)
def lookup_member(
    request: Request,
    session: DB,
    body: MemberLookup,
    principal: Annotated[Principal, Depends(require(Action.MEMBER_LOOKUP))],
) -> MemberExport:
    """One member's export by card number (in the body, never the URL); audited with the reason."""
    document = staff_ops.lookup_member(
        session, principal, request.app.state.settings.secret_key, body.card_number, body.reason
    )
    return MemberExport(document=document)


@router.get("/audit", responses=PROBLEMS)
def audit_log(
    session: DB,
    paging: Paging,
    _: Annotated[Principal, Depends(require(Action.AUDIT_VIEW))],
    action: Annotated[str | None, Query(max_length=60)] = None,
) -> Paged[AuditItem]:
    """The audit log, newest first, optionally of one action."""
    page = paginate(session, staff_ops.audit_log(action), paging)
    items = [AuditItem.model_validate(e, from_attributes=True) for e in page.items]
    return Paged[AuditItem](items=items, page=page_info(page))
