"""Accuracy on the 20,000-member demo register: the noisy counts stay within the error
bound that each release documents (``error95``) in at least 95 % of draws.

The exact counts are those of a campaign to every member of the demo register (seed
1, as ``dispatch demo`` makes it); the noise is drawn exactly as a release draws it
(:func:`dispatch.reports.services.report_vector` and ``lift_vector`` give the vector
and its sensitivity, the costs are the releases'), 400 times each, from OpenDP's
unseeded sampler. The bound's true coverage is at least 96 % for every cost and
mechanism used (it is a quantile of the noise, rounded up), so over the 15,200
counts drawn the observed share falls under 95 % with negligible probability.
The same check on the 3.7M bench register is in bench/reports.py (bench/RESULTS.md).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, insert, select

from dispatch.campaigns.models import Campaign, CampaignRecipient
from dispatch.campaigns.snapshot import segment_hash
from dispatch.creatives import services as creatives
from dispatch.db.engine import make_engine, session_scope
from dispatch.register.models import MemberFacts
from dispatch.register.seed import SeedOptions, seed_register
from dispatch.reports import counts as exact
from dispatch.reports import disclosure as dc
from dispatch.reports import services
from dispatch.reports.models import ReportKind
from tests.factories import TEST_SECRET

DRAWS = 400
CREATIVE = Path(__file__).resolve().parents[2] / "templates/creatives/nordic-air-spring"
AS_OF = dt.date(2026, 11, 15)


@pytest.fixture(scope="module")
def demo_register(
    tmp_path_factory: pytest.TempPathFactory, sqlite_template: object
) -> Iterator[Engine]:
    import shutil

    path = tmp_path_factory.mktemp("accuracy") / "demo.db"
    shutil.copyfile(str(sqlite_template), path)
    engine = make_engine(f"sqlite:///{path}")
    seed_register(engine, SeedOptions(members=20_000, seed=1, as_of=AS_OF), secret_key=TEST_SECRET)
    yield engine
    engine.dispose()


def _everyone(engine: Engine) -> Campaign:
    """A completed post campaign to every member, a tenth of them held out."""
    with session_scope(engine) as session:
        partner = creatives.create_partner(session, "Accuracy Oy")
        version = creatives.submit(session, partner.name, CREATIVE)
        source = "name: everyone\n"
        campaign = Campaign(
            reference="accuracy",
            partner_id=partner.id,
            creative_version_id=version.id,
            channel="post",
            purpose="partner_marketing",
            segment_name="everyone",
            segment_path="everyone.yaml",
            segment_source=source,
            segment_sha256=segment_hash(source),
            status="completed",
            created_by="test",
            snapshot_at=dt.datetime(2026, 11, 16, tzinfo=dt.UTC),
        )
        session.add(campaign)
        session.flush()
        ids = session.scalars(select(MemberFacts.id).order_by(MemberFacts.id)).all()
        session.execute(
            insert(CampaignRecipient),
            [
                {
                    "campaign_id": campaign.id,
                    "member_id": m,
                    "batch_no": -1 if m % 10 == 0 else 0,
                    "status": "held_out" if m % 10 == 0 else "delivered",
                }
                for m in ids
            ],
        )
        session.expunge(campaign)
        return campaign


def _inside(
    values: list[int], sensitivity: int, cost: float, controls: dc.Controls
) -> tuple[int, int]:
    """How many of DRAWS releases' counts fell within their bound, of how many."""
    inside = total = 0
    for _ in range(DRAWS):
        noisy = dc.add_noise(
            values, sensitivity, cost, controls, delta=services.release_delta(controls)
        )
        pairs = zip(noisy.values, values, strict=True)
        inside += sum(abs(a - b) <= noisy.error95 for a, b in pairs)
        total += len(values)
    return inside, total


@pytest.mark.slow
@pytest.mark.parametrize("mechanism", ["laplace", "gaussian"])
def test_noisy_counts_stay_within_the_documented_bound(
    demo_register: Engine, mechanism: str
) -> None:
    controls = dc.Controls(mechanism=mechanism)
    with session_scope(demo_register) as session:
        campaign = session.scalar(select(Campaign).where(Campaign.reference == "accuracy"))
        if campaign is None:
            campaign = _everyone(demo_register)
        found = exact.campaign_counts(session, session.get_one(Campaign, campaign.id))
        lifted = exact.lift_counts(session, session.get_one(Campaign, campaign.id), "x", AS_OF)
    _, values, sensitivity = services.report_vector("post", found)
    assert found.reached > 15_000 and len(values) == 31  # the register, all breakdowns
    lift_values, lift_sensitivity = services.lift_vector(lifted)
    results = {
        "report": _inside(values, sensitivity, services.COSTS[ReportKind.REPORT], controls),
        "lift": _inside(lift_values, lift_sensitivity, services.COSTS[ReportKind.LIFT], controls),
        "estimate": _inside([found.reached], 1, services.COSTS[ReportKind.ESTIMATE], controls),
    }
    # Pooled (15,200 counts): the share inside the bound has a standard error of about
    # 0.0015, a sixth of the gap between the bound's true coverage and 95 %.
    inside = sum(i for i, _ in results.values())
    total = sum(t for _, t in results.values())
    assert inside / total >= 0.95, results
