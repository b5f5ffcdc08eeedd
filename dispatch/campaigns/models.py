"""Campaigns, their batches, and the frozen recipient list (one row per member).

A campaign freezes what it was approved with: the creative version (immutable by
itself) and the segment's text with its SHA-256. The snapshot writes one
:class:`CampaignRecipient` per (campaign, member), unique, each in one
:class:`CampaignBatch`; from then on a recipient's row is its accounting: it ends as
``delivered``, ``suppressed`` (with the policy rule or other reason) or ``failed``
(with the reason), or it was ``held_out`` at the snapshot (the campaign's holdout,
never contacted, the lift report's comparison group), so the counts reconcile
(invariant 4).

A :class:`MemberLink` is never stored as given: the row's key is
:func:`dispatch.register.tokens.digest` of the value. Links made per (campaign,
member) (unsubscribe, preference centre, letter code) are written when the e-mail is
handed to the mailer or the letter's batch is frozen (:mod:`.links`); sessions and
confirmations when a member opens or asks for them (:mod:`dispatch.members.links`).
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from functools import partial
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from dispatch.db.base import Base
from dispatch.db.ids import new_public_id
from dispatch.db.types import BigId, UTCDateTime, enum_check, utcnow
from dispatch.register.tokens import LinkPurpose


class CampaignStatus(StrEnum):
    DRAFT = "draft"
    APPROVED = "approved"
    SCHEDULED = "scheduled"
    SNAPSHOTTING = "snapshotting"
    DISPATCHING = "dispatching"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    FAILED = "failed"


class BatchStatus(StrEnum):
    PENDING = "pending"
    #: Claimed by a worker (``claim_token``), rendering or sending.
    WORKING = "working"
    #: Post only: the final recipient list is fixed and the upload has begun.
    HANDING_OFF = "handing_off"
    DONE = "done"
    #: Nothing more will happen to it (cancelled campaign, or a permanent error).
    FAILED = "failed"


#: The statuses after which nothing more happens to a batch (the one test of "finished").
FINISHED_BATCH = frozenset({BatchStatus.DONE.value, BatchStatus.FAILED.value})
#: Column lengths the jobs cut their texts to.
REASON_LENGTH = 200
ERROR_LENGTH = 500


class RecipientStatus(StrEnum):
    PENDING = "pending"
    #: Post only: in the batch PDF being handed off, with its sequence number.
    INCLUDED = "included"
    #: E-mail only: given to the mailer, outcome not yet recorded.
    SENDING = "sending"
    DELIVERED = "delivered"
    SUPPRESSED = "suppressed"
    FAILED = "failed"
    #: Chosen at the snapshot for the holdout: never contacted, in no batch, not a
    #: contact for the frequency cap; the lift report compares it with the contacted.
    HELD_OUT = "held_out"


#: Statuses that end a recipient's story; the rest are still in flight.
FINAL_STATUSES = frozenset(
    {
        RecipientStatus.DELIVERED,
        RecipientStatus.SUPPRESSED,
        RecipientStatus.FAILED,
        RecipientStatus.HELD_OUT,
    }
)
#: The batch number of held-out recipients (no batch ever has it).
HOLDOUT_BATCH = -1
#: Holdout shares are kept in basis points (1/100 of a percent): 1000 is 10 %.
DEFAULT_HOLDOUT_BP = 1000
#: Days after the snapshot in which a bonus purchase counts as a response.
DEFAULT_RESPONSE_DAYS = 30


class Campaign(Base):
    __tablename__ = "campaigns"
    __table_args__ = (
        enum_check("status", CampaignStatus),
        CheckConstraint("channel IN ('post', 'email')", name="channel_valid"),
        CheckConstraint("holdout_bp BETWEEN 0 AND 5000", name="holdout_bp_range"),
        CheckConstraint("response_days BETWEEN 1 AND 365", name="response_days_range"),
        Index(None, "status"),
        # A partner's campaigns, newest first: the portal's dashboard and lists.
        Index(None, "partner_id", "created_at", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    #: What URLs and the API use (see dispatch.db.ids); the integer id stays inside.
    public_id: Mapped[str] = mapped_column(
        String(24), unique=True, default=partial(new_public_id, "cp")
    )
    #: Opaque reference the print house sees in manifests (never the id or a name).
    reference: Mapped[str] = mapped_column(String(32), unique=True)
    partner_id: Mapped[int] = mapped_column(ForeignKey("partners.id"))
    creative_version_id: Mapped[int] = mapped_column(ForeignKey("creative_versions.id"))
    channel: Mapped[str] = mapped_column(String(8))
    purpose: Mapped[str] = mapped_column(String(24))
    segment_name: Mapped[str] = mapped_column(String(80))
    segment_path: Mapped[str] = mapped_column(String(300))
    segment_source: Mapped[str] = mapped_column(Text)
    segment_sha256: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(12), default=CampaignStatus.DRAFT)
    send_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[str] = mapped_column(String(80))
    approved_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    approved_by: Mapped[str | None] = mapped_column(String(80))
    started_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    snapshot_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    completed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    cancelled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    cancelled_by: Mapped[str | None] = mapped_column(String(80))
    #: Why the campaign failed (status ``failed``), for staff.
    failure: Mapped[str | None] = mapped_column(String(500))
    as_of: Mapped[dt.date | None] = mapped_column(Date)
    #: The snapshot's waterfall: matched, removed per policy rule, frequency cap.
    snapshot_stats: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    batch_count: Mapped[int] = mapped_column(Integer, default=0)
    recipient_count: Mapped[int] = mapped_column(Integer, default=0)
    #: The share of the selected members held out at the snapshot, in basis points.
    holdout_bp: Mapped[int] = mapped_column(
        Integer, default=DEFAULT_HOLDOUT_BP, server_default=str(DEFAULT_HOLDOUT_BP)
    )
    #: The seed that chose the holdout (drawn at the snapshot, kept so that staff can
    #: recompute who was held out and why).
    holdout_seed: Mapped[int | None] = mapped_column(Integer)
    #: The lift report's response window: bonus purchases within this many days.
    response_days: Mapped[int] = mapped_column(
        Integer, default=DEFAULT_RESPONSE_DAYS, server_default=str(DEFAULT_RESPONSE_DAYS)
    )

    batches: Mapped[list[CampaignBatch]] = relationship(
        back_populates="campaign", order_by="CampaignBatch.number"
    )


class CampaignBatch(Base):
    __tablename__ = "campaign_batches"
    __table_args__ = (
        UniqueConstraint("campaign_id", "number"),
        enum_check("status", BatchStatus),
        Index(None, "campaign_id", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"))
    number: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(12), default=BatchStatus.PENDING)
    #: Random token of the worker that holds the batch; every write checks it.
    claim_token: Mapped[str | None] = mapped_column(String(32))
    #: Renewed by the holder at each step; a claim older than the lease is stale.
    heartbeat_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    #: The batch's id in the outbox (post), e.g. ``k3j9...-00007``.
    outbox_id: Mapped[str | None] = mapped_column(String(64))
    letters: Mapped[int | None] = mapped_column(Integer)
    pages: Mapped[int | None] = mapped_column(Integer)
    #: Post: when the letters' addresses were read (before rendering). A letter returned
    #: from a member who moved after this went to their old address (campaigns.upkeep).
    addresses_read_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    handed_off_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    acknowledged_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    deleted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    #: The last error met on this batch (for staff; never a member's data).
    last_error: Mapped[str | None] = mapped_column(String(ERROR_LENGTH))

    campaign: Mapped[Campaign] = relationship(back_populates="batches")


# Why ``campaign_recipients`` and ``member_links`` have no foreign keys to ``members``
# and ``campaigns`` (migrations 0017 and 0019). PostgreSQL checks a foreign key row by
# row, each check a query that locks the row referred to (``FOR KEY SHARE``). To
# members, which writes to the member's page: on 3.7 million members that was 9 of a
# 300,000-letter snapshot's 17 seconds, and more than half the cost of a batch's links.
# To campaigns: 1.4 of the same snapshot's 6 seconds, checking its own campaign
# 300,000 times, and twice more for each e-mail's links (bench/HISTORY.md,
# 2026-12-07). Both tables are written only from members that exist in the same
# statement's read (the snapshot reads the members' ``member_facts`` rows, which have
# a key to ``members``; links are issued for a batch's recipients or for the member a
# page is about), and only for a campaign the writer holds (the snapshot's own, in the
# transaction that holds the campaign's row; a batch claimed by the worker). No member
# is ever deleted (an erasure blanks the row and keeps it,
# :mod:`dispatch.privacy.erasure`), and no campaign is.


#: Percent of each ``campaign_recipients`` page filled by the snapshot's insert: the
#: rest is room for the new versions of the same rows (heap-only updates). Below half,
#: so that a page's rows can all be updated once before the page must be pruned.
RECIPIENTS_FILLFACTOR = 45


class CampaignRecipient(Base):
    __tablename__ = "campaign_recipients"
    __table_args__ = (
        enum_check("status", RecipientStatus),
        CheckConstraint(
            "status NOT IN ('suppressed', 'failed') OR reason IS NOT NULL",
            name="outcome_reason",
        ),
        # The batch (campaign_id, batch_no) has no foreign key: recipients are written
        # first, in one INSERT ... SELECT that numbers the batches, then the batches.
        # No status in the index, and room on every page (fillfactor): a recipient's
        # status changes twice or three times (included or sending, then delivered),
        # and an update that changes no indexed column and finds room on its page is
        # a heap-only tuple, with no new entry in any of the three indexes. Each
        # entry was a random write into an index over every campaign. PostgreSQL's CPU per
        # letter of a 300,000-letter campaign on 3.7M members fell from 94 to 66-74 µs
        # (migration 0018, bench/HISTORY.md 2026-12-07).
        Index(None, "campaign_id", "batch_no"),
        # Frequency cap and member export look members up across campaigns.
        Index(None, "member_id"),
        {"postgresql_with": {"fillfactor": RECIPIENTS_FILLFACTOR}},
    )

    #: The campaign's id and a member's; no foreign keys (see above this class).
    campaign_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    member_id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=False)
    batch_no: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(10), default=RecipientStatus.PENDING)
    reason: Mapped[str | None] = mapped_column(String(REASON_LENGTH))
    #: Post: the letter's number in its batch PDF (how returns name it).
    sequence_no: Mapped[int | None] = mapped_column(Integer)
    updated_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    #: Post: when the print house reported the letter returned (dispatch.campaigns.upkeep).
    returned_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class MemberLink(Base):
    """One link a member was given: what it is for, whose, until when."""

    __tablename__ = "member_links"
    __table_args__ = (
        enum_check("purpose", LinkPurpose),
        Index(None, "member_id"),
        Index(None, "expires_at"),
    )

    #: SHA-256 of "purpose:value" (tokens.digest); the value itself is nowhere.
    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    purpose: Mapped[str] = mapped_column(String(12))
    #: A member's id; no foreign key (see above :class:`CampaignRecipient`).
    member_id: Mapped[int] = mapped_column(BigId)
    #: The campaign whose e-mail or letter carried it (None for sessions and
    #: confirmations opened from a link without one); no foreign key (see above
    #: :class:`CampaignRecipient`).
    campaign_id: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    #: Single-use links (confirmations): when it was used; it is dead from then on.
    used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    #: A session: {"via": "email"|"letter", "language": ...}; a confirmation:
    #: {"grants": [[purpose, channel], ...]}. Never a name, address or e-mail address.
    payload: Mapped[dict[str, Any] | None] = mapped_column(JSON)
