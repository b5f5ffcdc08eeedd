"""The snapshot keeps the rules that create checked: the frequency cap under two
snapshots at once, and own-marketing segments for the house only."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from sqlalchemy import Engine, select, text, update

from dispatch.campaigns import lifecycle
from dispatch.campaigns import services as cs
from dispatch.campaigns.models import Campaign, CampaignStatus
from dispatch.campaigns.snapshot import take_snapshot
from dispatch.campaigns.states import transition
from dispatch.creatives.models import Partner
from dispatch.db.engine import session_scope
from dispatch.db.types import utcnow
from tests.campaigns.conftest import OWN, PARTNER, World, segment_text


def _until(engine: Engine, done: Callable[[], bool]) -> None:
    """Wait until ``done()`` or until some session waits for an advisory lock."""
    waiting = text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")
    stop = threading.Event()
    for _ in range(6000):  # a bound so a broken test ends; not a timing assertion
        if done():
            return
        with engine.connect() as conn:
            if conn.execute(waiting).scalar_one():
                return
        stop.wait(0.01)
    raise AssertionError("the second snapshot neither finished nor waited")


# PostgreSQL only: SQLite runs one writing transaction at a time, so two snapshots
# there cannot overlap in the first place.
@pytest.mark.postgres
@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_two_snapshots_at_once_keep_the_frequency_cap(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first snapshot has written its recipients but not committed when the second
    starts; the second must not choose the members the first chose."""
    monkeypatch.setenv("DISPATCH_FREQUENCY_CAP", "1")
    uusimaa = world.add_members(6)
    pohjanmaa = world.add_members(4, region="Pohjanmaa")
    everyone = world.segments["own_post"].with_name("everyone-post.yaml")
    everyone.write_text(
        segment_text("everyone-post", "own_marketing", "post").replace(
            "    - region: Uusimaa\n", "    - language: fi\n"
        )
    )
    world.segments["everyone_post"] = everyone
    first = world.start("own_post")
    second = world.start("everyone_post")
    with session_scope(world.engine) as session:
        transition(session, session.get_one(Campaign, first), CampaignStatus.SNAPSHOTTING)

    results: list[lifecycle.SnapshotStep] = []
    other = threading.Thread(target=lambda: results.append(world.snapshot(second)))
    with session_scope(world.engine) as session:
        campaign = session.get_one(Campaign, first)
        taken = take_snapshot(
            session, campaign, batch_size=20, frequency_cap=1, min_partner_audience=5
        )
        transition(session, campaign, CampaignStatus.DISPATCHING, snapshot_at=utcnow())
        other.start()
        _until(world.engine, lambda: not other.is_alive())
    other.join()

    assert taken.recipients == 6
    assert results and results[0].failed is None
    assert set(world.recipients(first)) == set(uusimaa)
    assert set(world.recipients(second)) == set(pohjanmaa)


def test_a_partner_that_lost_house_status_cannot_snapshot_an_own_marketing_segment(
    world: World,
) -> None:
    world.add_members(6)
    cid = world.start("own_post")
    with session_scope(world.engine) as session:
        session.execute(update(Partner).where(Partner.name == OWN).values(house=False))

    step = world.snapshot(cid)

    assert step.failed is not None
    assert "is for own_marketing, but Osuuskauppa is a partner" in step.failed
    assert world.recipients(cid) == {}
    assert world.status(cid) == CampaignStatus.FAILED.value


@pytest.mark.parametrize(
    "doctored",
    [
        pytest.param({"purpose": "partner_marketing"}, id="purpose"),
        pytest.param({"partner": PARTNER}, id="partner"),
    ],
)
def test_a_doctored_campaign_row_cannot_snapshot_an_own_marketing_segment(
    world: World, doctored: dict[str, str]
) -> None:
    world.add_members(6)
    cid = world.start("own_post")
    with session_scope(world.engine) as session:
        values: dict[str, object] = {}
        if "purpose" in doctored:
            values["purpose"] = doctored["purpose"]
        if "partner" in doctored:
            values["partner_id"] = session.scalar(
                select(Partner.id).where(Partner.name == doctored["partner"])
            )
        session.execute(update(Campaign).where(Campaign.id == cid).values(**values))

    step = world.snapshot(cid)

    assert step.failed is not None
    assert f"campaign {cid}: " in step.failed
    assert "own_marketing" in step.failed
    assert world.recipients(cid) == {}
    with session_scope(world.engine) as session:
        campaign = cs.get(session, cid)
        assert campaign.status == CampaignStatus.FAILED.value
        assert campaign.batch_count == 0
