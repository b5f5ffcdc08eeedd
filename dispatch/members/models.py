"""Members' requests and failed member-link look-ups.

The member links themselves (:class:`dispatch.campaigns.models.MemberLink`) are in the
campaigns stage, which issues most of them with its letters and e-mails.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from dispatch.db.base import Base
from dispatch.db.ids import new_public_id
from dispatch.db.types import BigId, UTCDateTime, enum_check, utcnow


class RequestKind(StrEnum):
    """What a member asked customer service for from the preference centre."""

    #: Erase their data (GDPR Art. 17).
    ERASURE = "erasure"
    #: Their data (Art. 15) by post: they have no e-mail address, or it refused the mail.
    POSTAL_EXPORT = "postal_export"


class RequestStatus(StrEnum):
    OPEN = "open"
    #: An erasure request carried out.
    ERASED = "erased"
    #: A postal export printed and posted.
    POSTED = "posted"
    DECLINED = "declined"


#: The public id's prefix per kind ("er_...", "pe_...").
_PREFIXES = {RequestKind.ERASURE.value: "er", RequestKind.POSTAL_EXPORT.value: "pe"}


def _public_id(context: Any) -> str:
    return new_public_id(_PREFIXES[context.get_current_parameters()["kind"]])


class MemberRequest(Base):
    """A member's request from the preference centre that customer service handle.

    One table, one row per request, its ``kind`` deciding the subclass
    (:class:`ErasureRequest`, :class:`PostalExportRequest`): both wait in a queue of
    the staff portal, are handled once (the row is locked and must still be open), and
    every decision is audited. Nothing here names the member but the id.
    """

    __tablename__ = "member_requests"
    __table_args__ = (
        enum_check("kind", RequestKind),
        enum_check("status", RequestStatus),
        Index(None, "kind", "status", "requested_at"),
    )
    __mapper_args__ = MappingProxyType({"polymorphic_on": "kind"})

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    public_id: Mapped[str] = mapped_column(String(24), unique=True, default=_public_id)
    kind: Mapped[str] = mapped_column(String(16))
    member_id: Mapped[int] = mapped_column(BigId, ForeignKey("members.id"), index=True)
    requested_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: Where the request came from: "centre:email" or "centre:letter".
    source: Mapped[str] = mapped_column(String(40))
    #: The language the member read the centre in (the letter's language).
    language: Mapped[str | None] = mapped_column(String(2))
    #: A postal export: why not by e-mail ("no_email", or "undeliverable" when the
    #: mailer refused the registered address for good).
    cause: Mapped[str | None] = mapped_column(String(20))
    #: A postal export: how often customer service downloaded its letter.
    downloads: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    status: Mapped[str] = mapped_column(String(10), default=RequestStatus.OPEN)
    handled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    handled_by: Mapped[str | None] = mapped_column(String(80))
    #: Why it was declined, or a ticket reference (staff text, no member data).
    note: Mapped[str | None] = mapped_column(String(200))


class ErasureRequest(MemberRequest):
    """A request to erase the member's data (Art. 17).

    Whoever holds a letter could have asked: customer service confirm it with the
    member before erasing.
    """

    __mapper_args__ = MappingProxyType({"polymorphic_identity": RequestKind.ERASURE.value})


class PostalExportRequest(MemberRequest):
    """A request for the member's data (Art. 15) from a member the service cannot mail.

    Customer service print the letter (:mod:`dispatch.members.letter`) and post it to
    the registered address; it never goes through the print house (invariant 6).
    """

    __mapper_args__ = MappingProxyType({"polymorphic_identity": RequestKind.POSTAL_EXPORT.value})


class LinkFailure(Base):
    """A member-link look-up that found nothing, by origin: the rate limit counts these."""

    __tablename__ = "member_link_failures"
    __table_args__ = (Index(None, "origin", "at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    origin: Mapped[str] = mapped_column(String(64))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
