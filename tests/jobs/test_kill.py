"""``kill -9`` of worker processes in the middle of batches, several times a campaign.

With 2 worker processes of 2 threads each, a moment when at least 3 batches are held
by live claims is a moment when *both* processes are in the middle of a batch (one
process runs at most 2); killing either one then kills it mid-batch. The supervisor
starts a replacement, the dead claims expire after the lease and the sweeper (or the
broker's redelivery) hands the batches to the survivors, which go on from wherever
each batch stood. Whatever that was, nobody gets a letter or an e-mail twice and the
report still reconciles (invariant 4).
"""

from __future__ import annotations

import datetime as dt
import os
import random
import signal
from collections.abc import Callable

import pytest
from sqlalchemy import Engine, func, select

from dispatch.campaigns.delivery import UNCONFIRMED
from dispatch.campaigns.models import CampaignBatch, CampaignStatus
from dispatch.campaigns.states import FINAL
from dispatch.db.engine import session_scope
from dispatch.db.types import utcnow
from tests.conftest import CliResult
from tests.jobs import scenario
from tests.jobs.conftest import ON_POSTGRESQL, Deployment, SmtpServer, Workers

pytestmark = [
    *ON_POSTGRESQL,
    pytest.mark.slow,
    pytest.mark.workers,
    pytest.mark.parametrize("broker_url", ["redis", "rabbitmq"], indirect=True),
]

LEASE = 2
KILLS = 3
PROCESSES, THREADS = 2, 2


def _live_claims(engine: Engine, campaign_id: int, since: dt.datetime) -> int:
    """Batches of the campaign held by a claim taken or renewed after ``since`` (the
    last kill): claims of live worker threads only."""
    with session_scope(engine) as session:
        held: int = session.execute(
            select(func.count()).where(
                CampaignBatch.campaign_id == campaign_id,
                CampaignBatch.claim_token.is_not(None),
                CampaignBatch.heartbeat_at > since,
            )
        ).scalar_one()
        return held


def _kill_mid_batch(engine: Engine, campaign_id: int, workers: Workers) -> list[int]:
    """Kill a worker process ``KILLS`` times while both are mid-batch; the pids killed."""
    killed: list[int] = []
    since = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)

    def both_busy() -> bool:
        status = CampaignStatus(scenario.status(engine, campaign_id))
        assert status not in FINAL, f"campaign {status} after {len(killed)} kills: add work"
        return (
            len(workers.children()) == PROCESSES
            and _live_claims(engine, campaign_id, since) > THREADS
        )

    for _ in range(KILLS):
        scenario.wait_for("both worker processes to be mid-batch", both_busy, timeout=60, poll=0.05)
        victim = random.choice(workers.children())
        os.kill(victim, signal.SIGKILL)
        since = utcnow()  # from now on only the survivors renew claims
        killed.append(victim)
    return killed


def _start(cli: Callable[..., CliResult], campaign: int, workers: Workers) -> None:
    workers.wait_ready()
    started = cli("campaign", "start", str(campaign))
    assert started.code == 0, started.err


def _assert_recovered(
    deployment: Deployment, campaign: int, workers: Workers, killed: list[int]
) -> None:
    """The campaign completed; the supervisor replaced each victim; its batches were
    finished by another worker; SIGTERM still stops everything cleanly."""
    scenario.wait_completed(deployment.engine, campaign, timeout=120)
    assert workers.stop() == 0, workers.output()
    log = workers.log.read_text(errors="replace")
    for pid in killed:
        assert f"worker process {pid} exited (-9)" in log, workers.output()
    batches = scenario.batches(deployment.engine, campaign)
    # The victims' batches were claimed again and finished by someone else.
    assert sum(b.attempts for b in batches) > len(batches), [b.attempts for b in batches]
    assert {b.status for b in batches} == {"done"}


def test_kill_9_mid_batch_post_campaign_completes_exactly_once(
    deployment: Deployment,
    cli: Callable[..., CliResult],
    start_workers: Callable[..., Workers],
) -> None:
    deployment.configure(batch_size=6, batch_lease_seconds=LEASE, sweep_seconds=1)
    engine = deployment.engine
    # Enough batches that the campaign outlasts three kills and their recoveries.
    register = scenario.seed(engine, 1200, email_opt_in=False)
    campaign = scenario.approved_campaign(engine, deployment.var_dir, "post")
    workers = start_workers(processes=PROCESSES, threads=THREADS)
    _start(cli, campaign, workers)

    killed = _kill_mid_batch(engine, campaign, workers)

    _assert_recovered(deployment, campaign, workers, killed)
    result = scenario.assert_reconciled(engine, campaign)
    assert result.total.delivered == len(register.last_names), result.as_json()
    scenario.assert_post_exactly_once(engine, campaign, deployment.outbox, deployment.identity)


def test_kill_9_mid_batch_email_campaign_sends_nobody_twice(
    deployment: Deployment,
    smtp: SmtpServer,
    cli: Callable[..., CliResult],
    start_workers: Callable[..., Workers],
) -> None:
    # A slow relay (one connection per process, 100 ms a message) keeps every batch
    # in the middle of its sending for most of its time.
    smtp.recorder.delay = 0.1
    deployment.configure(batch_size=8, batch_lease_seconds=LEASE, sweep_seconds=1)
    engine = deployment.engine
    register = scenario.seed(engine, 240)
    campaign = scenario.approved_campaign(engine, deployment.var_dir, "email")
    workers = start_workers(processes=PROCESSES, threads=THREADS)
    _start(cli, campaign, workers)

    killed = _kill_mid_batch(engine, campaign, workers)

    _assert_recovered(deployment, campaign, workers, killed)
    result = scenario.assert_reconciled(engine, campaign)
    # Who was with the mailer when their worker died is failed as unconfirmed (the
    # design's at-most-once); everyone else was delivered.
    assert set(result.total.failed) <= {UNCONFIRMED}, result.as_json()
    assert result.total.delivered + result.total.failed[UNCONFIRMED] == len(register.emails)
    assert not result.total.suppressed
    scenario.assert_email_exactly_once(engine, campaign, register, smtp.received)
