"""Segment files: every kind of mistake is reported with its file, line and field."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest

from dispatch.db.types import Channel, Language, Purpose
from dispatch.errors import DispatchError, InputError, Problems
from dispatch.privacy.policy import Unit
from dispatch.segmenting import spec, tree

SOURCE = "segments/x.yaml"


def problems(text: str) -> list[str]:
    """Every problem of ``text`` as its one-line message."""
    try:
        spec.parse(text, SOURCE)
    except Problems as exc:
        return [str(p) for p in exc.problems]
    except DispatchError as exc:
        return [str(exc)]
    return []


HEAD = "name: test\npurpose: own_marketing\nchannel: post\n"


def test_full_segment_parses_into_typed_tree() -> None:
    seg = spec.parse(
        HEAD
        + """\
description: Everything at once
unit: household
where:
  all:
    - purchased: {group: baby, within_months: 6, min_amount: 20.50, min_count: 2}
    - visited: {chain: [Rosso, Amarillo], municipality: Helsinki, within_months: 3}
    - browsed: {category: bicycles, within_days: 90}
    - age: {min: 18, max: 65}
    - language: sv
    - region: Pohjanmaa
    - municipality: [Vaasa, Mustasaari]
    - postcode_prefix: [00100, "651"]
    - home_store_chain: ABC
    - member_since: {after: 2015-01-01, before: 2024-12-31}
  none:
    - any:
        - age: {max: 17}
        - language: fi
""",
        SOURCE,
    )

    assert seg.purpose is Purpose.OWN_MARKETING
    assert seg.channel is Channel.POST
    assert seg.unit is Unit.HOUSEHOLD
    assert seg.description == "Everything at once"
    everything, excluded = seg.where.items
    assert isinstance(everything, tree.Group) and everything.op == "all"
    purchased, visited, browsed, age, language, _, municipality, postcode, chain, since = (
        everything.items
    )
    assert purchased == tree.Purchased(
        purchased.loc,
        tree.Name("baby", purchased.group.loc),
        6,
        Decimal("20.50"),
        2,
    )
    assert purchased.loc.line == 8 and purchased.loc.path == "where.all[0].purchased"
    assert isinstance(visited, tree.Visited)
    assert [c.value for c in visited.chains] == ["Rosso", "Amarillo"]
    assert visited.min_visits == 1
    assert isinstance(browsed, tree.Browsed) and browsed.within_days == 90
    assert isinstance(age, tree.Age) and (age.min, age.max) == (18, 65)
    assert isinstance(language, tree.LanguageIs) and language.language is Language.SV
    assert isinstance(municipality, tree.Municipality) and len(municipality.names) == 2
    # Written as 00100, which YAML alone would read as a number: kept as written.
    assert isinstance(postcode, tree.PostcodePrefix) and postcode.prefixes == ("00100", "651")
    assert isinstance(chain, tree.HomeStoreChain)
    assert isinstance(since, tree.MemberSince)
    assert since.after == dt.date(2015, 1, 1)
    assert isinstance(excluded, tree.Group) and excluded.op == "none"


def test_unit_defaults_to_member() -> None:
    seg = spec.parse(HEAD + "where:\n  all:\n    - language: fi\n", SOURCE)

    assert seg.unit is Unit.MEMBER


def test_unknown_top_level_key_names_its_line_and_suggests() -> None:
    found = problems(HEAD + "descripton: typo\nwhere:\n  all:\n    - language: fi\n")

    assert found == [
        f"{SOURCE}:4: descripton: unknown key 'descripton'; did you mean 'description'?"
    ]


def test_unknown_key_inside_criterion_names_the_field_path() -> None:
    found = problems(
        HEAD + "where:\n  all:\n    - language: fi\n"
        "    - purchased:\n        group: baby\n        within_months: 6\n        colour: red\n"
    )

    assert found == [
        f"{SOURCE}:10: where.all[1].purchased.colour: unknown key 'colour'; "
        "expected one of group, within_months, min_amount, min_count"
    ]


def test_unknown_criterion_is_named_with_its_line() -> None:
    found = problems(HEAD + "where:\n  any:\n    - language: fi\n    - shoe_size: 42\n")

    assert len(found) == 1
    assert found[0].startswith(f"{SOURCE}:7: where.any[1].shoe_size: unknown criterion 'shoe_size'")


@pytest.mark.parametrize(
    ("criterion", "field", "message"),
    [
        (
            "purchased: {group: baby, within_months: six}",
            "within_months",
            "expected a whole number",
        ),
        (
            "purchased: {group: baby, within_months: 6.5}",
            "within_months",
            "expected a whole number",
        ),
        ("purchased: {group: baby, within_months: 0}", "within_months", "between 1 and 120"),
        ("purchased: {group: [baby], within_months: 6}", "group", "expected text, got a list"),
        ("purchased: {group: baby, within_months: 6, min_amount: x}", "min_amount", "amount"),
        ("purchased: {group: baby, within_months: 6, min_amount: 0}", "min_amount", "positive"),
        ("browsed: {category: bicycles, within_days: true}", "within_days", "whole number"),
        ("browsed: {category: Bicycles, within_days: 9}", "category", "lower-case"),
        ("age: {min: old}", "min", "expected a whole number"),
        ("member_since: {before: yesterday}", "before", "expected a date"),
        ("visited: {chain: Rosso, within_months: 3, min_visits: 0}", "min_visits", "between"),
    ],
)
def test_wrong_type_names_the_field_and_line(criterion: str, field: str, message: str) -> None:
    found = problems(HEAD + f"where:\n  all:\n    - language: fi\n    - {criterion}\n")

    assert len(found) == 1, found
    name = criterion.split(":")[0]
    assert found[0].startswith(f"{SOURCE}:7: where.all[1].{name}.{field}: "), found
    assert message in found[0]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (HEAD + "language: fi\n", "language: unknown key"),
        (
            HEAD + "where:\n  all:\n    - language: en\n",
            "where.all[0].language: unknown value 'en'",
        ),
        (HEAD + "where:\n  all:\n    - postcode_prefix: 00A\n", "1 to 5 digits"),
        (HEAD + "where:\n  all:\n    - age: {}\n", "give min, max or both"),
        (HEAD + "where:\n  all:\n    - age: {min: 70, max: 20}\n", "min is greater than max"),
        (
            HEAD + "where:\n  all:\n    - member_since: {after: 2024-01-01, before: 2020-01-01}\n",
            "after must be earlier than before",
        ),
    ],
)
def test_invalid_values_are_refused(text: str, expected: str) -> None:
    found = problems(text)

    assert any(expected in line for line in found), found


def test_missing_required_fields_are_each_named() -> None:
    found = problems("name: test\nwhere:\n  all:\n    - purchased: {group: baby}\n")

    assert found == [
        f"{SOURCE}:1: purpose: missing required field 'purpose'",
        f"{SOURCE}:1: channel: missing required field 'channel'",
        f"{SOURCE}:4: where.all[0].purchased.within_months: missing required field 'within_months'",
    ]


def test_wrong_purpose_and_channel_list_the_allowed_values() -> None:
    found = problems(
        "name: t\npurpose: direct_marketing\nchannel: any\nwhere: {all: [language: fi]}\n"
    )

    assert found == [
        f"{SOURCE}:2: purpose: unknown value 'direct_marketing'; expected one of "
        "own_marketing, partner_marketing, market_research, profiling",
        f"{SOURCE}:3: channel: unknown value 'any'; expected one of post, email, sms, phone",
    ]


@pytest.mark.parametrize(
    ("where", "line", "path"),
    [
        ("where:\n", 4, "where"),
        ("where: {}\n", 4, "where"),
        ("where:\n  all: []\n", 5, "where.all"),
        ("where:\n  all:\n    - any: []\n", 6, "where.all[0].any"),
    ],
)
def test_empty_where_is_refused(where: str, line: int, path: str) -> None:
    found = problems(HEAD + where)

    assert len(found) == 1, found
    assert found[0].startswith(f"{SOURCE}:{line}: {path}: empty")


def test_list_item_with_two_criteria_is_refused() -> None:
    found = problems(HEAD + "where:\n  all:\n    - {language: fi, region: Uusimaa}\n")

    assert found == [
        f"{SOURCE}:6: where.all[0]: each list item is one criterion, "
        "or one of all/any/none with a list"
    ]


def test_duplicate_key_is_refused() -> None:
    found = problems(HEAD + "name: again\nwhere: {all: [language: fi]}\n")

    assert found == [f"{SOURCE}:4: name: duplicate key 'name'"]


def test_malformed_yaml_names_the_line() -> None:
    found = problems(HEAD + "where:\n  all:\n    - language: [fi\n")

    assert len(found) == 1
    assert found[0].startswith(f"{SOURCE}:7: not valid YAML")


def test_yaml_aliases_are_refused() -> None:
    found = problems(HEAD + "where:\n  all:\n    - language: &l fi\n    - language: *l\n")

    assert found == [f"{SOURCE}:7: YAML aliases are not allowed in segment files"]


def test_every_problem_of_a_file_is_reported_at_once() -> None:
    found = problems(
        "name: t\npurpose: own_marketing\nchannel: fax\n"
        "where:\n  all:\n    - age: {min: x}\n    - region: []\n  none:\n    - nope: 1\n"
    )

    assert [line.split(": ")[0] for line in found] == [
        f"{SOURCE}:3",
        f"{SOURCE}:6",
        f"{SOURCE}:7",
        f"{SOURCE}:9",
    ]


def test_missing_file_is_input_error_naming_it(tmp_path: Path) -> None:
    with pytest.raises(InputError) as raised:
        spec.load(tmp_path / "nope.yaml")

    assert str(raised.value).startswith(str(tmp_path / "nope.yaml"))
    assert raised.value.exit_code == 2
