"""The same dispatch on each broker: in-process (embedded), Redis and RabbitMQ."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from dispatch.campaigns.models import RecipientStatus
from tests.conftest import CliResult
from tests.jobs import scenario
from tests.jobs.conftest import ON_POSTGRESQL, Deployment, SmtpServer, Workers

pytestmark = [*ON_POSTGRESQL, pytest.mark.workers]

MEMBERS = 40


@pytest.mark.slow
def test_post_and_email_campaigns_deliver_everyone_exactly_once(
    deployment: Deployment,
    smtp: SmtpServer,
    cli: Callable[..., CliResult],
    start_workers: Callable[..., Workers],
) -> None:
    deployment.configure(batch_size=15)
    engine = deployment.engine
    register = scenario.seed(engine, MEMBERS)
    post = scenario.approved_campaign(engine, deployment.var_dir, "post")
    email = scenario.approved_campaign(engine, deployment.var_dir, "email")

    workers = None if deployment.inprocess else start_workers(processes=2, threads=2)
    for campaign in (post, email):
        # Embedded: `start` runs the work here and returns when it is done; with a real
        # broker it queues the snapshot for the worker processes.
        started = cli("campaign", "start", str(campaign))
        assert started.code == 0, started.err
    for campaign in (post, email):
        scenario.wait_completed(engine, campaign, timeout=60)
    if workers is not None:
        assert workers.stop() == 0, workers.output()

    for campaign in (post, email):
        result = scenario.assert_reconciled(engine, campaign)
        assert result.total.delivered == MEMBERS, result.as_json()
        assert [b.status for b in result.batches] == ["done"] * 3
        outcomes = scenario.outcomes(engine, campaign)
        assert {state for state, _ in outcomes.values()} == {RecipientStatus.DELIVERED.value}
    scenario.assert_post_exactly_once(engine, post, deployment.outbox, deployment.identity)
    scenario.assert_email_exactly_once(engine, email, register, smtp.received)
    assert sorted(smtp.received) == sorted(register.emails.values())
