"""``member_facts``: the narrow copy of ``members`` that segments and the policy read.

Every column the segment criteria and the contact policy test, and nothing else:
the member's id and household, birth year, language, region, municipality, postcode,
home store and member-since date, the contact flags (:mod:`dispatch.register.flags`),
and ``reach``, which folds "has a complete postal address", "has an e-mail address",
"has a phone number", "is active" and "the address is deliverable" into bits
(:class:`Reach`), so that neither the wide text columns nor the status texts need be
read at all.

It is kept in step by the database itself: triggers on ``members`` (migration 0005)
copy every inserted or updated row in the same statement, and the foreign key
cascades deletes. So every writer, the seed's ``COPY``, the feed's upserts, the
ORM and the tests' factories alike, keeps it right without calling anything.
:func:`drift` compares it with ``members``; the tests run it after each kind of write.
"""

from __future__ import annotations

import enum
from typing import Any

from sqlalchemy import ColumnElement, Integer, and_, case, func, literal, or_, select
from sqlalchemy.orm import Session

from dispatch.db.types import AddressStatus, MemberStatus
from dispatch.register.models import Member, MemberFacts

#: The columns copied as they are from ``members``.
COPIED = (
    "household_id",
    "home_store_id",
    "birth_year",
    "member_since",
    "language",
    "region",
    "municipality",
    "postcode",
    "consent_flags",
    "suppression_flags",
)


class Reach(enum.IntFlag):
    """Bits of ``member_facts.reach``: which contact details the member row has, and
    the two statuses the policy tests (migration 0010: as text they cost a 3.7M count
    0.06-0.08 s)."""

    ADDRESS = 1  # street, postcode and post town, none of them empty
    EMAIL = 2
    PHONE = 4
    ACTIVE = 8  # status 'active' (not deceased, not erased)
    DELIVERABLE = 16  # address_status 'deliverable' (no mail came back)


def _present(column: Any) -> ColumnElement[bool]:
    return func.coalesce(column, "") != ""


def reach_of() -> ColumnElement[int]:
    """``reach`` computed from a ``members`` row: what the triggers store."""

    def bit(condition: ColumnElement[bool], value: Reach) -> ColumnElement[int]:
        return case((condition, literal(int(value), Integer)), else_=literal(0, Integer))

    m = Member
    address = and_(_present(m.street), _present(m.postcode), _present(m.post_town))
    return (
        bit(address, Reach.ADDRESS)
        + bit(_present(m.email), Reach.EMAIL)
        + bit(_present(m.phone), Reach.PHONE)
        + bit(m.status == MemberStatus.ACTIVE.value, Reach.ACTIVE)
        + bit(m.address_status == AddressStatus.DELIVERABLE.value, Reach.DELIVERABLE)
    )


def drift(session: Session) -> list[int]:
    """Ids of members whose ``member_facts`` row is missing or differs from ``members``."""
    f, m = MemberFacts, Member
    differs = [
        # IS DISTINCT FROM: NULL-safe on both backends.
        getattr(f, name).is_distinct_from(getattr(m, name))
        for name in COPIED
    ]
    differs.append(f.reach.is_distinct_from(reach_of()))
    stmt = (
        select(m.id).outerjoin(f, f.id == m.id).where(or_(f.id.is_(None), *differs)).order_by(m.id)
    )
    orphans = select(f.id).outerjoin(m, m.id == f.id).where(m.id.is_(None))
    return [*session.scalars(stmt), *session.scalars(orphans)]
