"""Running workers: in this process (embedded broker) or as supervised processes.

Both run the same sweeper, which makes the database, not the broker, the record of
what is left to do: it sends the snapshot of a scheduled campaign that is due, a
batch that a failed or killed worker left behind, and the finalize of a campaign
whose batches are all closed. A duplicate message is harmless (claims decide).
"""

from __future__ import annotations

import logging
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import FrameType

import dramatiq
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from dispatch.campaigns.delivery import open_batches, stale_batches
from dispatch.campaigns.models import Campaign, CampaignStatus
from dispatch.campaigns.services import Started
from dispatch.db.engine import session_scope
from dispatch.db.types import utcnow
from dispatch.jobs import tasks
from dispatch.jobs.queue import after_commit

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Sweep:
    snapshots: int = 0
    batches: int = 0
    finalizes: int = 0

    @property
    def sent(self) -> int:
        return self.snapshots + self.batches + self.finalizes


def sweep(jobs: tasks.Jobs, rt: tasks.Runtime, *, campaign_id: int | None = None) -> Sweep:
    """Send the messages the database says are missing (see the module docstring)."""
    now = utcnow()
    with session_scope(rt.engine) as session:
        due = select(Campaign.id).where(
            Campaign.status == CampaignStatus.SCHEDULED.value,
            or_(Campaign.send_at.is_(None), Campaign.send_at <= now),
        )
        dispatching = select(Campaign.id).where(Campaign.status == CampaignStatus.DISPATCHING.value)
        if campaign_id is not None:
            due = due.where(Campaign.id == campaign_id)
            dispatching = dispatching.where(Campaign.id == campaign_id)
        # A snapshot whose job ran out of retries (e.g. the database was down) leaves
        # the campaign snapshotting; the snapshot starts over cleanly (one transaction).
        # Asked about one campaign (staff resuming it), do not wait for the lease.
        stuck = select(Campaign.id).where(Campaign.status == CampaignStatus.SNAPSHOTTING.value)
        if campaign_id is not None:
            stuck = stuck.where(Campaign.id == campaign_id)
        else:
            stuck = stuck.where(
                func.coalesce(Campaign.send_at, Campaign.started_at) < now - rt.lease
            )
        snapshots = list(session.scalars(due)) + list(session.scalars(stuck))
        batches = [
            pair
            for pair in stale_batches(session, rt.lease, eager=campaign_id is not None)
            if campaign_id is None or pair[0] == campaign_id
        ]
        finished = [c for c in session.scalars(dispatching) if not open_batches(session, c)]
    for cid in snapshots:
        jobs.send_snapshot(cid)
    for cid, number in batches:
        jobs.batch.send(cid, number)
    for cid in finished:
        jobs.finalize.send(cid)
    if campaign_id is None:
        # Acknowledgements, retention and returned mail; an outbox or database error
        # here must not keep the sweep from sending what is missing (next sweep retries).
        from dispatch.campaigns.upkeep import upkeep

        try:
            done = upkeep(rt.engine, rt.outbox, now=now)
            if done.changed:
                log.info("upkeep: %s", done)
        except Exception:
            log.exception("outbox upkeep failed; will try again at the next sweep")
    return Sweep(len(snapshots), len(batches), len(finished))


def send_started(session: Session, started: Started) -> None:
    """Send what :func:`dispatch.campaigns.services.start` asked for, once ``session``
    commits (a job sent earlier could run before the campaign is scheduled).

    A newly scheduled campaign gets its snapshot job; a resumed one a sweep of just its
    own missing work: a snapshot whose job died, batches left released, a finalize
    never sent.
    """
    jobs = tasks.jobs()
    campaign_id = started.campaign_id
    if started.resumed:
        after_commit(session, lambda: sweep(jobs, tasks.runtime(), campaign_id=campaign_id))
    else:
        when = started.send_at
        after_commit(session, lambda: jobs.send_snapshot(campaign_id, at=when))


def run_inprocess(
    *,
    threads: int = 1,
    until: Callable[[], bool] | None = None,
    on_idle: Callable[[], object] | None = None,
    poll: float = 0.2,
) -> None:
    """Run the embedded broker's worker in this process.

    Returns when ``until()`` is true (checked whenever the queue is idle), or, without
    ``until``, when the queue is empty and a sweep finds nothing more to do.
    ``on_idle`` runs on every idle check (e.g. to redraw a progress bar).
    """
    jobs = tasks.jobs()
    rt = tasks.runtime()
    worker = dramatiq.Worker(jobs.broker, worker_threads=threads, worker_timeout=100)
    worker.start()
    try:
        while True:
            _wait_idle(jobs.broker, poll, on_idle)
            if until is not None and until():
                return
            if sweep(jobs, rt).sent == 0:
                if until is None:
                    return
                time.sleep(poll)
    finally:
        worker.stop()
        # A dramatiq Worker leaves its middleware on the broker; the next run gets a
        # fresh stub broker (what it held is done, or re-found by the next sweep).
        tasks.declare(jobs.broker.dispatch_url)  # type: ignore[attr-defined]


def _wait_idle(broker: dramatiq.Broker, poll: float, on_idle: Callable[[], object] | None) -> None:
    """Wait until the stub broker's queues (delayed retries too) are empty and done."""
    queues = getattr(broker, "queues", {})
    while True:
        if on_idle is not None:
            on_idle()
        if all(q.unfinished_tasks == 0 for q in queues.values()):
            return
        time.sleep(poll)


class Supervisor:
    """Starts ``processes`` worker processes and restarts any that die.

    A worker killed in the middle of a batch leaves a claim that expires after the
    lease; its message comes back from the broker (or from the sweep) and another
    worker finishes the batch from wherever it stood.
    """

    def __init__(self, processes: int, threads: int, sweep_interval: float) -> None:
        self.processes = processes
        self.threads = threads
        self.sweep_interval = sweep_interval
        self.children: list[subprocess.Popen[bytes]] = []
        self.running = True

    def _spawn(self) -> subprocess.Popen[bytes]:
        command = [sys.executable, "-m", "dispatch.jobs.process", "--threads", str(self.threads)]
        return subprocess.Popen(command)  # noqa: S603 - our own interpreter and module

    def stop(self, *_: object) -> None:
        self.running = False

    def run(self) -> int:
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)
        jobs = tasks.jobs()
        rt = tasks.runtime()
        self.children = [self._spawn() for _ in range(self.processes)]
        log.info("worker: %s processes x %s threads", self.processes, self.threads)
        next_sweep = 0.0
        try:
            while self.running:
                for i, child in enumerate(self.children):
                    if child.poll() is not None:
                        log.warning(
                            "worker process %s exited (%s); starting another",
                            child.pid,
                            child.returncode,
                        )
                        self.children[i] = self._spawn()
                if time.monotonic() >= next_sweep:
                    try:
                        found = sweep(jobs, rt)
                        if found.sent:
                            log.info("sweep sent %s messages", found.sent)
                    except Exception:
                        log.exception("sweep failed; will try again")
                    next_sweep = time.monotonic() + self.sweep_interval
                time.sleep(0.2)
        finally:
            for child in self.children:
                if child.poll() is None:
                    child.terminate()
            for child in self.children:
                try:
                    child.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    child.kill()
            rt.close()
        return 0

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self.stop()
