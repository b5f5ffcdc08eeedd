"""A small world for campaign tests: a register built with the factories, the two
demo creatives approved, segment files in a temporary folder, a print-house key.

Everything runs on the real components of embedded mode: the in-process broker, a
local outbox and maildir (or an SMTP server) under the test's var folder, and the
dispatcher's signing key created there on first use.
"""

from __future__ import annotations

import io
import random
import re
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pypdfium2 as pdfium
import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from dispatch import batchformat as bf
from dispatch.campaigns import delivery, lifecycle
from dispatch.campaigns import report as reports
from dispatch.campaigns import services as cs
from dispatch.campaigns.models import CampaignBatch, CampaignRecipient
from dispatch.config import load_settings
from dispatch.creatives import services as creatives
from dispatch.db.engine import session_scope
from dispatch.db.types import Channel, Decision, Purpose
from dispatch.jobs import tasks, worker
from dispatch.jobs.queue import after_commit
from dispatch.register.models import Member
from dispatch.transports.keys import public_key_path
from dispatch.transports.outbox import Outbox
from tests import factories

ROOT = Path(__file__).resolve().parents[2]
CREATIVES = ROOT / "templates" / "creatives"
OWN = "Osuuskauppa"
PARTNER = "Nordic Air"
BATCH_SIZE = 20
#: The factories name member N "Testinen<N>", so a printed letter names its member.
NAME = re.compile(r"Testinen(\d+)\b")


def segment_text(
    name: str, purpose: str, channel: str, region: str = "Uusimaa", language: str | None = None
) -> str:
    where = f"    - region: {region}\n" + (f"    - language: {language}\n" if language else "")
    return (
        textwrap.dedent(
            f"""\
        name: {name}
        description: test segment
        purpose: {purpose}
        channel: {channel}
        where:
          all:
        """
        )
        + where
    )


@dataclass
class World:
    """The test's database, settings and named things in them."""

    engine: Engine
    var: Path
    identity: str
    segments: dict[str, Path]
    creative: dict[str, int]
    members: list[int] = field(default_factory=list)

    # -- register -----------------------------------------------------------------------

    def add_members(self, n: int, *, email_opt_in: bool = False, **over: Any) -> list[int]:
        """``n`` deliverable adults in Uusimaa with scattered postcodes."""
        rng = random.Random(len(self.members))
        ids = []
        with session_scope(self.engine) as session:
            for _ in range(n):
                values = {"postcode": f"{rng.randrange(100, 99999):05d}", **over}
                m = factories.member(session, **values)
                if email_opt_in:
                    for purpose in (Purpose.OWN_MARKETING, Purpose.PARTNER_MARKETING):
                        factories.set_consent(session, m, purpose, Channel.EMAIL, Decision.GRANTED)
                ids.append(m.id)
        self.members.extend(ids)
        return ids

    def object(self, member_id: int) -> None:
        """The member objects to all direct marketing, committed now."""
        with session_scope(self.engine) as session:
            m = session.get_one(Member, member_id)
            factories.set_consent(
                session, m, Purpose.DIRECT_MARKETING, Channel.ANY, Decision.OBJECTED
            )

    # -- campaigns ----------------------------------------------------------------------

    def create(self, segment: str = "own_post", *, creative: str = OWN, **kw: Any) -> int:
        """A draft campaign; with no holdout unless asked (delivery tests count everyone)."""
        kw.setdefault("holdout_percent", 0)
        seg = self.segments[segment]
        channel = "email" if "email" in segment else "post"
        partner = OWN if creative == OWN else PARTNER
        with session_scope(self.engine) as session:
            campaign = cs.create(
                session,
                partner=partner,
                creative_version_id=self.creative[creative],
                segment_path=seg,
                channel=kw.pop("channel", channel),
                actor="anna",
                min_partner_audience=kw.pop("min_partner_audience", self.minimum),
                **kw,
            )
            return campaign.id

    def start(self, segment: str = "own_post", *, creative: str = OWN) -> int:
        """Create, approve and schedule a campaign (its snapshot not yet taken)."""
        cid = self.create(segment, creative=creative)
        with session_scope(self.engine) as session:
            campaign = cs.get(session, cid)
            cs.approve(session, campaign, "bob", min_partner_audience=self.minimum)
            cs.schedule(session, campaign)
        return cid

    @property
    def minimum(self) -> int:
        """The partner minimum audience as configured now (DISPATCH_MIN_PARTNER_AUDIENCE)."""
        return load_settings().min_partner_audience

    def snapshot(self, cid: int) -> lifecycle.SnapshotStep:
        s = tasks.runtime().settings
        return lifecycle.run_snapshot(
            self.engine,
            cid,
            batch_size=s.batch_size,
            frequency_cap=s.frequency_cap,
            min_partner_audience=s.min_partner_audience,
        )

    def dispatching(self, segment: str = "own_post", *, creative: str = OWN) -> int:
        """A campaign snapshotted and ready for its batch jobs."""
        cid = self.start(segment, creative=creative)
        step = self.snapshot(cid)
        assert step.failed is None, step.failed
        return cid

    def run_batch(self, cid: int, number: int) -> delivery.BatchOutcome:
        """One batch job: the function the actor calls, with its failure handling (what
        it raises, dramatiq would retry, or not, for a ConfigurationError)."""
        return tasks.batch_job(tasks.runtime(), cid, number)

    def run_all(self, cid: int | None = None) -> None:
        """Run the jobs in this process until nothing is left (as ``campaign start``)."""
        if cid is not None:
            jobs = tasks.jobs()
            with session_scope(self.engine) as session:
                after_commit(session, lambda: jobs.send_snapshot(cid))
        worker.run_inprocess()

    def finish(self, cid: int) -> str:
        """Run every open batch directly, then finalize; the campaign's status."""
        with session_scope(self.engine) as session:
            numbers = delivery.open_batches(session, cid)
        for number in numbers:
            self.run_batch(cid, number)
        return lifecycle.finalize(self.engine, cid)

    # -- looking ------------------------------------------------------------------------

    def recipients(self, cid: int) -> dict[int, tuple[str, str | None]]:
        """member id -> (status, reason)."""
        with session_scope(self.engine) as session:
            rows = session.execute(
                select(
                    CampaignRecipient.member_id, CampaignRecipient.status, CampaignRecipient.reason
                ).where(CampaignRecipient.campaign_id == cid)
            ).all()
        return {m: (s, r) for m, s, r in rows}

    def with_status(self, cid: int, status: str) -> set[int]:
        return {m for m, (s, _) in self.recipients(cid).items() if s == status}

    def batches(self, cid: int) -> list[CampaignBatch]:
        with session_scope(self.engine) as session:
            return list(
                session.scalars(
                    select(CampaignBatch)
                    .where(CampaignBatch.campaign_id == cid)
                    .order_by(CampaignBatch.number)
                )
            )

    def report(self, cid: int) -> reports.Report:
        with session_scope(self.engine) as session:
            return reports.report(session, cs.get(session, cid))

    def status(self, cid: int) -> str:
        with session_scope(self.engine) as session:
            return cs.get(session, cid).status

    @property
    def outbox(self) -> Outbox:
        return tasks.runtime().outbox

    def printed(self, outbox: Outbox | None = None) -> dict[str, list[int]]:
        """What the print house would print: complete batch id -> member per letter.

        Verifies each batch as the print house does (signature with the dispatcher's
        public key, both checksums, page count), then reads each letter's name.
        """
        box = outbox or self.outbox
        public = bf.load_public_key(
            public_key_path(tasks.runtime().settings.signing_key_file).read_bytes()
        )
        found: dict[str, list[int]] = {}
        for batch_id in box.list_complete():
            manifest_bytes = box.get(batch_id, bf.MANIFEST)
            bf.verify_manifest(public, manifest_bytes, box.get(batch_id, bf.SIGNATURE))
            manifest = bf.Manifest.parse(manifest_bytes)
            encrypted = box.get(batch_id, bf.ENCRYPTED_PDF)
            assert bf.sha256(encrypted) == manifest.encrypted_sha256
            pdf = bf.decrypt(encrypted, self.identity)
            assert bf.sha256(pdf) == manifest.pdf_sha256
            found[batch_id] = letters_in(pdf, manifest)
        return found


def letters_in(pdf: bytes, manifest: bf.Manifest) -> list[int]:
    """The member named on each letter of a batch PDF, in print order."""
    pages = manifest.pages_per_letter
    per_letter = list(pages) if isinstance(pages, tuple) else [pages] * manifest.letter_count
    doc = pdfium.PdfDocument(io.BytesIO(pdf))
    try:
        assert len(doc) == sum(per_letter), "page count differs from the manifest"
        texts = []
        for i in range(len(doc)):
            page = doc[i]
            textpage = page.get_textpage()
            texts.append(textpage.get_text_bounded())
            textpage.close()
            page.close()
    finally:
        doc.close()
    members = []
    start = 0
    for count in per_letter:
        names = {int(n) for n in NAME.findall(" ".join(texts[start : start + count]))}
        assert len(names) == 1, f"letter at page {start + 1} names {names}"
        members.append(names.pop())
        start += count
    assert len(members) == manifest.letter_count
    return members


def all_printed(world: World) -> list[int]:
    return [m for letters in world.printed().values() for m in letters]


@pytest.fixture
def world(
    env: dict[str, str], engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[World]:
    identity, recipient = bf.generate_identity()
    monkeypatch.setenv("DISPATCH_PRINTHOUSE_RECIPIENT", recipient)
    monkeypatch.setenv("DISPATCH_BATCH_SIZE", str(BATCH_SIZE))
    monkeypatch.setenv("DISPATCH_MIN_PARTNER_AUDIENCE", "5")
    folder = tmp_path / "segments"
    folder.mkdir()
    segments = {}
    for key, purpose, channel in [
        ("own_post", "own_marketing", "post"),
        ("partner_post", "partner_marketing", "post"),
        ("own_email", "own_marketing", "email"),
        ("partner_email", "partner_marketing", "email"),
    ]:
        path = folder / f"{key.replace('_', '-')}.yaml"
        path.write_text(segment_text(f"test-{key.replace('_', '-')}", purpose, channel))
        segments[key] = path
    with session_scope(engine) as session:
        creative = {
            OWN: _approved(session, OWN, "coop-bicycles"),
            PARTNER: _approved(session, PARTNER, "nordic-air-spring"),
        }
    tasks.reset_runtime()
    made = World(engine, Path(env["DISPATCH_VAR_DIR"]), identity, segments, creative)
    try:
        yield made
    finally:
        tasks.jobs().broker.flush_all()
        tasks.reset_runtime()


def _approved(session: Session, partner: str, bundle: str) -> int:
    creatives.create_partner(session, partner, house=partner == OWN)
    version = creatives.submit(session, partner, CREATIVES / bundle)
    creatives.approve(session, version.id, "anna")
    return version.id
