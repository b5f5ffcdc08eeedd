"""The partner portal's pages (``/partner``): creatives, previews, campaigns with their
reports, the privacy budget, users."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, File, Form, Request, UploadFile
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response

from dispatch.accounts.roles import Action, Role
from dispatch.creatives.problems import BundleRejected
from dispatch.errors import DispatchError
from dispatch.rendering.preview import LANGUAGES
from dispatch.web import csrf, partner_charts
from dispatch.web import partner_ops as ops
from dispatch.web import partner_reports as reports
from dispatch.web.access import DB, Principal, reads_only, require
from dispatch.web.lists import Paging, paginate
from dispatch.web.pages import render
from dispatch.web.previews import previews
from dispatch.web.problems import Problem
from dispatch.web.routing import Router

router = Router(prefix="/partner", dependencies=[Depends(csrf.check)], include_in_schema=False)
Viewer = Annotated[Principal, Depends(require(Action.PARTNER_VIEW))]
Uploader = Annotated[Principal, Depends(require(Action.PARTNER_UPLOAD))]
Admin = Annotated[Principal, Depends(require(Action.PARTNER_USERS))]
Reader = Annotated[Principal, Depends(require(Action.PARTNER_REPORT))]
LANGUAGE_NAMES = {"fi": "Suomi", "sv": "Svenska"}
INVITABLE = [Role.PARTNER_VIEWER, Role.PARTNER_EDITOR, Role.PARTNER_ADMIN]
#: The preview page embeds the e-mail preview in a sandboxed frame of this site.
PREVIEW_PAGE_CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self' data:; frame-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)


@router.get("", response_class=HTMLResponse)
@reads_only
def dashboard(request: Request, session: DB, me: Viewer) -> Response:
    lists = ops.dashboard_lists(session, me, 8)
    return render(
        request, "partner_home.html", {"versions": lists.versions, "campaigns": lists.campaigns}
    )


@router.get("/creatives", response_class=HTMLResponse)
def creatives_page(request: Request, session: DB, me: Viewer, paging: Paging) -> Response:
    page = paginate(session, ops.creatives_query(me), paging)
    return render(request, "partner_creatives.html", {"page": page})


@router.get("/creatives/upload", response_class=HTMLResponse)
def upload_page(request: Request, me: Uploader) -> Response:
    return render(request, "partner_upload.html", {})


@router.post("/creatives/upload", response_class=HTMLResponse)
async def upload(
    request: Request,
    session: DB,
    me: Uploader,
    bundle: Annotated[UploadFile | None, File()] = None,
) -> Response:
    try:
        if bundle is None or not bundle.filename:
            raise Problem(422, "choose the bundle's .zip file first")
        if not bundle.filename.lower().endswith(".zip"):
            raise Problem(415, f"{bundle.filename} is not a .zip archive")
        data = ops.read_upload_limit(await bundle.read(ops.MAX_UPLOAD + 1))
        version = ops.upload(session, me, data)
    except BundleRejected as exc:
        return render(
            request,
            "partner_upload.html",
            {"rejected": exc.found, "filename": bundle and bundle.filename},
            status_code=422,
        )
    except (Problem, DispatchError) as exc:
        status = exc.status if isinstance(exc, Problem) else 422
        message = exc.detail if isinstance(exc, Problem) else str(exc)
        return render(request, "partner_upload.html", {"error": message}, status_code=status)
    return RedirectResponse(f"/partner/versions/{version.public_id}?uploaded=1", status_code=303)


@router.get("/creatives/{creative_id}", response_class=HTMLResponse)
def creative_page(request: Request, session: DB, me: Viewer, creative_id: str) -> Response:
    creative = ops.creative_of(session, me, creative_id)
    return render(
        request,
        "partner_creative.html",
        {"creative": creative, "versions": list(reversed(creative.versions))},
    )


@router.get("/versions/{version_id}", response_class=HTMLResponse)
def version_page(
    request: Request, session: DB, me: Viewer, version_id: str, lang: str = "fi"
) -> Response:
    version = ops.version_of(session, me, version_id)
    language = lang if lang in LANGUAGES else "fi"
    files = previews(request.app.state.settings, version)
    text_path = files.path(f"email-{language}.txt")
    response = render(
        request,
        "partner_version.html",
        {
            "version": version,
            "language": language,
            "languages": LANGUAGE_NAMES,
            "pages": files.letter_pages(language),
            "has_pdf": files.has(f"letter-{language}.pdf"),
            "has_email": files.has(f"email-{language}.html"),
            "email_text": text_path.read_text(encoding="utf-8") if text_path else None,
            "subject": version.manifest.get(language, {}).get("subject"),
            "uploaded": request.query_params.get("uploaded") == "1",
        },
    )
    response.headers["Content-Security-Policy"] = PREVIEW_PAGE_CSP
    return response


@router.get("/versions/{version_id}/preview/{name}")
def preview(request: Request, session: DB, me: Viewer, version_id: str, name: str) -> FileResponse:
    version = ops.version_of(session, me, version_id)
    return ops.preview_file(request.app.state.settings, version, name, inline_frame=True)


@router.get("/campaigns", response_class=HTMLResponse)
@reads_only
def campaigns_page(request: Request, session: DB, me: Viewer, paging: Paging) -> Response:
    page = paginate(session, ops.campaigns_query(me), paging, rows=True)
    docs = ops.campaign_docs(page.items)
    return render(request, "partner_campaigns.html", {"page": page, "campaigns": docs})


@router.get("/campaigns/{campaign_id}", response_class=HTMLResponse)
def campaign_page(request: Request, session: DB, me: Reader, campaign_id: str) -> Response:
    campaign = ops.campaign_of(session, me, campaign_id)
    docs = reports.campaign_reports(session, request.app.state.settings, me, campaign)
    report, lift = docs.report or {}, docs.lift or {}
    charts: dict[str, object] = {}
    if report.get("available"):
        charts["totals"] = partner_charts.totals(report)
        charts["breakdowns"] = {
            part["name"]: partner_charts.breakdown(part) for part in report["breakdowns"]
        }
    if lift.get("lift"):
        charts["rates"] = partner_charts.rates(lift["lift"])
        charts["interval"] = partner_charts.interval(lift["lift"])
    return render(
        request,
        "partner_campaign.html",
        {
            "campaign": ops.campaign_doc(session, campaign),
            "reports": docs,
            "charts": charts,
            "min_cell": request.app.state.settings.report_min_cell,
        },
    )


@router.get("/campaigns/{campaign_id}/report.csv")
def campaign_csv(request: Request, session: DB, me: Reader, campaign_id: str) -> Response:
    campaign = ops.campaign_of(session, me, campaign_id)
    docs = reports.campaign_reports(session, request.app.state.settings, me, campaign)
    return reports.csv_response(docs, campaign)


@router.get("/budget", response_class=HTMLResponse)
def budget_page(request: Request, session: DB, me: Reader) -> Response:
    doc = reports.budget_doc(session, request.app.state.settings, ops.partner_id(me))
    return render(request, "partner_budget.html", {"doc": doc.model_dump()})


def _users_page(
    request: Request,
    session: DB,
    me: Principal,
    paging: Paging,
    status_code: int = 200,
    **extra: object,
) -> Response:
    page = paginate(session, ops.users_query(me), paging)
    return render(
        request,
        "partner_users.html",
        {"page": page, "roles": INVITABLE, **extra},
        status_code=status_code,
    )


@router.get("/users", response_class=HTMLResponse)
def users_page(request: Request, session: DB, me: Admin, paging: Paging) -> Response:
    return _users_page(request, session, me, paging)


@router.post("/users", response_class=HTMLResponse)
def invite_user(
    request: Request,
    session: DB,
    me: Admin,
    paging: Paging,
    username: Annotated[str, Form(max_length=80)],
    role: Annotated[str, Form(max_length=20)],
    display_name: Annotated[str, Form(max_length=120)] = "",
    email: Annotated[str, Form(max_length=254)] = "",
) -> Response:
    try:
        user, value = ops.invite(
            session, me, username=username, role=role, display_name=display_name, email=email
        )
    except DispatchError as exc:
        return _users_page(request, session, me, paging, 422, error=str(exc))
    link = f"{request.base_url}invite/{value}"
    return _users_page(request, session, me, paging, invited=user, link=link)
