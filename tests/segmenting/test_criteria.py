"""What each criterion matches, on SQLite and PostgreSQL, as of a fixed date."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session

from dispatch.errors import DispatchError
from dispatch.register.models import Household, MemberFacts
from dispatch.segmenting import services
from dispatch.segmenting.compiler import months_back
from tests import factories
from tests.segmenting.conftest import AS_OF, Register, browse, buy, segment, selected, visit

MAY = dt.date(2025, 5, 1)
JAN = dt.date(2025, 1, 1)
LAST_YEAR = dt.date(2024, 6, 1)


@pytest.mark.parametrize(
    ("as_of", "months", "start"),
    [
        (dt.date(2025, 6, 15), 1, dt.date(2025, 5, 1)),
        (dt.date(2025, 6, 15), 6, dt.date(2024, 12, 1)),
        (dt.date(2025, 1, 31), 1, dt.date(2024, 12, 1)),
        (dt.date(2025, 3, 1), 14, dt.date(2024, 1, 1)),
    ],
)
def test_month_window_rounds_out_to_whole_months(
    as_of: dt.date, months: int, start: dt.date
) -> None:
    assert months_back(as_of, months) == start


def test_purchased_includes_descendant_groups_within_the_window(
    session: Session, register: Register
) -> None:
    g = register.groups
    diapers = factories.member(session)
    baby_food_old = factories.member(session)
    parent_group = factories.member(session)
    petrol = factories.member(session)
    future = factories.member(session)
    buy(session, diapers, g["diapers"], MAY)
    buy(session, baby_food_old, g["baby_food"], LAST_YEAR)
    buy(session, parent_group, g["baby"], JAN)
    buy(session, petrol, g["petrol"], MAY)
    buy(session, future, g["diapers"], dt.date(2025, 7, 1))  # after the as-of date

    found = selected(session, segment("all:\n  - purchased: {group: baby, within_months: 6}"))

    assert found == {diapers.id, parent_group.id}


def test_purchased_minimums_sum_over_the_window_per_member(
    session: Session, register: Register
) -> None:
    g = register.groups
    spread = factories.member(session)
    small = factories.member(session)
    frequent_cheap = factories.member(session)
    buy(session, spread, g["diapers"], MAY, amount="30.00", count=1)
    buy(session, spread, g["baby_food"], JAN, amount="25.00", count=1)
    buy(session, small, g["diapers"], MAY, amount="49.99", count=1)
    buy(session, frequent_cheap, g["diapers"], MAY, amount="5.00", count=3)

    by_amount = segment("all:\n  - purchased: {group: baby, within_months: 6, min_amount: 50}")
    by_count = segment("all:\n  - purchased: {group: baby, within_months: 6, min_count: 2}")
    both = segment(
        "all:\n  - purchased: {group: baby, within_months: 6, min_amount: 50, min_count: 2}"
    )

    assert selected(session, by_amount) == {spread.id}
    assert selected(session, by_count) == {spread.id, frequent_cheap.id}
    assert selected(session, both) == {spread.id}


def test_visited_counts_restaurant_visits_by_chain_municipality_and_minimum(
    session: Session, register: Register
) -> None:
    s = register.stores
    regular = factories.member(session)
    tampere = factories.member(session)
    once = factories.member(session)
    amarillo = factories.member(session)
    visit(session, regular, s["rosso_hki"], MAY, 2)
    visit(session, regular, s["amarillo_hki"], dt.date(2025, 4, 1), 1)
    visit(session, tampere, s["rosso_tre"], MAY, 5)
    visit(session, once, s["rosso_hki"], MAY, 1)
    visit(session, amarillo, s["amarillo_hki"], MAY, 4)

    helsinki_rosso = segment(
        "all:\n  - visited: {chain: Rosso, municipality: Helsinki, within_months: 3}"
    )
    regulars = segment(
        "all:\n  - visited: {chain: [Rosso, Amarillo], municipality: Helsinki,"
        " within_months: 3, min_visits: 3}"
    )

    assert selected(session, helsinki_rosso) == {regular.id, once.id}
    assert selected(session, regulars) == {regular.id, amarillo.id}


def test_browsed_looks_back_the_given_days(session: Session, register: Register) -> None:
    recent = factories.member(session)
    old = factories.member(session)
    other = factories.member(session)
    browse(session, recent, "bicycles", AS_OF - dt.timedelta(days=90))
    browse(session, old, "bicycles", AS_OF - dt.timedelta(days=91))
    browse(session, other, "garden", AS_OF)

    found = selected(session, segment("all:\n  - browsed: {category: bicycles, within_days: 90}"))

    assert found == {recent.id}


def test_a_behaviour_conjunct_first_asks_the_members_activity_bits(
    session: Session, register: Register
) -> None:
    """The bits drop members before the join (register.activity); they never add one.

    Clearing a member's bits (what drift would look like) takes them out of a
    segment that asks for the behaviour in ``all``, which shows the bits are read;
    under ``any`` the criterion is read alone, as it is for ``why``.
    """
    g = register.groups
    rider = factories.member(session)
    baby_buyer = factories.member(session)
    browse(session, rider, "bicycles", AS_OF)
    buy(session, baby_buyer, g["diapers"], MAY)
    riders = segment("all:\n  - browsed: {category: bicycles, within_days: 90}")
    babies = segment("all:\n  - purchased: {group: baby, within_months: 6}")
    either = segment(
        "any:\n  - browsed: {category: bicycles, within_days: 90}\n  - age: {min: 130}"
    )
    assert selected(session, riders) == selected(session, either) == {rider.id}
    assert selected(session, babies) == {baby_buyer.id}

    session.execute(
        update(MemberFacts).values(activity=0, purchased_groups_0=0, purchased_groups_1=0)
    )

    assert selected(session, riders) == set()
    assert selected(session, either) == {rider.id}
    # Purchases read from the summaries (months the rollups do not hold) have no bits.
    assert selected(session, babies) == (set() if session.info["rollups"] else {baby_buyer.id})
    assert services.why(session, riders, rider.id, as_of=AS_OF, actor="test").selected


def test_age_is_counted_from_birth_year_to_as_of_year(session: Session, register: Register) -> None:
    sixty_five = factories.member(session, birth_year=1960)
    sixty_four = factories.member(session, birth_year=1961)
    unknown = factories.member(session, birth_year=None)

    pensioners = segment("all:\n  - age: {min: 65}")
    not_pensioners = segment("all:\n  - language: fi\nnone:\n  - age: {min: 65}")

    assert selected(session, pensioners) == {sixty_five.id}
    # Unknown age is not "65 or over", so `none` does not exclude on it; the member
    # still falls to the policy's minor rule (no birth year, no proof of adulthood).
    assert selected(session, not_pensioners) == {sixty_four.id}
    assert services.count(session, not_pensioners, as_of=AS_OF).removed["minor"] == 1
    assert unknown.id not in selected(session, pensioners)


def test_member_attributes(session: Session, register: Register) -> None:
    s = register.stores
    vaasa = factories.member(
        session,
        language="sv",
        region="Pohjanmaa",
        municipality="Vaasa",
        postcode="65100",
        post_town="VAASA",
        home_store_id=s["abc"].id,
        member_since=dt.date(2010, 5, 1),
    )
    helsinki = factories.member(session, postcode="00100", home_store_id=s["prisma"].id)
    nowhere = factories.member(
        session, region=None, municipality=None, postcode="96100", home_store_id=None
    )

    def ids(where: str) -> set[int]:
        return selected(session, segment(where))

    assert ids("all:\n  - language: sv") == {vaasa.id}
    assert ids("all:\n  - region: [Pohjanmaa, Lappi]") == {vaasa.id}
    assert ids("all:\n  - municipality: Helsinki") == {helsinki.id}
    assert ids("all:\n  - postcode_prefix: ['651', '99']") == {vaasa.id}
    assert ids("all:\n  - postcode_prefix: '00100'") == {helsinki.id}
    assert ids("all:\n  - home_store_chain: ABC") == {vaasa.id}
    assert ids("all:\n  - member_since: {before: 2015-01-01}") == {vaasa.id}
    assert ids("all:\n  - member_since: {after: 2014-12-31}") == {helsinki.id, nowhere.id}
    # A member whose region is unknown is not in any region, and so not excluded.
    assert ids("all:\n  - language: fi\nnone:\n  - region: Uusimaa") == {nowhere.id}


def test_any_none_and_nesting_combine_as_written(session: Session, register: Register) -> None:
    g = register.groups
    swedish_buyer = factories.member(session, language="sv")
    finnish_buyer = factories.member(session)
    swedish_browser = factories.member(session, language="sv")
    neither = factories.member(session, language="sv")
    lapland_buyer = factories.member(session, region="Lappi")
    for m in (swedish_buyer, finnish_buyer, lapland_buyer):
        buy(session, m, g["petrol"], MAY)
    browse(session, swedish_browser, "bicycles", AS_OF)

    seg = segment(
        """
        all:
          - any:
              - purchased: {group: fuel, within_months: 3}
              - all:
                  - language: sv
                  - browsed: {category: bicycles, within_days: 30}
        none:
          - region: Lappi
          - all:
              - language: fi
              - purchased: {group: petrol, within_months: 1}
        """
    )

    assert selected(session, seg) == {swedish_buyer.id, swedish_browser.id}
    assert neither.id not in selected(session, seg)


def test_none_of_purchases_excludes_the_buyers(session: Session, register: Register) -> None:
    g = register.groups
    buyer = factories.member(session)
    big_buyer = factories.member(session)
    other = factories.member(session)
    buy(session, buyer, g["diesel"], MAY, amount="10.00")
    buy(session, big_buyer, g["diesel"], MAY, amount="100.00")

    any_fuel = segment(
        "all:\n  - language: fi\nnone:\n  - purchased: {group: fuel, within_months: 3}"
    )
    big_fuel = segment(
        "all:\n  - language: fi\nnone:\n"
        "  - purchased: {group: fuel, within_months: 3, min_amount: 50}"
    )

    assert selected(session, any_fuel) == {other.id}
    assert selected(session, big_fuel) == {other.id, buyer.id}


def test_members_with_many_behaviour_rows_count_once_under_any_and_none(
    session: Session, register: Register
) -> None:
    # Under any/none a behaviour set is outer-joined to members (compiler.py); a
    # member with many rows in it must still be one recipient, in every statement.
    g, s = register.groups, register.stores
    busy = factories.member(session)
    quiet = factories.member(session)
    gardener = factories.member(session)
    buy(session, gardener, g["petrol"], MAY)
    browse(session, gardener, "garden", AS_OF)
    for month in (dt.date(2025, 4, 1), MAY, dt.date(2025, 6, 1)):
        for group in ("petrol", "diesel"):
            buy(session, busy, g[group], month)
        visit(session, busy, s["rosso_hki"], month)
        visit(session, busy, s["amarillo_hki"], month)
    browse(session, busy, "bicycles", AS_OF)
    browse(session, busy, "travel", AS_OF)
    seg = segment(
        """
        all:
          - language: fi
        any:
          - purchased: {group: fuel, within_months: 3}
          - visited: {chain: [Rosso, Amarillo], municipality: Helsinki, within_months: 3}
          - browsed: {category: bicycles, within_days: 30}
        none:
          - visited: {chain: Rosso, municipality: Tampere, within_months: 3}
          - browsed: {category: garden, within_days: 30}
        """
    )

    ids = list(services.member_ids(session, seg, as_of=AS_OF))
    counted = services.count(session, seg, as_of=AS_OF)

    assert ids == [busy.id]
    assert counted.matched == 1 and counted.selected == 1
    assert quiet.id not in ids and gardener.id not in ids


@pytest.mark.parametrize(
    ("where", "message"),
    [
        ("all:\n  - purchased: {group: nappies, within_months: 6}", "unknown product group"),
        ("all:\n  - home_store_chain: Lidl", "unknown chain 'Lidl'"),
        (
            "all:\n  - visited: {chain: Prisma, within_months: 3}",
            "a retail chain, not a restaurant",
        ),
        ("all:\n  - visited: {chain: Rosso, municipality: Oulu, within_months: 3}", "municipality"),
        ("all:\n  - browsed: {category: bikes, within_days: 3}", "did you mean 'bicycles'"),
    ],
)
def test_unknown_references_are_refused_with_line_and_field(
    session: Session, register: Register, where: str, message: str
) -> None:
    with pytest.raises(DispatchError) as raised:
        services.count(session, segment(where), as_of=AS_OF)

    assert str(raised.value).startswith("segments/test.yaml:7: where.all[0].")
    assert message in str(raised.value)
    assert raised.value.exit_code == 2


def test_household_unit_picks_one_member_of_each_household(
    session: Session, register: Register
) -> None:
    home = Household(id=990001, kind="family")
    session.add(home)
    session.flush()
    first = factories.member(session, household_id=home.id)
    second = factories.member(session, household_id=home.id)
    alone = factories.member(session)

    found = selected(session, segment("all:\n  - language: fi", unit="household"))

    assert found == {first.id, alone.id}
    assert second.id not in found
