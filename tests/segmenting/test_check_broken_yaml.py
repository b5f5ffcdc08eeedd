"""``dispatch segment check`` lists the unknown names of a file whose YAML is broken
elsewhere, beside the syntax error, so that one run lists every problem."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from dispatch.register.models import Member
from tests.conftest import CliResult
from tests.segmenting.test_cli import GOOD, population, write

Cli = Callable[..., CliResult]
__all__ = ["population"]  # the fixture, used by name

TYPO = GOOD.replace("group: baby", "group: babby") + "    - visited: {chain: Rossso}\n"
GROUP = "where.all[0].purchased.group: unknown product group 'babby'; did you mean 'baby'?"
CHAIN = "where.all[1].visited.chain: unknown restaurant chain 'Rossso'; did you mean 'Rosso'?"


@pytest.mark.parametrize(
    ("broken", "line", "complaint"),
    [
        # A value that is not YAML: the parser stops at that line.
        (
            TYPO.replace("channel: post", "channel: post: now"),
            4,
            "mapping values are not allowed here",
        ),
        # An unclosed quote: the parser stops at the end of the file.
        (
            TYPO.replace("description: Bought", 'description: "Bought'),
            10,
            "found unexpected end of stream",
        ),
    ],
)
def test_unknown_names_are_listed_beside_a_yaml_syntax_error(
    cli: Cli,
    population: dict[str, Member],
    tmp_path: Path,
    broken: str,
    line: int,
    complaint: str,
) -> None:
    path = write(tmp_path, "broken.yaml", broken)

    result = cli("segment", "check", str(path))

    assert result.code == 2
    lines = result.err.strip().splitlines()
    assert lines[0] == f"dispatch: {path}:{line}: not valid YAML: {complaint}"
    assert lines[1:] == [
        f"dispatch: {path}:8: {GROUP}",
        f"dispatch: {path}:9: {CHAIN}",
        "dispatch: error: 3 problems in 1 of 1 file",
    ]


def test_a_file_broken_beyond_repair_reports_its_syntax_error_alone(
    cli: Cli, population: dict[str, Member], tmp_path: Path
) -> None:
    path = write(tmp_path, "garbage.yaml", "where: [\n" + "  {: ]\n" * 30)

    result = cli("segment", "check", str(path))

    assert result.code == 2
    [problem, summary] = result.err.strip().splitlines()
    assert problem.startswith(f"dispatch: {path}:") and "not valid YAML" in problem
    assert summary == "dispatch: error: 1 problem in 1 of 1 file"
