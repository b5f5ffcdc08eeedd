"""The demo's member side: a preference-centre link and a letter code of a demo member.

The e-mail campaign's first recipient got the link at the foot of their e-mail (in
the maildir) and the post campaign's first recipient a code in their letter's
objection notice; the demo prints both so that a newcomer can open the centre on the
local ``dispatch serve`` as that member would.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, select

from dispatch.campaigns.models import CampaignRecipient, RecipientStatus
from dispatch.config import Settings
from dispatch.db.engine import session_scope
from dispatch.register.tokens import LinkPurpose, format_code, letter_code
from dispatch.rendering.email import centre_token
from dispatch.rendering.identity import LinkSettings


def _first_delivered(engine: Engine, campaign_id: int) -> int | None:
    with session_scope(engine) as session:
        return session.scalar(
            select(CampaignRecipient.member_id)
            .where(
                CampaignRecipient.campaign_id == campaign_id,
                CampaignRecipient.status == RecipientStatus.DELIVERED.value,
            )
            .order_by(CampaignRecipient.member_id)
            .limit(1)
        )


def member_links(engine: Engine, settings: Settings, ran: list[dict[str, Any]]) -> dict[str, str]:
    """The demo member's centre link (e-mail) and letter code, where the campaigns made one."""
    links = LinkSettings.from_settings(settings)
    found: dict[str, str] = {}
    for item in ran:
        if "skipped" in item:  # too small for the partner minimum: never ran
            continue
        campaign = item["campaign"]
        member = _first_delivered(engine, campaign["id"])
        if member is None:
            continue
        if campaign["channel"] == "email" and "centre_link" not in found:
            token = centre_token(settings.secret_key, campaign["id"], member)
            found["centre_link"] = links.url(LinkPurpose.CENTRE, token)
        elif campaign["channel"] == "post" and "letter_code" not in found:
            code = letter_code(settings.secret_key, campaign["id"], member)
            found["letter_page"] = links.letter_page
            found["letter_code"] = format_code(code)
    return found
