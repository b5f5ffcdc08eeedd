"""What staff do with campaigns: create, approve, start, cancel, look.

Status changes go through :func:`dispatch.campaigns.states.transition`; the work
itself (snapshot, batches, finalize) is in :mod:`.snapshot` and :mod:`.delivery` and
runs in jobs (:mod:`dispatch.jobs`).
"""

from __future__ import annotations

import datetime as dt
import secrets
from pathlib import Path
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from dispatch.campaigns.models import (
    BatchStatus,
    Campaign,
    CampaignBatch,
    CampaignRecipient,
    CampaignStatus,
    RecipientStatus,
)
from dispatch.campaigns.snapshot import segment_hash
from dispatch.campaigns.states import ACTIVE, transition
from dispatch.creatives import services as creatives
from dispatch.creatives.models import CreativeStatus
from dispatch.db.types import Purpose, utcnow
from dispatch.errors import InputError, OperationError
from dispatch.segmenting import services as segments

CHANNELS = ("post", "email")
#: Why the recipients of a cancelled campaign's untouched batches got nothing.
CANCELLED_REASON = "campaign_cancelled"


def create(
    session: Session,
    *,
    partner: str,
    creative_version_id: int,
    segment_path: Path | str,
    channel: str,
    actor: str,
    send_at: dt.datetime | None = None,
) -> Campaign:
    """A draft campaign with the segment's text frozen in it."""
    if channel not in CHANNELS:
        raise InputError(f"channel must be post or email, not {channel!r}", where="--channel")
    owner = creatives.get_partner(session, partner)
    version = creatives.get_version(session, creative_version_id)
    if version.creative.partner_id != owner.id:
        raise InputError(
            f"creative version {version.id} belongs to another partner", where="--creative"
        )
    if channel not in version.manifest.get("channels", []):
        raise InputError(
            f"creative {version.creative.name} v{version.version} has no {channel} version",
            where="--creative",
        )
    problems = segments.check(session, segment_path)
    if problems:
        first = problems[0]
        more = f" (and {len(problems) - 1} more; run `dispatch segment check`)"
        raise InputError(first.message + (more if len(problems) > 1 else ""), where=first.where)
    source = Path(segment_path).read_text(encoding="utf-8")
    segment = segments.load(segment_path)
    if segment.channel.value != channel:
        raise InputError(
            f"segment {segment.name} is for {segment.channel.value}, not {channel}",
            where=str(segment_path),
        )
    if not owner.house and segment.purpose != Purpose.PARTNER_MARKETING:
        # Otherwise a partner's letter would go out under the cooperative's own
        # consent, past the opt-out register and the partner-marketing refusals.
        raise InputError(
            f"segment {segment.name} is for {segment.purpose.value}, but {owner.name} is a "
            "partner, not the cooperative: its campaigns need a partner_marketing segment"
            f" (if {owner.name} is the cooperative: dispatch partner house {owner.name!r})",
            where=str(segment_path),
        )
    if send_at is not None and send_at.tzinfo is None:
        raise InputError("send time needs a time zone (e.g. +02:00 or Z)", where="--send-at")
    campaign = Campaign(
        reference=secrets.token_hex(8),
        partner_id=owner.id,
        creative_version_id=version.id,
        channel=channel,
        purpose=segment.purpose.value,
        segment_name=segment.name,
        segment_path=str(segment_path),
        segment_source=source,
        segment_sha256=segment_hash(source),
        status=CampaignStatus.DRAFT.value,
        send_at=send_at,
        created_by=actor,
        batch_count=0,
        recipient_count=0,
    )
    session.add(campaign)
    session.flush()
    return campaign


def get(session: Session, campaign_id: int) -> Campaign:
    campaign = session.get(Campaign, campaign_id)
    if campaign is None:
        raise InputError(f"no campaign {campaign_id}", where="CAMPAIGN")
    return campaign


def list_campaigns(session: Session, status: str | None = None) -> list[Campaign]:
    stmt = select(Campaign).order_by(Campaign.id)
    if status:
        stmt = stmt.where(Campaign.status == status)
    return list(session.scalars(stmt))


def approve(session: Session, campaign: Campaign, actor: str) -> None:
    """Approve a draft; its creative version must be approved and unchanged."""
    version = creatives.get_version(session, campaign.creative_version_id)
    if version.status != CreativeStatus.APPROVED.value:
        raise OperationError(
            f"creative version {version.id} is {version.status}; approve it first",
            where=f"campaign {campaign.id}",
        )
    creatives.verify_content(version)
    transition(session, campaign, CampaignStatus.APPROVED, approved_at=utcnow(), approved_by=actor)


def schedule(session: Session, campaign: Campaign, send_at: dt.datetime | None = None) -> None:
    """approved -> scheduled; the caller enqueues the snapshot after commit."""
    values: dict[str, Any] = {"started_at": utcnow()}
    if send_at is not None:
        values["send_at"] = send_at
    transition(session, campaign, CampaignStatus.SCHEDULED, **values)


def cancel(session: Session, campaign: Campaign, actor: str) -> int:
    """Stop a campaign; return how many recipients will now receive nothing.

    Batches not yet claimed are closed here with their recipients suppressed as
    ``campaign_cancelled``; a batch a worker holds sees the cancellation at its next
    step (before hand-off at the latest) and closes itself the same way.
    """
    transition(
        session, campaign, CampaignStatus.CANCELLED, cancelled_at=utcnow(), cancelled_by=actor
    )
    pending = [
        number
        for number in session.scalars(
            select(CampaignBatch.number).where(
                CampaignBatch.campaign_id == campaign.id,
                CampaignBatch.status == BatchStatus.PENDING.value,
            )
        )
    ]
    closed = 0
    for number in pending:
        done = session.execute(
            update(CampaignBatch)
            .where(
                CampaignBatch.campaign_id == campaign.id,
                CampaignBatch.number == number,
                CampaignBatch.status == BatchStatus.PENDING.value,
            )
            .values(status=BatchStatus.FAILED.value, last_error=CANCELLED_REASON)
        )
        if done.rowcount:  # type: ignore[attr-defined]
            closed += suppress_unfinished(session, campaign.id, number, CANCELLED_REASON)
    return closed


def suppress_unfinished(session: Session, campaign_id: int, batch_no: int, reason: str) -> int:
    """Mark the batch's recipients that are still pending as suppressed for ``reason``."""
    result = session.execute(
        update(CampaignRecipient)
        .where(
            CampaignRecipient.campaign_id == campaign_id,
            CampaignRecipient.batch_no == batch_no,
            CampaignRecipient.status.in_(
                [RecipientStatus.PENDING.value, RecipientStatus.INCLUDED.value]
            ),
        )
        .values(status=RecipientStatus.SUPPRESSED.value, reason=reason, updated_at=utcnow())
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def is_active(campaign: Campaign) -> bool:
    return CampaignStatus(campaign.status) in ACTIVE
