"""A setting a campaign needs is checked before any work starts, in one line, by the
same preflight in ``campaign start``, ``dispatch worker`` and ``/readyz``; a job that
meets one anyway fails without retrying, and the campaign resumes once it is fixed."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from dispatch.campaigns.models import BatchStatus, CampaignStatus
from dispatch.config import load_settings
from dispatch.jobs import tasks, worker
from dispatch.web.app import create_app
from tests.campaigns.conftest import PARTNER, World
from tests.conftest import CliResult

NO_KEY = "configuration: DISPATCH_PRINTHOUSE_RECIPIENT: no print house key"


def _without_print_house_key(monkeypatch: pytest.MonkeyPatch) -> str:
    recipient = load_settings().printhouse_recipient or ""
    monkeypatch.delenv("DISPATCH_PRINTHOUSE_RECIPIENT")
    tasks.reset_runtime()  # a new shell: the worker reads its settings afresh
    return recipient


def test_start_without_print_house_key_fails_at_once_before_the_snapshot(
    world: World, cli: Callable[..., CliResult], monkeypatch: pytest.MonkeyPatch
) -> None:
    world.add_members(5)
    cid = world.create()
    assert cli("campaign", "approve", str(cid), "--as", "bob").code == 0
    recipient = _without_print_house_key(monkeypatch)

    refused = cli("campaign", "start", str(cid))

    assert refused.code == 1
    assert refused.out == ""
    [line] = refused.err.splitlines()
    assert line.startswith(f"dispatch: error: {NO_KEY}")
    assert world.status(cid) == CampaignStatus.APPROVED.value  # no snapshot was taken
    assert world.recipients(cid) == {}

    monkeypatch.setenv("DISPATCH_PRINTHOUSE_RECIPIENT", recipient)
    tasks.reset_runtime()
    started = cli("campaign", "start", str(cid))
    assert started.code == 0, started.err
    assert world.status(cid) == CampaignStatus.COMPLETED.value
    assert len(world.with_status(cid, "delivered")) == 5


def test_email_campaign_needs_no_print_house_key_and_writes_no_signing_key(
    world: World, cli: Callable[..., CliResult], monkeypatch: pytest.MonkeyPatch
) -> None:
    members = world.add_members(6, email_opt_in=True)
    cid = world.create("partner_email", creative=PARTNER)
    assert cli("campaign", "approve", str(cid), "--as", "bob").code == 0
    _without_print_house_key(monkeypatch)

    started = cli("campaign", "start", str(cid))

    assert started.code == 0, started.err
    assert world.with_status(cid, "delivered") == set(members)
    assert not tasks.runtime().settings.signing_key_file.exists()


def test_worker_refuses_to_start_while_an_active_campaign_cannot_work(
    world: World, cli: Callable[..., CliResult], monkeypatch: pytest.MonkeyPatch
) -> None:
    world.add_members(3)
    recipient = _without_print_house_key(monkeypatch)
    # Nothing active: nothing to refuse for (an e-mail-only deployment has no key).
    assert cli("worker", "--once").code == 0
    cid = world.start()  # scheduled: the worker would snapshot it now

    refused = cli("worker", "--once")

    assert refused.code == 1
    [line] = refused.err.splitlines()
    assert line.startswith(f"dispatch: error: {NO_KEY}")
    assert world.status(cid) == CampaignStatus.SCHEDULED.value

    monkeypatch.setenv("DISPATCH_PRINTHOUSE_RECIPIENT", recipient)
    tasks.reset_runtime()
    assert cli("worker", "--once").code == 0
    assert world.status(cid) == CampaignStatus.COMPLETED.value


def test_readyz_reports_a_channel_that_an_active_campaign_cannot_use(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    world.add_members(3)
    _without_print_house_key(monkeypatch)

    def readyz() -> tuple[int, dict[str, object]]:
        with TestClient(create_app(load_settings())) as client:
            response = client.get("/readyz")
        return response.status_code, response.json()

    code, idle = readyz()
    assert code == 200
    assert idle["checks"]["configuration"] == {  # type: ignore[index]
        "post": "misconfigured: DISPATCH_PRINTHOUSE_RECIPIENT (no active campaign)",
        "email": "ok",
    }
    world.start()
    code, busy = readyz()
    assert code == 503 and busy["status"] == "not ready"
    assert busy["checks"]["configuration"]["post"] == (  # type: ignore[index]
        "misconfigured: DISPATCH_PRINTHOUSE_RECIPIENT (needed by an active campaign)"
    )


def test_batch_meeting_a_configuration_error_is_not_retried_and_resumes_once_fixed(
    world: World, cli: Callable[..., CliResult], monkeypatch: pytest.MonkeyPatch
) -> None:
    members = world.add_members(12)  # one batch
    cid = world.dispatching()  # snapshotted with the key; then the key goes
    recipient = _without_print_house_key(monkeypatch)
    jobs = tasks.jobs()
    jobs.send_batches(cid, [0])

    worker.run_inprocess(until=lambda: True)  # the actor, as a worker runs it

    [dead] = jobs.broker.dead_letters  # type: ignore[attr-defined]
    assert dead.options.get("retries", 0) == 0  # failed once, never retried
    first = world.batches(cid)[0]
    assert first.attempts == 1
    assert first.status == BatchStatus.WORKING.value and first.claim_token is None
    assert (first.last_error or "").startswith(NO_KEY)
    assert world.status(cid) == CampaignStatus.DISPATCHING.value
    assert world.with_status(cid, "pending") == set(members)

    monkeypatch.setenv("DISPATCH_PRINTHOUSE_RECIPIENT", recipient)
    tasks.reset_runtime()
    resumed = cli("campaign", "start", str(cid))
    assert resumed.code == 0, resumed.err
    assert "resuming unfinished work" in resumed.out
    assert world.status(cid) == CampaignStatus.COMPLETED.value
    assert world.with_status(cid, "delivered") == set(members)
