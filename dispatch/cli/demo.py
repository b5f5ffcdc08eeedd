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

from dispatch.cli import demo_campaigns as flow
from dispatch.cli.context import AppContext, emit_json, json_option, pass_app
from dispatch.cli.register import seed_with_progress
from dispatch.config import Settings
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
    """Run the whole flow on the embedded defaults, playing every part.

    Migrate; seed a register; check and count every segment; submit, approve and
    preview the demo creatives; run one post and one e-mail campaign through the
    in-process worker; let the print house collect, verify, decrypt and acknowledge
    the batches with its own tool and key; print the reconciliation and where every
    output is. Uses the embedded defaults unless DISPATCH_* variables say otherwise.
    A register that already holds data is reused (pass --fresh to seed it again), and
    so are completed demo campaigns.
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
    if not all(r["ok"] for r in rows):
        _print_summary(rows)
        raise OperationError("some segment files have problems (listed above)")

    console.print("[bold]5. Print house[/] makes its key pair with its own tool")
    key_folder = flow.print_house_key(settings, console)
    console.print("[bold]6. Campaigns[/] snapshot, render, hand off (in-process worker)")
    versions = {Path(p["bundle"]).name: p["version_id"] for p in previews}
    ran = flow.run_campaigns(engine, settings, versions, segments_dir, DEMO_ACTOR, console)
    console.print("[bold]7. Print house[/] collects, verifies, decrypts and acknowledges")
    collected = flow.print_house_round(settings, key_folder, console)

    elapsed = time.perf_counter() - started
    if as_json:
        emit_json(
            {
                "database": settings.database_url,
                "register": seeded,
                "segments": rows,
                "creatives": previews,
                "campaigns": ran,
                "printhouse": collected,
                "outputs": _outputs(settings),
                "seconds": round(elapsed, 1),
            }
        )
        return
    _print_summary(rows)
    _print_previews(previews)
    _print_campaigns(ran)
    _print_outputs(_outputs(settings))
    _print_next(elapsed)


#: Which demo partner submits which demo bundle (the cooperative is its own partner).
DEMO_PARTNERS = {"nordic-air-spring": "Nordic Air", "coop-bicycles": "Osuuskauppa Esimerkki"}
DEMO_HOUSE = DEMO_PARTNERS["coop-bicycles"]
DEMO_ACTOR = "demo.campaign-manager"


def _creatives(engine: Engine, folder: Path, out: Path, secret: str) -> list[dict[str, Any]]:
    """Submit each demo bundle (unless an identical version exists), approve, preview."""
    done = []
    for path in sorted(p for p in folder.iterdir() if p.is_dir()):
        partner_name = DEMO_PARTNERS.get(path.name, "Demo Partner")
        with session_scope(engine) as session:
            if partner_name not in {p.name for p in creatives.list_partners(session)}:
                creatives.create_partner(session, partner_name, house=partner_name == DEMO_HOUSE)
            elif partner_name == DEMO_HOUSE:  # a register made before partners had the mark
                creatives.mark_house(session, partner_name)
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


def _outputs(settings: Settings) -> dict[str, str]:
    var = settings.var_dir
    return {
        "database": settings.database_url,
        "outbox (encrypted batches; acknowledged ones are deleted)": settings.outbox_url,
        "print house spool (decrypted PDFs)": str(var / "printhouse" / "spool"),
        "e-mail (maildir)": settings.mailer_url,
        "previews": str(var / "previews"),
    }


def _print_campaigns(ran: list[dict[str, Any]]) -> None:
    out = _wide_console()
    table = Table(title="Campaigns: every recipient accounted for", title_justify="left")
    for column in ("campaign", "channel", "segment", "snapshot", "delivered"):
        table.add_column(column, justify="right" if column in ("snapshot", "delivered") else "left")
    table.add_column("suppressed / failed at dispatch (why)")
    table.add_column("reconciled")
    for item in ran:
        c, t = item["campaign"], item["total"]
        dropped = {**t["suppressed"], **{f"failed: {k}": v for k, v in t["failed"].items()}}
        table.add_row(
            f"{c['id']} {c['status']}",
            c["channel"],
            c["segment"],
            f"{t['snapshot']:,}",
            f"{t['delivered']:,}",
            ", ".join(f"{n} {why}" for why, n in dropped.items()) or "-",
            "yes" if item["reconciled"] else "[red]NO",
        )
    out.print(table)


def _print_outputs(outputs: dict[str, str]) -> None:
    out = _wide_console()
    out.print("[bold]Where everything is:[/]")
    for what, where in outputs.items():
        out.print(f"  {what}: {where}")


def _print_next(elapsed: float) -> None:
    out = Console()
    out.print(
        f"Done in {elapsed:.0f} s. Next, try (every look at one member is audited):\n"
        "  .venv/bin/dispatch segment why segments/baby-households.yaml 42 --as you\n"
        "  .venv/bin/dispatch member export 42 --as you\n"
        "  .venv/bin/dispatch campaign list\n"
        "  .venv/bin/dispatch campaign report 1"
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
