"""The privacy budget ledger: every number released to a partner, and what it spent.

:class:`Release` is append-only (database triggers refuse UPDATE and DELETE, see
migration 0012): each row is one release of one report to one partner, with the
noisy answer exactly as the partner received it and the privacy loss (ε, δ) it
cost. A partner's spending in a period is the sum of its rows; asking the same
question again returns the stored answer instead of drawing new noise.

:class:`AudienceMember` keeps the members behind an audience estimate, so that the
differencing guard can compare later audiences with it (a campaign's audience is
its recipient rows, which are kept anyway).
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from dispatch.db.base import Base
from dispatch.db.types import BigId, UTCDateTime, enum_check, utcnow


class ReportKind(StrEnum):
    #: Before the snapshot: how many members the campaign's segment would reach.
    ESTIMATE = "estimate"
    #: After hand-off: what the campaign reached, with breakdowns.
    REPORT = "report"
    #: Response of the contacted against the holdout.
    LIFT = "lift"


class Release(Base):
    __tablename__ = "report_releases"
    __table_args__ = (
        enum_check("kind", ReportKind),
        # One answer per question: a second ask gets this row back (consistency).
        UniqueConstraint("campaign_id", "kind", "edition"),
        Index(None, "partner_id", "period"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    partner_id: Mapped[int] = mapped_column(ForeignKey("partners.id"))
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"))
    kind: Mapped[str] = mapped_column(String(10))
    #: Which answer of the question this is: ``once`` for an estimate, the UTC day
    #: (``YYYY-MM-DD``) for a report or lift (a new day is a new release).
    edition: Mapped[str] = mapped_column(String(10))
    #: The budget period the spending counts in (the first day of its month).
    period: Mapped[dt.date] = mapped_column(Date)
    mechanism: Mapped[str] = mapped_column(String(20))
    epsilon: Mapped[float] = mapped_column(Float)
    delta: Mapped[float] = mapped_column(Float)
    released_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    released_by: Mapped[str] = mapped_column(String(80))
    #: The released document, noisy and suppressed exactly as the partner got it.
    answer: Mapped[dict[str, Any]] = mapped_column(JSON)


class AudienceMember(Base):
    """A member of an estimated audience (for the differencing guard; staff-only)."""

    __tablename__ = "report_audience_members"

    release_id: Mapped[int] = mapped_column(ForeignKey("report_releases.id"), primary_key=True)
    member_id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=False)
