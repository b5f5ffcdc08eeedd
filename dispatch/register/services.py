"""One member's register data: look-up, the staff view, and audited consent changes.

The functions that only read (``get_member``, ``identity``, ``consent_state`` ...) are
building blocks shared with :mod:`dispatch.privacy.export`. The functions a person
calls through the CLI or the API (``show_member``, ``change_consent``,
``object_to_direct_marketing``) write their audit entry in the caller's transaction,
so an access cannot happen without its entry.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dispatch.db.types import Channel, Decision, MemberStatus, Purpose
from dispatch.errors import OperationError
from dispatch.privacy import audit
from dispatch.privacy.models import Suppression
from dispatch.register import consent
from dispatch.register.models import (
    ConsentEvent,
    ConsentState,
    Household,
    Member,
    ProductGroup,
    PurchaseSummary,
    Store,
)

#: Member columns that identify or describe the person (what erasure removes).
IDENTITY_FIELDS = (
    "card_number",
    "first_name",
    "last_name",
    "address_extra",
    "street",
    "postcode",
    "post_town",
    "municipality",
    "region",
    "birth_year",
    "email",
    "phone",
    "member_since",
)


def get_member(session: Session, member_id: int, *, for_update: bool = False) -> Member:
    """The member with ``member_id``, or an :class:`OperationError` (exit 1).

    ``for_update`` locks the row on PostgreSQL, so that an erasure and a consent
    change of the same member cannot interleave (SQLite serialises writers anyway).
    """
    member = session.get(Member, member_id, with_for_update=for_update)
    if member is None:
        raise OperationError(f"no member with id {member_id}")
    return member


def ensure_not_erased(member: Member) -> None:
    """Refuse to change an erased member: they are suppressed for good already."""
    if member.status == MemberStatus.ERASED:
        when = member.erased_at.date().isoformat() if member.erased_at else "an unknown date"
        raise OperationError(f"member {member.id} was erased on {when}; nothing left to change")


def plain(value: Any) -> Any:
    """A column value as JSON: ISO dates, money as an exact decimal string."""
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value.quantize(Decimal("0.01")))
    if isinstance(value, float):
        return str(Decimal(str(value)).quantize(Decimal("0.01")))
    return value


def identity(member: Member) -> dict[str, Any]:
    """The member row as a document, without the keyed hash (an internal pseudonym)."""
    doc: dict[str, Any] = {"id": member.id}
    doc.update({name: plain(getattr(member, name)) for name in IDENTITY_FIELDS})
    doc.update(
        language=member.language,
        status=member.status,
        address_status=member.address_status,
        erased_at=plain(member.erased_at),
    )
    return doc


def household(session: Session, member: Member) -> dict[str, Any] | None:
    """The member's household: its kind only, never who else lives in it."""
    if member.household_id is None:
        return None
    row = session.get(Household, member.household_id)
    return None if row is None else {"id": row.id, "kind": row.kind}


def store_doc(store: Store) -> dict[str, Any]:
    return {
        "id": store.id,
        "name": store.name,
        "chain": store.chain,
        "kind": store.kind,
        "municipality": store.municipality,
        "region": store.region,
    }


def home_store(session: Session, member: Member) -> dict[str, Any] | None:
    if member.home_store_id is None:
        return None
    row = session.get(Store, member.home_store_id)
    return None if row is None else store_doc(row)


def consent_state(session: Session, member_id: int) -> list[dict[str, Any]]:
    """The current decision per (purpose, channel), as the policy reads it."""
    rows = session.scalars(
        select(ConsentState)
        .where(ConsentState.member_id == member_id)
        .order_by(ConsentState.purpose, ConsentState.channel)
    )
    return [
        {
            "purpose": row.purpose,
            "channel": row.channel,
            "decision": row.decision,
            "updated_at": plain(row.updated_at),
        }
        for row in rows
    ]


def consent_ledger(session: Session, member_id: int) -> list[ConsentEvent]:
    return list(
        session.scalars(
            select(ConsentEvent)
            .where(ConsentEvent.member_id == member_id)
            .order_by(ConsentEvent.recorded_at, ConsentEvent.id)
        )
    )


def suppressions(session: Session, subject_hash: str) -> list[dict[str, Any]]:
    """Suppressions that apply to the member: reason, date and source, not the hash."""
    rows = session.scalars(
        select(Suppression)
        .where(Suppression.subject_hash == subject_hash)
        .order_by(Suppression.created_at, Suppression.id)
    )
    return [
        {"reason": row.reason, "since": plain(row.created_at), "source": row.source} for row in rows
    ]


def _roots(session: Session) -> dict[int, ProductGroup]:
    """Each product group id mapped to its top-level ancestor (the catalogue is small)."""
    groups = {g.id: g for g in session.scalars(select(ProductGroup))}
    roots: dict[int, ProductGroup] = {}
    for group_id in groups:
        group, seen = groups[group_id], {group_id}
        while group.parent_id is not None and group.parent_id not in seen:
            seen.add(group.parent_id)
            group = groups[group.parent_id]
        roots[group_id] = group
    return roots


def purchase_totals(session: Session, member_id: int) -> list[dict[str, Any]]:
    """Purchase totals per top-level product group, largest amount first."""
    rows = session.execute(
        select(
            PurchaseSummary.product_group_id,
            func.sum(PurchaseSummary.amount),
            func.sum(PurchaseSummary.count),
            func.min(PurchaseSummary.month),
            func.max(PurchaseSummary.month),
        )
        .where(PurchaseSummary.member_id == member_id)
        .group_by(PurchaseSummary.product_group_id)
    ).all()
    if not rows:
        return []
    roots = _roots(session)
    totals: dict[int, dict[str, Any]] = {}
    for group_id, amount, count, first, last in rows:
        root = roots[group_id]
        entry = totals.setdefault(
            root.id,
            {
                "group": root.code,
                "name_fi": root.name_fi,
                "name_sv": root.name_sv,
                "sensitive": root.sensitive,
                "amount": Decimal(0),
                "count": 0,
                "first_month": first,
                "last_month": last,
            },
        )
        entry["amount"] += Decimal(str(amount))
        entry["count"] += int(count)
        entry["first_month"] = min(entry["first_month"], first)
        entry["last_month"] = max(entry["last_month"], last)
    ordered = sorted(totals.values(), key=lambda e: (-e["amount"], e["group"]))
    return [{key: plain(value) for key, value in entry.items()} for entry in ordered]


def profile(session: Session, member: Member) -> dict[str, Any]:
    """What staff see of one member (``dispatch member show``)."""
    return {
        "member": identity(member),
        "household": household(session, member),
        "home_store": home_store(session, member),
        "consent": consent_state(session, member.id),
        "suppressions": suppressions(session, member.subject_hash),
        "purchases": purchase_totals(session, member.id),
    }


def show_member(
    session: Session, member_id: int, *, actor: str, reason: str | None
) -> dict[str, Any]:
    """The staff view of one member, audited as ``member.show``."""
    member = get_member(session, member_id)
    audit.record(session, actor=actor, action="member.show", member_id=member.id, reason=reason)
    return profile(session, member)


def change_consent(
    session: Session,
    member_id: int,
    purpose: Purpose,
    channel: Channel,
    decision: Decision,
    *,
    source: str,
    actor: str,
    reason: str | None,
    action: str = "member.consent",
) -> ConsentEvent:
    """Record a consent decision for the member, audited, in the caller's transaction.

    Raises :class:`dispatch.register.consent.ConsentError` for a change the rules do
    not allow (granting or refusing an umbrella scope).
    """
    member = get_member(session, member_id, for_update=True)
    ensure_not_erased(member)
    event = consent.record(
        session, member.id, purpose, channel, decision, source=source, actor=actor
    )
    detail = {
        "purpose": str(purpose),
        "channel": str(channel),
        "decision": str(decision),
        "source": source,
        "event_id": event.id,
    }
    audit.record(
        session, actor=actor, action=action, member_id=member.id, reason=reason, detail=detail
    )
    return event


def object_to_direct_marketing(
    session: Session, member_id: int, *, source: str, actor: str, reason: str | None
) -> ConsentEvent:
    """The member objects to all direct marketing (GDPR Art. 21(2)); effective at once.

    The objection is an ordinary ledger entry on the umbrella scope; the policy reads
    ``consent_state``, which :func:`consent.record` updates in the same transaction.
    """
    return change_consent(
        session,
        member_id,
        Purpose.DIRECT_MARKETING,
        Channel.ANY,
        Decision.OBJECTED,
        source=source,
        actor=actor,
        reason=reason,
        action="member.object",
    )
