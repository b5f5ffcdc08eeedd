"""``dispatch worker``: run the jobs (snapshots, batches, finalize)."""

from __future__ import annotations

import click

from dispatch.cli.context import AppContext, pass_app
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
@pass_app
def group(app: AppContext, processes: int, threads: int, once: bool) -> None:
    """Run workers until stopped (SIGTERM or Ctrl-C finishes the jobs in hand).

    With Redis or RabbitMQ (DISPATCH_BROKER_URL) this starts PROCESSES worker
    processes of THREADS threads each and restarts any that die. With the embedded
    in-process broker the work runs in this process; the database says what is due.
    """
    app.engine()  # refuse an unmigrated database before starting anything
    if is_inprocess(app.settings.broker_url):
        if once:
            workers.run_inprocess(threads=1)
        else:
            workers.run_inprocess(threads=1, until=lambda: False, poll=app.settings.sweep_seconds)
        return
    if once:
        raise click.UsageError("--once needs the embedded broker; real brokers run forever")
    raise SystemExit(workers.Supervisor(processes, threads, app.settings.sweep_seconds).run())
