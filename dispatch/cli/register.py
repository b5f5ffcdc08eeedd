"""``dispatch register``: seed a synthetic register, import the warehouse feed, inspect."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy import select

from dispatch.cli.context import AppContext, emit_json, json_option, pass_app
from dispatch.errors import Problems
from dispatch.register import bulk
from dispatch.register.feed import FeedReport, import_feed
from dispatch.register.models import ProductGroup
from dispatch.register.seed import (
    MAX_MEMBERS,
    SEEDED_TABLES,
    SeedOptions,
    SeedResult,
    seed_register,
)


@click.group("register")
def group() -> None:
    """The member register: seed synthetic data, import the warehouse feed, inspect."""


def _counts_table(title: str, counts: dict[str, int]) -> Table:
    table = Table(title=title)
    table.add_column("table")
    table.add_column("rows", justify="right")
    for name, count in counts.items():
        table.add_row(name, f"{count:,}")
    return table


@group.command("seed")
@click.option(
    "--members",
    type=click.IntRange(1, MAX_MEMBERS),
    default=20_000,
    show_default=True,
    help="How many members to generate.",
)
@click.option("--seed", type=int, default=1, show_default=True, help="Same seed, same register.")
@click.option(
    "--as-of",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="The date the register ends on: 13 months of purchases up to its month. [default: today]",
)
@click.option(
    "--replace",
    is_flag=True,
    help="Empty the register first (and every table that refers to its members).",
)
@json_option
@pass_app
def seed(
    app: AppContext,
    members: int,
    seed: int,
    as_of: dt.datetime | None,
    replace: bool,
    as_json: bool,
) -> None:
    """Fill the register with synthetic members.

    Deterministic: the same --members, --seed and --as-of give the same register.
    Finnish- and Swedish-speaking members in households across Finland, with stores, 13
    months of purchases by product group, restaurant visits, web-shop interests, a
    consent ledger and suppressions. Refuses a register that already has data unless
    --replace is given.
    """
    options = SeedOptions(
        members=members, seed=seed, as_of=as_of.date() if as_of else dt.date.today()
    )
    result = seed_with_progress(app, options, replace=replace, quiet=as_json)
    doc = {
        "members": options.members,
        "seed": options.seed,
        "as_of": options.as_of.isoformat(),
        "counts": result.counts,
        "emptied": result.emptied,
        "elapsed_seconds": round(result.elapsed, 2),
    }
    if as_json:
        emit_json(doc)
        return
    out = Console()
    if result.emptied:
        out.print(f"emptied first: {', '.join(result.emptied)}")
    out.print(_counts_table("seeded", result.counts))
    out.print(
        f"{options.members:,} members (seed {options.seed}, as of {options.as_of}) "
        f"in {result.elapsed:.1f} s"
    )


def seed_with_progress(
    app: AppContext, options: SeedOptions, *, replace: bool, quiet: bool
) -> SeedResult:
    """Seed with a progress bar on stderr (none when ``quiet``, e.g. under --json)."""
    with Progress(
        TextColumn("   seeding members"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
        disable=quiet,
    ) as progress:
        task = progress.add_task("seed", total=options.members)
        return seed_register(
            app.engine(),
            options,
            secret_key=app.settings.secret_key,
            replace=replace,
            progress=lambda done, _total: progress.update(task, completed=done),
        )


@group.command("import")
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
@json_option
@pass_app
def import_(app: AppContext, directory: Path, as_json: bool) -> None:
    """Load the warehouse feed (CSV files in DIRECTORY).

    The format is documented in docs/feed.md. Good rows load; each bad row is reported
    as FILE:LINE: field: reason. Each file is one transaction: a file that fails as a
    whole (header, encoding, database error) loads nothing. Exit status 2 if anything
    was rejected.
    """
    report = import_feed(app.engine(), directory, secret_key=app.settings.secret_key)
    if as_json:
        emit_json(report.as_dict())
    else:
        Console().print(_feed_table(report))
    if not report.ok:
        rejected = sum(f.rejected for f in report.files)
        failed = [f.file for f in report.files if f.failed]
        summary = f"{rejected} row(s) rejected"
        if failed:
            summary += f"; nothing loaded from {', '.join(failed)}"
        if report.ignored:
            summary += f"; not feed files, ignored: {', '.join(report.ignored)}"
        raise Problems(report.problems, summary=summary)


def _feed_table(report: FeedReport) -> Table:
    table = Table(title="feed import")
    for column in ("file", "loaded", "unchanged", "rejected", "status"):
        table.add_column(column, justify="left" if column in ("file", "status") else "right")
    for f in report.files:
        status = f"failed: {f.failed}" if f.failed else "ok"
        table.add_row(f.file, f"{f.loaded:,}", f"{f.unchanged:,}", f"{f.rejected:,}", status)
    return table


@group.command("product-groups")
@click.option("--sensitive", is_flag=True, help="Only the special-category (Art. 9) groups.")
@json_option
@pass_app
def product_groups(app: AppContext, sensitive: bool, as_json: bool) -> None:
    """List the product groups and their sensitive flags.

    Code, Finnish and Swedish names, parent and flag of each group. Sensitive groups
    reveal health (GDPR Art. 9); no segment may target them.
    """
    with app.engine().connect() as conn:
        rows = conn.execute(
            select(
                ProductGroup.id,
                ProductGroup.code,
                ProductGroup.name_fi,
                ProductGroup.name_sv,
                ProductGroup.parent_id,
                ProductGroup.sensitive,
            ).order_by(ProductGroup.id)
        ).all()
    codes = {row.id: row.code for row in rows}
    groups: list[dict[str, Any]] = [
        {
            "code": row.code,
            "name_fi": row.name_fi,
            "name_sv": row.name_sv,
            "parent": codes.get(row.parent_id) if row.parent_id else None,
            "sensitive": bool(row.sensitive),
        }
        for row in rows
        if bool(row.sensitive) or not sensitive
    ]
    if as_json:
        emit_json({"product_groups": groups})
        return
    table = Table(title="product groups")
    for column in ("code", "fi", "sv", "parent", "sensitive"):
        table.add_column(column)
    for g in groups:
        table.add_row(
            g["code"],
            g["name_fi"],
            g["name_sv"],
            g["parent"] or "",
            "yes" if g["sensitive"] else "",
        )
    out = Console()
    out.print(table)
    if not groups:
        out.print("no product groups: run `dispatch register seed` or import a feed")


@group.command("stats")
@json_option
@pass_app
def stats(app: AppContext, as_json: bool) -> None:
    """Count the rows of each register table."""
    with app.engine().connect() as conn:
        counts = bulk.count_rows(conn, SEEDED_TABLES)
    if as_json:
        emit_json({"counts": counts})
    else:
        Console().print(_counts_table("register", counts))
