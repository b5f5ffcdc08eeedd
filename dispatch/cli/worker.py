"""``dispatch worker``: run the jobs (snapshots, batches, finalize)."""

from __future__ import annotations

import click
from sqlalchemy import select

from dispatch.campaigns.models import Campaign
from dispatch.campaigns.states import ACTIVE
from dispatch.cli.context import AppContext, emit_json, json_option, pass_app
from dispatch.db.engine import session_scope
from dispatch.jobs import preflight
from dispatch.jobs import worker as workers
from dispatch.jobs.broker import is_inprocess


@click.command("worker")
@click.option("--processes", type=click.IntRange(1, 64), default=2, show_default=True)
@click.option("--threads", type=click.IntRange(1, 64), default=2, show_default=True)
@click.option(
    "--once",
    is_flag=True,
    help="Do what is due now and exit (embedded broker only; e.g. from cron).",
)
@json_option
@pass_app
def group(app: AppContext, processes: int, threads: int, once: bool, as_json: bool) -> None:
    """Run workers until stopped (SIGTERM or Ctrl-C finishes the jobs in hand).

    With Redis or RabbitMQ (DISPATCH_BROKER_URL) this starts PROCESSES worker
    processes of THREADS threads each and restarts any that die. With the embedded
    in-process broker the work runs in this process; the database says what is due.
    With --json, one document when it stops: the campaigns still active then.

    Refuses to start (exit 1, one line) while a setting that an active campaign's
    channel needs is missing or cannot work (e.g. no print house key for post).
    """
    app.engine()  # refuse an unmigrated database before starting anything
    with session_scope(app.engine()) as session:
        in_use = preflight.channels_in_use(session)
    # A channel that cannot work would only fail every job of it: refuse to start.
    preflight.require(app.settings, sorted(in_use))
    inprocess = is_inprocess(app.settings.broker_url)
    if once and not inprocess:
        raise click.UsageError("--once needs the embedded broker; real brokers run forever")
    code = 0
    if inprocess:
        if once:
            workers.run_inprocess(threads=1)
        else:
            workers.run_inprocess(threads=1, until=lambda: False, poll=app.settings.sweep_seconds)
    else:
        code = workers.Supervisor(processes, threads, app.settings.sweep_seconds).run()
    if as_json:
        emit_json(
            {
                "broker": "inprocess" if inprocess else "external",
                "once": once,
                "exit_code": code,
                "active_campaigns": _active(app),
            }
        )
    if code:
        raise SystemExit(code)


def _active(app: AppContext) -> list[dict[str, object]]:
    """The campaigns with work left (what a cron job running --once wants to know)."""
    with session_scope(app.engine()) as session:
        rows = session.execute(
            select(Campaign.id, Campaign.status)
            .where(Campaign.status.in_([s.value for s in ACTIVE]))
            .order_by(Campaign.id)
        ).all()
    return [{"id": cid, "status": status} for cid, status in rows]
