"""Hostile command-line arguments: each ends in one line on stderr and exit 2, never a
traceback or a database error.

The command tree is walked, so a command added later is covered the day it exists:
control characters and bytes that are not UTF-8 in any argument, and an id too large
for the database in every whole-number parameter.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import click
import pytest

from dispatch.cli import cli as root
from dispatch.cli import run
from tests.cli.test_contract import LEAVES
from tests.conftest import CliResult

Cli = Callable[..., CliResult]
DISPATCH = {name: command for name, command in LEAVES.items() if name.startswith("dispatch ")}
HUGE = str(10**30)
#: Any whole number is a good seed for a random generator.
SEEDS = {"--seed"}


def bare(*args: str) -> CliResult:
    """Run the CLI with no environment prepared: these calls never reach a setting."""
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = run(list(args))
    return CliResult(code, out.getvalue(), err.getvalue())


def _words(name: str) -> list[str]:
    return name.split()[1:]


def _one_line(result: CliResult, *fragments: str) -> None:
    assert result.code == 2, (result.out, result.err)
    lines = result.err.strip().splitlines()
    assert len(lines) == 1, result.err
    assert "Traceback" not in result.err
    for fragment in fragments:
        assert fragment in lines[0]


@pytest.mark.parametrize("name", sorted(DISPATCH))
@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("Osuus\x00kauppa", "has U+0000, which no value may contain"),
        ("\x1b[2J", "has U+001B"),
        ("line\nbreak", "has U+000A"),
        ("\udcff\udcfe", "has bytes that are not UTF-8"),  # what Python makes of b"\xff\xfe"
    ],
    ids=["nul", "escape", "newline", "not-utf8"],
)
def test_a_control_character_in_any_argument_is_refused(name: str, value: str, says: str) -> None:
    words = _words(name)
    _one_line(bare(*words, value), f"argument {len(words) + 1}: {says}")
    _one_line(bare(*words, "--as", value), f"option --as: {says}")
    _one_line(bare(*words, f"--reason={value}"), f"option --reason: {says}")


def _int_calls() -> Iterator[tuple[str, list[str]]]:
    """For every whole-number parameter, the shortest call that gives it HUGE."""
    for name, command in sorted(DISPATCH.items()):
        before: list[str] = []
        for param in command.params:
            is_int = isinstance(param.type, click.types.IntParamType)
            if isinstance(param, click.Argument):
                if is_int:
                    yield f"{name} {param.name}", [*_words(name), *before, HUGE]
                before.append("x")
            elif is_int and isinstance(param, click.Option) and param.opts[0] not in SEEDS:
                yield f"{name} {param.opts[0]}", [*_words(name), param.opts[0], HUGE]


INT_CALLS = dict(_int_calls())


def test_every_id_parameter_is_found() -> None:
    """The walk finds the ids it must (a walk that found nothing would prove nothing)."""
    for expected in (
        "dispatch campaign approve campaign_id",
        "dispatch campaign create --creative",
        "dispatch creative approve version_id",
        "dispatch member show member_id",
        "dispatch segment why member_id",
        "dispatch audit list --member",
    ):
        assert expected in INT_CALLS


@pytest.mark.parametrize("case", sorted(INT_CALLS))
def test_a_number_too_large_for_the_database_is_bad_input(cli: Cli, case: str) -> None:
    """An id of 10**30 reached SQLite as an OverflowError traceback, and PostgreSQL as
    an out-of-range error (exit 1, a failed operation, for what was bad input)."""
    _one_line(cli(*INT_CALLS[case]))


@pytest.mark.parametrize("holdout", ["nan", "inf", "-inf", "1e400"])
def test_a_holdout_that_is_not_a_finite_number_is_bad_input(
    cli: Cli, holdout: str, tmp_path: Path
) -> None:
    segment = tmp_path / "x.yaml"
    segment.write_text("name: x\n")
    result = cli(
        "campaign", "create", "--partner", "P", "--creative", "1", "--segment", str(segment),
        "--channel", "post", "--holdout", holdout, "--as", "anna",
    )  # fmt: skip

    _one_line(result, "--holdout: must be a percentage from 0 to 50")


def test_the_tree_walk_sees_the_real_commands() -> None:
    assert set(root.commands) >= {"campaign", "segment", "member", "register"}
