"""Invariant 3: an objection before the hand-off stops the letter; cancel stops the rest."""

from __future__ import annotations

from collections.abc import Callable

from dispatch.campaigns import faults
from dispatch.campaigns import services as cs
from dispatch.campaigns.models import BatchStatus, CampaignStatus
from dispatch.db.engine import session_scope
from tests.campaigns.conftest import BATCH_SIZE, World, all_printed
from tests.conftest import CliResult


def test_objection_after_render_suppresses_letter(world: World) -> None:
    members = world.add_members(15)
    cid = world.dispatching()
    victim = members[7]
    renders: list[int] = []

    def member_objects_now() -> None:
        renders.append(1)
        if len(renders) == 1:
            world.object(victim)  # after the PDF was laid out, before the hand-off

    with faults.inject("rendered", member_objects_now):
        outcome = world.run_batch(cid, 0)

    assert len(renders) == 2, "the batch is rendered again without the objector"
    assert outcome.delivered == 14 and outcome.suppressed == 1
    assert world.recipients(cid)[victim] == ("suppressed", "objection")
    printed = all_printed(world)
    assert victim not in printed
    assert sorted(printed) == sorted(set(members) - {victim})


def test_objection_through_the_cli_during_render_suppresses_letter(
    world: World, cli: Callable[..., CliResult]
) -> None:
    members = world.add_members(6)
    cid = world.dispatching()
    victim = members[0]
    answers: list[CliResult] = []

    def objects_by_phone() -> None:
        if not answers:
            answers.append(cli("member", "object", str(victim), "--as", "maija.staff"))

    with faults.inject("rendered", objects_by_phone):
        world.run_batch(cid, 0)

    assert answers[0].code == 0, answers[0].err
    assert world.recipients(cid)[victim] == ("suppressed", "objection")
    assert sorted(all_printed(world)) == sorted(members[1:])


def test_objection_after_snapshot_suppresses_letter(world: World) -> None:
    members = world.add_members(12)
    cid = world.dispatching()
    world.object(members[3])

    assert world.finish(cid) == CampaignStatus.COMPLETED.value

    assert world.recipients(cid)[members[3]] == ("suppressed", "objection")
    assert sorted(all_printed(world)) == sorted(set(members) - {members[3]})
    assert world.report(cid).reconciled


def test_cancel_mid_campaign_suppresses_the_unclaimed_batches(world: World) -> None:
    members = world.add_members(BATCH_SIZE * 3)
    cid = world.dispatching()
    world.run_batch(cid, 0)
    delivered = world.with_status(cid, "delivered")
    assert len(delivered) == BATCH_SIZE

    with session_scope(world.engine) as session:
        stopped = cs.cancel(session, cs.get(session, cid), "anna")

    assert stopped == 2 * BATCH_SIZE
    assert world.status(cid) == CampaignStatus.CANCELLED.value
    assert world.run_batch(cid, 1).status == "already_finished"
    statuses = world.recipients(cid)
    assert {statuses[m] for m in set(members) - delivered} == {("suppressed", "campaign_cancelled")}
    assert [b.status for b in world.batches(cid)] == ["done", "failed", "failed"]
    assert set(all_printed(world)) == delivered
    report = world.report(cid)
    assert report.reconciled and report.total.in_flight == 0
    assert report.total.delivered == BATCH_SIZE
    assert dict(report.total.suppressed) == {"campaign_cancelled": 2 * BATCH_SIZE}


def test_cancel_while_a_batch_renders_closes_it_before_hand_off(world: World) -> None:
    members = world.add_members(BATCH_SIZE + 5)
    cid = world.dispatching()

    def staff_cancels() -> None:
        with session_scope(world.engine) as session:
            cs.cancel(session, cs.get(session, cid), "anna")

    with faults.inject("rendered", staff_cancels):
        outcome = world.run_batch(cid, 0)

    assert outcome.status == BatchStatus.FAILED.value
    assert world.outbox.list_batches() == []
    assert {world.recipients(cid)[m] for m in members} == {("suppressed", "campaign_cancelled")}
    batch = world.batches(cid)[0]
    assert batch.claim_token is None and batch.last_error == "campaign_cancelled"
    report = world.report(cid)
    assert report.reconciled and report.total.in_flight == 0
