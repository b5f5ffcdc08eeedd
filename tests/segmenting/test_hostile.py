"""Hostile segment files: each ends in one problem naming file, line and field, never a
traceback (deep nesting, too many criteria, control and invisible characters, huge
values)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from dispatch.errors import DispatchError, Problems
from dispatch.segmenting import spec

SOURCE = "segments/x.yaml"
HEAD = "name: test\npurpose: own_marketing\nchannel: post\n"


def problems(text: str) -> list[str]:
    try:
        spec.parse(text, SOURCE)
    except Problems as exc:
        return [str(p) for p in exc.problems]
    except DispatchError as exc:
        return [str(exc)]
    return []


def nested(levels: int) -> str:
    """A where with ``levels`` of all/any/none, ``where`` being the first."""
    lines = ["where:", "  all:"]
    indent = "    "
    for level in range(1, levels):
        op = ("any", "none", "all")[level % 3]
        lines.append(f"{indent}- {op}:")
        indent += "    "
    lines.append(f"{indent}- age: {{min: 18}}")
    return HEAD + "\n".join(lines) + "\n"


def test_nesting_up_to_the_bound_is_read() -> None:
    segment = spec.parse(nested(spec.MAX_DEPTH), SOURCE)
    assert segment.where.op == "all"


def test_nesting_one_level_too_deep_names_the_group() -> None:
    found = problems(nested(spec.MAX_DEPTH + 1))

    assert len(found) == 1
    # The ninth group starts on the line of the criterion inside it.
    assert found[0].startswith(f"{SOURCE}:{spec.MAX_DEPTH + 6}: where.all[0].none[0].all[0]")
    assert found[0].endswith(
        "].all: nested too deeply: all, any and none may nest at most 8 levels"
    )


@pytest.mark.parametrize("levels", [50, 5000])
def test_a_tree_thousands_deep_is_one_problem_not_a_recursion_error(levels: int) -> None:
    """In flow style a few kilobytes nest thousands deep; PyYAML's composer recursed."""
    body = "[{all: " * levels + "[{age: {min: 1}}]" + "}]" * levels
    found = problems(HEAD + f"where:\n  all: {body}\n")

    assert found == [
        f"{SOURCE}:5: where: nested too deeply: all, any and none may nest at most 8 levels"
    ]


def test_a_deep_list_outside_where_is_refused_too() -> None:
    found = problems(HEAD + "description: " + "[" * 3000 + "]" * 3000 + "\nwhere: {all: []}\n")

    assert found == [
        f"{SOURCE}:4: description: nested too deeply: all, any and none may nest at most 8 levels"
    ]


def test_too_many_criteria_is_said_once() -> None:
    items = "".join("    - age: {min: 18}\n" for _ in range(spec.MAX_CRITERIA + 5))
    found = problems(HEAD + "where:\n  all:\n" + items)

    assert found == [
        f"{SOURCE}:{5 + spec.MAX_CRITERIA + 1}: where.all[{spec.MAX_CRITERIA}].age: more than "
        f"{spec.MAX_CRITERIA} criteria in one segment"
    ]


def test_too_many_names_in_one_criterion() -> None:
    names = ", ".join(f"Place{i}" for i in range(spec.MAX_NAMES + 1))
    found = problems(HEAD + f"where:\n  all:\n    - municipality: [{names}]\n")

    assert found == [
        f"{SOURCE}:6: where.all[0].municipality: more than {spec.MAX_NAMES} names in one criterion"
    ]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (r'"Hel\0sinki"', "has the control character U+0000; remove it"),
        (r'"Hel\x1bsinki"', "has the control character U+001B; remove it"),
        (r'"Hel\tsinki"', "has the control character U+0009; remove it"),
        (r'"Hel\u200bsinki"', "has the invisible or unusual character U+200B (ZERO WIDTH SPACE)"),
        (r'"Hel\u202esinki"', "U+202E (RIGHT-TO-LEFT OVERRIDE)"),
        (r'"Hel\ud800sinki"', "U+D800 (unassigned)"),
        (r'"Hel\ue000sinki"', "U+E000 (unassigned)"),
    ],
)
def test_control_and_invisible_characters_in_a_name_are_refused(value: str, expected: str) -> None:
    """A NUL reached the database as a value and ended in a driver traceback."""
    found = problems(HEAD + f"where:\n  all:\n    - municipality: {value}\n")

    assert len(found) == 1
    assert found[0].startswith(f"{SOURCE}:6: where.all[0].municipality: has ")
    assert expected in found[0]


def test_a_raw_nul_in_the_file_names_its_line() -> None:
    found = problems(HEAD + "where:\n  all:\n    - municipality: Hel\0sinki\n")

    assert found == [f"{SOURCE}:6: not valid YAML: control character U+0000 in the file"]


def test_a_control_character_in_the_segment_name_is_refused() -> None:
    found = problems(
        'name: "te\\0st"\npurpose: own_marketing\nchannel: post\nwhere: {all: [age: {min: 1}]}\n'
    )

    assert found == [f"{SOURCE}:1: name: has the control character U+0000; remove it"]


def test_a_description_may_have_line_breaks_but_no_other_control_character() -> None:
    ok = spec.parse(
        HEAD + 'description: "two\\nlines\\tand a tab"\nwhere: {all: [age: {min: 1}]}\n', SOURCE
    )
    assert ok.description == "two\nlines\tand a tab"

    found = problems(HEAD + 'description: "bell\\a"\nwhere: {all: [age: {min: 1}]}\n')
    assert found == [f"{SOURCE}:4: description: has the control character U+0007; remove it"]


def test_over_long_texts_are_refused() -> None:
    found = problems(
        f"name: {'n' * 81}\npurpose: own_marketing\nchannel: post\n"
        f"description: {'d' * 2001}\n"
        f"where:\n  all:\n    - region: {'r' * 81}\n"
    )

    assert found == [
        f"{SOURCE}:1: name: longer than 80 characters (81)",
        f"{SOURCE}:4: description: longer than 2000 characters (2001)",
        f"{SOURCE}:7: where.all[0].region: longer than 80 characters (81)",
    ]


def test_a_huge_number_is_out_of_range_not_a_crash() -> None:
    digits = "9" * 5000
    found = problems(
        HEAD
        + textwrap.dedent(
            f"""\
            where:
              all:
                - age: {{min: {digits}}}
                - purchased: {{group: baby, within_months: 3, min_amount: {digits}.5}}
                - purchased: {{group: baby, within_months: 3, min_amount: .nan}}
            """
        )
    )

    assert found == [
        f"{SOURCE}:6: where.all[0].age.min: expected a decimal whole number",
        f"{SOURCE}:7: where.all[1].purchased.min_amount: must be a positive amount in euros",
        f"{SOURCE}:8: where.all[2].purchased.min_amount: expected an amount like 25 or 12.50",
    ]


def test_a_look_alike_letter_in_a_closed_choice_is_pointed_at() -> None:
    found = problems(HEAD + "where:\n  all:\n    - language: f\u0456\n")

    assert found == [
        f"{SOURCE}:6: where.all[0].language: unknown value 'f\u0456'; expected one of fi, sv "
        "('f\u0456' has '\u0456' U+0456 CYRILLIC SMALL LETTER BYELORUSSIAN-UKRAINIAN I)"
    ]


def test_a_file_of_invalid_utf8_is_one_problem(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_bytes(HEAD.encode() + b"where: {all: [region: \xff\xfe]}\n")

    reading = spec.read(path)

    assert [str(p) for p in reading.problems] == [f"{path}: not UTF-8 text"]
