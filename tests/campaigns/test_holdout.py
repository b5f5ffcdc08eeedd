"""The holdout: a seeded share of the snapshot, recorded as held out, never contacted,
no contact for the frequency cap, and part of the reconciliation."""

from __future__ import annotations

import pytest
from sqlalchemy import literal, select

from dispatch.campaigns import services as cs
from dispatch.campaigns.models import Campaign, CampaignRecipient
from dispatch.campaigns.snapshot import held_out
from dispatch.db.engine import session_scope
from tests.campaigns.conftest import World, all_printed


def _started(world: World, percent: float, segment: str = "own_post") -> int:
    cid = world.create(segment, holdout_percent=percent)
    with session_scope(world.engine) as session:
        campaign = cs.get(session, cid)
        cs.approve(session, campaign, "bob", min_partner_audience=world.minimum)
        cs.schedule(session, campaign)
    return cid


def _python_held_out(member_id: int, seed: int, share_bp: int) -> bool:
    """The same keyed hash as the SQL of :func:`held_out`, in Python."""
    p = 2_147_483_647
    x = (member_id % p * 48_271 + seed) % p
    x = x * x % p
    x = (x * 69_621 + seed // 2 + 1) % p
    return x % 10_000 < share_bp


def test_held_out_members_are_recorded_never_contacted_and_reconciled(world: World) -> None:
    members = world.add_members(200)
    cid = _started(world, 25)
    assert world.snapshot(cid).failed is None
    assert world.finish(cid) == "completed"

    held = world.with_status(cid, "held_out")
    delivered = world.with_status(cid, "delivered")
    assert 20 <= len(held) <= 80  # 25 % of 200, give or take three standard deviations
    assert held | delivered == set(members) and not held & delivered
    assert not held & set(all_printed(world))
    report = world.report(cid)
    assert report.reconciled
    assert report.total.held_out == len(held)
    assert report.total.snapshot == report.total.delivered + report.total.held_out
    assert all(b.tally.held_out == 0 for b in report.batches)
    with session_scope(world.engine) as session:
        campaign = session.get_one(Campaign, cid)
        assert campaign.holdout_seed is not None and campaign.snapshot_stats is not None
        assert campaign.snapshot_stats["held_out"] == len(held)
        rows = session.execute(
            select(CampaignRecipient.member_id, CampaignRecipient.batch_no).where(
                CampaignRecipient.campaign_id == cid, CampaignRecipient.status == "held_out"
            )
        ).all()
        seed = campaign.holdout_seed
    assert {batch for _, batch in rows} == {-1}
    # Deterministic for the seed: the hash says exactly who is held out.
    assert held == {m for m in members if _python_held_out(m, seed, 2500)}


def test_no_holdout_holds_out_no_one(world: World) -> None:
    world.add_members(30)
    cid = _started(world, 0)
    assert world.snapshot(cid).failed is None
    assert world.with_status(cid, "held_out") == set()


@pytest.mark.parametrize("seed", [1, 99, 2_000_000_000])
def test_the_database_computes_the_same_holdout_as_the_hash(world: World, seed: int) -> None:
    members = world.add_members(60)
    with session_scope(world.engine) as session:
        chosen = {m for m in members if session.scalar(select(held_out(literal(m), seed, 3000)))}
    assert chosen == {m for m in members if _python_held_out(m, seed, 3000)}


def test_the_held_out_are_no_contact_for_the_frequency_cap(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DISPATCH_FREQUENCY_CAP", "1")
    members = world.add_members(80)
    first = _started(world, 30)
    assert world.snapshot(first).failed is None
    held = world.with_status(first, "held_out")
    assert held
    second = world.dispatching("own_post")
    # Only the held out of the first campaign are free to be contacted again.
    assert set(world.recipients(second)) == held
    assert len(members) == len(held) + len(world.with_status(first, "pending"))
