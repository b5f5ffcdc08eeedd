"""After the hand-off: acknowledgements, retention and returned mail (campaigns.upkeep).

A real post campaign goes through the in-process worker into a local outbox; the print
house answers with its own tool (``printhouse ack``, ``printhouse returns``) as it would
in production, and :func:`upkeep` does the dispatcher's side.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from dispatch import batchformat as bf
from dispatch.campaigns import faults
from dispatch.campaigns import services as campaigns
from dispatch.campaigns.models import CampaignBatch, CampaignRecipient
from dispatch.campaigns.upkeep import (
    EXPIRED,
    REPORT_ACTION,
    RETURNED_ACTION,
    RETURNED_BEFORE_MOVE_ACTION,
    upkeep,
)
from dispatch.config import load_settings
from dispatch.creatives import services as creatives
from dispatch.db.engine import session_scope
from dispatch.db.types import Channel, Decision, Purpose, utcnow
from dispatch.errors import OperationError
from dispatch.jobs import tasks, worker
from dispatch.register.feed import import_feed
from dispatch.register.models import AuditEntry, Member
from dispatch.transports.factory import outbox_from_url
from dispatch.transports.outbox import LocalOutbox, Outbox
from printhouse.store import LocalStore
from tests import factories
from tests.conftest import CliResult, fake_aws_credentials, free_port, need_service
from tests.factories import TEST_SECRET
from tests.printhouse.scenario import printhouse

PARTNER = "Osuuskauppa"
CREATIVE = "templates/creatives/nordic-air-spring"


def _segment(folder: Path, channel: str) -> Path:
    path = folder / f"ostrobothnia-{channel}.yaml"
    path.write_text(
        f"name: ostrobothnia-{channel}\n"
        "description: Swedish speakers in Pohjanmaa\n"
        "purpose: own_marketing\n"
        f"channel: {channel}\n"
        "where:\n  all:\n    - language: sv\n    - region: Pohjanmaa\n",
        encoding="utf-8",
    )
    return path


@dataclass
class World:
    engine: Engine
    outbox: LocalOutbox
    folder: Path
    members: list[int]
    version_id: int

    @property
    def url(self) -> str:
        return self.outbox.url

    def run(self, channel: str) -> int:
        """Create, approve and schedule a campaign, then run the worker to the end."""
        with session_scope(self.engine) as s:
            campaign = campaigns.create(
                s,
                partner=PARTNER,
                creative_version_id=self.version_id,
                segment_path=_segment(self.folder, channel),
                channel=channel,
                actor="anna",
                min_partner_audience=1,
                holdout_percent=0,
            )
            campaigns.approve(s, campaign, "bob", min_partner_audience=1)
            campaigns.schedule(s, campaign)
            campaign_id = campaign.id
        tasks.jobs().send_snapshot(campaign_id)
        worker.run_inprocess()
        with session_scope(self.engine) as s:
            campaign = campaigns.get(s, campaign_id)
            assert campaign.recipient_count, (
                campaign.status,
                campaign.failure,
                campaign.snapshot_stats,
            )
        return campaign_id

    def batch(self, campaign_id: int, number: int = 0) -> CampaignBatch:
        with session_scope(self.engine) as s:
            return s.execute(
                select(CampaignBatch).where(
                    CampaignBatch.campaign_id == campaign_id, CampaignBatch.number == number
                )
            ).scalar_one()

    def recipients(self, campaign_id: int) -> dict[int, CampaignRecipient]:
        with session_scope(self.engine) as s:
            rows = s.scalars(
                select(CampaignRecipient).where(CampaignRecipient.campaign_id == campaign_id)
            )
            return {r.member_id: r for r in rows}

    def member(self, member_id: int) -> Member:
        with session_scope(self.engine) as s:
            return s.get_one(Member, member_id)


@pytest.fixture
def world(
    env: dict[str, str], engine: Engine, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[World]:
    _, recipient = bf.generate_identity()
    monkeypatch.setenv("DISPATCH_PRINTHOUSE_RECIPIENT", recipient)
    # Upkeep runs inside the sweep too; these tests call it themselves, with a clock.
    monkeypatch.setattr("dispatch.campaigns.upkeep.upkeep", lambda *a, **k: _no_upkeep())
    settings = load_settings()
    outbox = outbox_from_url(settings.outbox_url)
    assert isinstance(outbox, LocalOutbox)
    with session_scope(engine) as s:
        members = [
            factories.member(s, language="sv", region="Pohjanmaa", first_name="Elsa").id
            for _ in range(3)
        ]
        factories.member(s, language="fi", region="Uusimaa")  # not in the segment
        for member_id in members:
            factories.set_consent(
                s, s.get_one(Member, member_id), Purpose.OWN_MARKETING, Channel.EMAIL,
                Decision.GRANTED,
            )  # fmt: skip
        creatives.create_partner(s, PARTNER, house=True)
        version = creatives.submit(s, PARTNER, CREATIVE)
        creatives.approve(s, version.id, "anna")
        version_id = version.id
    yield World(engine, outbox, tmp_path, members, version_id)
    tasks.reset_runtime()


def _no_upkeep() -> Any:
    from dispatch.campaigns.upkeep import UpkeepResult

    return UpkeepResult()


def report_returns(world: World, rows: list[tuple[str, int, str]]) -> str:
    """Report returned letters with the print house's own tool; the report's name."""
    path = world.folder / f"returns-{len(world.outbox.list_returns())}.csv"
    lines = ["batch_id,sequence_no,reason", *(f"{b},{n},{r}" for b, n, r in rows)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    before = set(world.outbox.list_returns())
    done = printhouse("returns", str(path), "--outbox", world.url)
    assert done.code == 0, done.err
    (name,) = set(world.outbox.list_returns()) - before
    return name


class Flaky:
    """An outbox that fails one named method once, then behaves."""

    def __init__(self, inner: Outbox, method: str) -> None:
        self.inner = inner
        self.method = method
        self.failed = False

    def __getattr__(self, name: str) -> Any:
        real = getattr(self.inner, name)
        if name != self.method or self.failed:
            return real

        def fail(*args: Any, **kwargs: Any) -> Any:
            self.failed = True
            raise OperationError(f"{name}: store unreachable")

        return fail


# -- acknowledgements and retention ------------------------------------------------------


def test_acknowledged_batch_is_deleted_from_the_outbox_and_recorded(world: World) -> None:
    campaign_id = world.run("post")
    batch = world.batch(campaign_id)
    assert batch.outbox_id and batch.handed_off_at and batch.letters == 3
    assert world.outbox.list_complete() == [batch.outbox_id]

    assert upkeep(world.engine, world.outbox).acknowledged == 0  # not yet acknowledged
    assert world.outbox.list_complete() == [batch.outbox_id]

    acked = printhouse("ack", batch.outbox_id, "--outbox", world.url)
    assert acked.code == 0, acked.err
    result = upkeep(world.engine, world.outbox)

    assert (result.acknowledged, result.expired) == (1, 0)
    assert world.outbox.list_batches() == []
    after = world.batch(campaign_id)
    assert after.acknowledged_at is not None and after.deleted_at is not None
    assert after.last_error is None
    again = upkeep(world.engine, world.outbox)
    assert again.changed == 0
    assert world.batch(campaign_id).deleted_at == after.deleted_at


def test_fewer_letters_accepted_than_sent_is_recorded_for_staff(world: World) -> None:
    campaign_id = world.run("post")
    outbox_id = world.batch(campaign_id).outbox_id or ""
    assert printhouse("ack", outbox_id, "--outbox", world.url, "--letters", "2").code == 0

    assert upkeep(world.engine, world.outbox).acknowledged == 1
    batch = world.batch(campaign_id)
    assert batch.deleted_at is not None
    assert batch.last_error == "print house accepted 2 of 3 letters"


def test_acknowledgement_survives_a_failed_delete(world: World) -> None:
    campaign_id = world.run("post")
    outbox_id = world.batch(campaign_id).outbox_id or ""
    assert printhouse("ack", outbox_id, "--outbox", world.url).code == 0

    with pytest.raises(OperationError):
        upkeep(world.engine, Flaky(world.outbox, "delete"))
    half = world.batch(campaign_id)
    assert half.acknowledged_at is not None and half.deleted_at is None

    result = upkeep(world.engine, world.outbox)
    assert result.acknowledged == 0  # recorded already; only the delete was left
    assert world.outbox.list_batches() == []
    assert world.batch(campaign_id).deleted_at is not None


def test_unacknowledged_batch_is_deleted_after_its_delete_by(world: World) -> None:
    campaign_id = world.run("post")
    outbox_id = world.batch(campaign_id).outbox_id or ""
    manifest = bf.Manifest.parse(world.outbox.get(outbox_id, bf.MANIFEST))

    early = upkeep(world.engine, world.outbox, now=manifest.delete_by - dt.timedelta(minutes=1))
    assert early.expired == 0 and world.outbox.list_batches() == [outbox_id]

    late = upkeep(world.engine, world.outbox, now=manifest.delete_by + dt.timedelta(seconds=1))
    assert late.expired == 1 and late.acknowledged == 0
    assert world.outbox.list_batches() == []
    batch = world.batch(campaign_id)
    assert batch.deleted_at is not None and batch.acknowledged_at is None
    assert batch.last_error == EXPIRED
    assert upkeep(world.engine, world.outbox, now=manifest.delete_by + dt.timedelta(days=1)) == (
        type(late)()
    )


def test_batch_that_vanished_from_the_outbox_is_recorded_once(world: World) -> None:
    campaign_id = world.run("post")
    world.outbox.delete(world.batch(campaign_id).outbox_id or "")

    assert upkeep(world.engine, world.outbox).vanished == 1
    batch = world.batch(campaign_id)
    assert batch.deleted_at is not None and batch.last_error
    assert upkeep(world.engine, world.outbox).vanished == 0


# -- returned mail -----------------------------------------------------------------------


def test_returned_letter_marks_the_address_and_is_audited(world: World) -> None:
    campaign_id = world.run("post")
    outbox_id = world.batch(campaign_id).outbox_id or ""
    by_seq = {r.sequence_no or 0: m for m, r in world.recipients(campaign_id).items()}
    assert sorted(by_seq) == [1, 2, 3]
    returned = by_seq[2]

    name = report_returns(world, [(outbox_id, 2, "moved")])
    # The print house's tool refuses letters a batch does not have; a report written
    # by other means must not mark anyone either.
    stray = bf.returns_to_bytes(
        [
            bf.ReturnedLetter(outbox_id, 99, "unknown_address"),  # no such letter in the batch
            bf.ReturnedLetter("zz0000000000-00001", 1, "refused"),  # not one of our batches
        ],
        utcnow(),
    )
    LocalStore(world.outbox.root).write_return("00000000T000000000000Z.json", stray)
    result = upkeep(world.engine, world.outbox)

    assert (result.reports, result.returned) == (2, 1)
    assert (result.unknown_sequence, result.unknown_batch) == (1, 1)
    assert world.member(returned).address_status == "returned"
    assert {world.member(m).address_status for m in world.members if m != returned} == {
        "deliverable"
    }
    assert world.outbox.list_returns() == []  # consumed
    with session_scope(world.engine) as s:
        entries = s.scalars(select(AuditEntry).where(AuditEntry.actor == "printhouse")).all()
        by_action = {e.action: e for e in entries}
        assert set(by_action) == {RETURNED_ACTION, REPORT_ACTION}
        [mark] = [e for e in entries if e.action == RETURNED_ACTION]
        assert (mark.member_id, mark.reason) == (returned, "moved")
        assert mark.detail == {
            "campaign_id": campaign_id,
            "batch": outbox_id,
            "sequence_no": 2,
            "report": name,
        }
        reports = [e for e in entries if e.action == REPORT_ACTION]
        assert {e.member_id for e in reports} == {None}
        assert {e.reason for e in reports} == {name, "00000000T000000000000Z.json"}

    # The next post campaign leaves the member out; an e-mail one does not.
    post_again = world.recipients(world.run("post"))
    assert set(post_again) == set(world.members) - {returned}
    email = world.recipients(world.run("email"))
    assert set(email) == set(world.members)
    assert email[returned].status == "delivered"


def test_a_report_is_processed_once_even_if_its_deletion_fails(world: World) -> None:
    campaign_id = world.run("post")
    outbox_id = world.batch(campaign_id).outbox_id or ""
    returned = next(m for m, r in world.recipients(campaign_id).items() if r.sequence_no == 1)
    report_returns(world, [(outbox_id, 1, "moved")])

    with pytest.raises(OperationError):
        upkeep(world.engine, Flaky(world.outbox, "delete_return"))
    assert world.member(returned).address_status == "returned"
    assert len(world.outbox.list_returns()) == 1  # committed, not yet deleted

    # Meanwhile the member's address was corrected and marked deliverable again:
    # seeing the same report a second time must not undo that.
    with session_scope(world.engine) as s:
        s.get_one(Member, returned).address_status = "deliverable"
    result = upkeep(world.engine, world.outbox)

    assert (result.reports, result.already_processed, result.returned) == (0, 1, 0)
    assert world.outbox.list_returns() == []
    assert world.member(returned).address_status == "deliverable"
    with session_scope(world.engine) as s:
        marks = s.scalars(select(AuditEntry).where(AuditEntry.action == RETURNED_ACTION)).all()
        assert len(marks) == 1


def test_a_malformed_report_is_counted_and_left_for_an_operator(world: World) -> None:
    folder = world.outbox.root / bf.RETURNS_DIR
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "20260101T000000000000Z.json").write_bytes(b"{not json")

    result = upkeep(world.engine, world.outbox)
    assert (result.bad_reports, result.reports) == (1, 0)
    assert world.outbox.list_returns() == ["20260101T000000000000Z.json"]


def test_a_new_address_from_the_feed_makes_the_member_deliverable_again(
    world: World, tmp_path: Path
) -> None:
    campaign_id = world.run("post")
    outbox_id = world.batch(campaign_id).outbox_id or ""
    moved, stayed = (
        next(m for m, r in world.recipients(campaign_id).items() if r.sequence_no == n)
        for n in (1, 2)
    )
    report_returns(world, [(outbox_id, 1, "moved"), (outbox_id, 2, "unknown_address")])
    assert upkeep(world.engine, world.outbox).returned == 2
    first, second = world.member(moved), world.member(stayed)

    feed = tmp_path / "feed"
    feed.mkdir()
    header = "card_number,first_name,last_name,language,street,postcode,post_town"
    (feed / "members.csv").write_text(
        f"{header}\n"
        f"{first.card_number},Elsa,{first.last_name},sv,Storgatan 5,65100,VASA\n"
        # The same address again (only the name changes): still returned.
        f"{second.card_number},Elsa,Ny{second.last_name},sv,{second.street},"
        f"{second.postcode},{second.post_town}\n",
        encoding="utf-8",
    )
    report = import_feed(world.engine, feed, secret_key=TEST_SECRET)
    assert report.ok, report.problems

    assert world.member(moved).address_status == "deliverable"
    assert world.member(moved).street == "Storgatan 5"
    assert world.member(stayed).address_status == "returned"
    assert set(world.recipients(world.run("post"))) == set(world.members) - {stayed}


def test_feed_giving_address_status_explicitly_wins(world: World, tmp_path: Path) -> None:
    with session_scope(world.engine) as s:
        m = s.get_one(Member, world.members[0])
        m.address_status = "returned"
        card, last = m.card_number, m.last_name
    feed = tmp_path / "feed"
    feed.mkdir()
    (feed / "members.csv").write_text(
        "card_number,first_name,last_name,language,street,address_status\n"
        f"{card},Elsa,{last},sv,Uusi katu 1,returned\n",
        encoding="utf-8",
    )
    assert import_feed(world.engine, feed, secret_key=TEST_SECRET).ok
    assert world.member(world.members[0]).address_status == "returned"


def test_member_export_lists_the_campaign_and_the_segment_that_chose_them(
    world: World, cli: Callable[..., CliResult]
) -> None:
    campaign_id = world.run("post")
    member_id = world.members[0]

    done = cli("member", "export", str(member_id), "--as", "maija.staff")
    assert done.code == 0, done.err
    (entry,) = json.loads(done.out)["campaigns"]

    with session_scope(world.engine) as s:
        campaign = campaigns.get(s, campaign_id)
        sha = campaign.segment_sha256
    assert entry["campaign_id"] == campaign_id
    assert entry["partner"] == PARTNER
    assert entry["creative"] == {"name": "nordic-air-spring", "version": 1}
    assert (entry["channel"], entry["purpose"]) == ("post", "own_marketing")
    assert entry["segment"] == {"name": "ostrobothnia-post", "sha256": sha}
    assert (entry["outcome"], entry["reached"]) == ("delivered", True)
    assert entry["at"]


# -- the worker's sweep ------------------------------------------------------------------


def test_sweep_runs_upkeep_and_survives_an_outbox_error(
    world: World, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    calls: list[str] = []

    def fake(engine: Engine, outbox: Outbox, *, now: dt.datetime | None = None) -> Any:
        calls.append(outbox.url)
        raise OperationError("store unreachable")

    monkeypatch.setattr("dispatch.campaigns.upkeep.upkeep", fake)
    found = worker.sweep(tasks.jobs(), tasks.runtime())
    assert found.sent == 0
    assert calls == [world.url]
    assert "outbox upkeep failed" in caplog.text

    calls.clear()
    worker.sweep(tasks.jobs(), tasks.runtime(), campaign_id=1)
    assert calls == []  # a one-campaign sweep (campaign start) leaves upkeep alone


def test_sweep_upkeep_deletes_an_acknowledged_batch(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    campaign_id = world.run("post")
    outbox_id = world.batch(campaign_id).outbox_id or ""
    assert printhouse("ack", outbox_id, "--outbox", world.url).code == 0
    monkeypatch.setattr("dispatch.campaigns.upkeep.upkeep", upkeep)  # the real one again

    worker.sweep(tasks.jobs(), tasks.runtime())
    assert world.outbox.list_batches() == []
    assert world.batch(campaign_id).deleted_at is not None


# -- the S3 outbox -----------------------------------------------------------------------


def test_s3_returns_reports_are_consumed_and_deleted(
    engine: Engine, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    from moto.server import ThreadedMotoServer

    from dispatch.transports.outbox_s3 import S3Outbox

    fake_aws_credentials(monkeypatch)
    port = free_port()
    server: Any = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    try:
        server.start()
    except Exception as exc:
        need_service("moto S3 server", str(exc).splitlines()[0])
    try:
        outbox = S3Outbox("print", "outbox", endpoint_url=f"http://127.0.0.1:{port}")
        outbox._client.create_bucket(Bucket="print")
        report = bf.returns_to_bytes(
            [bf.ReturnedLetter("zz0000000000-00001", 1, "moved")], utcnow()
        )
        outbox._client.put_object(Bucket="print", Key="outbox/returns/r1.json", Body=report)
        assert outbox.list_returns() == ["r1.json"]

        result = upkeep(engine, outbox)

        assert (result.reports, result.unknown_batch) == (1, 1)
        assert outbox.list_returns() == []
        outbox.delete_return("r1.json")  # already gone: harmless
        assert upkeep(engine, outbox).reports == 0
    finally:
        server.stop()


def test_a_letter_returned_after_the_member_moved_does_not_mark_the_new_address(
    world: World, tmp_path: Path
) -> None:
    campaign_id = world.run("post")
    outbox_id = world.batch(campaign_id).outbox_id or ""
    by_seq = {r.sequence_no or 0: m for m, r in world.recipients(campaign_id).items()}
    mover, stayer = by_seq[1], by_seq[2]
    with session_scope(world.engine) as s:
        m = s.get_one(Member, mover)
        assert m.address_changed_at is None
        row = f"{m.card_number},{m.first_name},{m.last_name},{m.language}"

    # The warehouse feed brings the mover's new address after the hand-off ...
    feed = tmp_path / "feed"
    feed.mkdir()
    (feed / "members.csv").write_text(
        "card_number,first_name,last_name,language,street,postcode,post_town\n"
        f"{row},Uusikatu 5 B 7,33100,TAMPERE\n"
    )
    assert import_feed(world.engine, feed, secret_key=TEST_SECRET).ok
    # ... and then both their letters come back.
    report_returns(world, [(outbox_id, 1, "moved"), (outbox_id, 2, "moved")])
    result = upkeep(world.engine, world.outbox)

    assert (result.returned, result.returned_before_move) == (1, 1)
    assert world.member(mover).address_status == "deliverable"
    assert world.member(stayer).address_status == "returned"
    with session_scope(world.engine) as s:
        noted = s.scalars(
            select(AuditEntry).where(AuditEntry.action == RETURNED_BEFORE_MOVE_ACTION)
        ).one()
        assert (noted.member_id, noted.reason) == (mover, "moved")
    # Post to the new address goes on; to the returned one it stops.
    post_again = world.recipients(world.run("post"))
    assert mover in post_again and stayer not in post_again


def test_s3_acknowledgements_are_found_with_one_listing_per_sweep(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    from moto.server import ThreadedMotoServer

    from dispatch.transports.outbox_s3 import S3Outbox

    # Three batches handed off to the local outbox, copied as they are to S3.
    outbox_ids = [world.batch(world.run("post")).outbox_id or "" for _ in range(3)]
    fake_aws_credentials(monkeypatch)
    port = free_port()
    server: Any = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    try:
        server.start()
    except Exception as exc:
        need_service("moto S3 server", str(exc).splitlines()[0])
    try:
        # moto keeps its buckets per process, across servers: a bucket of its own.
        bucket = f"print-{uuid.uuid4().hex[:12]}"
        s3 = S3Outbox(bucket, "outbox", endpoint_url=f"http://127.0.0.1:{port}")
        s3._client.create_bucket(Bucket=bucket)
        for outbox_id in outbox_ids:
            pdf, manifest, signature = (
                world.outbox.get(outbox_id, name)
                for name in (bf.ENCRYPTED_PDF, bf.MANIFEST, bf.SIGNATURE)
            )
            s3.put_batch(outbox_id, pdf, manifest, signature)
        acked = outbox_ids[1]
        assert printhouse("ack", acked, "--outbox", world.url).code == 0
        s3.write_ack(acked, world.outbox.read_ack(acked) or b"")
        calls: list[str] = []
        s3._client.meta.events.register(
            "before-call.s3", lambda model, **_: calls.append(model.name)
        )

        result = upkeep(world.engine, s3, now=utcnow())

        assert result.acknowledged == 1
        assert s3.list_batches() == sorted(set(outbox_ids) - {acked})
        # One listing first; then a look at the one ACK it found, none per other batch
        # (they are only read for their manifest's delete_by).
        assert calls[0] == "ListObjectsV2"
        assert calls.count("HeadObject") == 1
    finally:
        server.stop()


def test_a_move_while_the_batch_is_rendered_does_not_mark_the_new_address(
    world: World, tmp_path: Path
) -> None:
    """The letters carry the addresses read before rendering; the feed brings a new
    address after that read but before the hand-off (a large batch renders and uploads
    for minutes). The letter that comes back went to the old address."""
    mover = world.members[0]
    with session_scope(world.engine) as s:
        m = s.get_one(Member, mover)
        row = f"{m.card_number},{m.first_name},{m.last_name},{m.language}"
    feed = tmp_path / "feed"
    feed.mkdir()
    (feed / "members.csv").write_text(
        "card_number,first_name,last_name,language,street,postcode,post_town\n"
        f"{row},Uusikatu 5 B 7,33100,TAMPERE\n"
    )
    moves: list[bool] = []

    def the_member_moves() -> None:
        if not moves:
            moves.append(import_feed(world.engine, feed, secret_key=TEST_SECRET).ok)

    with faults.inject("rendered", the_member_moves):
        campaign_id = world.run("post")
    assert moves == [True]
    batch = world.batch(campaign_id)
    letters = world.recipients(campaign_id)
    assert world.member(mover).address_changed_at > (batch.addresses_read_at or batch.handed_off_at)
    assert world.member(mover).address_changed_at < batch.handed_off_at

    report_returns(world, [(batch.outbox_id or "", letters[mover].sequence_no or 0, "moved")])
    result = upkeep(world.engine, world.outbox)

    assert (result.returned, result.returned_before_move) == (0, 1)
    assert world.member(mover).address_status == "deliverable"
