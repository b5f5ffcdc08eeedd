"""The partner API (``/api/v1``): creatives, versions, previews, campaigns, users.

The same operations as the partner portal, over :mod:`.partner_ops`; every list is
paginated and every create honours ``Idempotency-Key``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, File, Request, UploadFile
from fastapi.responses import FileResponse, JSONResponse, Response
from pydantic import BaseModel, Field

from dispatch.accounts.roles import Action
from dispatch.creatives.models import CreativeVersion
from dispatch.web import idempotency
from dispatch.web import partner_ops as ops
from dispatch.web import partner_reports as reports
from dispatch.web.access import DB, Principal, reads_only, require
from dispatch.web.lists import PageInfo, Paging, page_info, paginate
from dispatch.web.previews import previews
from dispatch.web.problems import Problem
from dispatch.web.routing import Router

router = Router(prefix="/api/v1", tags=["partner"])
UPLOAD_TYPES = {"application/zip", "application/x-zip-compressed", "application/octet-stream", None}
Viewer = Annotated[Principal, Depends(require(Action.PARTNER_VIEW))]
Uploader = Annotated[Principal, Depends(require(Action.PARTNER_UPLOAD))]
Admin = Annotated[Principal, Depends(require(Action.PARTNER_USERS))]
Reader = Annotated[Principal, Depends(require(Action.PARTNER_REPORT))]


class CreativeList(BaseModel):
    items: list[ops.CreativeDoc]
    page: PageInfo


class CampaignList(BaseModel):
    items: list[ops.CampaignDoc]
    page: PageInfo


class UserList(BaseModel):
    items: list[ops.UserDoc]
    page: PageInfo


class Invitation(BaseModel):
    user: ops.UserDoc
    #: The one-time link (shown once; send it to the person).
    invitation_url: str


class NewUser(BaseModel):
    username: str = Field(min_length=2, max_length=80)
    display_name: str = Field(default="", max_length=120)
    email: str | None = Field(default=None, max_length=254)
    role: str = Field(default="partner_viewer", max_length=20)


def _preview_urls(request: Request, version: CreativeVersion) -> dict[str, dict[str, object]]:
    base = f"/api/v1/versions/{version.public_id}/preview"
    return previews(request.app.state.settings, version).as_json(base)


@router.get("/creatives", summary="Your partner's creatives")
def list_creatives(session: DB, me: Viewer, paging: Paging) -> CreativeList:
    page = paginate(session, ops.creatives_query(me), paging)
    return CreativeList(items=[ops.creative_doc(c) for c in page.items], page=page_info(page))


@router.post(
    "/creatives",
    status_code=201,
    summary="Upload a creative bundle (.zip) as a new version",
    responses={201: {"model": ops.VersionDoc}, 413: {}, 415: {}, 422: {}},
)
async def upload_creative(
    request: Request,
    session: DB,
    me: Uploader,
    bundle: Annotated[UploadFile, File(description="The bundle as a .zip archive")],
    key: idempotency.KeyHeader = None,
) -> JSONResponse:
    if bundle.content_type not in UPLOAD_TYPES:
        raise Problem(415, f"the bundle must be a .zip archive, not {bundle.content_type}")
    data = ops.read_upload_limit(await bundle.read(ops.MAX_UPLOAD + 1))
    digest = await idempotency.request_hash(request, data)
    replayed = idempotency.replay(session, me.user_id, key, digest)
    if replayed is not None:
        return replayed
    version = ops.upload(session, me, data)
    body = ops.version_doc(version).model_dump(mode="json")
    idempotency.remember(session, me.user_id, key, digest, 201, body)
    return JSONResponse(
        body, status_code=201, headers={"Location": f"/api/v1/versions/{version.public_id}"}
    )


@router.get("/creatives/{creative_id}", summary="A creative and its versions, newest first")
def get_creative(session: DB, me: Viewer, creative_id: str) -> ops.CreativeDoc:
    return ops.creative_doc(ops.creative_of(session, me, creative_id), with_versions=True)


@router.get("/versions/{version_id}", summary="A creative version: state and preview links")
def get_version(request: Request, session: DB, me: Viewer, version_id: str) -> ops.VersionDoc:
    version = ops.version_of(session, me, version_id)
    return ops.version_doc(version, _preview_urls(request, version))


@router.get(
    "/versions/{version_id}/preview/{name}",
    summary="One preview file (letter pages as PNG, the PDF, the e-mail as HTML and text)",
    response_class=FileResponse,
)
def get_preview(
    request: Request, session: DB, me: Viewer, version_id: str, name: str
) -> FileResponse:
    version = ops.version_of(session, me, version_id)
    return ops.preview_file(request.app.state.settings, version, name, inline_frame=False)


@router.get("/campaigns", summary="Your partner's campaigns: state and dates")
@reads_only
def list_campaigns(session: DB, me: Viewer, paging: Paging) -> CampaignList:
    page = paginate(session, ops.campaigns_query(me), paging, rows=True)
    items = ops.campaign_docs(page.items)
    return CampaignList(items=items, page=page_info(page))


@router.get("/campaigns/{campaign_id}", summary="One campaign: state and dates")
def get_campaign(session: DB, me: Viewer, campaign_id: str) -> ops.CampaignDoc:
    return ops.campaign_doc(session, ops.campaign_of(session, me, campaign_id))


@router.get(
    "/partner/campaigns/{campaign_id}/reports",
    summary="A campaign's reports: estimate, or what it reached and its lift (noisy aggregates)",
)
def get_reports(
    request: Request, session: DB, me: Reader, campaign_id: str
) -> reports.CampaignReports:
    campaign = ops.campaign_of(session, me, campaign_id)
    return reports.campaign_reports(session, request.app.state.settings, me, campaign)


@router.get(
    "/partner/campaigns/{campaign_id}/reports.csv",
    summary="The same reports as CSV, one row per released number",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}}},
)
def get_reports_csv(request: Request, session: DB, me: Reader, campaign_id: str) -> Response:
    campaign = ops.campaign_of(session, me, campaign_id)
    docs = reports.campaign_reports(session, request.app.state.settings, me, campaign)
    return reports.csv_response(docs, campaign)


@router.get("/partner/budget", summary="Your privacy budget this month and the reports released")
def get_budget(request: Request, session: DB, me: Reader) -> reports.BudgetDoc:
    return reports.budget_doc(session, request.app.state.settings, ops.partner_id(me))


@router.get("/users", summary="Your partner's users (partner administrators)")
def list_users(session: DB, me: Admin, paging: Paging) -> UserList:
    page = paginate(session, ops.users_query(me), paging)
    return UserList(items=[ops.user_doc(u) for u in page.items], page=page_info(page))


@router.post(
    "/users",
    status_code=201,
    summary="Invite a user of your partner (returns the one-time invitation link)",
    responses={201: {"model": Invitation}},
)
async def invite_user(
    request: Request, session: DB, me: Admin, new: NewUser, key: idempotency.KeyHeader = None
) -> JSONResponse:
    digest = await idempotency.request_hash(request)
    replayed = idempotency.replay(session, me.user_id, key, digest)
    if replayed is not None:
        return replayed
    user, value = ops.invite(
        session,
        me,
        username=new.username,
        role=new.role,
        display_name=new.display_name,
        email=new.email,
    )
    body = Invitation(
        user=ops.user_doc(user), invitation_url=f"{request.base_url}invite/{value}"
    ).model_dump(mode="json")
    idempotency.remember(session, me.user_id, key, digest, 201, body)
    return JSONResponse(body, status_code=201)
