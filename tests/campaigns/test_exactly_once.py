"""Invariant 4 under crashes and competing workers: at most one letter per member.

Each crash is simulated at one step of the post hand-off; the batch is then run again
as a retry (a handled exception released the claim) or as a takeover (a hard crash
left the claim, so its heartbeat is moved past the lease).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from dispatch import batchformat as bf
from dispatch.campaigns import delivery, faults
from dispatch.campaigns.models import BatchStatus, CampaignBatch, CampaignStatus
from dispatch.db.engine import session_scope
from dispatch.db.types import utcnow
from dispatch.errors import OperationError
from dispatch.jobs import tasks
from dispatch.transports.outbox import LocalOutbox
from tests.campaigns.conftest import World


def _expire_lease(world: World, cid: int, number: int) -> None:
    """What time does to a dead worker's claim: its heartbeat grows older than the lease."""
    lease = tasks.runtime().lease
    with session_scope(world.engine) as session:
        session.execute(
            update(CampaignBatch)
            .where(CampaignBatch.campaign_id == cid, CampaignBatch.number == number)
            .values(heartbeat_at=utcnow() - lease - dt.timedelta(seconds=5))
        )


def _assert_once_each_and_reconciled(world: World, cid: int, expected: set[int]) -> None:
    """Run what is left of the campaign, then check every letter and the counts."""
    assert world.finish(cid) == CampaignStatus.COMPLETED.value
    printed = world.printed()
    letters = Counter(m for batch in printed.values() for m in batch)
    assert set(letters) == expected
    assert max(letters.values()) == 1, "a member is in two complete batches"
    assert world.with_status(cid, "delivered") == expected
    assert set(world.outbox.list_batches()) == set(printed), "a partial batch was left"
    report = world.report(cid)
    assert report.reconciled and report.total.in_flight == 0
    assert report.total.delivered == len(expected)


def test_upload_failing_before_complete_is_rendered_again_once(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    members = set(world.add_members(30))
    cid = world.dispatching()
    real_write = LocalOutbox._write
    calls = Counter[str]()

    def write(self: LocalOutbox, folder: Path, name: str, data: Any) -> None:
        calls[name] += 1
        if name == bf.COMPLETE and calls[name] == 1:
            raise OSError(28, "No space left on device")
        real_write(self, folder, name, data)

    monkeypatch.setattr(LocalOutbox, "_write", write)
    with pytest.raises(OperationError, match="cannot write batch"):
        world.run_batch(cid, 0)

    [first, _] = world.batches(cid)
    assert first.status == BatchStatus.HANDING_OFF.value
    assert first.claim_token is None  # released: any worker may retry now
    assert "No space left" in (first.last_error or "")
    assert world.outbox.list_complete() == []
    assert world.with_status(cid, "included")

    world.run_batch(cid, 0)
    assert world.batches(cid)[0].attempts == 2
    _assert_once_each_and_reconciled(world, cid, members)


def test_crash_after_complete_before_recording_delivers_without_uploading_again(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    members = set(world.add_members(25))
    cid = world.dispatching()
    uploads = Counter[str]()
    real_put = LocalOutbox.put_batch

    def put_batch(self: LocalOutbox, batch_id: str, *args: Any) -> None:
        uploads[batch_id] += 1
        real_put(self, batch_id, *args)

    monkeypatch.setattr(LocalOutbox, "put_batch", put_batch)
    # A hard crash runs no handler: the claim stays behind.
    with faults.inject("handed_off", faults.crash), pytest.raises(faults.Crash):
        world.run_batch(cid, 0)

    [first, _] = world.batches(cid)
    assert first.status == BatchStatus.HANDING_OFF.value
    assert first.claim_token is not None
    with pytest.raises(delivery.BatchBusy):
        world.run_batch(cid, 0)  # the dead holder's lease has not run out yet
    _expire_lease(world, cid, 0)
    outcome = world.run_batch(cid, 0)

    assert outcome.status == BatchStatus.DONE.value
    assert outcome.delivered == 20
    assert uploads[first.outbox_id or ""] == 1
    _assert_once_each_and_reconciled(world, cid, members)


def test_crash_half_way_through_the_upload_is_taken_over_and_redone(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    members = set(world.add_members(25))
    cid = world.dispatching()
    real_write = LocalOutbox._write

    def write(self: LocalOutbox, folder: Path, name: str, data: Any) -> None:
        if name == bf.SIGNATURE:
            raise faults.Crash  # the PDF and manifest are written, the rest never will be
        real_write(self, folder, name, data)

    monkeypatch.setattr(LocalOutbox, "_write", write)
    with pytest.raises(faults.Crash):
        world.run_batch(cid, 1)
    monkeypatch.setattr(LocalOutbox, "_write", real_write)
    assert len(world.outbox.list_batches()) == 1
    assert world.outbox.list_complete() == []

    _expire_lease(world, cid, 1)
    world.run_batch(cid, 1)
    _assert_once_each_and_reconciled(world, cid, members)


def test_exception_while_rendering_releases_the_batch_for_a_clean_retry(world: World) -> None:
    members = set(world.add_members(22))
    cid = world.dispatching()

    def out_of_memory() -> None:
        raise RuntimeError("renderer ran out of memory")

    with faults.inject("render", out_of_memory), pytest.raises(RuntimeError):
        world.run_batch(cid, 0)

    first = world.batches(cid)[0]
    assert first.status == BatchStatus.WORKING.value
    assert first.claim_token is None
    assert first.last_error == "RuntimeError: renderer ran out of memory"
    assert world.with_status(cid, "pending") == members
    assert world.outbox.list_batches() == []
    _assert_once_each_and_reconciled(world, cid, members)


def test_second_worker_on_a_freshly_claimed_batch_is_told_busy(world: World) -> None:
    members = set(world.add_members(10))
    cid = world.dispatching()
    claim = delivery.claim_batch(world.engine, cid, 0, tasks.runtime().lease)
    assert claim is not None

    with pytest.raises(delivery.BatchBusy, match="is being worked on"):
        world.run_batch(cid, 0)

    assert world.with_status(cid, "pending") == members
    assert world.batches(cid)[0].claim_token == claim.token
    delivery.release(claim, None)
    _assert_once_each_and_reconciled(world, cid, members)


def test_worker_whose_claim_was_taken_over_changes_nothing(world: World) -> None:
    members = set(world.add_members(12))
    cid = world.dispatching()
    taken_over: list[delivery.BatchOutcome] = []
    stalled: list[bool] = []

    def stalls_and_is_taken_over() -> None:
        # The first worker stalls after rendering; its lease runs out and a second
        # worker does the whole batch meanwhile (passing the same point, unhindered).
        if taken_over or stalled:
            return
        stalled.append(True)
        _expire_lease(world, cid, 0)
        taken_over.append(world.run_batch(cid, 0))

    with faults.inject("rendered", stalls_and_is_taken_over):
        first = world.run_batch(cid, 0)

    assert first.status == tasks.TAKEN_OVER  # it stopped at its next step, writing nothing
    [second] = taken_over
    assert second.status == BatchStatus.DONE.value
    assert second.delivered == 12
    batch = world.batches(cid)[0]
    assert batch.status == BatchStatus.DONE.value
    assert batch.attempts == 2
    assert len(world.outbox.list_batches()) == 1
    _assert_once_each_and_reconciled(world, cid, members)


def test_a_step_longer_than_the_lease_keeps_its_claim(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    members = set(world.add_members(6))
    cid = world.dispatching()
    monkeypatch.setenv("DISPATCH_BATCH_LEASE_SECONDS", "1")
    tasks.reset_runtime()  # a worker process reads its settings when it starts
    others: list[str] = []

    def slow_step() -> None:
        # Three leases long: without the heartbeat thread the claim would look dead.
        import time

        for _ in range(6):
            time.sleep(0.5)
            try:
                delivery.claim_batch(world.engine, cid, 0, tasks.runtime().lease)
                others.append("claimed")
            except delivery.BatchBusy:
                others.append("busy")

    with faults.inject("rendered", slow_step):
        outcome = world.run_batch(cid, 0)

    assert others == ["busy"] * 6
    assert outcome.status == BatchStatus.DONE.value and outcome.delivered == 6
    _assert_once_each_and_reconciled(world, cid, members)
