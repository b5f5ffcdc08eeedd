"""The CLI contract of DESIGN.md, checked over the whole command tree.

The tree is walked from ``dispatch.cli.cli``, so a new command is covered by these
tests the day it is added.
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Callable, Iterator
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import click
import pytest

from dispatch.cli import cli as root
from dispatch.cli import run
from tests.conftest import CliResult
from tests.factories import TEST_SECRET

Cli = Callable[..., CliResult]


def walk(command: click.Command, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """The path of every command in the tree, the root first."""
    yield path
    if isinstance(command, click.Group):
        for name, sub in sorted(command.commands.items()):
            yield from walk(sub, (*path, name))


def resolve(path: tuple[str, ...]) -> click.Command | None:
    command: click.Command = root
    for name in path:
        if not isinstance(command, click.Group) or name not in command.commands:
            return None
        command = command.commands[name]
    return command


def has_json(command: click.Command) -> bool:
    return any("--json" in param.opts for param in command.params)


ALL = list(walk(root))
WITH_JSON = [path for path in ALL if (command := resolve(path)) and has_json(command)]

#: Commands that list, count, explain or report, and so must offer --json.
REPORTING = [
    ("register", "product-groups"),
    ("register", "stats"),
    ("segment", "count"),
    ("segment", "explain"),
    ("segment", "why"),
    ("member", "show"),
    ("db", "status"),
    ("campaign", "list"),
    ("campaign", "status"),
    ("campaign", "report"),
]


def _name(path: tuple[str, ...]) -> str:
    return " ".join(("dispatch", *path))


@pytest.fixture
def bare(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Callable[..., CliResult]:
    """Run the CLI against a database file that does not exist yet (nothing migrated)."""
    for key in list(os.environ):
        if key.startswith("DISPATCH_") and not key.startswith("DISPATCH_TEST_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("DISPATCH_DATABASE_URL", f"sqlite:///{tmp_path / 'db' / 'fresh.db'}")
    monkeypatch.setenv("DISPATCH_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("DISPATCH_SECRET_KEY", TEST_SECRET)

    def invoke(*args: str) -> CliResult:
        out, err = io.StringIO(), io.StringIO()
        with redirect_stdout(out), redirect_stderr(err):
            code = run(list(args))
        return CliResult(code, out.getvalue(), err.getvalue())

    return invoke


@pytest.mark.parametrize("path", ALL, ids=_name)
def test_help_works_on_every_command_without_touching_the_database(
    bare: Cli, tmp_path: Path, path: tuple[str, ...]
) -> None:
    result = bare(*path, "--help")

    assert result.code == 0, result.err
    assert result.out.startswith("Usage: dispatch")
    assert not (tmp_path / "db").exists()


def test_every_group_lists_its_commands_in_help(bare: Cli) -> None:
    for path in ALL:
        command = resolve(path)
        if isinstance(command, click.Group):
            listing = bare(*path, "--help").out
            for name in command.commands:
                assert name in listing, f"{_name(path)} --help does not list {name}"


@pytest.mark.parametrize(
    "args",
    [["no-such-noun"], ["db", "no-such-verb"], ["--no-such-option"], ["db", "status", "--nope"]],
    ids=" ".join,
)
def test_unknown_command_or_option_is_bad_input(bare: Cli, args: list[str]) -> None:
    result = bare(*args)

    assert result.code == 2
    assert result.out == ""
    assert len(result.err.strip().splitlines()) == 1


def test_command_on_unmigrated_database_says_to_upgrade(bare: Cli) -> None:
    result = bare("member", "show", "1", "--as", "maija.staff")

    assert result.code == 1
    assert "run `dispatch db upgrade`" in result.err
    assert len(result.err.strip().splitlines()) == 1


@pytest.mark.parametrize("url", ["mysql://dispatch@db/dispatch", "var/dispatch.db"])
def test_malformed_database_url_is_bad_input_naming_the_variable(
    bare: Cli, monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    monkeypatch.setenv("DISPATCH_DATABASE_URL", url)

    result = bare("db", "status")

    assert result.code == 2
    [line] = result.err.strip().splitlines()
    assert "DISPATCH_DATABASE_URL" in line


@pytest.mark.parametrize("path", REPORTING, ids=_name)
def test_reporting_command_offers_json(path: tuple[str, ...]) -> None:
    command = resolve(path)

    assert command is not None, f"{_name(path)} is missing from the command tree"
    assert has_json(command), f"{_name(path)} lists or reports but has no --json"


def _runs_without_input(path: tuple[str, ...]) -> bool:
    command = resolve(path)
    assert command is not None
    return not any(param.required for param in command.params)


#: The demo seeds 20,000 members and runs two campaigns by default: tests/cli/test_demo.py
#: checks its one JSON document on a small register instead.
_TOO_SLOW = {("demo",)}


@pytest.mark.parametrize(
    "path", [p for p in WITH_JSON if _runs_without_input(p) and p not in _TOO_SLOW], ids=_name
)
def test_json_command_prints_exactly_one_document(cli: Cli, path: tuple[str, ...]) -> None:
    result = cli(*path, "--json")

    if result.code == 0:
        json.loads(result.out)  # one document, nothing before or after it
    else:
        assert result.out == "", "a failing --json command must leave stdout empty"


def test_db_status_json_reports_the_revision(cli: Cli) -> None:
    result = cli("db", "status", "--json")

    assert result.code == 0, result.err
    doc = json.loads(result.out)
    assert doc["up_to_date"] is True
    assert doc["current"] == doc["head"]
