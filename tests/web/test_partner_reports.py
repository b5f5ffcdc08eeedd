"""The partner's report surfaces: the campaign page with its charts, the API document,
the CSVs and the budget; the same stored numbers everywhere, and only its own."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re

from sqlalchemy import insert, select

from dispatch.campaigns.models import Campaign, CampaignRecipient
from dispatch.creatives import services as creatives
from dispatch.creatives.models import CreativeVersion
from dispatch.db.engine import session_scope
from dispatch.db.types import utcnow
from dispatch.register.hashing import subject_hash
from dispatch.register.models import BonusPurchase, Member
from tests.factories import TEST_SECRET
from tests.reports.noise import near
from tests.web.conftest import PARTNER_A, Site

CONTACTED, HELD_OUT = 1500, 900


def _finished_campaign(site: Site) -> str:
    """Partner A's completed post campaign: 1,500 contacted (a third of whom bought from
    the partner afterwards), 900 held out (a sixth of whom did: 150 responders, far
    enough above k that the noise never hides them)."""
    snapshot = utcnow() - dt.timedelta(days=2)
    members = []
    for i in range(CONTACTED + HELD_OUT):
        card = f"9246555{i:09d}"
        members.append(
            {
                "id": 500_000 + i,
                "card_number": card,
                "subject_hash": subject_hash(TEST_SECRET, card),
                "region": ("Uusimaa", "Pirkanmaa", "Lappi")[i % 3],
                "language": "sv" if i % 4 == 0 else "fi",
                "birth_year": 1950 + i % 50,
                "status": "active",
                "address_status": "deliverable",
            }
        )
    with session_scope(site.engine) as session:
        session.execute(insert(Member), members)
        version = session.scalar(
            select(CreativeVersion).where(CreativeVersion.public_id == site.versions[PARTNER_A])
        )
        assert version is not None
        creatives.set_bonus_code(session, PARTNER_A, "partner_a")
        campaign = Campaign(
            reference="webreports",
            partner_id=version.creative.partner_id,
            creative_version_id=version.id,
            channel="post",
            purpose="partner_marketing",
            segment_name="web-reports",
            segment_path="web-reports.yaml",
            segment_source="name: web-reports\n",
            segment_sha256="0" * 64,
            status="completed",
            created_by="manager",
            snapshot_at=snapshot,
            completed_at=snapshot,
            holdout_bp=3750,
        )
        session.add(campaign)
        session.flush()
        session.execute(
            insert(CampaignRecipient),
            [
                {
                    "campaign_id": campaign.id,
                    "member_id": m["id"],
                    "batch_no": 0 if n < CONTACTED else -1,
                    "status": "delivered" if n < CONTACTED else "held_out",
                }
                for n, m in enumerate(members)
            ],
        )
        buyers = [m["id"] for n, m in enumerate(members) if n % (3 if n < CONTACTED else 6) == 0]
        session.execute(
            insert(BonusPurchase),
            [
                {
                    "member_id": m,
                    "partner_code": "partner_a",
                    "purchased_on": snapshot.date() + dt.timedelta(days=1),
                    "amount": 50,
                }
                for m in buyers
            ],
        )
        return campaign.public_id


def test_page_api_and_csv_show_the_same_released_numbers(site: Site) -> None:
    public_id = _finished_campaign(site)
    viewer, api = site.client("a_viewer"), site.api("a_viewer", scope="read")

    page = viewer.get(f"/partner/campaigns/{public_id}")
    doc = api.get(f"/api/v1/partner/campaigns/{public_id}/reports").json()
    again = api.get(f"/api/v1/partner/campaigns/{public_id}/reports").json()
    rows = list(
        csv.DictReader(io.StringIO(viewer.get(f"/partner/campaigns/{public_id}/report.csv").text))
    )

    assert page.status_code == 200
    assert doc["report"] == again["report"] and doc["lift"] == again["lift"]  # stored answers
    reached = doc["report"]["totals"][0]
    assert reached["name"] == "reached_post" and reached["value"] is not None
    assert near(reached["value"], CONTACTED, doc["report"]["error95"])
    assert reached["text"] in page.text
    assert {"report", "reached_post", "", str(reached["value"]), reached["text"]} <= set(
        next(r for r in rows if r["measure"] == "reached_post").values()
    )
    regions = {c["label"]: c for c in doc["report"]["breakdowns"][0]["cells"]}
    assert regions["Kainuu"]["value"] is None
    # Complementary suppression may hide one of the three big regions too (when the
    # noisy empty cells hold under k together), never two: a breakdown shows two or more.
    big = [regions[r]["value"] for r in ("Uusimaa", "Pirkanmaa", "Lappi")]
    assert sum(v is not None for v in big) >= 2
    assert any(
        r["measure"] == "region" and r["category"] == "Kainuu" and r["shown_as"] == "< 50"
        for r in rows
    )
    # Charts: SVG with every length an attribute (the CSP allows no inline style).
    assert 'id="by-region"' in page.text and 'id="lift"' in page.text
    assert "style=" not in page.text
    lift = doc["lift"]["lift"]
    low, high = lift["interval95"]
    # (Recovering the effect is tests/reports/test_lift.py's; here: shown as released.)
    assert low < lift["difference"] < high
    assert lift["significant"] is (low > 0 or high < 0)
    verdict = "changed behaviour" if lift["significant"] else "told apart from chance"
    assert verdict in page.text
    # The budget shows what the two releases spent, on the page and in the API.
    budget = api.get("/api/v1/partner/budget").json()
    assert budget["budget"]["spent_epsilon"] == 3.0
    assert {r["kind"] for r in budget["releases"]} == {"report", "lift"}
    assert re.search(r"ε 3\.00 in 2 reports", viewer.get("/partner/budget").text)


def test_another_partner_gets_404_and_no_number(site: Site) -> None:
    public_id = _finished_campaign(site)
    for client, url in (
        (site.client("b_viewer"), f"/partner/campaigns/{public_id}/report.csv"),
        (site.api("b_viewer"), f"/api/v1/partner/campaigns/{public_id}/reports"),
        (site.api("b_viewer"), f"/api/v1/partner/campaigns/{public_id}/reports.csv"),
    ):
        response = client.get(url)
        assert response.status_code == 404
        assert str(CONTACTED) not in response.text
    assert site.api("b_viewer").get("/api/v1/partner/budget").json()["releases"] == []
