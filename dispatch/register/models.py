"""The member register: members, households, stores, product groups, behaviour, consent.

Behaviour tables (purchases, restaurant visits, web interests) are summaries keyed so
that a segment criterion is one index range scan: ``(product_group_id, month,
member_id)`` with the measures included lets PostgreSQL answer "who bought baby
products in the last six months" from the index alone.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    SmallInteger,
    String,
    Table,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from dispatch.db.base import Base
from dispatch.db.types import (
    AddressStatus,
    BigId,
    Channel,
    Decision,
    HouseholdKind,
    Language,
    MemberStatus,
    Purpose,
    SuppressionReason,
    UTCDateTime,
    enum_check,
)


class Store(Base):
    __tablename__ = "stores"
    __table_args__ = (Index(None, "chain"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    chain: Mapped[str] = mapped_column(String(40))
    # "retail", "fuel" or "restaurant": what kind of place the chain is.
    kind: Mapped[str] = mapped_column(String(20))
    municipality: Mapped[str] = mapped_column(String(60))
    region: Mapped[str] = mapped_column(String(60))


class Household(Base):
    __tablename__ = "households"
    __table_args__ = (enum_check("kind", HouseholdKind),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))


class Member(Base):
    __tablename__ = "members"
    __table_args__ = (
        enum_check("language", Language),
        enum_check("status", MemberStatus),
        enum_check("address_status", AddressStatus),
        Index(None, "household_id"),
        Index(None, "subject_hash"),
        Index(None, "postcode"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    card_number: Mapped[str | None] = mapped_column(String(20), unique=True)
    # Keyed hash of the card number: survives erasure so an erased member stays
    # suppressed if the warehouse feed brings them back (see register.hashing).
    subject_hash: Mapped[str] = mapped_column(String(64))
    first_name: Mapped[str | None] = mapped_column(String(80))
    last_name: Mapped[str | None] = mapped_column(String(80))
    address_extra: Mapped[str | None] = mapped_column(String(120))
    street: Mapped[str | None] = mapped_column(String(120))
    postcode: Mapped[str | None] = mapped_column(String(5))
    post_town: Mapped[str | None] = mapped_column(String(60))
    municipality: Mapped[str | None] = mapped_column(String(60))
    region: Mapped[str | None] = mapped_column(String(60))
    language: Mapped[str] = mapped_column(String(2))
    birth_year: Mapped[int | None] = mapped_column(SmallInteger)
    email: Mapped[str | None] = mapped_column(String(254))
    phone: Mapped[str | None] = mapped_column(String(32))
    household_id: Mapped[int | None] = mapped_column(ForeignKey("households.id"))
    home_store_id: Mapped[int | None] = mapped_column(ForeignKey("stores.id"))
    member_since: Mapped[dt.date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(10), default=MemberStatus.ACTIVE)
    address_status: Mapped[str] = mapped_column(String(12), default=AddressStatus.DELIVERABLE)
    erased_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # When the feed last changed street, postcode or post town: a letter handed off
    # before then that comes back says nothing about the new address.
    address_changed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # consent_state and suppressions folded into bits for the policy; a projection
    # kept in step in the same transaction as every write (dispatch.register.flags).
    consent_flags: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    suppression_flags: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class MemberFacts(Base):
    """What segments and the policy read of a member: a narrow copy of ``members``.

    At 3.7 million members a segment count reads every member row, and ``members``
    is wide (names, street, e-mail: 1.07 GB), so the scan alone took 0.27 s; this
    table holds only the columns the criteria and the policy test (about 430 MB).
    Database triggers (migration 0005) keep it in step with ``members`` in the same
    statement as every write, whoever writes; :mod:`dispatch.register.facts` says
    which columns and how ``reach`` is derived, and checks it.
    """

    __tablename__ = "member_facts"

    # Fixed-width NOT NULL columns first (migration 0009): PostgreSQL finds a column
    # at a fixed offset only up to the first NULL or text value of the row, and a
    # count tests the bits below in every one of the 3.7M rows.
    id: Mapped[int] = mapped_column(
        BigId, ForeignKey("members.id", ondelete="CASCADE"), primary_key=True
    )
    # Not copied: which behaviour the member has rows of (dispatch.register.activity),
    # so that a count drops the members who cannot match before joining them.
    purchased_groups_0: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    purchased_groups_1: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    consent_flags: Mapped[int] = mapped_column(BigInteger)
    suppression_flags: Mapped[int] = mapped_column(Integer)
    activity: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Which channels can reach the member, and whether the member is active and the
    # address deliverable: bits of dispatch.register.facts.Reach (migration 0010).
    reach: Mapped[int] = mapped_column(SmallInteger)
    birth_year: Mapped[int | None] = mapped_column(SmallInteger)
    home_store_id: Mapped[int | None] = mapped_column(Integer)
    household_id: Mapped[int | None] = mapped_column(BigId)
    member_since: Mapped[dt.date | None] = mapped_column(Date)
    language: Mapped[str] = mapped_column(String(2))
    region: Mapped[str | None] = mapped_column(String(60))
    municipality: Mapped[str | None] = mapped_column(String(60))
    postcode: Mapped[str | None] = mapped_column(String(5))


class ProductGroup(Base):
    __tablename__ = "product_groups"

    id: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("product_groups.id"))
    name_fi: Mapped[str] = mapped_column(String(120))
    name_sv: Mapped[str] = mapped_column(String(120))
    # Groups whose purchase reveals health (GDPR Art. 9); no segment may target them.
    sensitive: Mapped[bool] = mapped_column(Boolean, default=False)


class PurchaseSummary(Base):
    """Purchases of one member in one product group in one calendar month."""

    __tablename__ = "purchase_summaries"
    __table_args__ = (Index(None, "product_group_id", "month", "member_id", "amount", "count"),)

    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), primary_key=True)
    product_group_id: Mapped[int] = mapped_column(ForeignKey("product_groups.id"), primary_key=True)
    month: Mapped[dt.date] = mapped_column(Date, primary_key=True)  # first day of month
    amount: Mapped[float] = mapped_column(Numeric(12, 2))
    count: Mapped[int] = mapped_column(Integer)


#: Months a purchase rollup row holds: the 13 of the seeded and fed history.
ROLLUP_MONTHS = 13

# The month of each slot of purchase_rollups' columns amount_<slot> and count_<slot>.
purchase_rollup_months = Table(
    "purchase_rollup_months",
    Base.metadata,
    Column("slot", SmallInteger, primary_key=True, autoincrement=False),
    Column("month", Date, nullable=False, unique=True),
)

# Each member's purchases per product group, its descendants included, in cents per
# month of purchase_rollup_months: a segment's "bought baby products in the last six
# months" reads one row per buyer instead of every month of every baby group.
purchase_rollups = Table(
    "purchase_rollups",
    Base.metadata,
    Column("member_id", BigId, ForeignKey("members.id", ondelete="CASCADE"), primary_key=True),
    # The group itself and each of its ancestors get a row (see register.rollups).
    Column("product_group_id", SmallInteger, primary_key=True, autoincrement=False),
    # Bit <slot> set: the member has a purchase_summaries row in that month.
    Column("months", Integer, nullable=False),
    *[Column(f"amount_{i}", BigInteger, nullable=False) for i in range(ROLLUP_MONTHS)],
    *[Column(f"count_{i}", Integer, nullable=False) for i in range(ROLLUP_MONTHS)],
    # Alone, not as the primary key's second column: PostgreSQL discounts the physical
    # order of a multi-column index by a quarter and then preferred reading all 4 GB
    # to reading a group's rows in order (1.2 s instead of 0.12 s for fuel buyers).
    Index(None, "product_group_id"),
)


class RestaurantVisit(Base):
    """Visits of one member to one restaurant in one calendar month."""

    __tablename__ = "restaurant_visits"
    __table_args__ = (Index(None, "store_id", "month", "member_id", "visits"),)

    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"), primary_key=True)
    month: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    visits: Mapped[int] = mapped_column(Integer)


class WebInterest(Base):
    """A web-shop category the member browsed, with the last time they did."""

    __tablename__ = "web_interests"
    __table_args__ = (Index(None, "category", "last_seen", "member_id"),)

    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), primary_key=True)
    category: Mapped[str] = mapped_column(String(60), primary_key=True)
    last_seen: Mapped[dt.date] = mapped_column(Date)


class BonusPurchase(Base):
    """Purchases of one member from one bonus-granting partner on one day.

    Reported by the partners to the cooperative (they grant loyalty bonus on them);
    the lift report counts them as responses to the partner's campaigns.
    """

    __tablename__ = "bonus_purchases"
    __table_args__ = (Index(None, "partner_code", "purchased_on", "member_id", "amount"),)

    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), primary_key=True)
    #: The partner's code in the feed (``partners.bonus_code``); not a foreign key, so
    #: that the feed may report a partner before it has a campaign here.
    partner_code: Mapped[str] = mapped_column(String(40), primary_key=True)
    purchased_on: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    amount: Mapped[float] = mapped_column(Numeric(12, 2))


class ConsentEvent(Base):
    """The append-only consent ledger. Rows are never updated or deleted."""

    __tablename__ = "consent_events"
    __table_args__ = (
        enum_check("purpose", Purpose),
        enum_check("channel", Channel),
        enum_check("decision", Decision),
        Index(None, "member_id", "recorded_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    purpose: Mapped[str] = mapped_column(String(20))
    channel: Mapped[str] = mapped_column(String(8))
    decision: Mapped[str] = mapped_column(String(10))
    recorded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    source: Mapped[str] = mapped_column(String(40))
    actor: Mapped[str | None] = mapped_column(String(80))
    #: The campaign whose e-mail or letter the member acted from (one-click
    #: unsubscribe, the preference centre), when there was one.
    campaign_id: Mapped[int | None] = mapped_column(Integer, ForeignKey("campaigns.id"))


class ConsentState(Base):
    """Current decision per (member, purpose, channel), derived from the ledger.

    Written only by :func:`dispatch.register.consent.record`, in the same transaction
    as the ledger row, so the two never disagree.
    """

    __tablename__ = "consent_state"
    __table_args__ = (
        enum_check("purpose", Purpose),
        enum_check("channel", Channel),
        enum_check("decision", Decision),
        Index(None, "purpose", "channel", "decision", "member_id"),
    )

    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), primary_key=True)
    purpose: Mapped[str] = mapped_column(String(20), primary_key=True)
    channel: Mapped[str] = mapped_column(String(8), primary_key=True)
    decision: Mapped[str] = mapped_column(String(10))
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    event_id: Mapped[int] = mapped_column(BigId)


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
    #: Where the actor acted from: "cli", or the client address of a web request.
    origin: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[dict[str, object]] = mapped_column(JSON, default=dict)
