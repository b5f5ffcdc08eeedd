"""What staff do with campaigns: create, approve, start, cancel, look.

Status changes go through :func:`dispatch.campaigns.states.transition`; the work
itself (snapshot, batches, finalize) is in :mod:`.snapshot` and :mod:`.delivery` and
runs in jobs (:mod:`dispatch.jobs`), which the entry points send: this module knows
nothing of the job runtime.
"""

from __future__ import annotations

import datetime as dt
import math
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from dispatch.campaigns.models import (
    DEFAULT_HOLDOUT_BP,
    DEFAULT_RESPONSE_DAYS,
    BatchStatus,
    Campaign,
    CampaignBatch,
    CampaignRecipient,
    CampaignStatus,
    RecipientStatus,
)
from dispatch.campaigns.snapshot import AudienceTooSmall, frozen_segment, segment_hash
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
    min_partner_audience: int,
    send_at: dt.datetime | None = None,
    holdout_percent: float = DEFAULT_HOLDOUT_BP / 100,
    response_days: int = DEFAULT_RESPONSE_DAYS,
) -> Campaign:
    """A draft campaign with the segment's text frozen in it.

    A partner campaign whose segment selects fewer than ``min_partner_audience``
    members now is refused here already (the snapshot checks again when it starts).
    ``holdout_percent`` of the selected members (0 to 50, in steps of 0.01) are held
    out at the snapshot for the lift report, which counts bonus purchases within
    ``response_days`` of the snapshot as responses.
    """
    if channel not in CHANNELS:
        raise InputError(f"channel must be post or email, not {channel!r}", where="--channel")
    check_send_at(send_at)
    # NaN and infinity cannot be rounded: refuse them with the same message.
    holdout_bp = round(holdout_percent * 100) if math.isfinite(holdout_percent) else -1
    if not 0 <= holdout_bp <= 5000 or abs(holdout_bp - holdout_percent * 100) > 1e-6:
        raise InputError(
            f"must be a percentage from 0 to 50 with at most 2 decimals, not {holdout_percent}",
            where="--holdout",
        )
    if not 1 <= response_days <= 365:
        raise InputError(
            f"must be between 1 and 365 days, not {response_days}", where="--response-days"
        )
    owner = creatives.get_partner(session, partner, where="--partner")
    version = creatives.get_version(session, creative_version_id, where="--creative")
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
    check_audience(session, segment, min_partner_audience, where="--segment")
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
        holdout_bp=holdout_bp,
        response_days=response_days,
    )
    session.add(campaign)
    session.flush()
    return campaign


def check_send_at(send_at: dt.datetime | None, now: dt.datetime | None = None) -> None:
    """Refuse a send time without a zone, or one already past (bad input, exit 2).

    A time in the past would make "scheduled for" a promise already broken; without
    a send time the campaign starts at once, which is what a past time would mean.
    """
    if send_at is None:
        return
    if send_at.tzinfo is None:
        raise InputError("send time needs a time zone (e.g. +02:00 or Z)", where="--send-at")
    now = now or utcnow()
    if send_at <= now:
        raise InputError(
            f"{send_at.isoformat()} is in the past (now {now.isoformat(timespec='seconds')}); "
            "give a later time, or none to start at once",
            where="--send-at",
        )


def check_audience(
    session: Session, segment: segments.Segment, minimum: int, *, where: str
) -> int | None:
    """Refuse a partner campaign whose segment selects fewer than ``minimum`` members now.

    Returns the count (policy applied, before the frequency cap), or None for an
    own-marketing segment, which is not held to the partner minimum. Raises
    :class:`AudienceTooSmall` (exit 1): the request is well-formed, the register is
    what it is.
    """
    if segment.purpose != Purpose.PARTNER_MARKETING:
        return None
    selected = segments.count(session, segment).selected
    if selected < minimum:
        raise AudienceTooSmall(
            f"a partner campaign needs at least {minimum} recipients; segment "
            f"{segment.name} selects {selected} now",
            where=where,
        )
    return selected


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


def approve(
    session: Session,
    campaign: Campaign,
    actor: str,
    *,
    min_partner_audience: int,
    four_eyes: bool = True,
) -> None:
    """Approve a draft; its creative version must be approved and unchanged.

    With ``four_eyes`` (the default) the person who created the campaign cannot. A
    partner campaign's frozen segment is counted again: the register may have changed
    since the draft, and an approval of an audience under the minimum would only
    fail later, at the snapshot.
    """
    if four_eyes and campaign.created_by == actor:
        raise OperationError(
            f"campaign {campaign.id} was created by {actor}; another person approves it"
        )
    version = creatives.get_version(session, campaign.creative_version_id)
    if version.status != CreativeStatus.APPROVED.value:
        raise OperationError(
            f"creative version {version.id} is {version.status}; approve it first",
            where=f"campaign {campaign.id}",
        )
    creatives.verify_content(version)
    if campaign.status == CampaignStatus.DRAFT.value:
        check_audience(
            session, frozen_segment(campaign), min_partner_audience, where=f"campaign {campaign.id}"
        )
    transition(session, campaign, CampaignStatus.APPROVED, approved_at=utcnow(), approved_by=actor)


def schedule(session: Session, campaign: Campaign, send_at: dt.datetime | None = None) -> None:
    """approved -> scheduled; the caller enqueues the snapshot after commit."""
    values: dict[str, Any] = {"started_at": utcnow()}
    if send_at is not None:
        values["send_at"] = send_at
    transition(session, campaign, CampaignStatus.SCHEDULED, **values)


@dataclass(frozen=True)
class Started:
    """What :func:`start` did: scheduled an approved campaign, or resumed an active one."""

    campaign_id: int
    #: The status the campaign had when asked to start.
    was: CampaignStatus
    #: When the snapshot is due (None: now); only for a newly scheduled campaign.
    send_at: dt.datetime | None

    @property
    def resumed(self) -> bool:
        return self.was in ACTIVE

    @property
    def later(self) -> bool:
        """Scheduled for a time still to come (nothing will run before then)."""
        return not self.resumed and self.send_at is not None and self.send_at > utcnow()

    @property
    def message(self) -> str:
        if self.resumed:
            return f"campaign {self.campaign_id}: {self.was.value}; resuming unfinished work"
        when = f" for {self.send_at}" if self.send_at else ""
        return f"campaign {self.campaign_id}: scheduled{when}"


def start(session: Session, campaign: Campaign, send_at: dt.datetime | None = None) -> Started:
    """Schedule an approved campaign, or resume one that stopped part-way.

    Shared by ``dispatch campaign start`` and the staff portal. An approved campaign
    becomes scheduled; an active one stays as it is. The caller hands the result to
    :func:`dispatch.jobs.worker.send_started`, which sends the work once this
    transaction commits.
    """
    campaign_id = campaign.id
    status = CampaignStatus(campaign.status)
    if status == CampaignStatus.APPROVED:
        check_send_at(send_at)
        schedule(session, campaign, send_at)
        return Started(campaign_id, status, campaign.send_at)
    if status in ACTIVE:
        return Started(campaign_id, status, None)
    raise OperationError(
        f"campaign {campaign_id} is {status.value}; only an approved campaign starts "
        "(or an unfinished one resumes)"
    )


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
