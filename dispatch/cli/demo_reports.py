"""The demo after the campaigns: members respond, the partner gets its reports.

The demo plays the partner's bonus system too: after a campaign, some of its
members buy from the partner, the contacted more often than the held out (the
planted effect that the lift report should find). The purchases reach the register
the way real ones do, as a ``bonus_purchases.csv`` feed file loaded by
:func:`dispatch.register.feed.import_feed`.
"""

from __future__ import annotations

import csv
import random
from pathlib import Path
from typing import Any

from rich.console import Console
from sqlalchemy import Engine, select

from dispatch.campaigns.models import Campaign, CampaignRecipient, RecipientStatus
from dispatch.db.engine import session_scope
from dispatch.db.types import utcnow
from dispatch.register import feed
from dispatch.register.models import Member
from dispatch.reports import services as reports
from dispatch.reports.disclosure import Controls

#: Chance that a member buys from the partner in the window: held out and contacted.
BASE_RATE = 0.22
CONTACTED_RATE = 0.34


def respond(
    engine: Engine, campaign_id: int, bonus_code: str, folder: Path, secret_key: str, seed: int
) -> int:
    """Write and import the partner's purchases of the campaign's members; return rows.

    Deterministic for a seed (the demo's own randomness, not the reports' noise).
    Purchases are dated today, the first day of the campaign's response window.
    """
    rng = random.Random(f"demo-responses:{seed}:{campaign_id}")
    with session_scope(engine) as session:
        campaign = session.get_one(Campaign, campaign_id)
        when = (campaign.snapshot_at or utcnow()).date()
        rows = session.execute(
            select(Member.card_number, CampaignRecipient.status)
            .join(Member, Member.id == CampaignRecipient.member_id)
            .where(CampaignRecipient.campaign_id == campaign_id)
            .order_by(CampaignRecipient.member_id)
        ).all()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "bonus_purchases.csv"
    written = 0
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["card_number", "partner", "date", "amount"])
        for card, status in rows:
            rate = BASE_RATE if status == RecipientStatus.HELD_OUT.value else CONTACTED_RATE
            if card and rng.random() < rate:
                writer.writerow([card, bonus_code, when.isoformat(), f"{rng.uniform(60, 400):.2f}"])
                written += 1
    feed.import_feed(engine, folder, secret_key=secret_key)
    return written


def partner_reports(
    engine: Engine, controls: Controls, campaign_ids: list[int], actor: str, console: Console
) -> list[dict[str, Any]]:
    """Release each campaign's partner reports (what its partner then sees in the portal)."""
    docs = []
    for campaign_id in campaign_ids:
        with session_scope(engine) as session:
            campaign = session.get_one(Campaign, campaign_id)
            doc = reports.campaign_reports(session, campaign, controls=controls, actor=actor)
        docs.append(doc)
        report, lift = doc.get("report") or {}, doc.get("lift") or {}
        reached = report["totals"][0]["text"] if report.get("available") else "refused"
        if lift.get("lift"):
            low, high = lift["lift"]["interval95"]
            measured = (
                f"lift {lift['lift']['difference'] * 100:+.1f} pp "
                f"(95 % interval {low * 100:+.1f} to {high * 100:+.1f})"
            )
        else:
            measured = lift.get("note") or lift.get("reason") or "no lift"
        console.print(f"   campaign {campaign.public_id}: reached {reached}; {measured}")
    return docs
