"""``dispatch demo``: the whole flow on embedded defaults, narrated for a newcomer.

At this stage of the product the flow is: migrate, seed a synthetic register, check
and count every segment in ``segments/`` with the privacy policy applied, then submit
the demo creatives of two partners, approve them and write their previews.
"""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table
from sqlalchemy import Engine

from dispatch.cli.context import AppContext, emit_json, json_option, pass_app
from dispatch.cli.register import seed_with_progress
from dispatch.creatives import services as creatives
from dispatch.creatives.bundle import load_bundle
from dispatch.creatives.models import CreativeStatus
from dispatch.creatives.preview import write_preview
from dispatch.db import migrate
from dispatch.db.engine import session_scope
from dispatch.errors import OperationError
from dispatch.register.seed import SeedOptions, is_empty
from dispatch.segmenting import services


@click.command("demo")
@click.option(
    "--members", default=20_000, show_default=True, help="Size of the synthetic register."
)
@click.option(
    "--seed", "seed_value", default=1, show_default=True, help="Seed of the synthetic register."
)
@click.option(
    "--segments",
    "segments_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("segments"),
    show_default=True,
    help="Folder of segment files to check and count.",
)
@click.option(
    "--creatives",
    "creatives_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("templates/creatives"),
    show_default=True,
    help="Folder of demo creative bundles (one folder each).",
)
@click.option("--fresh", is_flag=True, help="Replace an existing register instead of reusing it.")
@json_option
@pass_app
def group(
    app: AppContext,
    members: int,
    seed_value: int,
    segments_dir: Path,
    creatives_dir: Path,
    fresh: bool,
    as_json: bool,
) -> None:
    """Run the demo: migrate, seed a register, check and count every segment.

    Uses the embedded defaults unless DISPATCH_* variables say otherwise. A register
    that already holds data is reused (pass --fresh to seed it again).
    """
    console = Console(stderr=True, quiet=as_json)
    settings = app.settings
    started = time.perf_counter()
    console.print(f"[bold]1. Database[/] {settings.database_url}")
    migrate.upgrade(settings.database_url)
    engine = app.engine()

    with engine.connect() as conn:
        empty = is_empty(conn)
    seeded: dict[str, Any]
    if empty or fresh:
        console.print(
            f"[bold]2. Register[/] seeding {members:,} synthetic members (seed {seed_value})"
        )
        result = seed_with_progress(
            app, SeedOptions(members=members, seed=seed_value), replace=fresh, quiet=as_json
        )
        seeded = {"seeded": True, "seconds": round(result.elapsed, 1), "counts": result.counts}
    else:
        console.print("[bold]2. Register[/] reusing the existing register (--fresh to reseed)")
        seeded = {"seeded": False}

    files = sorted(segments_dir.glob("*.yaml"))
    if not files:
        raise OperationError(f"no segment files in {segments_dir}", where="--segments")
    console.print(
        f"[bold]3. Segments[/] checking and counting {len(files)} files in {segments_dir}/"
    )
    rows: list[dict[str, Any]] = []
    with session_scope(engine) as session:
        for path in files:
            problems = services.check(session, path)
            if problems:
                rows.append(
                    {"file": str(path), "ok": False, "problems": [str(p) for p in problems]}
                )
                continue
            counted = services.count(session, services.load(path))
            rows.append({"file": str(path), "ok": True, **counted.as_json()})

    console.print(f"[bold]4. Creatives[/] submitting, approving and previewing {creatives_dir}/*")
    previews = _creatives(engine, creatives_dir, settings.var_dir / "previews", settings.secret_key)

    elapsed = time.perf_counter() - started
    if as_json:
        emit_json(
            {
                "database": settings.database_url,
                "register": seeded,
                "segments": rows,
                "creatives": previews,
                "seconds": round(elapsed, 1),
            }
        )
        return
    _print_summary(rows)
    _print_previews(previews)
    _print_next(elapsed)
    if not all(r["ok"] for r in rows):
        raise OperationError("some segment files have problems (listed above)")


#: Which demo partner submits which demo bundle (the cooperative is its own partner).
DEMO_PARTNERS = {"nordic-air-spring": "Nordic Air", "coop-bicycles": "Osuuskauppa Esimerkki"}
DEMO_ACTOR = "demo.campaign-manager"


def _creatives(engine: Engine, folder: Path, out: Path, secret: str) -> list[dict[str, Any]]:
    """Submit each demo bundle (unless an identical version exists), approve, preview."""
    done = []
    for path in sorted(p for p in folder.iterdir() if p.is_dir()):
        partner_name = DEMO_PARTNERS.get(path.name, "Demo Partner")
        with session_scope(engine) as session:
            if partner_name not in {p.name for p in creatives.list_partners(session)}:
                creatives.create_partner(session, partner_name)
            bundle = load_bundle(path)
            same = [
                v
                for v in creatives.list_versions(session, partner_name)
                if v.content_hash == bundle.content_hash
            ]
            version = same[0] if same else creatives.submit(session, partner_name, path)
            if version.status == CreativeStatus.SUBMITTED:
                creatives.approve(session, version.id, DEMO_ACTOR)
            version_id, number, status = version.id, version.version, version.status
        written = write_preview(bundle, out / path.name, secret=secret, label=str(version_id))
        done.append(
            {
                "bundle": str(path),
                "partner": partner_name,
                "version_id": version_id,
                "version": number,
                "status": str(status),
                "previews": [str(f.path) for f in written],
            }
        )
    return done


def _print_previews(previews: list[dict[str, Any]]) -> None:
    out = _wide_console()
    out.print("[bold]Creatives[/] (previews are rendered for synthetic recipients, never members):")
    for item in previews:
        folder = Path(item["previews"][0]).parent if item["previews"] else "-"
        out.print(
            f"  {item['partner']}: {Path(item['bundle']).name} v{item['version']}"
            f" (creative id {item['version_id']}) {item['status']}; previews in {folder}/"
        )


def _wide_console() -> Console:
    # A piped or narrow terminal would wrap the reasons into an unreadable column.
    return Console(width=max(Console().width, 132))


def _print_next(elapsed: float) -> None:
    out = Console()
    out.print(
        f"Done in {elapsed:.0f} s. Next, try (every look at one member is audited):\n"
        "  .venv/bin/dispatch segment why segments/baby-households.yaml 42 --as you\n"
        "  .venv/bin/dispatch member export 42 --as you"
    )


def _print_summary(rows: list[dict[str, Any]]) -> None:
    out = _wide_console()
    table = Table(
        title=f"Segments as of {dt.date.today()}: who the policy lets through", title_justify="left"
    )
    table.add_column("segment")
    table.add_column("purpose / channel")
    table.add_column("matched", justify="right")
    table.add_column("removed by the policy (why)")
    table.add_column("recipients", justify="right", style="bold")
    for row in rows:
        if not row["ok"]:
            table.add_row(Path(row["file"]).stem, "", "", "[red]" + "; ".join(row["problems"]), "")
            continue
        removed = ", ".join(f"{n:,} {rule}" for rule, n in row["removed"].items() if n)
        table.add_row(
            row["segment"],
            f"{row['purpose']} / {row['channel']}"
            + (" (household)" if row["unit"] == "household" else ""),
            f"{row['matched']:,}",
            removed or "-",
            f"{row['selected']:,}",
        )
    out.print(table)
