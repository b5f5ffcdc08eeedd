"""``dispatch demo``: the whole flow on embedded defaults, narrated for a newcomer.

At this stage of the product the flow is: migrate, seed a synthetic register, check
and count every segment in ``segments/`` with the privacy policy applied, submit the
demo creatives of two partners, approve them and write their previews, run two
campaigns to the print house, and make an account of every role (with a password
printed once) so that the newcomer can sign in to ``dispatch serve`` next.
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

from dispatch.cli import demo_accounts, demo_members, demo_reports
from dispatch.cli import demo_campaigns as flow
from dispatch.cli.context import AppContext, emit_json, json_option, pass_app
from dispatch.cli.register import seed_with_progress
from dispatch.config import Settings
from dispatch.creatives import services as creatives
from dispatch.creatives.bundle import load_bundle
from dispatch.creatives.models import CreativeStatus
from dispatch.db import migrate
from dispatch.db.engine import session_scope
from dispatch.errors import InputError, OperationError
from dispatch.register.seed import MAX_MEMBERS, SeedOptions, is_empty
from dispatch.rendering.preview import write_preview
from dispatch.reports.disclosure import Controls
from dispatch.segmenting import services


@click.command("demo")
@click.option(
    "--members",
    type=click.IntRange(1, MAX_MEMBERS),
    default=20_000,
    show_default=True,
    help="Size of the synthetic register.",
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
    the batches with its own tool and key; make an account of every role (new
    passwords each run, printed once); print the reconciliation, where every output
    is, and whom to sign in to `dispatch serve` as. Uses the embedded defaults
    unless DISPATCH_* variables say otherwise. A register that already holds data is
    reused (pass --fresh to seed it again), and so are completed demo campaigns.
    """
    console = Console(stderr=True, quiet=as_json)
    settings = app.settings
    files = sorted(segments_dir.glob("*.yaml"))
    _check_folders(segments_dir, files, creatives_dir)  # before anything is migrated or seeded
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
    previews = _creatives(engine, creatives_dir, settings)
    if not all(r["ok"] for r in rows):
        _print_summary(rows)
        raise OperationError("some segment files have problems (listed above)")

    console.print("[bold]5. Print house[/] makes its key pair with its own tool")
    key_folder = flow.print_house_key(settings, console)
    console.print("[bold]6. Campaigns[/] snapshot, render, hand off (in-process worker)")
    versions = {Path(p["bundle"]).name: p["version_id"] for p in previews}
    ran = flow.run_campaigns(
        engine, settings, versions, segments_dir, DEMO_ACTOR, console, DEMO_APPROVER
    )
    console.print("[bold]7. Print house[/] collects, verifies, decrypts and acknowledges")
    collected = flow.print_house_round(settings, key_folder, console)
    console.print(
        "[bold]8. Reports[/] released to the partner (noisy, thresholded; docs/reports.md)"
    )
    released = demo_reports.partner_reports(
        engine,
        Controls.from_settings(settings),
        [c["campaign"]["id"] for c in ran if c["campaign"].get("status") == "completed"],
        DEMO_ACTOR,
        console,
    )
    console.print("[bold]9. Accounts[/] one person of every role, to sign in to `dispatch serve`")
    people = demo_accounts.ensure_accounts(
        engine, demo_accounts.demo_accounts(DEMO_PARTNERS["nordic-air-spring"], DEMO_HOUSE)
    )

    member = demo_members.member_links(engine, settings, ran)
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
                "partner_reports": released,
                "accounts": people,
                "member": member,
                "outputs": _outputs(settings),
                "seconds": round(elapsed, 1),
            }
        )
        return
    _print_summary(rows)
    _print_previews(previews)
    _print_campaigns(ran)
    _print_outputs(_outputs(settings))
    _print_accounts(people)
    _print_member(member)
    _print_next(elapsed)


#: Which demo partner submits which demo bundle (the cooperative is its own partner).
DEMO_PARTNERS = {"nordic-air-spring": "Nordic Air", "coop-bicycles": "Osuuskauppa Esimerkki"}
DEMO_HOUSE = DEMO_PARTNERS["coop-bicycles"]
DEMO_ACTOR = "demo.campaign-manager"
#: Four eyes: the demo's campaigns are approved by a second (staff) person.
DEMO_APPROVER = "demo.approver"


def _check_folders(segments_dir: Path, files: list[Path], creatives_dir: Path) -> None:
    """Refuse folders without what the demo campaigns send (bad input, exit 2)."""
    if not files:
        raise InputError(f"no segment files in {segments_dir}", where="--segments")
    needed = sorted({d.segment for d in flow.DEMO_CAMPAIGNS} - {f.name for f in files})
    if needed:
        raise InputError(
            f"the demo campaigns need {', '.join(needed)} in {segments_dir}", where="--segments"
        )
    bundles = sorted({d.bundle for d in flow.DEMO_CAMPAIGNS})
    absent = [b for b in bundles if not (creatives_dir / b).is_dir()]
    if absent:
        raise InputError(
            f"the demo campaigns need the bundle {', '.join(absent)} in {creatives_dir}",
            where="--creatives",
        )


def _creatives(engine: Engine, folder: Path, settings: Settings) -> list[dict[str, Any]]:
    """Submit each demo bundle (unless an identical version exists), approve, preview."""
    out = settings.var_dir / "previews"
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
        written = write_preview(bundle, out / path.name, settings=settings, label=str(version_id))
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
    numbers = ("snapshot", "delivered", "held out")
    for column in ("campaign", "channel", "segment", *numbers):
        table.add_column(column, justify="right" if column in numbers else "left")
    table.add_column("suppressed / failed at dispatch (why)")
    table.add_column("reconciled")
    for item in ran:
        c = item["campaign"]
        if "skipped" in item:
            table.add_row("-", c["channel"], c["segment"], "-", "-", item["skipped"], "-")
            continue
        t = item["total"]
        dropped = {**t["suppressed"], **{f"failed: {k}": v for k, v in t["failed"].items()}}
        table.add_row(
            f"{c['id']} {c['status']}",
            c["channel"],
            c["segment"],
            f"{t['snapshot']:,}",
            f"{t['delivered']:,}",
            f"{t['held_out']:,}",
            ", ".join(f"{n} {why}" for why, n in dropped.items()) or "-",
            "yes" if item["reconciled"] else "[red]NO",
        )
    out.print(table)


def _print_outputs(outputs: dict[str, str]) -> None:
    out = _wide_console()
    out.print("[bold]Where everything is:[/]")
    for what, where in outputs.items():
        out.print(f"  {what}: {where}")


def _print_accounts(people: list[dict[str, Any]]) -> None:
    out = _wide_console()
    table = Table(
        title="Accounts: new passwords, shown this once (each demo run resets them)",
        title_justify="left",
    )
    for column in ("user", "role", "partner", "password", "second factor"):
        # Names and passwords are copied from here: never cut or wrapped.
        table.add_column(column, no_wrap=True)
    for person in people:
        table.add_row(
            person["username"],
            person["role"],
            person["partner"] or "-",
            person["password"],
            person["second_factor"],
        )
    out.print(table)
    out.print(
        "Staff sign in with the password and then a TOTP code: at the first sign-in the page"
        " shows a QR code to scan with an authenticator app (or the secret to type in)."
    )


def _print_member(member: dict[str, str]) -> None:
    out = _wide_console()
    if not member:
        return
    out.print(
        "[bold]A member's side[/] (with `dispatch serve` running; links of a synthetic member):"
    )
    if "centre_link" in member:
        out.print(
            "  the preference-centre link at the foot of a demo member's e-mail (var/mail):\n"
            f"    {member['centre_link']}"
        )
    if "letter_code" in member:
        out.print(
            f"  or, as a member with a letter: open {member['letter_page']} and type the code\n"
            f"    {member['letter_code']} (in the letter's objection notice, with a QR code)"
        )


def _print_next(elapsed: float) -> None:
    out = _wide_console()
    out.print(
        f"Done in {elapsed:.0f} s. Next, try (every look at one member is audited):\n"
        "  .venv/bin/dispatch segment why segments/baby-households.yaml 42 --as you\n"
        "  .venv/bin/dispatch member export 42 --as you\n"
        "  .venv/bin/dispatch campaign list\n"
        "  .venv/bin/dispatch campaign report 1\n"
        "The web service: run `.venv/bin/dispatch serve` and open http://127.0.0.1:8000/login\n"
        "  as nordic.editor  (partner: upload a creative, previews, campaigns) -> /partner\n"
        "  as demo.approver  (staff: approve or reject creatives) -> /staff/creatives\n"
        "  as demo.campaign-manager (staff: campaigns) -> /staff/campaigns\n"
        "  as demo.service   (staff: one member, audited) -> /staff/members\n"
        "  as demo.auditor   (staff: the audit log) -> /staff/audit\n"
        "  as nordic.admin   (partner: its users) -> /partner/users\n"
        "with the passwords above (docs/service.md, docs/partners.md)."
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
