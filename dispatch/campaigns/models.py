"""Campaigns, their batches, and the frozen recipient list (one row per member).

A campaign freezes what it was approved with: the creative version (immutable by
itself) and the segment's text with its SHA-256. The snapshot writes one
:class:`CampaignRecipient` per (campaign, member), unique, each in one
:class:`CampaignBatch`; from then on a recipient's row is its accounting: it ends as
``delivered``, ``suppressed`` (with the policy rule or other reason) or ``failed``
(with the reason), so the counts reconcile (invariant 4).
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
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
from dispatch.db.types import BigId, UTCDateTime, enum_check, utcnow


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


class RecipientStatus(StrEnum):
    PENDING = "pending"
    #: Post only: in the batch PDF being handed off, with its sequence number.
    INCLUDED = "included"
    #: E-mail only: given to the mailer, outcome not yet recorded.
    SENDING = "sending"
    DELIVERED = "delivered"
    SUPPRESSED = "suppressed"
    FAILED = "failed"


#: Statuses that end a recipient's story; the rest are still in flight.
FINAL_STATUSES = frozenset(
    {RecipientStatus.DELIVERED, RecipientStatus.SUPPRESSED, RecipientStatus.FAILED}
)


class Campaign(Base):
    __tablename__ = "campaigns"
    __table_args__ = (
        enum_check("status", CampaignStatus),
        CheckConstraint("channel IN ('post', 'email')", name="channel_valid"),
        Index(None, "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
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
    handed_off_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    acknowledged_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    deleted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    #: The last error met on this batch (for staff; never a member's data).
    last_error: Mapped[str | None] = mapped_column(String(500))

    campaign: Mapped[Campaign] = relationship(back_populates="batches")


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
        Index(None, "campaign_id", "batch_no", "status"),
        # Frequency cap and member export look members up across campaigns.
        Index(None, "member_id"),
    )

    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"), primary_key=True)
    member_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("members.id"), primary_key=True, autoincrement=False
    )
    batch_no: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(10), default=RecipientStatus.PENDING)
    reason: Mapped[str | None] = mapped_column(String(200))
    #: Post: the letter's number in its batch PDF (how returns name it).
    sequence_no: Mapped[int | None] = mapped_column(Integer)
    updated_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
