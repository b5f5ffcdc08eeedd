"""A post campaign end to end: every delivered member is one letter in one batch."""

from __future__ import annotations

import json

from dispatch import batchformat as bf
from dispatch.campaigns.models import BatchStatus, CampaignStatus
from dispatch.db.engine import session_scope
from dispatch.db.types import Channel, Decision, Purpose
from dispatch.register.models import Member
from tests import factories
from tests.campaigns.conftest import BATCH_SIZE, World


def test_every_delivered_member_is_one_letter_in_one_complete_batch(world: World) -> None:
    members = world.add_members(45)
    objected = members[:3]
    for member_id in objected:
        world.object(member_id)
    with session_scope(world.engine) as session:
        swede = factories.member(session, language="sv", first_name="Åsa").id

    cid = world.start()
    world.run_all(cid)

    assert world.status(cid) == CampaignStatus.COMPLETED.value
    printed = world.printed()
    letters = [m for batch in printed.values() for m in batch]
    delivered = world.with_status(cid, "delivered")
    assert len(letters) == len(set(letters)) == 43
    assert set(letters) == delivered == (set(members) - set(objected)) | {swede}
    batches = world.batches(cid)
    assert len(batches) == -(-43 // BATCH_SIZE)
    assert {b.outbox_id for b in batches} == set(printed)
    for batch in batches:
        assert batch.status == BatchStatus.DONE.value
        assert batch.letters == len(printed[batch.outbox_id])
        assert batch.claim_token is None
        assert batch.handed_off_at is not None


def test_manifest_names_no_member_and_no_reason(world: World) -> None:
    members = world.add_members(25)
    cid = world.start()
    world.run_all(cid)

    with session_scope(world.engine) as session:
        rows = [session.get_one(Member, m) for m in members]
        personal = (
            {r.last_name for r in rows} | {r.street for r in rows} | {r.card_number for r in rows}
        )
    box = world.outbox
    for batch_id in box.list_complete():
        raw = box.get(batch_id, bf.MANIFEST)
        doc = json.loads(raw)
        assert set(doc) == bf.MANIFEST_FIELDS
        text = raw.decode()
        assert not any(value in text for value in personal)
        assert "member" not in text
        assert "own_marketing" not in text and "test-own-post" not in text
        assert str(cid) != doc["campaign_ref"]


def test_report_reconciles_delivered_suppressed_and_failed(world: World) -> None:
    members = world.add_members(30)
    cid = world.dispatching()
    world.object(members[0])
    with session_scope(world.engine) as session:
        factories.set_consent(
            session,
            session.get_one(Member, members[1]),
            Purpose.OWN_MARKETING,
            Channel.POST,
            Decision.REFUSED,
        )
        # A street the letter's address box cannot print: this letter fails alone.
        session.get_one(Member, members[2]).street = "Katu 1 \u0007"

    assert world.finish(cid) == CampaignStatus.COMPLETED.value

    report = world.report(cid)
    total = report.total
    assert report.reconciled
    assert total.in_flight == 0
    assert total.snapshot == 30
    assert dict(total.suppressed) == {"objection": 1, "consent_refused": 1}
    assert sum(total.failed.values()) == 1
    assert next(iter(total.failed)).startswith("unprintable")
    assert total.delivered == 27 == len(set(w for w in _letters(world)))
    assert total.snapshot == total.delivered + sum(total.suppressed.values()) + sum(
        total.failed.values()
    )


def _letters(world: World) -> list[int]:
    return [m for batch in world.printed().values() for m in batch]
