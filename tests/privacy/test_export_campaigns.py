"""The export's ``campaigns`` section: every campaign that chose the member, and why."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.orm import Session

from dispatch.campaigns.models import Campaign, CampaignRecipient
from dispatch.creatives.models import Creative, CreativeVersion, Partner
from dispatch.privacy import export
from dispatch.register.models import Member
from tests import factories

AT = dt.datetime(2026, 3, 2, 9, 30, tzinfo=dt.UTC)


def _campaign(session: Session, partner: str, channel: str, segment: str) -> Campaign:
    owner = session.query(Partner).filter_by(name=partner).one_or_none()
    if owner is None:
        owner = Partner(name=partner)
        session.add(owner)
        session.flush()
    creative = Creative(partner_id=owner.id, name=f"{segment}-creative")
    session.add(creative)
    session.flush()
    version = CreativeVersion(
        creative_id=creative.id,
        version=2,
        status="approved",
        content_hash="0" * 64,
        bundle=b"",
        manifest={"channels": [channel]},
        decided_at=AT,
        decided_by="anna",
    )
    session.add(version)
    session.flush()
    campaign = Campaign(
        reference=f"ref{creative.id:05d}",
        partner_id=owner.id,
        creative_version_id=version.id,
        channel=channel,
        purpose="partner_marketing" if partner != "Osuuskauppa" else "own_marketing",
        segment_name=segment,
        segment_path=f"segments/{segment}.yaml",
        segment_source="name: x\n",
        segment_sha256=f"{creative.id:064x}",
        status="completed",
        created_by="anna",
    )
    session.add(campaign)
    session.flush()
    return campaign


def _recipient(
    session: Session, campaign: Campaign, member: Member, status: str, reason: str | None = None
) -> None:
    session.add(
        CampaignRecipient(
            campaign_id=campaign.id,
            member_id=member.id,
            batch_no=0,
            status=status,
            reason=reason,
            sequence_no=1 if status == "delivered" and campaign.channel == "post" else None,
            updated_at=AT,
        )
    )
    session.flush()


def _export(session: Session, member: Member) -> dict[str, Any]:
    return export.export_member(
        session, member.id, actor="maija.staff", reason="request 9", destination="stdout"
    )


def test_campaigns_lists_each_campaign_with_its_segment_and_outcome(session: Session) -> None:
    member = factories.member(session)
    other = factories.member(session)
    letter = _campaign(session, "Osuuskauppa", "post", "baby-households")
    mail = _campaign(session, "Nordic Air", "email", "nordic-air-travellers")
    objected = _campaign(session, "Nordic Air", "post", "frequent-flyers")
    running = _campaign(session, "Osuuskauppa", "email", "bicycle-browsers")
    _recipient(session, letter, member, "delivered")
    _recipient(session, mail, member, "delivered")
    _recipient(session, objected, member, "suppressed", "objection")
    _recipient(session, running, member, "sending")
    _recipient(session, letter, other, "delivered")
    not_chosen = _campaign(session, "Nordic Air", "email", "someone-else")
    _recipient(session, not_chosen, other, "failed", "bounced")

    doc = _export(session, member)

    assert [c["campaign_id"] for c in doc["campaigns"]] == [
        letter.id,
        mail.id,
        objected.id,
        running.id,
    ]
    first = doc["campaigns"][0]
    assert first == {
        "campaign_id": letter.id,
        "partner": "Osuuskauppa",
        "creative": {"name": "baby-households-creative", "version": 2},
        "channel": "post",
        "purpose": "own_marketing",
        "segment": {"name": "baby-households", "sha256": letter.segment_sha256},
        "at": AT.isoformat(),
        "outcome": "delivered",
        "reached": True,
        "reason": None,
    }
    outcomes = [(c["outcome"], c["reached"], c["reason"]) for c in doc["campaigns"]]
    assert outcomes == [
        ("delivered", True, None),
        ("delivered", True, None),
        ("suppressed", False, "objection"),
        ("pending", False, None),
    ]
    assert doc["campaigns"][1]["partner"] == "Nordic Air"
    assert doc["campaigns"][1]["purpose"] == "partner_marketing"


def test_campaigns_is_empty_for_a_member_no_campaign_chose(session: Session) -> None:
    member = factories.member(session)
    other = factories.member(session)
    _recipient(session, _campaign(session, "Osuuskauppa", "post", "seg"), other, "delivered")

    assert _export(session, member)["campaigns"] == []


def test_campaigns_section_names_no_other_member_and_no_internal_reference(
    session: Session,
) -> None:
    member = factories.member(session)
    other = factories.member(session, first_name="Kalevi", last_name="Muukalainen")
    campaign = _campaign(session, "Osuuskauppa", "post", "seg")
    _recipient(session, campaign, member, "delivered")
    _recipient(session, campaign, other, "delivered")

    text = export.dumps(_export(session, member))

    assert "Muukalainen" not in text
    assert other.card_number and other.card_number not in text
    assert campaign.reference not in text  # the print house's reference stays internal
