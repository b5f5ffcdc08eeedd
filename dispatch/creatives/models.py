"""Partners, their creatives, and the immutable versions of each creative.

A partner submits a bundle under a creative name; each submission is a new
:class:`CreativeVersion` (1, 2, ...). Staff approve or reject a version, once, from
``submitted``. The stored bundle (a normalised zip), its manifest and its content
hash never change after insert: an ORM update of them raises, and
:func:`dispatch.creatives.services.verify_content` re-hashes the stored bytes before
anything is rendered from them, so a change made behind the ORM's back is caught too.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from functools import partial
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
    event,
    false,
    inspect,
)
from sqlalchemy.orm import Mapped, Mapper, mapped_column, relationship

from dispatch.db.base import Base
from dispatch.db.ids import new_public_id
from dispatch.db.types import UTCDateTime, enum_check, utcnow


class CreativeStatus(StrEnum):
    SUBMITTED = "submitted"
    APPROVED = "approved"
    REJECTED = "rejected"


class Partner(Base):
    """An organisation that advertises to members (the cooperative itself included)."""

    __tablename__ = "partners"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    # The cooperative itself: only its campaigns may use own-marketing (or any other
    # non-partner) consent; every other partner's need partner_marketing segments.
    house: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    #: The partner's code in the bonus-purchase feed (docs/feed.md), for the lift report.
    bonus_code: Mapped[str | None] = mapped_column(String(40), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    creatives: Mapped[list[Creative]] = relationship(back_populates="partner")


class Creative(Base):
    """A partner's named creative; its content lives in its versions."""

    __tablename__ = "creatives"
    __table_args__ = (UniqueConstraint("partner_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    #: What URLs and the API use (see dispatch.db.ids); the integer id stays inside.
    public_id: Mapped[str] = mapped_column(
        String(24), unique=True, default=partial(new_public_id, "cr")
    )
    partner_id: Mapped[int] = mapped_column(ForeignKey("partners.id"))
    name: Mapped[str] = mapped_column(String(63))

    partner: Mapped[Partner] = relationship(back_populates="creatives")
    versions: Mapped[list[CreativeVersion]] = relationship(
        back_populates="creative", order_by="CreativeVersion.version"
    )


class CreativeVersion(Base):
    """One submitted bundle of a creative, and the staff decision on it."""

    __tablename__ = "creative_versions"
    __table_args__ = (
        UniqueConstraint("creative_id", "version"),
        enum_check("status", CreativeStatus),
        # A decision has a time and a person; an undecided version has neither.
        CheckConstraint(
            "(status = 'submitted' AND decided_at IS NULL AND decided_by IS NULL) OR "
            "(status <> 'submitted' AND decided_at IS NOT NULL AND decided_by IS NOT NULL)",
            name="decision_recorded",
        ),
        CheckConstraint("status <> 'rejected' OR reason IS NOT NULL", name="rejection_reason"),
        Index(None, "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    public_id: Mapped[str] = mapped_column(
        String(24), unique=True, default=partial(new_public_id, "cv")
    )
    creative_id: Mapped[int] = mapped_column(ForeignKey("creatives.id"))
    version: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(10), default=CreativeStatus.SUBMITTED)
    # SHA-256 of the bundle's files (dispatch.creatives.archive.content_hash).
    content_hash: Mapped[str] = mapped_column(String(64))
    bundle: Mapped[bytes] = mapped_column(LargeBinary)
    manifest: Mapped[dict[str, Any]] = mapped_column(JSON)
    submitted_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: The personal account that uploaded it (None: submitted from the staff CLI).
    submitted_by: Mapped[str | None] = mapped_column(String(80))
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    decided_by: Mapped[str | None] = mapped_column(String(80))
    reason: Mapped[str | None] = mapped_column(String(500))

    creative: Mapped[Creative] = relationship(back_populates="versions")


IMMUTABLE_COLUMNS = (
    "public_id",
    "creative_id",
    "version",
    "content_hash",
    "bundle",
    "manifest",
    "submitted_at",
)


class ImmutableVersionError(RuntimeError):
    """Code tried to change the content of a stored creative version."""


@event.listens_for(CreativeVersion, "before_update")
def _refuse_content_change(_mapper: Mapper[Any], _conn: Any, target: CreativeVersion) -> None:
    state = inspect(target)
    changed = [c for c in IMMUTABLE_COLUMNS if state.attrs[c].history.has_changes()]
    if changed:
        columns = ", ".join(changed)
        raise ImmutableVersionError(
            f"creative version {target.id}: {columns} cannot change; submit a new version"
        )
