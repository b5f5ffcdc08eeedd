"""A small register for segment tests: a product-group tree with sensitive branches,
a few stores of each kind, and helpers that record behaviour for a member.

Every test evaluates as of :data:`AS_OF`, so time windows never depend on today.
"""

from __future__ import annotations

import datetime as dt
import textwrap
from dataclasses import dataclass
from decimal import Decimal

import pytest
from sqlalchemy import delete
from sqlalchemy.orm import Session

from dispatch.register import activity, rollups
from dispatch.register.models import (
    Member,
    ProductGroup,
    PurchaseSummary,
    RestaurantVisit,
    Store,
    WebInterest,
)
from dispatch.segmenting import services, spec, tree
from tests import factories

AS_OF = dt.date(2025, 6, 15)


def segment(
    where: str,
    *,
    purpose: str = "own_marketing",
    channel: str = "post",
    unit: str = "member",
    name: str = "test-segment",
) -> tree.Segment:
    """A segment with the given ``where:`` body (YAML, indented freely)."""
    body = textwrap.indent(textwrap.dedent(where).strip("\n"), "  ")
    text = f"name: {name}\npurpose: {purpose}\nchannel: {channel}\nunit: {unit}\nwhere:\n{body}\n"
    return spec.parse(text, "segments/test.yaml")


def selected(session: Session, seg: tree.Segment, as_of: dt.date = AS_OF) -> set[int]:
    return set(services.member_ids(session, seg, as_of=as_of))


@dataclass
class Register:
    groups: dict[str, ProductGroup]
    stores: dict[str, Store]


@pytest.fixture(params=["rollups", "summaries"])
def register(request: pytest.FixtureRequest, session: Session) -> Register:
    """Product groups (sensitive: pharmacy and its children, diet under groceries).

    Twice: with purchases kept in the rollups as the feed keeps them, and with the
    rollups left empty, so that the compiler reads purchase_summaries instead
    (what it does for months the rollups do not hold).
    """
    session.info["rollups"] = request.param == "rollups"
    if not session.info["rollups"]:
        session.execute(delete(rollups.MONTHS))
    groups: dict[str, ProductGroup] = {}

    def group(code: str, parent: str | None = None, *, sensitive: bool = False) -> None:
        groups[code] = factories.product_group(
            session, code, groups[parent] if parent else None, sensitive=sensitive
        )

    group("baby")
    group("baby_food", "baby")
    group("diapers", "baby")
    group("fuel")
    group("petrol", "fuel")
    group("diesel", "fuel")
    group("bicycles")
    group("groceries")
    group("dairy", "groceries")
    # A non-sensitive parent whose subtree holds special-category data.
    group("diet", "groceries", sensitive=True)
    group("gluten_free", "diet", sensitive=True)
    group("pharmacy", sensitive=True)
    # Not flagged itself: the sensitive ancestor must be enough.
    group("medicines", "pharmacy")
    stores = {
        "prisma": factories.store(session, chain="Prisma", kind="retail"),
        "abc": factories.store(session, chain="ABC", kind="fuel", municipality="Espoo"),
        "rosso_hki": factories.store(session, chain="Rosso", kind="restaurant"),
        "rosso_tre": factories.store(
            session, chain="Rosso", kind="restaurant", municipality="Tampere", region="Pirkanmaa"
        ),
        "amarillo_hki": factories.store(session, chain="Amarillo", kind="restaurant"),
    }
    return Register(groups, stores)


def buy(
    session: Session,
    member: Member,
    group: ProductGroup,
    month: dt.date,
    *,
    amount: str = "10.00",
    count: int = 1,
) -> None:
    session.add(
        PurchaseSummary(
            member_id=member.id,
            product_group_id=group.id,
            month=month.replace(day=1),
            amount=Decimal(amount),
            count=count,
        )
    )
    session.flush()
    if session.info.get("rollups", True):  # as the purchase feed does
        rollups.after_purchases(session, [member.id], [month.replace(day=1)])


def visit(session: Session, member: Member, store: Store, month: dt.date, visits: int = 1) -> None:
    session.add(
        RestaurantVisit(
            member_id=member.id, store_id=store.id, month=month.replace(day=1), visits=visits
        )
    )
    session.flush()
    activity.refresh(session, [member.id])  # as the visits feed does


def browse(session: Session, member: Member, category: str, last_seen: dt.date) -> None:
    session.add(WebInterest(member_id=member.id, category=category, last_seen=last_seen))
    session.flush()
    activity.refresh(session, [member.id])  # as the web-interests feed does
