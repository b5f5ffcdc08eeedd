"""What the staff API answers (Pydantic models, hence the OpenAPI document), and the
functions that build them from the domain objects; the staff pages show the same.

Only public ids (``cv_…``, ``cp_…``) appear; the integer ids stay inside. These
documents are staff-only: the reconciliation's small counts are exact, which is
never allowed on the partner side.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Generic, Literal, TypeVar

from pydantic import AwareDatetime, BaseModel, Field
from sqlalchemy.orm import Session

from dispatch.campaigns import report as reports
from dispatch.campaigns.models import Campaign
from dispatch.creatives.archive import read_zip
from dispatch.creatives.models import CreativeVersion
from dispatch.creatives.services import ContentChanged, verify_content
from dispatch.errors import DispatchError
from dispatch.rendering.preview import LANGUAGES
from dispatch.segmenting.services import SegmentCount
from dispatch.web import staff_charts
from dispatch.web.lists import PageInfo

T = TypeVar("T")


class Paged(BaseModel, Generic[T]):
    items: list[T]
    page: PageInfo


# --- creatives -----------------------------------------------------------------------


class VersionItem(BaseModel):
    id: str = Field(description="Public id of the creative version (cv_…)")
    partner: str
    creative: str
    version: int
    status: str
    submitted_at: dt.datetime
    submitted_by: str | None
    decided_at: dt.datetime | None
    decided_by: str | None
    reason: str | None


class BundleFile(BaseModel):
    name: str
    size: int


class LanguageTexts(BaseModel):
    subject: str
    texts: dict[str, str]


class VersionDetail(VersionItem):
    channels: list[str]
    languages: dict[str, LanguageTexts]
    files: list[BundleFile]
    content_hash: str
    content_verified: bool = Field(description="The stored bundle still has its recorded hash")
    previews: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="Per language: URLs of the rendered preview files"
    )


class Decision(BaseModel):
    reason: str = Field(min_length=1, max_length=500, description="Shown to the partner")


def version_item(version: CreativeVersion) -> VersionItem:
    return VersionItem(
        id=version.public_id,
        partner=version.creative.partner.name,
        creative=version.creative.name,
        version=version.version,
        status=version.status,
        submitted_at=version.submitted_at,
        submitted_by=version.submitted_by,
        decided_at=version.decided_at,
        decided_by=version.decided_by,
        reason=version.reason,
    )


def version_detail(
    version: CreativeVersion, previews: dict[str, dict[str, Any]] | None = None
) -> VersionDetail:
    """The validation side of the review: manifest, files and the re-checked hash."""
    try:
        verify_content(version)
        verified = True
    except ContentChanged:
        verified = False
    files, _ = read_zip(version.bundle, check_ratio=False)
    manifest = version.manifest
    languages = {
        lang: LanguageTexts(
            subject=str(manifest[lang].get("subject", "")),
            texts={str(k): str(v) for k, v in manifest[lang].get("texts", {}).items()},
        )
        for lang in LANGUAGES
        if isinstance(manifest.get(lang), dict)
    }
    return VersionDetail(
        **version_item(version).model_dump(),
        channels=list(manifest.get("channels", [])),
        languages=languages,
        files=[BundleFile(name=n, size=len(data)) for n, data in sorted(files.items())],
        content_hash=version.content_hash,
        content_verified=verified,
        previews=previews or {},
    )


# --- campaigns -----------------------------------------------------------------------


class CampaignCreate(BaseModel):
    creative: str = Field(max_length=24, description="Public id of an approved version (cv_…)")
    segment: str = Field(max_length=100, description="Segment name (see GET /segments)")
    channel: Literal["post", "email"]
    send_at: AwareDatetime | None = Field(default=None, description="Earliest start")
    holdout_percent: float = Field(
        default=10.0, ge=0, le=50, description="Share held out (not contacted) for the lift"
    )


class CampaignItem(BaseModel):
    id: str = Field(description="Public id of the campaign (cp_…)")
    status: str
    partner: str
    creative: str = Field(description="Public id of the creative version")
    creative_name: str
    channel: str
    purpose: str
    segment: str
    recipients: int
    send_at: dt.datetime | None
    created_at: dt.datetime
    created_by: str
    approved_by: str | None


class ProgressDoc(BaseModel):
    status: str
    recipients: int
    done: int
    batches: int
    batches_done: int


class TallyDoc(BaseModel):
    snapshot: int
    delivered: int
    suppressed: dict[str, int]
    failed: dict[str, int]
    #: Held out at the snapshot (never contacted; the lift report's comparison group).
    held_out: int = 0
    in_flight: int


class BatchDoc(TallyDoc):
    number: int
    status: str
    attempts: int
    letters: int | None
    pages: int | None
    acknowledged: bool
    last_error: str | None


class FunnelStep(BaseModel):
    label: str
    kind: str
    value: int


class Reconciliation(BaseModel):
    total: TallyDoc
    reconciled: bool = Field(
        description="snapshot = delivered + suppressed + failed + held out + in flight"
    )
    finished: bool
    batches: list[BatchDoc]
    funnel: list[FunnelStep]


class CampaignDetail(CampaignItem):
    segment_sha256: str
    snapshot_at: dt.datetime | None
    completed_at: dt.datetime | None
    cancelled_by: str | None
    failure: str | None
    snapshot_stats: dict[str, Any] | None
    progress: ProgressDoc
    reconciliation: Reconciliation | None


def campaign_item(session: Session, campaign: Campaign) -> CampaignItem:
    version = session.get_one(CreativeVersion, campaign.creative_version_id)
    return CampaignItem(
        id=campaign.public_id,
        status=campaign.status,
        partner=version.creative.partner.name,
        creative=version.public_id,
        creative_name=f"{version.creative.name} v{version.version}",
        channel=campaign.channel,
        purpose=campaign.purpose,
        segment=campaign.segment_name,
        recipients=campaign.recipient_count,
        send_at=campaign.send_at,
        created_at=campaign.created_at,
        created_by=campaign.created_by,
        approved_by=campaign.approved_by,
    )


def reconciliation(session: Session, campaign: Campaign) -> Reconciliation | None:
    """Where every snapshotted recipient ended (None before the snapshot)."""
    if campaign.snapshot_at is None:
        return None
    result = reports.report(session, campaign)
    chart = staff_charts.funnel(result, campaign.snapshot_stats)
    return Reconciliation(
        total=TallyDoc(**result.total.as_json()),
        reconciled=result.reconciled,
        finished=result.finished,
        batches=[BatchDoc(**b.as_json()) for b in result.batches],
        funnel=[FunnelStep(**s) for s in chart.as_json()],
    )


def campaign_detail(session: Session, campaign: Campaign) -> CampaignDetail:
    session.refresh(campaign)
    now = reports.progress(session, campaign.id)
    return CampaignDetail(
        **campaign_item(session, campaign).model_dump(),
        segment_sha256=campaign.segment_sha256,
        snapshot_at=campaign.snapshot_at,
        completed_at=campaign.completed_at,
        cancelled_by=campaign.cancelled_by,
        failure=campaign.failure,
        snapshot_stats=campaign.snapshot_stats,
        progress=ProgressDoc(**now.as_json()),
        reconciliation=reconciliation(session, campaign),
    )


class Started(BaseModel):
    campaign: CampaignDetail
    resumed: bool = Field(description="An active campaign's missing work was sent again")


class Cancelled(BaseModel):
    campaign: CampaignDetail
    stopped: int = Field(description="Recipients who will now receive nothing")


# --- segments ------------------------------------------------------------------------


class SegmentProblem(BaseModel):
    where: str | None
    message: str


class SegmentItem(BaseModel):
    name: str
    file: str
    ok: bool
    problems: list[SegmentProblem]


class CountDoc(BaseModel):
    segment: str
    purpose: str
    channel: str
    unit: str
    as_of: dt.date
    matched: int
    selected: int
    removed: dict[str, int] = Field(description="Every policy rule in order, zeros included")


class SegmentDetail(SegmentItem):
    source: str
    count: CountDoc | None = Field(description="The policy waterfall (None if it has problems)")


def segment_item(name: str, file: str, problems: list[DispatchError]) -> SegmentItem:
    return SegmentItem(
        name=name,
        file=file,
        ok=not problems,
        problems=[SegmentProblem(where=p.where, message=p.message) for p in problems],
    )


def count_doc(count: SegmentCount) -> CountDoc:
    return CountDoc(**count.as_json())


# --- members and the audit log ------------------------------------------------------


class MemberLookup(BaseModel):
    card_number: str = Field(min_length=1, max_length=40)
    reason: str = Field(min_length=1, max_length=200, description="Why; kept in the audit log")


class MemberExport(BaseModel):
    document: dict[str, Any] = Field(description="The same document as `dispatch member export`")


class AuditItem(BaseModel):
    at: dt.datetime
    actor: str
    action: str
    member_id: int | None
    reason: str | None
    origin: str | None
    detail: dict[str, Any]
