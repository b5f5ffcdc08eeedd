"""The static reference data: codes other packages rely on, places, stores."""

from __future__ import annotations

from collections import Counter

import pytest

from dispatch.register import catalog


def _groups() -> dict[str, catalog.GroupSpec]:
    return {g.code: g for g in catalog.product_groups()}


@pytest.mark.parametrize(
    ("code", "parent"),
    [
        ("baby", None),
        ("baby_food", "baby"),
        ("diapers", "baby"),
        ("baby_care", "baby"),
        ("fuel", None),
        ("petrol", "fuel"),
        ("diesel", "fuel"),
        ("sports", None),
        ("bicycles", "sports"),
        ("groceries", None),
        ("pharmacy", None),
        ("medicines", "pharmacy"),
        ("special_diet", None),
    ],
)
def test_codes_that_segments_name_exist_where_expected(code: str, parent: str | None) -> None:
    assert _groups()[code].parent == parent


def test_health_revealing_groups_and_everything_below_them_are_sensitive() -> None:
    groups = _groups()
    for code in ("pharmacy", "medicines", "pregnancy_tests", "incontinence", "special_diet",
                 "gluten_free_diet", "diabetic_products"):  # fmt: skip
        assert groups[code].sensitive, code
    for group in groups.values():
        if group.parent and groups[group.parent].sensitive:
            assert group.sensitive, group.code
    assert not groups["baby"].sensitive
    assert not groups["groceries"].sensitive


def test_catalogue_has_about_a_hundred_groups_with_both_names() -> None:
    groups = catalog.product_groups()
    assert 90 <= len(groups) <= 120
    assert len({g.code for g in groups}) == len(groups)
    assert all(g.name_fi and g.name_sv for g in groups)
    assert [g.id for g in groups] == list(range(1, len(groups) + 1))


def test_web_categories() -> None:
    assert set(catalog.WEB_CATEGORIES) == {
        "bicycles", "baby", "electronics", "home", "garden", "travel", "sports", "fashion",
    }  # fmt: skip


def test_every_municipality_has_a_grocery_store_and_a_fuel_station() -> None:
    by_place = Counter((s.municipality, s.kind) for s in catalog.stores())
    for muni in catalog.MUNICIPALITIES:
        assert by_place[(muni.name, "retail")] >= 1, muni.name
        assert by_place[(muni.name, "fuel")] >= 1, muni.name
    assert by_place[("Helsinki", "restaurant")] >= 20


def test_store_names_are_unique_and_chains_have_their_kind() -> None:
    stores = catalog.stores()
    assert len({s.name for s in stores}) == len(stores)
    kinds = {s.chain: s.kind for s in stores}
    assert kinds["ABC"] == "fuel"
    assert kinds["Prisma"] == kinds["Sokos"] == kinds["Alepa"] == "retail"
    assert {kinds[c] for c in ("Rosso", "Amarillo", "Fransmanni", "Presto", "Coffee House")} == {
        "restaurant"
    }


def test_places_look_real() -> None:
    names = {m.name: m for m in catalog.MUNICIPALITIES}
    for muni in catalog.MUNICIPALITIES:
        assert muni.postcodes, muni.name
        assert all(len(p) == 5 and p.isdigit() for p in muni.postcodes)
        assert muni.post_town == muni.post_town.upper()
    assert names["Helsinki"].post_town_sv == "HELSINGFORS"
    assert names["Vaasa"].post_town_sv == "VASA"
    ostrobothnia = [m for m in catalog.MUNICIPALITIES if m.region == "Pohjanmaa"]
    assert {"Vaasa", "Mustasaari", "Pietarsaari", "Närpiö", "Kristiinankaupunki"} <= {
        m.name for m in ostrobothnia
    }
