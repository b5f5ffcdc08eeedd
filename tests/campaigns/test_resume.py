"""A campaign left half-way by a job that ran out of retries is picked up again."""

from __future__ import annotations

import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session

from dispatch.campaigns import delivery, lifecycle
from dispatch.campaigns.models import Campaign, CampaignStatus
from dispatch.campaigns.states import transition
from dispatch.db.engine import session_scope
from dispatch.db.types import utcnow
from dispatch.jobs import tasks, worker
from tests.campaigns.conftest import World


def _stuck_snapshotting(world: World) -> int:
    """A campaign whose snapshot job died after the status change (no recipients)."""
    world.add_members(8)
    cid = world.start("own_post")
    with session_scope(world.engine) as session:
        campaign = session.get_one(Campaign, cid)
        transition(session, campaign, CampaignStatus.SNAPSHOTTING)
    return cid


def test_sweep_resends_a_snapshot_stuck_longer_than_the_lease(world: World) -> None:
    cid = _stuck_snapshotting(world)
    jobs, rt = tasks.jobs(), tasks.runtime()

    assert worker.sweep(jobs, rt).snapshots == 0  # it may still be running: wait
    with session_scope(world.engine) as session:
        session.execute(
            update(Campaign)
            .where(Campaign.id == cid)
            .values(started_at=utcnow() - rt.lease * 2, send_at=None)
        )
    assert worker.sweep(jobs, rt).snapshots == 1
    worker.run_inprocess()

    assert world.status(cid) == CampaignStatus.COMPLETED.value
    report = world.report(cid)
    assert report.reconciled and report.total.delivered == 8


def test_start_resumes_a_stuck_snapshot_at_once(world: World, cli) -> None:  # type: ignore[no-untyped-def]
    cid = _stuck_snapshotting(world)

    result = cli("campaign", "start", str(cid))

    assert result.code == 0, result.err
    assert "resuming" in result.out
    assert world.status(cid) == CampaignStatus.COMPLETED.value
    assert world.report(cid).total.delivered == 8


def test_two_finalize_jobs_at_once_complete_the_campaign_without_an_error(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two batches that finish together each send a finalize job; the one that loses the
    race to the state change finds the campaign completed and succeeds (a raised error
    would be logged as a failed job and retried)."""
    world.add_members(4)
    cid = world.dispatching("own_post")
    with session_scope(world.engine) as session:
        numbers = delivery.open_batches(session, cid)
    for number in numbers:
        world.run_batch(cid, number)
    checked = lifecycle.open_batches

    def first_the_other_job(session: Session, campaign_id: int) -> list[int]:
        monkeypatch.setattr(lifecycle, "open_batches", checked)
        # The other job runs in full while this one has read "dispatching".
        assert lifecycle.finalize(world.engine, campaign_id) == CampaignStatus.COMPLETED.value
        return checked(session, campaign_id)

    monkeypatch.setattr(lifecycle, "open_batches", first_the_other_job)

    assert lifecycle.finalize(world.engine, cid) == CampaignStatus.COMPLETED.value
    assert world.status(cid) == CampaignStatus.COMPLETED.value
