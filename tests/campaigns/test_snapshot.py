"""The snapshot: the policy-filtered members, once each, in batches, frozen."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import event, func, select, update

from dispatch.campaigns import services as cs
from dispatch.campaigns.models import Campaign, CampaignBatch, CampaignRecipient, CampaignStatus
from dispatch.campaigns.snapshot import frozen_segment
from dispatch.db.engine import session_scope
from dispatch.db.types import Channel, Decision, Purpose, SuppressionReason
from dispatch.register.models import Member
from dispatch.segmenting import services as segments
from dispatch.segmenting.compiler import CompiledSegment
from tests import factories
from tests.campaigns.conftest import BATCH_SIZE, OWN, PARTNER, World, segment_text


def _blocked_members(world: World) -> dict[str, int]:
    """One member per policy rule that a post campaign must leave out."""
    with session_scope(world.engine) as session:
        objected = factories.member(session)
        factories.set_consent(
            session, objected, Purpose.DIRECT_MARKETING, Channel.ANY, Decision.OBJECTED
        )
        refused = factories.member(session)
        factories.set_consent(
            session, refused, Purpose.OWN_MARKETING, Channel.POST, Decision.REFUSED
        )
        deceased = factories.member(session)
        factories.suppress(session, deceased, SuppressionReason.DECEASED)
        return {
            "objection": objected.id,
            "consent_refused": refused.id,
            "suppressed": deceased.id,
            "minor": factories.member(session, birth_year=2015).id,
            "address": factories.member(session, address_status="returned").id,
            "status": factories.member(session, status="deceased").id,
            "elsewhere": factories.member(session, region="Pohjanmaa").id,
        }


def test_snapshot_is_exactly_the_policy_filtered_members_in_postcode_batches(
    world: World,
) -> None:
    chosen = world.add_members(47)
    blocked = _blocked_members(world)
    cid = world.dispatching()

    with session_scope(world.engine) as session:
        campaign = cs.get(session, cid)
        expected = set(segments.member_ids(session, frozen_segment(campaign)))
        rows = session.execute(
            select(CampaignRecipient.member_id, CampaignRecipient.batch_no, Member.postcode)
            .join(Member, Member.id == CampaignRecipient.member_id)
            .where(CampaignRecipient.campaign_id == cid)
        ).all()
        distinct = session.execute(
            select(func.count(func.distinct(CampaignRecipient.member_id))).where(
                CampaignRecipient.campaign_id == cid
            )
        ).scalar_one()
        batches = list(
            session.scalars(select(CampaignBatch.number).where(CampaignBatch.campaign_id == cid))
        )
        stats = campaign.snapshot_stats
        assert campaign.status == CampaignStatus.DISPATCHING.value
        assert campaign.recipient_count == 47
        assert campaign.batch_count == 3

    assert expected == set(chosen)
    assert {m for m, _, _ in rows} == expected
    assert distinct == len(rows) == 47
    assert sorted(batches) == [0, 1, 2]
    # Batches of BATCH_SIZE, cut from the recipients in (postcode, member id) order.
    in_order = sorted(rows, key=lambda r: (r.postcode, r.member_id))
    assert [r.batch_no for r in in_order] == [i // BATCH_SIZE for i in range(47)]
    assert stats is not None
    assert stats["snapshot"] == 47
    for rule, member_id in blocked.items():
        assert member_id not in expected
        if rule != "elsewhere":
            assert stats["removed"][rule] >= 1, rule


def test_snapshot_uses_the_segment_text_frozen_at_create(world: World) -> None:
    uusimaa = world.add_members(6)
    world.add_members(4, region="Pohjanmaa")
    cid = world.start()
    path = world.segments["own_post"]
    original = path.read_text()
    path.write_text(segment_text("test-own-post", "own_marketing", "post", region="Pohjanmaa"))

    assert world.snapshot(cid).failed is None

    with session_scope(world.engine) as session:
        campaign = cs.get(session, cid)
        assert campaign.segment_source == original
    assert set(world.recipients(cid)) == set(uusimaa)


def test_tampered_frozen_segment_is_refused_and_fails_the_campaign(world: World) -> None:
    world.add_members(6)
    world.add_members(4, region="Pohjanmaa")
    cid = world.start()
    with session_scope(world.engine) as session:
        session.execute(
            update(Campaign)
            .where(Campaign.id == cid)
            .values(
                segment_source=segment_text(
                    "test-own-post", "own_marketing", "post", region="Pohjanmaa"
                )
            )
        )

    step = world.snapshot(cid)

    assert step.failed is not None
    assert "does not match its hash" in step.failed
    assert world.recipients(cid) == {}
    assert world.batches(cid) == []
    with session_scope(world.engine) as session:
        campaign = cs.get(session, cid)
        assert campaign.status == CampaignStatus.FAILED.value
        assert "does not match its hash" in (campaign.failure or "")


def test_partner_campaign_under_the_minimum_audience_fails_without_recipients(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Create and approve count the audience too; members may object after that."""
    monkeypatch.setenv("DISPATCH_MIN_PARTNER_AUDIENCE", "10")
    members = world.add_members(12)
    cid = world.start("partner_post", creative=PARTNER)
    for member_id in members[:3]:
        world.object(member_id)

    step = world.snapshot(cid)

    assert step.batches == []
    assert step.failed == (
        f"campaign {cid}: a partner campaign needs at least 10 recipients; this snapshot has 9"
    )
    assert world.recipients(cid) == {}
    assert world.batches(cid) == []
    with session_scope(world.engine) as session:
        campaign = cs.get(session, cid)
        assert campaign.status == CampaignStatus.FAILED.value
        assert campaign.failure == step.failed
        assert campaign.recipient_count == 0


def test_own_campaign_is_not_held_to_the_partner_minimum(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DISPATCH_MIN_PARTNER_AUDIENCE", "50")
    world.add_members(3)
    cid = world.dispatching("own_post", creative=OWN)
    assert len(world.recipients(cid)) == 3


def test_frequency_cap_excludes_members_reached_on_the_same_channel_only(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DISPATCH_FREQUENCY_CAP", "1")
    finns = world.add_members(8, email_opt_in=True)
    swedes = world.add_members(5, email_opt_in=True, language="sv")
    path = world.segments["own_post"].with_name("swedes-post.yaml")
    path.write_text(segment_text("swedes-post", "own_marketing", "post", language="sv"))
    world.segments["swedes_post"] = path

    first = world.dispatching("swedes_post")
    assert set(world.recipients(first)) == set(swedes)

    second = world.dispatching("own_post")
    third = world.dispatching("partner_email", creative=PARTNER)

    assert set(world.recipients(second)) == set(finns)
    assert set(world.recipients(third)) == set(finns) | set(swedes)
    with session_scope(world.engine) as session:
        stats = cs.get(session, second).snapshot_stats
    assert stats is not None
    assert stats["removed_by_frequency_cap"] == 5
    assert stats["frequency_cap"] == 1


def test_snapshot_selects_its_recipients_under_the_segment_settings(world: World) -> None:
    """The INSERT ... SELECT is planned like a count (segments.SEGMENT_SETTINGS)."""
    chosen = world.add_members(3)
    cid = world.start()
    seen: list[str] = []

    def note(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.startswith("INSERT INTO campaign_recipients"):
            seen.append(conn.exec_driver_sql("SHOW effective_cache_size").scalar())

    postgres = world.engine.dialect.name == "postgresql"
    if postgres:
        event.listen(world.engine, "before_cursor_execute", note)
    try:
        assert world.snapshot(cid).failed is None
    finally:
        if postgres:
            event.remove(world.engine, "before_cursor_execute", note)

    assert set(world.recipients(cid)) == set(chosen)
    if postgres:  # SQLite has no planner settings
        with world.engine.connect() as conn:
            buffers = conn.exec_driver_sql("SHOW shared_buffers").scalar()
            default = conn.exec_driver_sql("SHOW effective_cache_size").scalar()
        assert seen == [buffers] and buffers != default


def test_a_snapshot_taken_again_after_a_window_move_keeps_only_the_last_attempt(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    # segments.run_compiled writes the snapshot again when the purchase rollup window
    # moved meanwhile (tests/segmenting/test_services.py has the race itself): the
    # first attempt's recipients must go, and the count must be the last attempt's.
    chosen = world.add_members(12)
    answers = iter([True, False])
    calls: list[int] = []

    def moved_once(self: CompiledSegment, session: Any) -> bool:
        calls.append(1)
        return next(answers)

    monkeypatch.setattr(CompiledSegment, "window_moved", moved_once)
    cid = world.dispatching()

    assert len(calls) == 2
    with session_scope(world.engine) as session:
        campaign = cs.get(session, cid)
        members = list(
            session.scalars(
                select(CampaignRecipient.member_id).where(CampaignRecipient.campaign_id == cid)
            )
        )
        batches = session.scalar(
            select(func.count()).select_from(CampaignBatch).where(CampaignBatch.campaign_id == cid)
        )
        stats = campaign.snapshot_stats
    assert sorted(members) == sorted(chosen)
    assert batches == campaign.batch_count == -(-12 // BATCH_SIZE)
    assert stats is not None and stats["selected"] == stats["snapshot"] == 12
