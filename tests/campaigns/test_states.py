"""The campaign state machine: what may follow what, and who wins a race."""

from __future__ import annotations

import pytest
from sqlalchemy import update
from sqlalchemy.orm import sessionmaker

from dispatch.campaigns import services as cs
from dispatch.campaigns.models import Campaign, CampaignStatus
from dispatch.campaigns.states import TRANSITIONS, TransitionRefused, allowed, transition
from dispatch.db.engine import session_scope
from tests.campaigns.conftest import World

S = CampaignStatus

REFUSED = [
    (S.DRAFT, S.SCHEDULED),
    (S.DRAFT, S.DISPATCHING),
    (S.APPROVED, S.SNAPSHOTTING),
    (S.SCHEDULED, S.COMPLETED),
    (S.SNAPSHOTTING, S.COMPLETED),
    (S.DISPATCHING, S.SNAPSHOTTING),
    (S.COMPLETED, S.CANCELLED),
    (S.CANCELLED, S.DISPATCHING),
    (S.FAILED, S.SCHEDULED),
]


def _force(world: World, cid: int, status: CampaignStatus) -> None:
    with session_scope(world.engine) as session:
        session.execute(update(Campaign).where(Campaign.id == cid).values(status=status.value))


def test_every_allowed_transition_moves_the_campaign(world: World) -> None:
    world.add_members(1)
    cid = world.create()
    pairs = [(source, target) for source, targets in TRANSITIONS.items() for target in targets]
    assert len(pairs) == 12
    for source, target in pairs:
        _force(world, cid, source)
        with session_scope(world.engine) as session:
            campaign = cs.get(session, cid)
            transition(session, campaign, target)
            assert campaign.status == target.value
        assert world.status(cid) == target.value, (source, target)


def test_transitions_outside_the_table_are_refused_and_change_nothing(world: World) -> None:
    world.add_members(1)
    cid = world.create()
    for source, target in REFUSED:
        assert not allowed(source.value, target)
        _force(world, cid, source)
        with session_scope(world.engine) as session:
            campaign = cs.get(session, cid)
            with pytest.raises(TransitionRefused, match=f"cannot become {target.value}"):
                transition(session, campaign, target)
        assert world.status(cid) == source.value


def test_final_states_allow_nothing() -> None:
    assert {s for s, targets in TRANSITIONS.items() if not targets} == {
        S.COMPLETED,
        S.CANCELLED,
        S.FAILED,
    }


def test_stale_expected_state_loses_the_race(world: World) -> None:
    world.add_members(1)
    cid = world.create()
    factory = sessionmaker(world.engine, expire_on_commit=False)
    # Both sessions read the draft; the first to write wins.
    with factory() as first, factory() as second:
        mine = first.get_one(Campaign, cid)
        theirs = second.get_one(Campaign, cid)
        assert mine.status == theirs.status == S.DRAFT.value
        first.commit()
        second.commit()  # end the read (SQLite cannot upgrade a stale snapshot)
        transition(first, mine, S.CANCELLED, cancelled_by="anna")
        first.commit()
        with pytest.raises(TransitionRefused, match="is cancelled now, not draft"):
            transition(second, theirs, S.APPROVED, expected=S.DRAFT, approved_by="bob")
        second.rollback()
    with session_scope(world.engine) as session:
        campaign = cs.get(session, cid)
        assert campaign.status == S.CANCELLED.value
        assert campaign.approved_by is None
        assert campaign.cancelled_by == "anna"
