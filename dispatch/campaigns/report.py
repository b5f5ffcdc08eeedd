"""The staff view of a campaign: where every snapshotted recipient ended up.

The reconciliation is ``snapshot = delivered + suppressed + failed + held out + in
flight``, in total and (held out apart, as they are in no batch) per batch, with
suppressions and failures by reason. Once a campaign
is finished nothing may be in flight: :attr:`Report.reconciled` says whether that
holds (invariant 4). Staff-only: it names no member, but its small counts are not
suppressed, so it is never shown to a partner.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dispatch.campaigns.models import (
    FINAL_STATUSES,
    FINISHED_BATCH,
    Campaign,
    CampaignBatch,
    CampaignRecipient,
    CampaignStatus,
    RecipientStatus,
)
from dispatch.campaigns.states import FINAL
from dispatch.creatives.models import CreativeVersion
from dispatch.errors import CONFIGURATION

R = RecipientStatus


@dataclass
class Tally:
    """Outcomes of a set of recipients."""

    snapshot: int = 0
    delivered: int = 0
    suppressed: Counter[str] = field(default_factory=Counter)
    failed: Counter[str] = field(default_factory=Counter)
    held_out: int = 0
    in_flight: int = 0

    def add(self, status: str, reason: str | None, n: int) -> None:
        self.snapshot += n
        if status == R.DELIVERED.value:
            self.delivered += n
        elif status == R.SUPPRESSED.value:
            self.suppressed[reason or "unknown"] += n
        elif status == R.FAILED.value:
            self.failed[reason or "unknown"] += n
        elif status == R.HELD_OUT.value:
            self.held_out += n
        else:
            self.in_flight += n

    @property
    def accounted(self) -> int:
        return (
            self.delivered
            + sum(self.suppressed.values())
            + sum(self.failed.values())
            + self.held_out
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "snapshot": self.snapshot,
            "delivered": self.delivered,
            "suppressed": dict(sorted(self.suppressed.items())),
            "failed": dict(sorted(self.failed.items())),
            "held_out": self.held_out,
            "in_flight": self.in_flight,
        }


@dataclass
class BatchLine:
    number: int
    status: str
    attempts: int
    letters: int | None
    pages: int | None
    acknowledged: bool
    last_error: str | None
    tally: Tally

    def as_json(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "status": self.status,
            "attempts": self.attempts,
            "letters": self.letters,
            "pages": self.pages,
            "acknowledged": self.acknowledged,
            "last_error": self.last_error,
            **self.tally.as_json(),
        }


@dataclass
class Report:
    campaign: dict[str, Any]
    total: Tally
    batches: list[BatchLine]

    @property
    def finished(self) -> bool:
        return CampaignStatus(self.campaign["status"]) in FINAL

    @property
    def reconciled(self) -> bool:
        """Every recipient counted once, and none in flight once the campaign ended."""
        total = self.total
        if total.snapshot != total.accounted + total.in_flight:
            return False
        if sum(b.tally.snapshot for b in self.batches) + total.held_out != total.snapshot:
            return False
        return not (self.finished and total.in_flight)

    def as_json(self) -> dict[str, Any]:
        return {
            "campaign": self.campaign,
            "total": self.total.as_json(),
            "reconciled": self.reconciled,
            "batches": [b.as_json() for b in self.batches],
        }


def describe(session: Session, campaign: Campaign) -> dict[str, Any]:
    """The campaign's own facts (what ``list`` and ``report`` show)."""
    version = session.get_one(CreativeVersion, campaign.creative_version_id)
    return {
        "id": campaign.id,
        "status": campaign.status,
        "partner": version.creative.partner.name,
        "creative": f"{version.creative.name} v{version.version}",
        "creative_version_id": version.id,
        "channel": campaign.channel,
        "purpose": campaign.purpose,
        "segment": campaign.segment_name,
        "segment_sha256": campaign.segment_sha256,
        "send_at": campaign.send_at,
        "created_by": campaign.created_by,
        "approved_by": campaign.approved_by,
        "snapshot_at": campaign.snapshot_at,
        "completed_at": campaign.completed_at,
        "cancelled_by": campaign.cancelled_by,
        "failure": campaign.failure,
        "recipients": campaign.recipient_count,
        "holdout_percent": campaign.holdout_bp / 100,
        "response_days": campaign.response_days,
        "batches": campaign.batch_count,
        "snapshot_stats": campaign.snapshot_stats,
    }


def report(session: Session, campaign: Campaign) -> Report:
    rows = session.execute(
        select(
            CampaignRecipient.batch_no,
            CampaignRecipient.status,
            CampaignRecipient.reason,
            func.count(),
        )
        .where(CampaignRecipient.campaign_id == campaign.id)
        .group_by(CampaignRecipient.batch_no, CampaignRecipient.status, CampaignRecipient.reason)
    ).all()
    total = Tally()
    per_batch: dict[int, Tally] = {}
    for batch_no, status, reason, n in rows:
        total.add(status, reason, n)
        per_batch.setdefault(batch_no, Tally()).add(status, reason, n)
    batches = [
        BatchLine(
            number=b.number,
            status=b.status,
            attempts=b.attempts,
            letters=b.letters,
            pages=b.pages,
            acknowledged=b.acknowledged_at is not None,
            last_error=b.last_error,
            tally=per_batch.get(b.number, Tally()),
        )
        for b in session.scalars(
            select(CampaignBatch)
            .where(CampaignBatch.campaign_id == campaign.id)
            .order_by(CampaignBatch.number)
        )
    ]
    return Report(campaign=describe(session, campaign), total=total, batches=batches)


@dataclass(frozen=True)
class Progress:
    status: str
    recipients: int
    done: int
    batches: int
    batches_done: int

    def as_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "recipients": self.recipients,
            "done": self.done,
            "batches": self.batches,
            "batches_done": self.batches_done,
        }


def progress(session: Session, campaign_id: int) -> Progress:
    """Cheap counts for a progress bar: recipients with an outcome, batches closed."""
    campaign = session.get_one(Campaign, campaign_id)
    session.refresh(campaign)
    done = session.execute(
        select(func.count()).where(
            CampaignRecipient.campaign_id == campaign_id,
            CampaignRecipient.status.in_([s.value for s in FINAL_STATUSES]),
        )
    ).scalar_one()
    closed = session.execute(
        select(func.count()).where(
            CampaignBatch.campaign_id == campaign_id,
            CampaignBatch.status.in_(FINISHED_BATCH),
        )
    ).scalar_one()
    return Progress(
        status=campaign.status,
        recipients=campaign.recipient_count,
        done=done,
        batches=campaign.batch_count,
        batches_done=closed,
    )


def configuration_error(session: Session, campaign_id: int) -> str | None:
    """The configuration error a released, unfinished batch of the campaign stopped on
    (its job is not retried), or None."""
    return session.execute(
        select(CampaignBatch.last_error)
        .where(
            CampaignBatch.campaign_id == campaign_id,
            CampaignBatch.status.not_in(FINISHED_BATCH),
            CampaignBatch.claim_token.is_(None),
            CampaignBatch.last_error.startswith(f"{CONFIGURATION}: "),
        )
        .order_by(CampaignBatch.number)
        .limit(1)
    ).scalar_one_or_none()
