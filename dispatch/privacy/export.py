"""Everything kept about one member, as one JSON document (GDPR Art. 15).

The document is built from named sections (:data:`SECTIONS`), each a function of the
session and the member. A later stage that keeps member data adds its section here,
as the campaigns stage did (see :func:`campaigns`).

Two things are left out on purpose, and ``docs/members.md`` says so to staff:

- the keyed ``subject_hash`` (held in the member row and in suppressions): it is an
  internal pseudonym of the card number, which the export already contains;
- the names of staff members in the consent ledger and the audit log. The member gets
  when their data was consulted or changed, what was done and why; the identity of
  the employee is the employee's own personal data (CJEU C-579/21, *Pankki S*).
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
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
from dispatch.db.types import utcnow
from dispatch.privacy import audit
from dispatch.privacy.models import AuditEntry
from dispatch.register import services
from dispatch.register.models import (
    Member,
    ProductGroup,
    PurchaseSummary,
    RestaurantVisit,
    Store,
    WebInterest,
)

FORMAT = "dispatch.member-export/1"

#: A part of the export: (session, member) -> a JSON-ready value.
Section = Callable[[Session, Member], Any]


def purchases(session: Session, member: Member) -> list[dict[str, Any]]:
    rows = session.execute(
        select(PurchaseSummary, ProductGroup)
        .join(ProductGroup, ProductGroup.id == PurchaseSummary.product_group_id)
        .where(PurchaseSummary.member_id == member.id)
        .order_by(PurchaseSummary.month, ProductGroup.code)
    )
    return [
        {
            "month": services.plain(summary.month),
            "group": group.code,
            "name_fi": group.name_fi,
            "name_sv": group.name_sv,
            "amount": services.plain(summary.amount),
            "count": summary.count,
        }
        for summary, group in rows
    ]


def restaurant_visits(session: Session, member: Member) -> list[dict[str, Any]]:
    rows = session.execute(
        select(RestaurantVisit, Store)
        .join(Store, Store.id == RestaurantVisit.store_id)
        .where(RestaurantVisit.member_id == member.id)
        .order_by(RestaurantVisit.month, Store.id)
    )
    return [
        {
            "month": services.plain(visit.month),
            "store": services.store_doc(store),
            "visits": visit.visits,
        }
        for visit, store in rows
    ]


def web_interests(session: Session, member: Member) -> list[dict[str, Any]]:
    rows = session.scalars(
        select(WebInterest).where(WebInterest.member_id == member.id).order_by(WebInterest.category)
    )
    return [{"category": row.category, "last_seen": services.plain(row.last_seen)} for row in rows]


def consent_ledger(session: Session, member: Member) -> list[dict[str, Any]]:
    return [
        {
            "id": event.id,
            "recorded_at": services.plain(event.recorded_at),
            "purpose": event.purpose,
            "channel": event.channel,
            "decision": event.decision,
            "source": event.source,
        }
        for event in services.consent_ledger(session, member.id)
    ]


def audit_entries(session: Session, member: Member) -> list[dict[str, Any]]:
    rows = session.scalars(
        select(AuditEntry)
        .where(AuditEntry.member_id == member.id)
        .order_by(AuditEntry.at, AuditEntry.id)
    )
    return [
        {
            "at": services.plain(row.at),
            "action": row.action,
            "reason": row.reason,
            "detail": row.detail,
        }
        for row in rows
    ]


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


SECTIONS: dict[str, Section] = {
    "member": lambda _session, member: services.identity(member),
    "household": services.household,
    "home_store": services.home_store,
    "purchases": purchases,
    "restaurant_visits": restaurant_visits,
    "web_interests": web_interests,
    "consent_ledger": consent_ledger,
    "consent_state": lambda session, member: services.consent_state(session, member.id),
    "suppressions": lambda session, member: services.suppressions(session, member.subject_hash),
    "campaigns": campaigns,
    "audit": audit_entries,
}


def export_member(
    session: Session, member_id: int, *, actor: str, reason: str | None, destination: str
) -> dict[str, Any]:
    """The member's export document, audited as ``member.export``.

    The audit entry is written first, so the export lists its own access.
    ``destination`` (``stdout`` or ``file``) is recorded in the entry's detail.
    """
    member = services.get_member(session, member_id)
    audit.record(
        session,
        actor=actor,
        action="member.export",
        member_id=member.id,
        reason=reason,
        detail={"destination": destination},
    )
    document: dict[str, Any] = {
        "format": FORMAT,
        "generated_at": services.plain(utcnow()),
        "member_id": member.id,
    }
    for name, section in SECTIONS.items():
        document[name] = section(session, member)
    return document


def dumps(document: dict[str, Any]) -> str:
    """The document as JSON text (no fallback serialiser: every value must be plain)."""
    return json.dumps(document, ensure_ascii=False, indent=2) + "\n"


def write_document(document: dict[str, Any], path: Path) -> None:
    """Write the export readable by its owner only, replacing ``path`` atomically.

    A half-written export of someone's personal data must never be left behind.
    """
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(dumps(document))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
