"""Everything kept about one member, as one JSON document (GDPR Art. 15).

The document is built from named sections (:data:`SECTIONS`), each a function of the
session and the member. A later stage that keeps member data (the campaigns stage)
provides its section with :func:`add_section` rather than this module importing it:
privacy sits below the stages that use its policy. The document's shape stays here
(:data:`SECTION_ORDER`), and an export with a section missing fails instead of
leaving it out.

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

from dispatch.db.types import utcnow
from dispatch.register import audit, services
from dispatch.register.models import (
    AuditEntry,
    BonusPurchase,
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


def bonus_purchases(session: Session, member: Member) -> list[dict[str, Any]]:
    """Purchases at bonus partners, as the partners reported them (the lift reads them)."""
    rows = session.scalars(
        select(BonusPurchase)
        .where(BonusPurchase.member_id == member.id)
        .order_by(BonusPurchase.purchased_on, BonusPurchase.partner_code)
    )
    return [
        {
            "date": services.plain(row.purchased_on),
            "partner": row.partner_code,
            "amount": services.plain(row.amount),
        }
        for row in rows
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
            # The campaign whose e-mail or letter the member acted from, if any.
            "campaign_id": event.campaign_id,
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


#: The document's sections, in order. Those not defined in this module are added by the
#: stage that keeps the data: "campaigns" by dispatch.campaigns.export.
SECTION_ORDER = (
    "member",
    "household",
    "home_store",
    "purchases",
    "bonus_purchases",
    "restaurant_visits",
    "web_interests",
    "consent_ledger",
    "consent_state",
    "suppressions",
    "campaigns",
    "audit",
)

SECTIONS: dict[str, Section] = {
    "member": lambda _session, member: services.identity(member),
    "household": services.household,
    "home_store": services.home_store,
    "purchases": purchases,
    "bonus_purchases": bonus_purchases,
    "restaurant_visits": restaurant_visits,
    "web_interests": web_interests,
    "consent_ledger": consent_ledger,
    "consent_state": lambda session, member: services.consent_state(session, member.id),
    "suppressions": lambda session, member: services.suppressions(session, member.subject_hash),
    "audit": audit_entries,
}


def add_section(name: str, section: Section) -> None:
    """Provide the export's section ``name`` (one of :data:`SECTION_ORDER`)."""
    if name not in SECTION_ORDER:
        raise ValueError(f"{name!r} is not a section of the member export")
    SECTIONS[name] = section


def export_member(
    session: Session,
    member_id: int,
    *,
    actor: str,
    reason: str | None,
    destination: str,
    origin: str | None = None,
) -> dict[str, Any]:
    """The member's export document, audited as ``member.export``.

    The audit entry is written first, so the export lists its own access.
    ``destination`` (``stdout``, ``file``, ``web``, ``email`` or ``post``) is recorded in
    the entry's detail, ``origin`` (the client's address, for a web request) in the entry
    itself.
    """
    member = services.get_member(session, member_id)
    audit.record(
        session,
        actor=actor,
        action="member.export",
        member_id=member.id,
        reason=reason,
        detail={"destination": destination},
        origin=origin,
    )
    document: dict[str, Any] = {
        "format": FORMAT,
        "generated_at": services.plain(utcnow()),
        "member_id": member.id,
    }
    missing = [name for name in SECTION_ORDER if name not in SECTIONS]
    if missing:  # a programming error: the stage that provides them was not imported
        raise RuntimeError(f"member export sections not provided: {', '.join(missing)}")
    for name in SECTION_ORDER:
        document[name] = SECTIONS[name](session, member)
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
