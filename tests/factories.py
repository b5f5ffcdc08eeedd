"""Named factories for register rows, with defaults that pass the policy.

A default member is an active adult with a deliverable address, an e-mail address and
no consent entries: post is allowed (opt-out), e-mail is not (opt-in needed).
"""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

from sqlalchemy.orm import Session

from dispatch.db.types import Channel, Decision, Purpose, SuppressionReason, utcnow
from dispatch.register import consent
from dispatch.register.hashing import subject_hash
from dispatch.register.models import Household, Member, ProductGroup, Store, Suppression

TEST_SECRET = "test-secret-key-0123456789"
_ids = itertools.count(1)


def store(session: Session, **over: Any) -> Store:
    n = next(_ids)
    values: dict[str, Any] = {
        "id": n,
        "name": f"Prisma Test {n}",
        "chain": "Prisma",
        "kind": "retail",
        "municipality": "Helsinki",
        "region": "Uusimaa",
    }
    values.update(over)
    row = Store(**values)
    session.add(row)
    session.flush()
    return row


def household(session: Session, kind: str = "single") -> Household:
    row = Household(id=next(_ids), kind=kind)
    session.add(row)
    session.flush()
    return row


def member(session: Session, **over: Any) -> Member:
    """An adult, active, deliverable member in their own household."""
    n = next(_ids)
    card = over.pop("card_number", f"9246{n:012d}")
    if "household_id" not in over:
        over["household_id"] = household(session).id
    values: dict[str, Any] = {
        "id": n,
        "card_number": card,
        "subject_hash": subject_hash(TEST_SECRET, card),
        "first_name": "Aino",
        "last_name": f"Testinen{n}",
        "street": "Mannerheimintie 1 A 2",
        "postcode": "00100",
        "post_town": "HELSINKI",
        "municipality": "Helsinki",
        "region": "Uusimaa",
        "language": "fi",
        "birth_year": 1980,
        "email": f"aino{n}@example.test",
        "phone": "+358401234567",
        "member_since": dt.date(2015, 1, 1),
        "status": "active",
        "address_status": "deliverable",
    }
    values.update(over)
    row = Member(**values)
    session.add(row)
    session.flush()
    return row


def product_group(
    session: Session, code: str, parent: ProductGroup | None = None, *, sensitive: bool = False
) -> ProductGroup:
    row = ProductGroup(
        id=next(_ids) % 30000,
        code=code,
        parent_id=parent.id if parent else None,
        name_fi=code,
        name_sv=code,
        sensitive=sensitive,
    )
    session.add(row)
    session.flush()
    return row


def set_consent(
    session: Session, m: Member, purpose: Purpose, channel: Channel, decision: Decision
) -> None:
    consent.record(session, m.id, purpose, channel, decision, source="test", actor="tester")
    session.flush()


def suppress(session: Session, m: Member, reason: SuppressionReason) -> None:
    session.add(
        Suppression(subject_hash=m.subject_hash, reason=reason, created_at=utcnow(), source="test")
    )
    session.flush()
