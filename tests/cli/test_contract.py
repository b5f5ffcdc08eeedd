"""The CLI contract of DESIGN.md, checked over the whole command tree.

The trees are walked from ``dispatch.cli.cli`` and ``printhouse.cli.cli``, so a new
command is covered by these tests the day it is added: it must offer ``--json``, and
it needs a bad-input case (exit 2) and a failed-operation case (exit 1) in
``tests/cli/contract_cases.py``, or the tests fail naming it.
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Callable, Iterator
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path

import click
import pytest

from dispatch.cli import cli as root
from dispatch.cli import run
from dispatch.jobs import tasks
from printhouse.cli import cli as printhouse_root
from printhouse.cli import run as printhouse_run
from tests.cli.contract_cases import BAD_INPUT, FAILS, Call
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
    return _at(root, path)


def _at(tree: click.Command, path: tuple[str, ...]) -> click.Command | None:
    command: click.Command = tree
    for name in path:
        if not isinstance(command, click.Group) or name not in command.commands:
            return None
        command = command.commands[name]
    return command


def has_json(command: click.Command) -> bool:
    return any("--json" in param.opts for param in command.params)


ALL = list(walk(root))
WITH_JSON = [path for path in ALL if (command := resolve(path)) and has_json(command)]

#: Both programs, by the name a user types.
PROGRAMS: dict[str, tuple[click.Group, Callable[[list[str]], int]]] = {
    "dispatch": (root, run),
    "printhouse": (printhouse_root, printhouse_run),
}
#: Every command a user can run (no groups), as "program noun verb".
LEAVES = {
    " ".join((program, *path)): command
    for program, (tree, _) in PROGRAMS.items()
    for path in walk(tree)
    if (command := _at(tree, path)) is not None and not isinstance(command, click.Group)
}


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


@pytest.mark.parametrize("name", sorted(LEAVES))
def test_every_command_offers_json(name: str) -> None:
    """Listing, reporting and state-changing commands alike: scripts never parse text."""
    assert has_json(LEAVES[name]), f"`{name}` has no --json option"


def _runs_without_input(path: tuple[str, ...]) -> bool:
    command = resolve(path)
    assert command is not None
    return not any(param.required for param in command.params)


#: The demo seeds 20,000 members and runs two campaigns by default: tests/cli/test_demo.py
#: checks its one JSON document on a small register instead. A worker and the service
#: run until stopped (test_contract_cases covers their --json on the way out).
_TOO_SLOW = {("demo",), ("worker",), ("serve",)}
#: Arguments that keep a command quick without changing what it prints: the seed's
#: default register is 20,000 members (14 s a backend).
_SMALLER: dict[tuple[str, ...], tuple[str, ...]] = {("register", "seed"): ("--members", "50")}


@pytest.mark.parametrize(
    "path", [p for p in WITH_JSON if _runs_without_input(p) and p not in _TOO_SLOW], ids=_name
)
def test_json_command_prints_exactly_one_document(cli: Cli, path: tuple[str, ...]) -> None:
    result = cli(*path, *_SMALLER.get(path, ()), "--json")

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


# -- exit codes, per command (tests/cli/contract_cases.py) --------------------------------


@dataclass
class Programs:
    """Runs either program in-process, in a private folder, on a fresh SQLite database."""

    tmp: Path
    monkeypatch: pytest.MonkeyPatch
    migrated_url: str

    def call(self, name: str, case: Call, *extra: str) -> CliResult:
        program = name.split()[0]
        command = name.split()[1:]
        url = f"sqlite:///{self.tmp / 'bare' / 'never-migrated.db'}" if case.bare else None
        self.monkeypatch.setenv("DISPATCH_DATABASE_URL", url or self.migrated_url)
        for key, value in case.env.items():
            self.monkeypatch.setenv(key, value)
        if case.prepare is not None:
            case.prepare(self.tmp)
        for before in case.before:
            done = self.invoke(program, before)
            assert done.code == 0, f"setting up `{name}`: `{' '.join(before)}`: {done.err}"
        return self.invoke(program, (*command, *case.args, *extra))

    def invoke(self, program: str, args: tuple[str, ...]) -> CliResult:
        argv = [a.replace("{tmp}", str(self.tmp)) for a in args]
        out, err = io.StringIO(), io.StringIO()
        with redirect_stdout(out), redirect_stderr(err):
            code = PROGRAMS[program][1](argv)
        return CliResult(code, out.getvalue(), err.getvalue())


PARTNER_SEGMENT = """\
name: contract
purpose: partner_marketing
channel: post
where:
  all:
    - region: Uusimaa
"""


@pytest.fixture
def programs(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, sqlite_url: str
) -> Iterator[Programs]:
    for key in list(os.environ):
        if key.startswith("DISPATCH_") and not key.startswith("DISPATCH_TEST_"):
            monkeypatch.delenv(key)
    for key in ("PRINTHOUSE_OUTBOX_URL", "PRINTHOUSE_SPOOL"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("DISPATCH_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("DISPATCH_SECRET_KEY", TEST_SECRET)
    (tmp_path / "seg.yaml").write_text(PARTNER_SEGMENT, encoding="utf-8")
    (tmp_path / "afile").write_text("not a folder", encoding="utf-8")
    (tmp_path / "bare").mkdir()
    yield Programs(tmp_path, monkeypatch, sqlite_url)
    tasks.reset_runtime()


def _failure_line(name: str, case: Call, result: CliResult, code: int) -> str:
    typed = " ".join((name, *case.args))
    assert result.code == code, f"`{typed}` exited {result.code}, not {code}: {result.err}"
    assert "Traceback" not in result.err, f"`{typed}` printed a traceback"
    lines = result.err.strip().splitlines()
    assert len(lines) == case.lines, f"`{typed}` wrote {len(lines)} lines on stderr: {lines}"
    return lines[-1]


@pytest.mark.parametrize("name", sorted(LEAVES))
def test_bad_input_exits_2_with_one_line(programs: Programs, name: str) -> None:
    case = BAD_INPUT.get(name)
    assert case is not None, f"`{name}` has no bad-input case in tests/cli/contract_cases.py"

    result = programs.call(name, case)

    line = _failure_line(name, case, result, 2)
    assert case.says.replace("{tmp}", str(programs.tmp)) in line
    assert result.out == ""


@pytest.mark.parametrize("name", sorted(LEAVES))
def test_bad_input_under_json_leaves_at_most_one_document(programs: Programs, name: str) -> None:
    case = BAD_INPUT.get(name)
    assert case is not None, f"`{name}` has no bad-input case in tests/cli/contract_cases.py"

    result = programs.call(name, case, "--json")

    assert result.code == 2, f"`{name}` with --json exited {result.code}: {result.err}"
    if result.out:
        json.loads(result.out)  # a report of the problems, as `segment check --json`


@pytest.mark.parametrize("name", sorted(LEAVES))
def test_failed_operation_exits_1_with_one_line(programs: Programs, name: str) -> None:
    case = FAILS.get(name)
    assert case is not None, f"`{name}` has no failed-operation case in tests/cli/contract_cases.py"

    result = programs.call(name, case)

    line = _failure_line(name, case, result, 1)
    assert case.says.replace("{tmp}", str(programs.tmp)) in line


def test_every_case_names_a_command() -> None:
    stale = sorted((set(BAD_INPUT) | set(FAILS)) - set(LEAVES))
    assert stale == [], f"cases for commands that do not exist: {stale}"
