"""The campaigns' section of a member's export (GDPR Art. 15): which campaigns chose them.

Added to :mod:`dispatch.privacy.export` when this package is imported
(``dispatch/campaigns/__init__.py``), because privacy sits below campaigns.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch.campaigns.models import (
    FINAL_STATUSES,
    Campaign,
    CampaignRecipient,
    RecipientStatus,
)
from dispatch.creatives.models import Creative, CreativeVersion, Partner
from dispatch.privacy import export
from dispatch.register import services
from dispatch.register.models import Member


def campaigns(session: Session, member: Member) -> list[dict[str, Any]]:
    """Every campaign that chose the member, and why (Art. 15(1)(c)).

    One entry per (campaign, member) from the campaign's frozen recipient list: the
    campaign, partner, creative, channel and purpose, the segment that chose the
    member (its name and the SHA-256 of the exact text the campaign was approved
    with), when the outcome was recorded, and the outcome. ``reached`` is true for
    ``delivered`` (handed to the print house or accepted by the mailer); a
    ``suppressed`` or ``failed`` entry was chosen but not sent, with the reason (for
    example the member's objection), and ``pending`` is still in progress.
    """
    rows = session.execute(
        select(CampaignRecipient, Campaign, Partner.name, Creative.name, CreativeVersion.version)
        .join(Campaign, Campaign.id == CampaignRecipient.campaign_id)
        .join(Partner, Partner.id == Campaign.partner_id)
        .join(CreativeVersion, CreativeVersion.id == Campaign.creative_version_id)
        .join(Creative, Creative.id == CreativeVersion.creative_id)
        .where(CampaignRecipient.member_id == member.id)
        .order_by(CampaignRecipient.campaign_id)
    ).all()
    final = {status.value for status in FINAL_STATUSES}
    return [
        {
            "campaign_id": campaign.id,
            "partner": partner,
            "creative": {"name": creative, "version": version},
            "channel": campaign.channel,
            "purpose": campaign.purpose,
            "segment": {"name": campaign.segment_name, "sha256": campaign.segment_sha256},
            "at": services.plain(recipient.updated_at),
            "outcome": recipient.status if recipient.status in final else "pending",
            "reached": recipient.status == RecipientStatus.DELIVERED.value,
            "reason": recipient.reason,
        }
        for recipient, campaign, partner, creative, version in rows
    ]


export.add_section("campaigns", campaigns)
