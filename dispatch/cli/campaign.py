"""``dispatch campaign``: create, approve, start, cancel, follow and account for campaigns."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from dispatch.campaigns import report as reports
from dispatch.campaigns import services
from dispatch.campaigns.models import DEFAULT_HOLDOUT_BP, DEFAULT_RESPONSE_DAYS, CampaignStatus
from dispatch.campaigns.states import ACTIVE, FINAL
from dispatch.cli.context import ROW_ID, AppContext, emit_json, json_option, pass_app
from dispatch.db.engine import session_scope
from dispatch.db.types import Channel
from dispatch.errors import InputError, OperationError
from dispatch.jobs import preflight, worker
from dispatch.jobs.broker import is_inprocess

_WHY = "campaign decisions are recorded with who made them"
_as_option = click.option(
    "--as",
    "actor",
    metavar="NAME",
    default=None,
    help="Your personal account name (or DISPATCH_ACTOR); recorded on the campaign.",
)


def _when(value: str | None) -> dt.datetime | None:
    if value is None:
        return None
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        raise InputError(
            f"not an ISO 8601 time: {value!r} (e.g. 2026-12-01T09:00+02:00)", where="--send-at"
        ) from None
    if moment.tzinfo is None:
        raise InputError("give a time zone, e.g. 2026-12-01T09:00+02:00", where="--send-at")
    return moment


@click.group("campaign")
def group() -> None:
    """Campaigns: a creative sent to a segment by post or e-mail (docs/campaigns.md).

    draft -> approved -> scheduled -> snapshotting -> dispatching -> completed, or
    cancelled / failed. A campaign freezes the segment text and creative version it
    was created with; the snapshot fixes its recipients when it starts.
    """


@group.command("create")
@click.option("--partner", required=True, help="Partner name (see `dispatch partner list`).")
@click.option("--creative", "creative_id", type=ROW_ID, required=True, help="Creative version id.")
@click.option(
    "--segment",
    "segment_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    required=True,
    help="Segment file (segments/*.yaml).",
)
@click.option("--channel", type=click.Choice(["post", "email"]), required=True)
@click.option("--send-at", default=None, help="Earliest start, ISO 8601 with zone.")
@click.option(
    "--holdout",
    "holdout_percent",
    type=float,
    default=DEFAULT_HOLDOUT_BP / 100,
    show_default=True,
    help="Percent of the selected members held out (not contacted) for the lift report.",
)
@click.option(
    "--response-days",
    type=int,
    default=DEFAULT_RESPONSE_DAYS,
    show_default=True,
    help="Days after the snapshot in which a bonus purchase counts as a response.",
)
@_as_option
@json_option
@pass_app
def create(
    app: AppContext,
    partner: str,
    creative_id: int,
    segment_path: Path,
    channel: str,
    send_at: str | None,
    holdout_percent: float,
    response_days: int,
    actor: str | None,
    as_json: bool,
) -> None:
    """Create a draft campaign (the segment's text and hash are frozen in it)."""
    who = app.actor(actor, why=_WHY)
    with session_scope(app.engine()) as session:
        campaign = services.create(
            session,
            partner=partner,
            creative_version_id=creative_id,
            segment_path=segment_path,
            channel=channel,
            actor=who,
            min_partner_audience=app.settings.min_partner_audience,
            send_at=_when(send_at),
            holdout_percent=holdout_percent,
            response_days=response_days,
        )
        doc = reports.describe(session, campaign)
    if as_json:
        emit_json(doc)
    else:
        click.echo(
            f"campaign {doc['id']}: draft, {doc['partner']} / {doc['creative']} by "
            f"{doc['channel']} to segment {doc['segment']} (sha256 {doc['segment_sha256'][:12]}…)"
        )


@group.command("approve")
@click.argument("campaign_id", metavar="CAMPAIGN", type=ROW_ID)
@_as_option
@json_option
@pass_app
def approve(app: AppContext, campaign_id: int, actor: str | None, as_json: bool) -> None:
    """Approve a draft; its creative version must be approved.

    A partner campaign's segment is counted again: fewer members than the partner
    minimum (DISPATCH_MIN_PARTNER_AUDIENCE) now is refused, with the count.
    """
    who = app.actor(actor, why=_WHY)
    with session_scope(app.engine()) as session:
        campaign = services.get(session, campaign_id)
        services.approve(
            session,
            campaign,
            who,
            min_partner_audience=app.settings.min_partner_audience,
            four_eyes=app.settings.four_eyes,
        )
        doc = reports.describe(session, campaign)
    if as_json:
        emit_json(doc)
    else:
        click.echo(f"campaign {campaign_id}: approved by {who}")


@group.command("start")
@click.argument("campaign_id", metavar="CAMPAIGN", type=ROW_ID)
@click.option("--send-at", default=None, help="Override the earliest start (ISO 8601).")
@click.option(
    "--wait/--no-wait",
    default=None,
    help="Follow the campaign to its end (default: yes with the in-process broker).",
)
@json_option
@pass_app
def start(
    app: AppContext, campaign_id: int, send_at: str | None, wait: bool | None, as_json: bool
) -> None:
    """Schedule an approved campaign, or resume one that stopped part-way.

    With the embedded in-process broker the work runs here, with a progress bar;
    with Redis or RabbitMQ it is queued for `dispatch worker` processes. Exits 1 if
    the campaign it followed failed (e.g. its audience fell under the partner
    minimum at the snapshot) or was cancelled meanwhile, and at once, before the
    snapshot, if a setting its channel needs is missing or cannot work (e.g.
    DISPATCH_PRINTHOUSE_RECIPIENT for post); the campaign stays resumable.
    """
    inprocess = is_inprocess(app.settings.broker_url)
    with session_scope(app.engine()) as session:
        channel = Channel(services.get(session, campaign_id).channel)
    # Before the snapshot: a setting the channel needs and cannot work is said now,
    # in one line, rather than by batch jobs failing later.
    preflight.require(app.settings, [channel])
    with session_scope(app.engine()) as session:
        campaign = services.get(session, campaign_id)
        started = services.start(session, campaign, _when(send_at))
        worker.send_started(session, started)
    # Committed: the snapshot job is sent, or the campaign's missing work swept.
    if not as_json:
        click.echo(started.message)
    waited = wait if wait is not None else (inprocess and not started.later)
    if waited:
        _follow(app, campaign_id, run_here=inprocess, quiet=as_json)
    elif inprocess and not as_json:
        click.echo(
            "the in-process broker keeps nothing between commands: run `dispatch worker`"
            f" (or `dispatch campaign start {campaign_id}` when it is due) to do the work"
        )
    with session_scope(app.engine()) as session:
        campaign = services.get(session, campaign_id)
        doc = {**reports.describe(session, campaign), "resumed": started.resumed}
    if as_json:
        emit_json(doc)
    if waited:
        _ended_well(campaign_id, doc)


def _ended_well(campaign_id: int, doc: dict[str, Any]) -> None:
    """Exit 1 (after the output) when the campaign followed to its end did not complete."""
    status = CampaignStatus(doc["status"])
    if status == CampaignStatus.FAILED:
        reason = str(doc["failure"] or "no reason recorded")
        reason = reason.removeprefix(f"campaign {campaign_id}: ")
        raise OperationError(f"campaign {campaign_id} failed: {reason}")
    if status == CampaignStatus.CANCELLED:
        raise OperationError(
            f"campaign {campaign_id} was cancelled by {doc['cancelled_by']} while it ran"
        )


def _follow(app: AppContext, campaign_id: int, *, run_here: bool, quiet: bool = False) -> None:
    """Show a progress bar until the campaign ends (running the work here if asked).

    ``quiet`` (under --json) runs the same loop without drawing anything.
    """
    console = Console(stderr=True)
    with Progress(
        TextColumn("[bold]campaign {task.fields[cid]}[/] {task.fields[status]}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("batches {task.fields[batches]}"),
        TimeElapsedColumn(),
        console=console,
        transient=False,
        disable=quiet,
    ) as bar:
        task = bar.add_task("", total=None, cid=campaign_id, status="", batches="")

        def redraw() -> bool:
            with session_scope(app.engine()) as session:
                now = reports.progress(session, campaign_id)
            bar.update(
                task,
                total=now.recipients or None,
                completed=now.done,
                status=now.status,
                batches=f"{now.batches_done}/{now.batches}",
            )
            return CampaignStatus(now.status) in FINAL

        def ended_or_stuck() -> bool:
            # Asked only when the queue is idle: a batch released for a setting that
            # cannot work has no message left, and waiting would be silent forever.
            if redraw():
                return True
            with session_scope(app.engine()) as session:
                stuck = reports.configuration_error(session, campaign_id)
            if stuck is not None:
                raise OperationError(stuck)
            return False

        if run_here:
            worker.run_inprocess(until=ended_or_stuck, on_idle=redraw)
        else:
            import time

            while not redraw():
                time.sleep(0.5)
        redraw()


@group.command("cancel")
@click.argument("campaign_id", metavar="CAMPAIGN", type=ROW_ID)
@_as_option
@json_option
@pass_app
def cancel(app: AppContext, campaign_id: int, actor: str | None, as_json: bool) -> None:
    """Stop a campaign: nothing more is handed off (batches already handed off stay)."""
    who = app.actor(actor, why=_WHY)
    with session_scope(app.engine()) as session:
        campaign = services.get(session, campaign_id)
        stopped = services.cancel(session, campaign, who)
        doc = {**reports.describe(session, campaign), "stopped_recipients": stopped}
    if as_json:
        emit_json(doc)
    else:
        click.echo(
            f"campaign {campaign_id}: cancelled by {who}; {stopped} recipients will get nothing"
        )


@group.command("status")
@click.argument("campaign_id", metavar="CAMPAIGN", type=ROW_ID)
@click.option("--follow/--once", default=True, help="Follow a running campaign live.")
@json_option
@pass_app
def status(app: AppContext, campaign_id: int, follow: bool, as_json: bool) -> None:
    """Progress of one campaign: a live bar while workers run it (--json: one snapshot).

    With the embedded broker nothing runs between commands, so this shows where the
    campaign stands and how to finish it.
    """
    with session_scope(app.engine()) as session:
        services.get(session, campaign_id)
        now = reports.progress(session, campaign_id)
    if as_json:
        emit_json({"id": campaign_id, **now.as_json()})
        return
    active = CampaignStatus(now.status) in ACTIVE
    # The embedded broker has no worker of its own to watch: following would wait forever.
    if follow and active and not is_inprocess(app.settings.broker_url):
        _follow(app, campaign_id, run_here=False)
        return
    click.echo(
        f"campaign {campaign_id}: {now.status}, {now.done}/{now.recipients} recipients done, "
        f"batches {now.batches_done}/{now.batches}"
    )
    if active and is_inprocess(app.settings.broker_url):
        click.echo(f"run `dispatch campaign start {campaign_id}` to finish it here")


@group.command("report")
@click.argument("campaign_id", metavar="CAMPAIGN", type=ROW_ID)
@json_option
@pass_app
def report(app: AppContext, campaign_id: int, as_json: bool) -> None:
    """Staff reconciliation: snapshot = delivered + suppressed + failed + held out."""
    with session_scope(app.engine()) as session:
        campaign = services.get(session, campaign_id)
        result = reports.report(session, campaign)
    if as_json:
        emit_json(result.as_json())
        return
    _print_report(result)


def _reasons(counts: dict[str, int]) -> str:
    return ", ".join(f"{reason} {n}" for reason, n in counts.items()) or "-"


def _print_report(result: reports.Report) -> None:
    console = Console(width=120)
    c = result.campaign
    console.print(
        f"[bold]campaign {c['id']}[/] {c['status']}: {c['partner']} / {c['creative']} by "
        f"{c['channel']} ({c['purpose']}) to segment {c['segment']}"
    )
    if c["failure"]:
        console.print(f"failure: {c['failure']}")
    stats: dict[str, Any] = c["snapshot_stats"] or {}
    if stats:
        removed = {k: v for k, v in stats.get("removed", {}).items() if v}
        console.print(
            f"segment matched {stats['matched']}; policy removed {sum(removed.values())} "
            f"({_reasons(removed)}); frequency cap removed {stats['removed_by_frequency_cap']}; "
            f"snapshot {stats['snapshot']}, of which held out {stats.get('held_out', 0)}"
        )
    table = Table("batch", "status", "tries", "snapshot", "delivered", "suppressed", "failed",
                  "in flight", "ack")  # fmt: skip
    for b in result.batches:
        t = b.tally
        table.add_row(
            str(b.number), b.status, str(b.attempts), str(t.snapshot), str(t.delivered),
            _reasons(dict(t.suppressed)), _reasons(dict(t.failed)), str(t.in_flight),
            "yes" if b.acknowledged else "",
        )  # fmt: skip
    t = result.total
    table.add_row("total", "", "", str(t.snapshot), str(t.delivered),
                  _reasons(dict(t.suppressed)), _reasons(dict(t.failed)), str(t.in_flight), "",
                  style="bold")  # fmt: skip
    console.print(table)
    verdict = "reconciled" if result.reconciled else "NOT reconciled"
    console.print(
        f"{verdict}: {t.snapshot} = {t.delivered} delivered + {sum(t.suppressed.values())} "
        f"suppressed + {sum(t.failed.values())} failed + {t.held_out} held out "
        f"+ {t.in_flight} in flight"
    )


@group.command("list")
@click.option("--status", "status_filter", type=click.Choice([s.value for s in CampaignStatus]))
@json_option
@pass_app
def list_(app: AppContext, status_filter: str | None, as_json: bool) -> None:
    """Every campaign, oldest first."""
    with session_scope(app.engine()) as session:
        docs = [
            reports.describe(session, c) for c in services.list_campaigns(session, status_filter)
        ]
    if as_json:
        emit_json(docs)
        return
    table = Table("id", "status", "partner", "creative", "channel", "segment", "recipients")
    for d in docs:
        table.add_row(
            str(d["id"]), d["status"], d["partner"], d["creative"], d["channel"], d["segment"],
            str(d["recipients"]),
        )  # fmt: skip
    Console(width=120).print(table)
