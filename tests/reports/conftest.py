"""A world for report tests: members written in bulk, campaigns with their recipients
already where delivery would have left them, bonus purchases, one partner.

Delivery itself is tested in tests/campaigns; here a campaign is a row and its
recipients' outcomes, so that a test can build exactly the audience an attack needs.
The data's randomness is seeded; the reports' noise is not (it is the mechanism's).
"""

from __future__ import annotations

import datetime as dt
import itertools
import random
import textwrap
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, insert
from sqlalchemy.orm import Session

from dispatch.campaigns import services as campaigns
from dispatch.campaigns.models import Campaign, CampaignRecipient, CampaignStatus, RecipientStatus
from dispatch.campaigns.snapshot import segment_hash
from dispatch.creatives import services as creatives
from dispatch.db.engine import session_scope
from dispatch.db.types import Decision, utcnow
from dispatch.register.hashing import subject_hash
from dispatch.register.models import BonusPurchase, ConsentEvent, Member
from dispatch.reports import services as reports
from dispatch.reports.disclosure import Controls
from dispatch.reports.models import ReportKind
from tests.factories import TEST_SECRET

ROOT = Path(__file__).resolve().parents[2]
PARTNER = "Nordic Air"
CODE = "nordic_air"
_ids = itertools.count(1_000_000)

SEGMENT = """\
name: {name}
description: report test segment
purpose: partner_marketing
channel: post
where:
  all:
    - region: {region}
"""


@dataclass
class ReportWorld:
    engine: Engine
    folder: Path
    version_id: int
    partner_id: int
    controls: Controls = field(default_factory=Controls)
    rng: random.Random = field(default_factory=lambda: random.Random(19))

    # -- register -----------------------------------------------------------------------

    def members(self, n: int, **over: Any) -> list[int]:
        """``n`` deliverable adults (Uusimaa, Finnish, born 1980 unless told)."""
        rows = []
        for _ in range(n):
            i = next(_ids)
            card = f"9246{i:012d}"
            rows.append(
                {
                    "id": i,
                    "card_number": card,
                    "subject_hash": subject_hash(TEST_SECRET, card),
                    "first_name": "Aino",
                    "last_name": f"Raportti{i}",
                    "street": "Kauppakatu 1",
                    "postcode": "00100",
                    "post_town": "HELSINKI",
                    "municipality": "Helsinki",
                    "region": "Uusimaa",
                    "language": "fi",
                    "birth_year": 1980,
                    "email": f"aino{i}@example.test",
                    "member_since": dt.date(2015, 1, 1),
                    "status": "active",
                    "address_status": "deliverable",
                    "consent_flags": 0,
                    "suppression_flags": 0,
                    **over,
                }
            )
        with session_scope(self.engine) as session:
            session.execute(insert(Member), rows)
        return [r["id"] for r in rows]

    def purchases(self, member_ids: Iterable[int], day: dt.date, code: str = CODE) -> None:
        rows = [
            {"member_id": m, "partner_code": code, "purchased_on": day, "amount": 100}
            for m in member_ids
        ]
        if rows:
            with session_scope(self.engine) as session:
                session.execute(insert(BonusPurchase), rows)

    def decide(self, member_ids: Iterable[int], decision: Decision, at: dt.datetime) -> None:
        rows = [
            {
                "member_id": m,
                "purpose": "direct_marketing",
                "channel": "any",
                "decision": decision.value,
                "recorded_at": at,
                "source": "test",
            }
            for m in member_ids
        ]
        with session_scope(self.engine) as session:
            session.execute(insert(ConsentEvent), rows)

    # -- campaigns ----------------------------------------------------------------------

    def finished(
        self,
        contacted: list[int],
        held_out: Iterable[int] = (),
        *,
        suppressed: Iterable[int] = (),
        returned: Iterable[int] = (),
        snapshot_at: dt.datetime | None = None,
        holdout_percent: float = 10,
    ) -> Campaign:
        """A completed post campaign: ``contacted`` delivered (``suppressed`` not)."""
        snapshot_at = snapshot_at or utcnow() - dt.timedelta(days=1)
        skipped, back = set(suppressed), set(returned)
        with session_scope(self.engine) as session:
            campaign = self._campaign(session, CampaignStatus.COMPLETED, holdout_percent)
            campaign.snapshot_at = snapshot_at
            campaign.started_at = snapshot_at
            campaign.completed_at = snapshot_at
            rows = [
                {
                    "campaign_id": campaign.id,
                    "member_id": m,
                    "batch_no": 0,
                    "status": RecipientStatus.SUPPRESSED.value
                    if m in skipped
                    else RecipientStatus.DELIVERED.value,
                    "reason": "objection" if m in skipped else None,
                    "returned_at": snapshot_at if m in back else None,
                }
                for m in contacted
            ] + [
                {
                    "campaign_id": campaign.id,
                    "member_id": m,
                    "batch_no": -1,
                    "status": RecipientStatus.HELD_OUT.value,
                    "reason": None,
                    "returned_at": None,
                }
                for m in held_out
            ]
            session.execute(insert(CampaignRecipient), rows)
            session.expunge(campaign)
            return campaign

    def draft(self, region: str) -> Campaign:
        """A draft campaign (an estimate's subject) whose segment picks ``region``."""
        path = self.folder / f"segment-{next(_ids)}.yaml"
        path.write_text(SEGMENT.format(name=path.stem, region=region), encoding="utf-8")
        with session_scope(self.engine) as session:
            campaign = campaigns.create(
                session,
                partner=PARTNER,
                creative_version_id=self.version_id,
                segment_path=path,
                channel="post",
                actor="anna",
                # The estimate's own threshold is under test here, not the
                # campaign minimum that refuses a small partner audience at create.
                min_partner_audience=1,
            )
            session.expunge(campaign)
            return campaign

    def _campaign(self, session: Session, status: CampaignStatus, holdout: float) -> Campaign:
        source = textwrap.dedent(SEGMENT.format(name="finished", region="Uusimaa"))
        campaign = Campaign(
            reference=f"ref{next(_ids)}",
            partner_id=self.partner_id,
            creative_version_id=self.version_id,
            channel="post",
            purpose="partner_marketing",
            segment_name="finished",
            segment_path="finished.yaml",
            segment_source=source,
            segment_sha256=segment_hash(source),
            status=status.value,
            created_by="anna",
            holdout_bp=round(holdout * 100),
            holdout_seed=7,
            batch_count=1,
            recipient_count=0,
        )
        session.add(campaign)
        session.flush()
        return campaign

    # -- asking -------------------------------------------------------------------------

    def ask(
        self, campaign: Campaign, kind: ReportKind, now: dt.datetime | None = None
    ) -> dict[str, Any]:
        """What the partner gets (raises ReportRefused), committed like a request."""
        with session_scope(self.engine) as session:
            fresh = session.get_one(Campaign, campaign.id)
            return reports.release(
                session, fresh, kind, controls=self.controls, actor="nordic.viewer", now=now
            )


@pytest.fixture
def report_world(engine: Engine, tmp_path: Path) -> Iterator[ReportWorld]:
    with session_scope(engine) as session:
        partner = creatives.create_partner(session, PARTNER)
        creatives.set_bonus_code(session, PARTNER, CODE)
        version = creatives.submit(session, PARTNER, ROOT / "templates/creatives/nordic-air-spring")
        creatives.approve(session, version.id, "anna")
        version_id, partner_id = version.id, partner.id
    yield ReportWorld(engine, tmp_path, version_id, partner_id)
