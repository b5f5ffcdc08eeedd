"""What the partner portal and the partner API share: lookups, uploads, documents.

Every lookup is scoped to the caller's own partner (another partner's object is a
404, exactly like one that does not exist), and every document built here is
partner-facing output: states, dates, names of the partner's own things, and
nothing about members, counts or staff (invariants 1 and 8); the numbers of the
reports come only through :mod:`.partner_reports`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi.responses import FileResponse
from pydantic import BaseModel
from sqlalchemy import Row, Select, bindparam, join, literal, select, text, union_all
from sqlalchemy.orm import Session

from dispatch.accounts import services as accounts
from dispatch.accounts.models import User
from dispatch.accounts.roles import PARTNER_ROLES, Role
from dispatch.campaigns.models import Campaign
from dispatch.config import Settings
from dispatch.creatives import services as creatives
from dispatch.creatives.archive import MAX_ARCHIVE_BYTES
from dispatch.creatives.bundle import load_uploaded_zip
from dispatch.creatives.models import Creative, CreativeVersion, Partner
from dispatch.errors import InputError
from dispatch.register import audit
from dispatch.web.access import Principal
from dispatch.web.lists import column_rows
from dispatch.web.previews import MEDIA_TYPES, previews
from dispatch.web.problems import Problem, not_found

#: Largest accepted upload (the archive limit of dispatch.creatives.archive).
MAX_UPLOAD = MAX_ARCHIVE_BYTES
#: The e-mail preview is partner HTML: shown in a sandboxed frame of our own pages only.
EMAIL_PREVIEW_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; img-src data:; style-src 'unsafe-inline'; frame-ancestors 'self'"
    ),
    "X-Frame-Options": "SAMEORIGIN",
}


# --- lookups (scoped to the caller's partner) ----------------------------------------


def partner_id(principal: Principal) -> int:
    """The caller's partner (404 for anyone else; the roles table keeps staff out)."""
    return _partner_id(principal)


def _partner_id(principal: Principal) -> int:
    if principal.partner_id is None:  # the roles table keeps staff out of partner routes
        raise not_found()
    return principal.partner_id


def _partner(session: Session, principal: Principal) -> Partner:
    partner = session.get(Partner, _partner_id(principal))
    if partner is None:  # cannot happen: a CHECK constraint gives partner users a partner
        raise not_found()
    return partner


def creative_of(session: Session, principal: Principal, public_id: str) -> Creative:
    creative = session.scalar(select(Creative).where(Creative.public_id == public_id))
    if creative is None or creative.partner_id != _partner_id(principal):
        raise not_found("no such creative")
    return creative


def version_of(session: Session, principal: Principal, public_id: str) -> CreativeVersion:
    version = session.scalar(select(CreativeVersion).where(CreativeVersion.public_id == public_id))
    if version is None or version.creative.partner_id != _partner_id(principal):
        raise not_found("no such creative version")
    return version


def campaign_of(session: Session, principal: Principal, public_id: str) -> Campaign:
    campaign = session.scalar(select(Campaign).where(Campaign.public_id == public_id))
    if campaign is None or campaign.partner_id != _partner_id(principal):
        raise not_found("no such campaign")
    return campaign


def creatives_query(principal: Principal) -> Select[Creative]:
    return (
        select(Creative)
        .where(Creative.partner_id == _partner_id(principal))
        .order_by(Creative.name, Creative.id)
    )


#: A campaign with its creative version and creative.
_CAMPAIGN_FROM = join(
    Campaign, CreativeVersion, CreativeVersion.id == Campaign.creative_version_id
).join(Creative, Creative.id == CreativeVersion.creative_id)

#: What a campaign document shows, in one row: the campaign's own columns and the name
#: and number of its creative version (no segment source, no ORM objects to build).
_CAMPAIGN_ROW = select(
    Campaign.public_id,
    Campaign.status,
    Campaign.channel,
    Creative.name.label("creative_name"),
    CreativeVersion.version,
    CreativeVersion.public_id.label("version_id"),
    Campaign.created_at,
    Campaign.approved_at,
    Campaign.send_at,
    Campaign.started_at,
    Campaign.completed_at,
    Campaign.cancelled_at,
).select_from(_CAMPAIGN_FROM)


_NEWEST_FIRST = (Campaign.created_at.desc(), Campaign.id.desc())
#: The campaigns of the partner ``:partner_id``, newest first (built once).
_PARTNER_CAMPAIGNS = _CAMPAIGN_ROW.where(Campaign.partner_id == bindparam("partner_id")).order_by(
    *_NEWEST_FIRST
)


def campaigns_query(principal: Principal) -> Select[*tuple[Any, ...]]:
    """The partner's campaigns as document rows (:func:`campaign_docs`), newest first."""
    return _PARTNER_CAMPAIGNS.params(partner_id=_partner_id(principal))


def _dashboard_list(kind: str, shown_at: Any, sort_at: Any, sort_id: Any) -> Select[Any]:
    """One of the dashboard's lists in the columns both share (``channel`` is the
    campaigns'), newest ``:limit`` first, with its own sort key for the outer order."""
    return (
        select(
            literal(kind).label("kind"),
            sort_at.label("sort_at"),
            sort_id.label("sort_id"),
            Creative.name.label("creative_name"),
            CreativeVersion.version,
            shown_at.label("at"),
        )
        .order_by(sort_at.desc(), sort_id.desc())
        .limit(bindparam("limit"))
    )


_VERSIONS_LIST = (
    _dashboard_list(
        "version", CreativeVersion.submitted_at, CreativeVersion.submitted_at, CreativeVersion.id
    )
    .add_columns(
        CreativeVersion.public_id,
        CreativeVersion.status,
        literal(None, Campaign.channel.type).label("channel"),
    )
    .join(Creative, Creative.id == CreativeVersion.creative_id)
    .where(Creative.partner_id == bindparam("partner_id"))
)
_CAMPAIGNS_LIST = (
    _dashboard_list("campaign", Campaign.send_at, Campaign.created_at, Campaign.id)
    .add_columns(Campaign.public_id, Campaign.status, Campaign.channel)
    .select_from(_CAMPAIGN_FROM)
    .where(Campaign.partner_id == bindparam("partner_id"))
)
_BOTH_LISTS = union_all(
    select(_VERSIONS_LIST.subquery()), select(_CAMPAIGNS_LIST.subquery())
).order_by(text("kind"), text("sort_at DESC"), text("sort_id DESC"))


@dataclass(frozen=True)
class DashboardLists:
    versions: list[Row[Any]]
    campaigns: list[Row[Any]]


def dashboard_lists(session: Session, principal: Principal, limit: int) -> DashboardLists:
    """The partner's ``limit`` latest creative versions and ``limit`` latest campaigns,
    newest first, as rows of the columns the dashboard shows.

    One statement for both: every dashboard view runs it, and a round trip to
    PostgreSQL costs the database and this process more than either query does
    (bench/HISTORY.md). Each list keeps its own order and limit in a subquery.
    """
    params = {"partner_id": _partner_id(principal), "limit": limit}
    rows = column_rows(session, _BOTH_LISTS, params)
    return DashboardLists(
        versions=[row for row in rows if row.kind == "version"],
        campaigns=[row for row in rows if row.kind == "campaign"],
    )


def users_query(principal: Principal) -> Select[User]:
    return select(User).where(User.partner_id == _partner_id(principal)).order_by(User.username)


# --- changes -------------------------------------------------------------------------


def upload(session: Session, principal: Principal, data: bytes) -> CreativeVersion:
    """Validate an uploaded bundle and store it as the next version (audited).

    Raises BundleRejected with every problem, by file and line, before anything is
    written.
    """
    bundle = load_uploaded_zip(data)
    partner = _partner(session, principal)
    version = creatives.store_bundle(session, partner, bundle, submitted_by=principal.name)
    audit.record(
        session,
        actor=principal.name,
        action="creative_upload",
        member_id=None,
        detail={
            "partner": partner.name,
            "creative": version.creative.public_id,
            "version": version.public_id,
            "sha256": version.content_hash,
        },
        origin=principal.origin,
    )
    return version


def invite(
    session: Session,
    principal: Principal,
    *,
    username: str,
    role: str,
    display_name: str,
    email: str | None,
) -> tuple[User, str]:
    """A new user of the caller's own partner, and their one-time invitation value."""
    try:
        wanted = Role(role)
    except ValueError:
        wanted = None
    if wanted not in PARTNER_ROLES:
        choices = ", ".join(sorted(r.value for r in PARTNER_ROLES))
        raise InputError(f"a partner user's role is one of {choices}", where="role")
    user = accounts.create_user(
        session,
        username=username,
        role=role,
        actor=principal.name,
        display_name=display_name or None,
        email=email,
        partner=_partner(session, principal),
    )
    value = accounts.invite(session, user, principal.name, principal.origin)
    return user, value


def preview_file(
    settings: Settings, version: CreativeVersion, name: str, *, inline_frame: bool
) -> FileResponse:
    """One preview file of ``version`` (404 for a name it does not have)."""
    path = previews(settings, version).path(name)
    if path is None:
        raise not_found("no such preview file")
    headers = dict(EMAIL_PREVIEW_HEADERS) if inline_frame and name.endswith(".html") else {}
    # Immutable content: the browser may keep it (the middleware's default is no-store).
    headers["Cache-Control"] = "private, max-age=86400, immutable"
    return FileResponse(path, media_type=MEDIA_TYPES[Path(name).suffix], headers=headers)


def read_upload_limit(data: bytes) -> bytes:
    if len(data) > MAX_ARCHIVE_BYTES:
        raise Problem(413, f"a bundle is at most {MAX_ARCHIVE_BYTES // 1024 // 1024} MB")
    if not data:
        raise Problem(422, "the upload is empty: choose the bundle's .zip file")
    return data


# --- documents -----------------------------------------------------------------------


class VersionDoc(BaseModel):
    id: str
    creative_id: str
    creative: str
    version: int
    state: str
    channels: list[str]
    submitted_at: dt.datetime
    decided_at: dt.datetime | None
    reason: str | None
    previews: dict[str, dict[str, object]] | None = None


class CreativeDoc(BaseModel):
    id: str
    name: str
    latest_version: int | None
    latest_state: str | None
    versions: list[VersionDoc] | None = None


class CampaignDoc(BaseModel):
    id: str
    state: str
    channel: str
    creative: str
    creative_version_id: str
    created_at: dt.datetime
    approved_at: dt.datetime | None
    send_at: dt.datetime | None
    started_at: dt.datetime | None
    completed_at: dt.datetime | None
    cancelled_at: dt.datetime | None
    #: Where its reports are (noisy aggregates; reading them may spend privacy budget).
    reports_url: str


class UserDoc(BaseModel):
    id: str
    username: str
    display_name: str
    role: str
    second_factor: bool
    active: bool


def version_doc(
    version: CreativeVersion, preview_urls: dict[str, dict[str, object]] | None = None
) -> VersionDoc:
    return VersionDoc(
        id=version.public_id,
        creative_id=version.creative.public_id,
        creative=version.creative.name,
        version=version.version,
        state=version.status,
        channels=list(version.manifest.get("channels", [])),
        submitted_at=version.submitted_at,
        decided_at=version.decided_at,
        reason=version.reason,
        previews=preview_urls,
    )


def creative_doc(creative: Creative, *, with_versions: bool = False) -> CreativeDoc:
    latest = creative.versions[-1] if creative.versions else None
    return CreativeDoc(
        id=creative.public_id,
        name=creative.name,
        latest_version=latest.version if latest else None,
        latest_state=latest.status if latest else None,
        versions=[version_doc(v) for v in reversed(creative.versions)] if with_versions else None,
    )


def campaign_docs(rows: Sequence[Row[*tuple[Any, ...]]]) -> list[CampaignDoc]:
    """Documents for rows of :func:`campaigns_query` (one query for a whole page)."""
    return [_campaign_doc(row) for row in rows]


def campaign_doc(session: Session, campaign: Campaign) -> CampaignDoc:
    return _campaign_doc(session.execute(_CAMPAIGN_ROW.where(Campaign.id == campaign.id)).one())


def _campaign_doc(row: Row[*tuple[Any, ...]]) -> CampaignDoc:
    return CampaignDoc(
        id=row.public_id,
        state=row.status,
        channel=row.channel,
        creative=f"{row.creative_name} v{row.version}",
        creative_version_id=row.version_id,
        created_at=row.created_at,
        approved_at=row.approved_at,
        send_at=row.send_at,
        started_at=row.started_at,
        completed_at=row.completed_at,
        cancelled_at=row.cancelled_at,
        reports_url=f"/api/v1/partner/campaigns/{row.public_id}/reports",
    )


def user_doc(user: User) -> UserDoc:
    return UserDoc(
        id=user.public_id,
        username=user.username,
        display_name=user.display_name,
        role=user.role,
        second_factor=user.totp_secret is not None,
        active=user.disabled_at is None and user.password_hash is not None,
    )
