"""The snapshot: freeze a campaign's recipients, one row per member, cut into batches.

One ``INSERT ... SELECT`` writes the recipients straight from the policy-filtered
segment selection (the member ids never pass through Python), numbering the batches
with a window function: post in postcode order, so that each batch is a run of
neighbouring postcodes (the print house's presort), e-mail in member id order.
The frequency cap is applied in the same statement.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, delete, func, insert, literal, select
from sqlalchemy.orm import Session

from dispatch.campaigns.models import (
    BatchStatus,
    Campaign,
    CampaignBatch,
    CampaignRecipient,
    RecipientStatus,
)
from dispatch.db.types import Purpose, utcnow
from dispatch.errors import InputError, OperationError
from dispatch.register.models import Member
from dispatch.segmenting import services as segments
from dispatch.segmenting.compiler import CompiledSegment
from dispatch.segmenting.spec import parse

#: The frequency cap counts contacts in this many days before the snapshot.
CAP_WINDOW = dt.timedelta(days=30)
#: Recipient states that count as a contact for the frequency cap: delivered, or
#: still on its way in a campaign that has not ended.
CONTACT_STATES = (
    RecipientStatus.PENDING.value,
    RecipientStatus.INCLUDED.value,
    RecipientStatus.SENDING.value,
    RecipientStatus.DELIVERED.value,
)


class AudienceTooSmall(OperationError):
    """A partner campaign would reach fewer members than the configured minimum."""


class SegmentTampered(OperationError):
    """The campaign's frozen segment text no longer matches the hash it was created with."""


@dataclass(frozen=True)
class SnapshotResult:
    recipients: int
    batches: int
    stats: dict[str, Any]


def segment_hash(source: str) -> str:
    return hashlib.sha256(source.encode("utf-8")).hexdigest()


def frozen_segment(campaign: Campaign) -> segments.Segment:
    """The segment exactly as the campaign was approved with it (hash checked)."""
    if segment_hash(campaign.segment_source) != campaign.segment_sha256:
        raise SegmentTampered(
            "the frozen segment text does not match its hash", where=f"campaign {campaign.id}"
        )
    return parse(campaign.segment_source, campaign.segment_path)


def capped_members(session: Session, campaign: Campaign, cap: int, now: dt.datetime) -> Any:
    """Members who already had ``cap`` contacts on this channel in the last 30 days."""
    return (
        select(CampaignRecipient.member_id)
        .join(Campaign, Campaign.id == CampaignRecipient.campaign_id)
        .where(
            Campaign.channel == campaign.channel,
            Campaign.id != campaign.id,
            Campaign.snapshot_at >= now - CAP_WINDOW,
            CampaignRecipient.status.in_(CONTACT_STATES),
        )
        .group_by(CampaignRecipient.member_id)
        .having(func.count() >= cap)
    )


def take_snapshot(
    session: Session,
    campaign: Campaign,
    *,
    batch_size: int,
    frequency_cap: int,
    min_partner_audience: int,
    as_of: dt.date | None = None,
    now: dt.datetime | None = None,
) -> SnapshotResult:
    """Write the campaign's recipients and batches in the caller's transaction.

    Raises :class:`AudienceTooSmall` for a partner campaign under the minimum (the
    caller rolls back and fails the campaign), :class:`InputError` when the frozen
    segment no longer compiles (e.g. a product group it names was removed).
    """
    now = now or utcnow()
    segment = frozen_segment(campaign)
    if segment.channel.value != campaign.channel:
        raise InputError(
            f"segment is for {segment.channel.value}, campaign for {campaign.channel}",
            where=campaign.segment_path,
        )
    capped = capped_members(session, campaign, frequency_cap, now).subquery("capped")
    order = (Member.postcode, Member.id) if campaign.channel == "post" else (Member.id,)
    batch_no = (func.row_number().over(order_by=order) - 1) // batch_size

    def write(compiled: CompiledSegment) -> segments.SegmentCount:
        # The count and the recipients from one compilation, written again (with
        # the earlier attempt's rows deleted) when the rollup window moved meanwhile.
        count = segments.count_compiled(session, compiled)
        chosen = compiled.selection().subquery("chosen")
        rows = (
            select(
                literal(campaign.id).label("campaign_id"),
                Member.id,
                batch_no.label("batch_no"),
                literal(RecipientStatus.PENDING.value).label("status"),
            )
            .join(chosen, chosen.c.id == Member.id)
            .outerjoin(capped, capped.c.member_id == Member.id)
            .where(capped.c.member_id.is_(None))
        )
        session.execute(
            delete(CampaignRecipient).where(CampaignRecipient.campaign_id == campaign.id)
        )
        session.execute(delete(CampaignBatch).where(CampaignBatch.campaign_id == campaign.id))
        with segments.segment_settings(session):
            session.execute(
                insert(CampaignRecipient).from_select(
                    ["campaign_id", "member_id", "batch_no", "status"], rows
                )
            )
        return count

    count = segments.run_compiled(session, segment, write, as_of=as_of)
    per_batch = session.execute(
        select(CampaignRecipient.batch_no, func.count())
        .where(CampaignRecipient.campaign_id == campaign.id)
        .group_by(CampaignRecipient.batch_no)
    ).all()
    total = sum(n for _, n in per_batch)
    if campaign.purpose == Purpose.PARTNER_MARKETING.value and total < min_partner_audience:
        raise AudienceTooSmall(
            f"a partner campaign needs at least {min_partner_audience} recipients; "
            f"this snapshot has {total}",
            where=f"campaign {campaign.id}",
        )
    if per_batch:
        session.execute(
            insert(CampaignBatch),
            [
                {
                    "campaign_id": campaign.id,
                    "number": number,
                    "status": BatchStatus.PENDING.value,
                    "attempts": 0,
                    "outbox_id": f"{campaign.reference}-{number:05d}",
                }
                for number, _ in sorted(per_batch)
            ],
        )
    stats = {
        **count.as_json(),
        "frequency_cap": frequency_cap,
        "removed_by_frequency_cap": count.selected - total,
        "snapshot": total,
    }
    return SnapshotResult(recipients=total, batches=len(per_batch), stats=stats)


def recipients_of(campaign_id: int, batch_no: int) -> Any:
    """The WHERE clause of one batch's recipients."""
    return and_(
        CampaignRecipient.campaign_id == campaign_id, CampaignRecipient.batch_no == batch_no
    )
