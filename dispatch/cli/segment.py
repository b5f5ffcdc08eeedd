"""``dispatch segment``: check, count, explain and audit-explain segment files."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.table import Table

from dispatch.cli.context import (
    MEMBER_ID,
    AppContext,
    actor_option,
    emit_json,
    json_option,
    pass_app,
)
from dispatch.db.engine import session_scope
from dispatch.errors import DispatchError, InputError, Problems
from dispatch.segmenting import services

_FILE = click.Path(dir_okay=False, path_type=Path)
F = TypeVar("F", bound=Callable[..., Any])


def _as_of_option(func: F) -> F:
    return click.option(
        "--as-of",
        type=click.DateTime(formats=["%Y-%m-%d"]),
        default=None,
        help="Evaluate time windows and ages as of this date (YYYY-MM-DD; default today).",
    )(func)


def _plural(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _date(value: dt.datetime | None) -> dt.date | None:
    return value.date() if value else None


@click.group("segment")
def group() -> None:
    """Segment files (segments/*.yaml): check, count, explain, why.

    Every count and selection applies the contact policy: status, suppressions,
    age, consent for the segment's purpose and channel, reachability and household
    dedup (see docs/consent.md).
    """


@group.command("check")
@click.argument("files", nargs=-1, required=True, type=_FILE)
@click.option("--syntax-only", is_flag=True, help="Check the files alone, without the database.")
@json_option
@pass_app
def check(app: AppContext, files: tuple[Path, ...], syntax_only: bool, as_json: bool) -> None:
    """Check FILES: syntax and types, then product groups, chains and places named.

    Reports every problem of every file; exits 2 if there is any.
    """
    results: dict[str, list[DispatchError]] = {}
    if syntax_only:
        results = {str(f): services.check(None, f) for f in files}
    else:
        with session_scope(app.engine()) as session:
            results = {str(f): services.check(session, f) for f in files}
    problems = [p for found in results.values() for p in found]
    bad = sum(1 for found in results.values() if found)
    summary = f"{_plural(len(problems), 'problem')} in {bad} of {_plural(len(files), 'file')}"
    if as_json:
        emit_json(
            {
                "ok": not problems,
                "files": [
                    {
                        "file": name,
                        "ok": not found,
                        "problems": [{"where": p.where, "message": p.message} for p in found],
                    }
                    for name, found in results.items()
                ],
            }
        )
        if problems:
            # The document above is the report; the exit code and this line say it failed.
            raise InputError(summary)
        return
    if problems:
        raise Problems(problems, summary=summary)
    for name in results:
        click.echo(f"ok {name}")


@group.command("count")
@click.argument("file", type=_FILE)
@_as_of_option
@json_option
@pass_app
def count(app: AppContext, file: Path, as_of: dt.datetime | None, as_json: bool) -> None:
    """Count FILE: members matched, removed by each policy rule, and selected."""
    segment = services.load(file)
    with session_scope(app.engine()) as session:
        result = services.count(session, segment, as_of=_date(as_of))
    if as_json:
        emit_json({"file": str(file), **result.as_json()})
        return
    unit = "one per household" if result.unit == "household" else "every member"
    click.echo(
        f"{result.segment}: {result.purpose} by {result.channel}, {unit}, "
        f"as of {result.as_of.isoformat()}"
    )
    table = Table()
    table.add_column("")
    table.add_column("members", justify="right")
    table.add_row("matched by the criteria", f"{result.matched:,}")
    for rule, n in result.removed.items():
        table.add_row(f"  removed: {rule}", f"{n:,}")
    table.add_row("selected", f"{result.selected:,}", style="bold")
    Console().print(table)


@group.command("explain")
@click.argument("file", type=_FILE)
@click.option(
    "--count",
    "count_query",
    is_flag=True,
    help="Show the counting query (the policy waterfall) instead of the selection.",
)
@_as_of_option
@json_option
@pass_app
def explain(
    app: AppContext, file: Path, count_query: bool, as_of: dt.datetime | None, as_json: bool
) -> None:
    """Print the SQL compiled for FILE on this database, values inlined, for psql."""
    segment = services.load(file)
    query: services.Query = "count" if count_query else "select"
    with session_scope(app.engine()) as session:
        sql = services.explain(session, segment, as_of=_date(as_of), query=query)
        dialect = session.get_bind().dialect.name
    if as_json:
        emit_json(
            {
                "file": str(file),
                "segment": segment.name,
                "dialect": dialect,
                "query": query,
                "as_of": (_date(as_of) or dt.date.today()).isoformat(),
                "sql": sql,
            }
        )
        return
    click.echo(sql)


@group.command("why")
@click.argument("file", type=_FILE)
@click.argument("member_id", type=MEMBER_ID)
@actor_option
@_as_of_option
@json_option
@pass_app
def why(
    app: AppContext,
    file: Path,
    member_id: int,
    actor: str | None,
    reason: str | None,
    as_of: dt.datetime | None,
    as_json: bool,
) -> None:
    """Say whether MEMBER_ID is in FILE's segment, or what removes them first.

    Shows one member's data, so it needs --as NAME (or DISPATCH_ACTOR) and is
    recorded in the audit log.
    """
    who = app.actor(actor)
    segment = services.load(file)
    with session_scope(app.engine()) as session:
        result = services.why(
            session, segment, member_id, actor=who, reason=reason, as_of=_date(as_of)
        )
    if as_json:
        emit_json({"file": str(file), **result.as_json()})
        return
    head = f"member {member_id} in {result.segment} (as of {result.as_of.isoformat()}): "
    if result.selected:
        click.echo(head + click.style("selected", fg="green", bold=True))
        return
    click.echo(head + click.style("not selected", fg="red", bold=True))
    if not result.matched:
        click.echo(f"  criterion {result.criterion} ({file}:{result.line}): {result.verdict}")
    if result.rule:
        prefix = "policy" if result.matched else "policy would also block"
        click.echo(f"  {prefix}: rule {result.rule}")
