"""The snapshot: freeze a campaign's recipients, one row per member, cut into batches.

One ``INSERT ... SELECT`` writes the recipients straight from the policy-filtered
segment selection (the member ids never pass through Python), numbering the batches
with a window function: post in postcode order, so that each batch is a run of
neighbouring postcodes (the print house's presort), e-mail in member id order.
The frequency cap is applied in the same statement, and so is the holdout: a
deterministic, seeded share of the selected members (:func:`held_out`) is written
as ``held_out`` in no batch, never contacted and no contact for the frequency cap.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    and_,
    case,
    cast,
    delete,
    func,
    insert,
    literal,
    select,
)
from sqlalchemy.orm import Session

from dispatch.campaigns.models import (
    HOLDOUT_BATCH,
    BatchStatus,
    Campaign,
    CampaignBatch,
    CampaignRecipient,
    RecipientStatus,
)
from dispatch.creatives.models import Partner
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


#: Fixed 64-bit numbers ("dispsnap" and the channel): the PostgreSQL advisory locks
#: that serialise the snapshots of one channel (see :func:`lock_frequency_cap`).
_CAP_LOCKS = {"post": 0x64697370_736E6170, "email": 0x64697370_736E6171}


#: The holdout hash works modulo this prime (2^31 - 1): every product of two residues
#: fits in a signed 64-bit integer, the widest integer both SQLite and PostgreSQL have.
_P = 2_147_483_647


def held_out(member_id: Any, seed: int, share_bp: int) -> ColumnElement[bool]:
    """SQL: is this member in the holdout of the campaign with ``seed``?

    A keyed hash of the member id, computed by the database on either backend with
    the same integer arithmetic (so a snapshot holds out the same members on SQLite
    and PostgreSQL): an affine map, a squaring and another affine map modulo a prime,
    whose value modulo 10,000 is uniform enough for a share in basis points. The seed
    is drawn at random for each campaign and kept, so the holdout is independent of
    anything about the member and can be recomputed by staff.
    """

    def n(value: int) -> Any:
        # 64-bit on both backends (PostgreSQL would compute int4 literals in 32 bits).
        return literal(value, BigInteger)

    x = (cast(member_id, BigInteger) % n(_P) * n(48_271) + n(seed)) % n(_P)
    x = (x * x) % n(_P)
    x = (x * n(69_621) + n(seed // 2 + 1)) % n(_P)
    held: ColumnElement[bool] = x % n(10_000) < n(share_bp)
    return held


def draw_seed() -> int:
    return secrets.randbelow(_P - 1) + 1


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


def lock_frequency_cap(session: Session, channel: str) -> None:
    """Wait until no other snapshot of ``channel`` is writing, until this transaction ends.

    Two campaigns that snapshot at the same moment on PostgreSQL would otherwise each
    read the contacts committed before either wrote, and a member at the cap minus one
    would be chosen by both. With the lock, the second snapshot's selection starts
    after the first committed, and sees its recipients (read committed takes a new
    view per statement). Snapshots of one channel then run one after the other; the
    cap is per channel, so the channels do not wait for each other. SQLite serialises
    writing transactions by itself.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(func.pg_advisory_xact_lock(_CAP_LOCKS[channel])))


def check_purpose(session: Session, campaign: Campaign, segment: segments.Segment) -> None:
    """Refuse a segment that is not for partner marketing unless the partner is the house.

    Checked at create (:func:`dispatch.campaigns.services.create`) and again here: the
    partner may have lost its house status since, or the row may have been edited. A
    partner's letter under the cooperative's own consent would pass the opt-out
    register and the members' partner-marketing refusals.
    """
    where = f"campaign {campaign.id}"
    if campaign.purpose != segment.purpose.value:
        raise InputError(
            f"the campaign is for {campaign.purpose} but its segment {segment.name} is for "
            f"{segment.purpose.value}",
            where=where,
        )
    if segment.purpose == Purpose.PARTNER_MARKETING:
        return
    partner = session.get_one(Partner, campaign.partner_id)
    if not partner.house:
        raise InputError(
            f"segment {segment.name} is for {segment.purpose.value}, but {partner.name} is a "
            "partner, not the cooperative: only the house may use it",
            where=where,
        )


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
    check_purpose(session, campaign, segment)
    # Before anything reads the contacts that the frequency cap counts.
    lock_frequency_cap(session, campaign.channel)
    capped = capped_members(session, campaign, frequency_cap, now).subquery("capped")
    if campaign.holdout_seed is None:
        campaign.holdout_seed = draw_seed()
    seed = campaign.holdout_seed

    def write(compiled: CompiledSegment) -> segments.SegmentCount:
        # The count and the recipients from one compilation, written again (with
        # the earlier attempt's rows deleted) when the rollup window moved meanwhile.
        count = segments.count_compiled(session, compiled)
        chosen = compiled.selection().subquery("chosen")
        member_id = chosen.c.id
        held = held_out(member_id, seed, campaign.holdout_bp)
        # Letters in postcode order, so that a batch covers few postcodes (the print
        # house's presort). E-mails in member order, read from the selection alone:
        # joining ``members`` only to number them read all 3.7 million members (1 GB)
        # and was half of an e-mail snapshot (bench/HISTORY.md).
        order = (Member.postcode, member_id) if campaign.channel == "post" else (member_id,)
        # The contacted are numbered apart from the held out, so batches stay full.
        numbered = (func.row_number().over(partition_by=held, order_by=order) - 1) // batch_size
        rows = (
            select(
                literal(campaign.id).label("campaign_id"),
                member_id,
                case((held, literal(HOLDOUT_BATCH)), else_=numbered).label("batch_no"),
                case(
                    (held, literal(RecipientStatus.HELD_OUT.value)),
                    else_=literal(RecipientStatus.PENDING.value),
                ).label("status"),
            )
            .select_from(chosen)
            .outerjoin(capped, capped.c.member_id == member_id)
            .where(capped.c.member_id.is_(None))
        )
        if campaign.channel == "post":
            rows = rows.join(Member, Member.id == member_id)
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
    per_batch: list[tuple[int, int]] = [
        (number, n)
        for number, n in session.execute(
            select(CampaignRecipient.batch_no, func.count())
            .where(CampaignRecipient.campaign_id == campaign.id)
            .group_by(CampaignRecipient.batch_no)
        )
    ]
    total = sum(n for _, n in per_batch)
    held_back = sum(n for number, n in per_batch if number == HOLDOUT_BATCH)
    per_batch = [(number, n) for number, n in per_batch if number != HOLDOUT_BATCH]
    contacted = total - held_back
    if campaign.purpose == Purpose.PARTNER_MARKETING.value and contacted < min_partner_audience:
        raise AudienceTooSmall(
            f"a partner campaign needs at least {min_partner_audience} recipients; "
            f"this snapshot has {contacted}"
            + (f" besides {held_back} held out" if held_back else ""),
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
        "holdout_bp": campaign.holdout_bp,
        "held_out": held_back,
    }
    return SnapshotResult(recipients=total, batches=len(per_batch), stats=stats)


def recipients_of(campaign_id: int, batch_no: int) -> Any:
    """The WHERE clause of one batch's recipients."""
    return and_(
        CampaignRecipient.campaign_id == campaign_id, CampaignRecipient.batch_no == batch_no
    )
