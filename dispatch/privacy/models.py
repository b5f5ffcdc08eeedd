"""Suppressions and the audit log."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from dispatch.db.base import Base
from dispatch.db.types import BigId, SuppressionReason, UTCDateTime, enum_check


class Suppression(Base):
    """A reason never to contact a subject, keyed by the subject's keyed hash.

    Keyed by hash rather than member id so that it outlives erasure: an erased member
    who is re-imported from the warehouse feed gets the same hash and stays suppressed.
    """

    __tablename__ = "suppressions"
    __table_args__ = (
        enum_check("reason", SuppressionReason),
        UniqueConstraint("subject_hash", "reason"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    subject_hash: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    source: Mapped[str] = mapped_column(String(40))


class AuditEntry(Base):
    """Who looked at or changed one member's data, what they did, when and why."""

    __tablename__ = "audit_log"
    __table_args__ = (Index(None, "member_id", "at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    actor: Mapped[str] = mapped_column(String(80))
    action: Mapped[str] = mapped_column(String(60))
    member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    reason: Mapped[str | None] = mapped_column(String(200))
    detail: Mapped[dict[str, object]] = mapped_column(JSON, default=dict)
