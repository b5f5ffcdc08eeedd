"""Staff campaign pages: list, create, follow live, approve, start, cancel, reconcile.

Part of the ``/staff`` router (:mod:`.staff`). A running campaign's page refreshes
itself every two seconds (a ``<meta http-equiv="refresh">``: the pages run no
script); once it has ended it shows the reconciliation and its funnel.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from dispatch.accounts.roles import Action
from dispatch.campaigns import report as reports
from dispatch.campaigns.models import CampaignStatus
from dispatch.campaigns.services import CHANNELS
from dispatch.campaigns.states import ACTIVE, allowed
from dispatch.errors import DispatchError, InputError
from dispatch.web import staff_charts, staff_ops
from dispatch.web.access import DB, Principal, require
from dispatch.web.lists import Paging, paginate
from dispatch.web.pages import render
from dispatch.web.staff_models import campaign_detail, campaign_item

router = APIRouter()
STATUSES = [s.value for s in CampaignStatus]


@router.get("/campaigns", response_class=HTMLResponse)
def campaign_list(
    request: Request,
    session: DB,
    paging: Paging,
    _: Annotated[Principal, Depends(require(Action.CAMPAIGN_VIEW))],
    status: str | None = None,
) -> Response:
    status = status if status in STATUSES else None
    page = paginate(session, staff_ops.campaign_list(status), paging)
    items = [campaign_item(session, c) for c in page.items]
    context = {"page": page, "items": items, "status": status, "statuses": STATUSES}
    return render(request, "staff_campaigns.html", context)


def _form(
    request: Request, session: Session, values: dict[str, str], error: DispatchError | None = None
) -> Response:
    folder = staff_ops.segments_dir(request)
    context: dict[str, Any] = {
        "versions": staff_ops.approved_versions(session),
        "segments": sorted(staff_ops.segment_files(folder)),
        "folder": str(folder),
        "channels": CHANNELS,
        "values": values,
        "error": error,
    }
    return render(request, "staff_campaign_new.html", context, status_code=422 if error else 200)


@router.get("/campaigns/new", response_class=HTMLResponse)
def new_campaign(
    request: Request,
    session: DB,
    _: Annotated[Principal, Depends(require(Action.CAMPAIGN_MANAGE))],
) -> Response:
    return _form(request, session, {})


@router.post("/campaigns/new", response_class=HTMLResponse)
def create_campaign(
    request: Request,
    session: DB,
    principal: Annotated[Principal, Depends(require(Action.CAMPAIGN_MANAGE))],
    creative: Annotated[str, Form(max_length=24)] = "",
    segment: Annotated[str, Form(max_length=100)] = "",
    channel: Annotated[str, Form(max_length=8)] = "",
    send_at: Annotated[str, Form(max_length=40)] = "",
    holdout: Annotated[str, Form(max_length=8)] = "10",
) -> Response:
    values = {
        "creative": creative,
        "segment": segment,
        "channel": channel,
        "send_at": send_at,
        "holdout": holdout,
    }
    try:
        try:
            holdout_percent = float(holdout or "10")
        except ValueError:
            raise InputError(f"must be a percentage, not {holdout!r}", where="holdout") from None
        campaign = staff_ops.create_campaign(
            session,
            principal,
            staff_ops.segments_dir(request),
            creative=creative,
            segment=segment,
            channel=channel,
            send_at=staff_ops.parse_send_at(send_at),
            min_partner_audience=request.app.state.settings.min_partner_audience,
            holdout_percent=holdout_percent,
        )
    except DispatchError as exc:
        # Nothing was written (create checks everything before it adds the row).
        return _form(request, session, values, exc)
    return RedirectResponse(f"/staff/campaigns/{campaign.public_id}", status_code=303)


@router.get("/campaigns/{campaign_id}", response_class=HTMLResponse)
def campaign_page(
    request: Request,
    session: DB,
    campaign_id: str,
    principal: Annotated[Principal, Depends(require(Action.CAMPAIGN_VIEW))],
) -> Response:
    campaign = staff_ops.find_campaign(session, campaign_id)
    detail = campaign_detail(session, campaign)
    report = reports.report(session, campaign) if detail.reconciliation else None
    status = CampaignStatus(campaign.status)
    context = {
        "c": detail,
        "active": status in ACTIVE,
        "funnel": staff_charts.funnel(report, campaign.snapshot_stats) if report else None,
        "report": report,
        "may_approve": principal.may(Action.CAMPAIGN_APPROVE)
        and allowed(status, CampaignStatus.APPROVED),
        "may_start": principal.may(Action.CAMPAIGN_MANAGE)
        and (status == CampaignStatus.APPROVED or status in ACTIVE),
        "may_cancel": principal.may(Action.CAMPAIGN_MANAGE)
        and allowed(status, CampaignStatus.CANCELLED),
    }
    return render(request, "staff_campaign.html", context)


def _back(campaign_id: str) -> Response:
    return RedirectResponse(f"/staff/campaigns/{campaign_id}", status_code=303)


@router.post("/campaigns/{campaign_id}/approve")
def approve(
    request: Request,
    session: DB,
    campaign_id: str,
    principal: Annotated[Principal, Depends(require(Action.CAMPAIGN_APPROVE))],
) -> Response:
    campaign = staff_ops.find_campaign(session, campaign_id)
    staff_ops.approve_campaign(request, session, principal, campaign)
    return _back(campaign.public_id)


@router.post("/campaigns/{campaign_id}/start")
def start(
    request: Request,
    session: DB,
    campaign_id: str,
    principal: Annotated[Principal, Depends(require(Action.CAMPAIGN_MANAGE))],
) -> Response:
    campaign = staff_ops.find_campaign(session, campaign_id)
    staff_ops.start_campaign(request, session, principal, campaign)
    return _back(campaign.public_id)


@router.post("/campaigns/{campaign_id}/cancel")
def cancel(
    session: DB,
    campaign_id: str,
    principal: Annotated[Principal, Depends(require(Action.CAMPAIGN_MANAGE))],
) -> Response:
    campaign = staff_ops.find_campaign(session, campaign_id)
    staff_ops.cancel_campaign(session, principal, campaign)
    return _back(campaign.public_id)
