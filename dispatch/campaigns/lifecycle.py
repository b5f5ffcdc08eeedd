"""The campaign-level steps the jobs run: snapshot and finalize.

Each is safe to run twice (a redelivered message): it acts only from the state it
expects and otherwise reports what it found.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from sqlalchemy import Engine, func, select

from dispatch.campaigns.delivery import open_batches
from dispatch.campaigns.models import (
    FINAL_STATUSES,
    Campaign,
    CampaignRecipient,
    CampaignStatus,
)
from dispatch.campaigns.snapshot import AudienceTooSmall, SegmentTampered, take_snapshot
from dispatch.campaigns.states import TransitionRefused, transition
from dispatch.db.engine import session_scope
from dispatch.db.types import utcnow
from dispatch.errors import InputError, OperationError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SnapshotStep:
    """What the snapshot job did: the batches to enqueue, or when to come back."""

    batches: list[int]
    retry_at: dt.datetime | None = None
    failed: str | None = None


def run_snapshot(
    engine: Engine,
    campaign_id: int,
    *,
    batch_size: int,
    frequency_cap: int,
    min_partner_audience: int,
    as_of: dt.date | None = None,
) -> SnapshotStep:
    """scheduled -> snapshotting -> dispatching, writing the recipients and batches.

    A campaign already past the snapshot (a redelivered message) gets its open
    batches back, so the caller can enqueue them again harmlessly.
    """
    with session_scope(engine) as session:
        campaign = session.get_one(Campaign, campaign_id)
        status = CampaignStatus(campaign.status)
        if status == CampaignStatus.DISPATCHING:
            return SnapshotStep(batches=open_batches(session, campaign_id))
        if status not in (CampaignStatus.SCHEDULED, CampaignStatus.SNAPSHOTTING):
            return SnapshotStep(batches=[])
        if status == CampaignStatus.SCHEDULED:
            if campaign.send_at is not None and campaign.send_at > utcnow():
                return SnapshotStep(batches=[], retry_at=campaign.send_at)
            try:
                transition(session, campaign, CampaignStatus.SNAPSHOTTING)
            except TransitionRefused:
                return SnapshotStep(batches=[])  # another message got there first
    try:
        with session_scope(engine) as session:
            # The row lock makes a second snapshot of the same campaign (a duplicate
            # message, or a sweep resuming one it thought stuck) wait for the first
            # and then find it done, instead of racing it to the unique key.
            campaign = session.execute(
                select(Campaign).where(Campaign.id == campaign_id).with_for_update()
            ).scalar_one()
            if campaign.status != CampaignStatus.SNAPSHOTTING.value:
                return SnapshotStep(batches=[])
            result = take_snapshot(
                session,
                campaign,
                batch_size=batch_size,
                frequency_cap=frequency_cap,
                min_partner_audience=min_partner_audience,
                as_of=as_of,
            )
            transition(
                session,
                campaign,
                CampaignStatus.DISPATCHING,
                snapshot_at=utcnow(),
                as_of=result.stats["as_of"] and dt.date.fromisoformat(result.stats["as_of"]),
                snapshot_stats=result.stats,
                batch_count=result.batches,
                recipient_count=result.recipients,
            )
            batches = open_batches(session, campaign_id)
    except TransitionRefused:
        return SnapshotStep(batches=[])  # cancelled while the snapshot ran
    except (AudienceTooSmall, SegmentTampered, InputError) as exc:
        # Retrying cannot help: the audience or the frozen segment is what it is (and a
        # retried message would leave the campaign stuck in snapshotting).
        reason = str(exc)[:500]
        with session_scope(engine) as session:
            campaign = session.get_one(Campaign, campaign_id)
            if campaign.status == CampaignStatus.SNAPSHOTTING.value:
                transition(session, campaign, CampaignStatus.FAILED, failure=reason)
        log.warning("campaign %s failed at snapshot: %s", campaign_id, reason)
        return SnapshotStep(batches=[], failed=reason)
    return SnapshotStep(batches=batches)


def finalize(engine: Engine, campaign_id: int) -> str:
    """dispatching -> completed once every batch is finished and every recipient has
    an outcome; return the campaign's status afterwards."""
    with session_scope(engine) as session:
        campaign = session.get_one(Campaign, campaign_id)
        if campaign.status != CampaignStatus.DISPATCHING.value:
            return campaign.status
        if open_batches(session, campaign_id):
            return campaign.status
        unfinished = session.execute(
            select(func.count()).where(
                CampaignRecipient.campaign_id == campaign_id,
                CampaignRecipient.status.not_in([s.value for s in FINAL_STATUSES]),
            )
        ).scalar_one()
        if unfinished:
            raise OperationError(
                f"{unfinished} recipients have no outcome although every batch is closed",
                where=f"campaign {campaign_id}",
            )
        try:
            transition(session, campaign, CampaignStatus.COMPLETED, completed_at=utcnow())
        except TransitionRefused:
            # Another worker's finalize (two batches that finish at once each send one)
            # or a cancel got there first: the campaign is final either way.
            return campaign.status  # refreshed by transition
        return campaign.status
