"""The synthetic register looks like the real one: who the members are, what they do.

Rough proportions with generous tolerances: the point is that the example segments
(baby families, pensioners who drive, recent bicycle browsers, Helsinki diners,
Swedish speakers in Ostrobothnia) find real audiences, and that consents and
suppressions are spread plausibly and consistently.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from dispatch.register.hashing import subject_hash
from dispatch.register.models import (
    ConsentEvent,
    ConsentState,
    Household,
    Member,
    ProductGroup,
    PurchaseSummary,
    RestaurantVisit,
    Store,
    Suppression,
    WebInterest,
)
from tests.factories import TEST_SECRET
from tests.register.conftest import AS_OF, SEEDED_MEMBERS


@pytest.fixture
def seeded(seeded_engine: Engine) -> Iterator[Session]:
    """The module's shared seeded register (2,000 members); tests only read it."""
    with Session(seeded_engine) as session:
        yield session


def _share(session: Session, condition: Any, among: Any = None) -> float:
    base = select(func.count()).select_from(Member)
    if among is not None:
        base = base.where(among)
    total = session.scalar(base) or 0
    hits = session.scalar(base.where(condition)) or 0
    return hits / total


def test_members_look_like_the_finnish_population(seeded: Session) -> None:
    s = seeded
    assert 0.02 <= _share(s, Member.language == "sv") <= 0.10
    ostrobothnia = _share(s, Member.language == "sv", Member.region == "Pohjanmaa")
    elsewhere = _share(s, Member.language == "sv", Member.region != "Pohjanmaa")
    assert ostrobothnia >= 0.3
    assert ostrobothnia > 5 * elsewhere
    assert 0.002 <= _share(s, Member.birth_year > AS_OF.year - 18) <= 0.03
    assert 0.08 <= _share(s, Member.email.is_(None)) <= 0.22
    assert 0.12 <= _share(s, Member.birth_year <= AS_OF.year - 65) <= 0.30
    assert 0.10 <= _share(s, Member.municipality == "Helsinki") <= 0.22
    assert 0.001 <= _share(s, Member.status == "deceased") <= 0.015
    assert 0.003 <= _share(s, Member.address_status == "returned") <= 0.025
    assert s.scalar(select(func.count(func.distinct(Member.card_number)))) == SEEDED_MEMBERS
    assert all(len(c) == 16 and c.isdigit() for c in s.scalars(select(Member.card_number)))
    ids = s.scalars(select(Member.id).order_by(Member.id)).all()
    assert ids == list(range(1, SEEDED_MEMBERS + 1))
    vaasa_sv = s.scalars(
        select(Member.post_town).where(Member.municipality == "Vaasa", Member.language == "sv")
    ).all()
    assert vaasa_sv and set(vaasa_sv) == {"VASA"}


def test_couples_and_families_usually_share_a_household(seeded: Session) -> None:
    sizes = seeded.execute(
        select(Household.kind, func.count(Member.id))
        .join(Member, Member.household_id == Household.id)
        .group_by(Household.id, Household.kind)
    ).all()
    shared = [n for kind, n in sizes if kind in ("couple", "family", "baby_family")]
    assert sum(n >= 2 for n in shared) / len(shared) >= 0.6
    assert all(n == 1 for kind, n in sizes if kind == "single")


def _months_bought(member_id: Any, codes: tuple[str, ...]) -> Any:
    return (
        select(func.count(func.distinct(PurchaseSummary.month)))
        .join(ProductGroup, ProductGroup.id == PurchaseSummary.product_group_id)
        .where(PurchaseSummary.member_id == member_id, ProductGroup.code.in_(codes))
        .scalar_subquery()
    )


def test_baby_families_buy_baby_products_most_months(seeded: Session) -> None:
    months = seeded.execute(
        select(Member.id, _months_bought(Member.id, ("baby_food", "diapers")))
        .join(Household, Household.id == Member.household_id)
        .where(Household.kind == "baby_family", Member.member_since < dt.date(2024, 1, 1))
    ).all()
    assert len(months) >= 50
    assert sum(n >= 7 for _, n in months) / len(months) >= 0.8
    others = seeded.scalar(
        select(func.count())
        .select_from(PurchaseSummary)
        .join(ProductGroup, ProductGroup.id == PurchaseSummary.product_group_id)
        .join(Member, Member.id == PurchaseSummary.member_id)
        .join(Household, Household.id == Member.household_id)
        .where(ProductGroup.code == "diapers", Household.kind != "baby_family")
    )
    assert others == 0


def test_pensioners_fill_up_at_abc(seeded: Session) -> None:
    pensioner = Member.birth_year <= AS_OF.year - 65
    fuel = _months_bought(Member.id, ("petrol", "diesel"))
    assert _share(seeded, fuel > 0, pensioner) >= 0.35
    chains = seeded.scalars(
        select(Store.chain).join(Member, Member.home_store_id == Store.id).where(pensioner)
    ).all()
    assert 0.2 <= chains.count("ABC") / len(chains) <= 0.5


def test_some_members_browsed_bicycles_recently(seeded: Session) -> None:
    recent = seeded.scalar(
        select(func.count()).where(
            WebInterest.category == "bicycles",
            WebInterest.last_seen >= AS_OF - dt.timedelta(days=90),
        )
    )
    assert 0.05 <= recent / SEEDED_MEMBERS <= 0.11


def test_helsinki_members_eat_out_in_helsinki(seeded: Session) -> None:
    visitors = select(RestaurantVisit.member_id).join(Store, Store.id == RestaurantVisit.store_id)
    in_helsinki = visitors.where(Store.municipality == "Helsinki")
    share = _share(seeded, Member.id.in_(in_helsinki), Member.municipality == "Helsinki")
    assert share >= 0.25
    kinds = seeded.scalars(
        select(func.distinct(Store.kind)).join(
            RestaurantVisit, RestaurantVisit.store_id == Store.id
        )
    ).all()
    assert kinds == ["restaurant"]


def test_behaviour_stays_within_thirteen_months_and_about_twenty_rows(seeded: Session) -> None:
    months = seeded.scalars(select(PurchaseSummary.month).distinct()).all()
    assert min(months) == dt.date(2024, 5, 1)
    assert max(months) == dt.date(2025, 5, 1)
    rows = seeded.scalar(select(func.count()).select_from(PurchaseSummary))
    assert 12 <= rows / SEEDED_MEMBERS <= 28


def test_consent_spread_is_plausible(seeded: Session) -> None:
    def share(purpose: str, channel: str, decision: str) -> float:
        n = seeded.scalar(
            select(func.count()).where(
                ConsentState.purpose == purpose,
                ConsentState.channel == channel,
                ConsentState.decision == decision,
            )
        )
        return (n or 0) / SEEDED_MEMBERS

    assert 0.35 <= share("own_marketing", "email", "granted") <= 0.55
    assert 0.15 <= share("partner_marketing", "email", "granted") <= 0.33
    assert 0.02 <= share("own_marketing", "post", "refused") <= 0.07
    assert 0.06 <= share("partner_marketing", "post", "refused") <= 0.14
    assert 0.015 <= share("direct_marketing", "any", "objected") <= 0.05
    assert 0.008 <= share("market_research", "any", "objected") <= 0.035
    no_email_grants = seeded.scalar(
        select(func.count())
        .select_from(ConsentState)
        .join(Member, Member.id == ConsentState.member_id)
        .where(ConsentState.channel == "email", Member.email.is_(None))
    )
    assert no_email_grants == 0


def test_suppressions_match_member_status_and_are_keyed_by_hash(seeded: Session) -> None:
    members = seeded.scalars(select(Member)).all()
    by_hash: dict[str, set[str]] = {}
    for h, reason in seeded.execute(select(Suppression.subject_hash, Suppression.reason)):
        by_hash.setdefault(h, set()).add(reason)
    for m in members:
        assert m.subject_hash == subject_hash(TEST_SECRET, m.card_number or "")
        reasons = by_hash.get(m.subject_hash, set())
        assert ("deceased" in reasons) == (m.status == "deceased")
        assert ("returned_mail" in reasons) == (m.address_status == "returned")
    optout = sum("optout_register" in r for r in by_hash.values()) / len(members)
    assert 0.02 <= optout <= 0.06


def test_seeded_consent_state_is_what_record_would_have_left(seeded: Session) -> None:
    events = seeded.scalars(select(ConsentEvent).order_by(ConsentEvent.id)).all()
    latest: dict[tuple[int, str, str], ConsentEvent] = {}
    for event in events:
        if event.purpose == "direct_marketing" or event.channel == "any":
            assert event.decision == "objected"
        key = (event.member_id, event.purpose, event.channel)
        if key in latest:
            assert event.recorded_at >= latest[key].recorded_at
        latest[key] = event
        assert event.recorded_at <= dt.datetime.combine(AS_OF, dt.time(23, 59), dt.UTC)
    states = seeded.scalars(select(ConsentState)).all()
    assert len(states) == len(latest)
    for state in states:
        event = latest[(state.member_id, state.purpose, state.channel)]
        assert (state.event_id, state.decision, state.updated_at) == (
            event.id,
            event.decision,
            event.recorded_at,
        )
    assert any(
        n > 1
        for n in seeded.scalars(
            select(func.count())
            .select_from(ConsentEvent)
            .group_by(ConsentEvent.member_id, ConsentEvent.purpose, ConsentEvent.channel)
        )
    ), "some members changed their mind: the ledger has history, not just state"
