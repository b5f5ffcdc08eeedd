"""An SMTP relay and an S3 outbox that are down: campaigns wait, resumable, intact.

The test takes both transports down before a post and an e-mail campaign start, lets
the workers fail every batch at least once, stops them (SIGTERM) and looks at what is
left: each campaign still dispatching, every batch released with its error, every
recipient accounted for as in flight, nothing handed over. Then the transports come
back (the relay still answering 4xx to a few addresses for a while, to be retried),
new workers start, ``dispatch campaign start`` resumes both campaigns, and they
complete with everyone delivered exactly once.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from dispatch.campaigns.models import BatchStatus, CampaignStatus
from tests.conftest import CliResult
from tests.jobs import scenario
from tests.jobs.conftest import ON_POSTGRESQL, Deployment, S3Endpoint, SmtpServer, Workers

pytestmark = [
    *ON_POSTGRESQL,
    pytest.mark.slow,
    pytest.mark.workers,
    pytest.mark.parametrize("broker_url", ["redis", "rabbitmq"], indirect=True),
]

MEMBERS = 24
BATCH_SIZE = 8
#: 451 answers per deferred address: more than one job's in-job tries (4), so the
#: batch is given back to the queue and retried by a later job.
DEFERRALS = 5


def _campaigns_wait_while_down(
    deployment: Deployment,
    cli: Callable[..., CliResult],
    start_workers: Callable[..., Workers],
    campaigns: list[int],
) -> None:
    """Start the campaigns, wait until every batch has failed once, stop the workers;
    then check that what is left is consistent and resumable."""
    workers = start_workers()
    workers.wait_ready()
    for campaign in campaigns:
        started = cli("campaign", "start", str(campaign))
        assert started.code == 0, started.err
    engine = deployment.engine
    # A deadline, not a speed test: generous, since CI shares two cores with the
    # other test workers and the workers here start cold.
    scenario.wait_for(
        "every batch to fail once",
        lambda: all(
            scenario.status(engine, c) == CampaignStatus.DISPATCHING.value
            and all(b.last_error for b in scenario.batches(engine, c))
            for c in campaigns
        ),
        timeout=180,
    )
    assert workers.stop() == 0, workers.output()

    for campaign in campaigns:
        left = scenario.report(engine, campaign)
        assert left.campaign["status"] == CampaignStatus.DISPATCHING.value
        assert left.reconciled, left.as_json()
        assert left.total.in_flight == left.total.snapshot == MEMBERS, left.as_json()
        for batch in scenario.batches(engine, campaign):
            assert batch.status not in (BatchStatus.DONE.value, BatchStatus.FAILED.value)
            assert batch.claim_token is None, batch.number  # released: anyone may resume
            assert batch.attempts >= 1 and batch.last_error, batch.number


def _resume(
    deployment: Deployment,
    cli: Callable[..., CliResult],
    start_workers: Callable[..., Workers],
    campaigns: list[int],
) -> None:
    workers = start_workers()
    workers.wait_ready()
    for campaign in campaigns:
        resumed = cli("campaign", "start", str(campaign))
        assert resumed.code == 0, resumed.err
        assert "resuming unfinished work" in resumed.out
    for campaign in campaigns:
        scenario.wait_completed(deployment.engine, campaign, timeout=180)
    assert workers.stop() == 0, workers.output()
    for campaign in campaigns:
        result = scenario.assert_reconciled(deployment.engine, campaign)
        assert result.total.delivered == MEMBERS, result.as_json()


def test_relay_and_s3_down_leave_campaigns_resumable_then_complete_exactly_once(
    deployment: Deployment,
    smtp: SmtpServer,
    s3: S3Endpoint,
    cli: Callable[..., CliResult],
    start_workers: Callable[..., Workers],
) -> None:
    # No sweeps after the first: the broker's retries and `campaign start` do the work,
    # and a sweeper re-sending every failed batch each second would only add duplicates.
    deployment.configure(batch_size=BATCH_SIZE, batch_lease_seconds=30, sweep_seconds=600)
    engine = deployment.engine
    register = scenario.seed(engine, MEMBERS)
    post = scenario.approved_campaign(engine, deployment.var_dir, "post")
    email = scenario.approved_campaign(engine, deployment.var_dir, "email")
    smtp.stop()
    s3.stop()

    _campaigns_wait_while_down(deployment, cli, start_workers, [post, email])
    # E-mail: a refused connection is a sure "not sent", so nobody is left in doubt.
    assert {s for s, _ in scenario.outcomes(engine, email).values()} == {"pending"}
    assert all(
        "deferred by the mailer" in (b.last_error or "") for b in scenario.batches(engine, email)
    )
    assert smtp.received == []
    # Post: letters rendered and frozen for a hand-off that never got through.
    assert "delivered" not in {s for s, _ in scenario.outcomes(engine, post).values()}
    assert all("outbox" in (b.last_error or "") for b in scenario.batches(engine, post))

    # Back up; the relay answers 451 to a few addresses a few times more.
    deferred = sorted(register.emails.values())[:3]
    smtp.recorder.defer = dict.fromkeys(deferred, DEFERRALS)
    smtp.start()
    s3.start()
    _resume(deployment, cli, start_workers, [post, email])

    scenario.assert_post_exactly_once(engine, post, deployment.outbox, deployment.identity)
    assert len(deployment.outbox.list_complete()) == MEMBERS // BATCH_SIZE
    assert smtp.recorder.deferred == len(deferred) * DEFERRALS
    scenario.assert_email_exactly_once(engine, email, register, smtp.received)
    assert sorted(smtp.received) == sorted(register.emails.values())
    # A batch with a deferred address needed another job after the one the 4xx ended.
    assert max(b.attempts for b in scenario.batches(engine, email)) >= 3
