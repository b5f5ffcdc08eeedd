"""A member with something in every table that holds member data, and a table dump.

Shared by the export, erasure and member-command tests: the values are unusual on
purpose, so finding one of them in a dump or an export can only mean a leak.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch.db.types import Channel, Decision, Purpose
from dispatch.migrations.all_models import metadata
from dispatch.register import audit
from dispatch.register.models import (
    BonusPurchase,
    Member,
    ProductGroup,
    PurchaseSummary,
    RestaurantVisit,
    Store,
    WebInterest,
)
from tests import factories


@dataclass
class Subject:
    member: Member
    store: Store
    restaurant: Store
    food: ProductGroup
    dairy: ProductGroup

    @property
    def id(self) -> int:
        return self.member.id

    def personal_values(self) -> dict[str, str]:
        """Every identifying text value of the member.

        The birth year is checked on the row instead: a four-digit number could turn
        up by chance inside a timestamp.
        """
        m = self.member
        values = {
            "first_name": m.first_name,
            "last_name": m.last_name,
            "email": m.email,
            "street": m.street,
            "phone": m.phone,
            "card_number": m.card_number,
            "address_extra": m.address_extra,
            "post_town": m.post_town,
            "web_interest": f"interest-of-{m.last_name}",
        }
        return {key: str(value) for key, value in values.items()}


def full_member(session: Session, tag: str, **over: Any) -> Subject:
    """A member with purchases (one at a bonus partner), a restaurant visit, a web
    interest, consent and audit.

    ``tag`` makes the identifying values unique to this member.
    """
    serial = sum(ord(ch) for ch in tag) % 900 + 100
    store = factories.store(session, name=f"Prisma {tag}")
    restaurant = factories.store(session, name=f"Rosso {tag}", chain="Rosso", kind="restaurant")
    food = factories.product_group(session, f"food-{tag}")
    dairy = factories.product_group(session, f"dairy-{tag}", food)
    values: dict[str, Any] = {
        "first_name": f"Ilmatar{tag}",
        "last_name": f"Kalevalainen{tag}",
        "email": f"ilmatar.{tag.lower()}@example.test",
        "street": f"Sampokuja {serial} B",
        "address_extra": f"c/o Pohjola {tag}",
        "post_town": f"VÄINÖLÄ{tag.upper()}",
        "phone": f"+35850{serial}{serial}9",
        "card_number": f"92460000{serial}{serial}77",
        "birth_year": 1900 + serial % 100,
        "home_store_id": store.id,
    }
    values.update(over)
    member = factories.member(session, **values)
    session.add_all(
        [
            PurchaseSummary(
                member_id=member.id,
                product_group_id=dairy.id,
                month=dt.date(2024, 1, 1),
                amount=12.5,
                count=3,
            ),
            PurchaseSummary(
                member_id=member.id,
                product_group_id=food.id,
                month=dt.date(2024, 3, 1),
                amount=1.25,
                count=1,
            ),
            RestaurantVisit(
                member_id=member.id, store_id=restaurant.id, month=dt.date(2024, 2, 1), visits=2
            ),
            WebInterest(
                member_id=member.id,
                category=f"interest-of-{member.last_name}",
                last_seen=dt.date(2024, 4, 2),
            ),
            BonusPurchase(
                member_id=member.id,
                partner_code="nordic_air",
                purchased_on=dt.date(2024, 5, 6),
                amount=189,
            ),
        ]
    )
    factories.set_consent(session, member, Purpose.OWN_MARKETING, Channel.EMAIL, Decision.GRANTED)
    factories.set_consent(session, member, Purpose.MARKET_RESEARCH, Channel.PHONE, Decision.REFUSED)
    audit.record(
        session, actor="earlier.staff", action="member.show", member_id=member.id, reason="call"
    )
    session.flush()
    return Subject(member, store, restaurant, food, dairy)


def dump_all_tables(session: Session) -> str:
    """Every value of every row of every table in the schema, as text."""
    lines = []
    for table in metadata.sorted_tables:
        for row in session.execute(select(table)):
            lines.append(f"{table.name}: " + " | ".join(str(value) for value in row))
    return "\n".join(lines)
