"""Canary members: people with unmistakable data, reached by a real campaign.

The canary scan seeds these, runs partner A's e-mail campaign to them to the end
(so partner A's objects are as close to member data as they ever get), then looks
for every one of their names, addresses, e-mails, phones, card numbers and member
ids in whatever partner A can receive.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from dispatch.campaigns import services as campaigns
from dispatch.campaigns.models import Campaign, CampaignStatus
from dispatch.creatives import services as creatives
from dispatch.creatives.models import CreativeVersion
from dispatch.db.engine import session_scope
from dispatch.db.types import Channel, Decision, Purpose, utcnow
from dispatch.jobs import tasks, worker
from dispatch.register.models import BonusPurchase
from tests import factories
from tests.campaigns.conftest import segment_text
from tests.web.conftest import PARTNER_A, Site

COUNT = 6


@dataclass(frozen=True)
class Canaries:
    campaign_public_id: str
    #: Every string that must never reach a partner.
    secrets: list[str]


def seed_and_run(site: Site, folder: Path) -> Canaries:
    """Canary members, and partner A's completed e-mail campaign to them."""
    segment = folder / "canary-email.yaml"
    segment.write_text(segment_text("canary-email", "partner_marketing", "email"))
    found: list[str] = []
    members: list[int] = []
    with session_scope(site.engine) as session:
        for n in range(COUNT):
            member = factories.member(
                session,
                first_name=f"Zebulon{n}",
                last_name=f"Quaxley{n}",
                street=f"Kanarialintu {n} B 7",
                postcode=f"00{n}71",
                email=f"zebulon{n}.quaxley@canary.test",
                phone=f"+35850777{n:04d}",
                card_number=f"92469999{n:08d}",
            )
            factories.set_consent(
                session, member, Purpose.PARTNER_MARKETING, Channel.EMAIL, Decision.GRANTED
            )
            members.append(member.id)
            found += [
                member.first_name,
                member.last_name,
                member.street,
                member.email or "",
                member.phone or "",
                member.card_number or "",
                f"member {member.id}",
                f'"member_id": {member.id}',
            ]
        version = session.scalar(
            select(CreativeVersion).where(CreativeVersion.public_id == site.versions[PARTNER_A])
        )
        assert version is not None
        creatives.approve(session, version.id, "approver")
        # The lift reads the partner's bonus purchases: the canaries bought something.
        creatives.set_bonus_code(session, PARTNER_A, "canary_partner")
        campaign = campaigns.create(
            session,
            partner=PARTNER_A,
            creative_version_id=version.id,
            segment_path=segment,
            channel="email",
            actor="manager",
            min_partner_audience=site.app.state.settings.min_partner_audience,
            holdout_percent=0,  # six canaries: all of them are contacted
        )
        campaigns.approve(
            session,
            campaign,
            "approver",
            min_partner_audience=site.app.state.settings.min_partner_audience,
        )
        campaigns.schedule(session, campaign)
        cid, public_id = campaign.id, campaign.public_id
    tasks.jobs().send_snapshot(cid)
    worker.run_inprocess()
    with session_scope(site.engine) as session:
        for member_id in members:
            session.add(
                BonusPurchase(
                    member_id=member_id,
                    partner_code="canary_partner",
                    purchased_on=utcnow().date(),
                    amount=123,
                )
            )
    with session_scope(site.engine) as session:
        status = session.get_one(Campaign, cid).status
    assert status == CampaignStatus.COMPLETED.value, status
    return Canaries(public_id, found)
