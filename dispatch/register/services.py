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
from dispatch.errors import InputError, OperationError
from dispatch.register import audit, consent
from dispatch.register.models import (
    ConsentEvent,
    ConsentState,
    Household,
    Member,
    ProductGroup,
    PurchaseSummary,
    Store,
    Suppression,
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
    """The member with ``member_id``, or an :class:`InputError` (exit 2).

    An id that names nobody is bad input, as an unknown campaign or creative is.

    ``for_update`` locks the row on PostgreSQL, so that an erasure and a consent
    change of the same member cannot interleave (SQLite serialises writers anyway).
    """
    member = session.get(Member, member_id, with_for_update=for_update)
    if member is None:
        raise InputError(f"no member with id {member_id}")
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


def reporting_groups(session: Session) -> dict[int, ProductGroup]:
    """Each product group id mapped to the group its purchases are totalled under.

    That is its top-level ancestor, unless the group or an ancestor is special-category
    data (Art. 9): then the top-most sensitive one, so that a sensitive purchase never
    hides inside a harmless total (a feed may put ``pharmacy`` under ``health``).
    The catalogue is small: read whole.
    """
    groups = {g.id: g for g in session.scalars(select(ProductGroup))}
    reporting: dict[int, ProductGroup] = {}
    for group_id in groups:
        group, seen = groups[group_id], {group_id}
        sensitive = group if group.sensitive else None
        while group.parent_id is not None and group.parent_id not in seen:
            seen.add(group.parent_id)
            group = groups[group.parent_id]
            if group.sensitive:
                sensitive = group
        reporting[group_id] = sensitive or group
    return reporting


def purchase_totals(session: Session, member_id: int) -> list[dict[str, Any]]:
    """Purchase totals per top-level product group, largest amount first.

    Purchases of special-category groups are totalled apart, under their top-most
    sensitive group, and marked ``sensitive``.
    """
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
    roots = reporting_groups(session)
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


def profile(session: Session, member: Member, *, sensitive: bool = False) -> dict[str, Any]:
    """What staff see of one member (``dispatch member show``).

    Purchases of special-category groups (Art. 9) are left out unless ``sensitive``;
    ``sensitive_purchases`` says which. Hidden, the document does not say whether
    there were any: that alone would tell something about the member's health.
    """
    purchases = purchase_totals(session, member.id)
    if not sensitive:
        purchases = [row for row in purchases if not row["sensitive"]]
    return {
        "member": identity(member),
        "household": household(session, member),
        "home_store": home_store(session, member),
        "consent": consent_state(session, member.id),
        "suppressions": suppressions(session, member.subject_hash),
        "purchases": purchases,
        "sensitive_purchases": "shown" if sensitive else "hidden",
    }


def show_member(
    session: Session,
    member_id: int,
    *,
    actor: str,
    reason: str | None,
    sensitive: bool = False,
) -> dict[str, Any]:
    """The staff view of one member, audited as ``member.show``.

    Showing special-category purchases needs a reason, and the audit entry records
    that they were shown (``detail.sensitive``).
    """
    if sensitive and not (reason or "").strip():
        raise InputError(
            "say why you need special-category purchases (GDPR Art. 9)",
            where="--reason",
        )
    member = get_member(session, member_id)
    audit.record(
        session,
        actor=actor,
        action="member.show",
        member_id=member.id,
        reason=reason,
        detail={"sensitive": True} if sensitive else None,
    )
    return profile(session, member, sensitive=sensitive)


def objection_in_force(session: Session, member_id: int) -> ConsentState | None:
    """The member's objection to all direct marketing, if they have made one."""
    state = session.get(ConsentState, (member_id, Purpose.DIRECT_MARKETING, Channel.ANY))
    return state if state is not None and state.decision == Decision.OBJECTED else None


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


def still_blocked(
    session: Session, member_id: int, purpose: Purpose, channel: Channel
) -> str | None:
    """Why a grant just recorded changes nothing yet: an objection covering it, or None.

    Objections are absolute (:mod:`dispatch.register.consent`): a grant beside one is
    kept in the ledger, but the member receives nothing until they withdraw it.
    """
    states = consent.current_states(session, member_id)
    for scope in consent.objection_scopes(purpose, channel):
        if states.get((scope[0].value, scope[1].value)) == Decision.OBJECTED:
            if scope == (Purpose.DIRECT_MARKETING, Channel.ANY):
                return "the member's objection to all direct marketing still blocks it"
            return f"the member's objection to {scope[0].value}/{scope[1].value} still blocks it"
    return None


def object_to_direct_marketing(
    session: Session, member_id: int, *, source: str, actor: str, reason: str | None
) -> ConsentEvent:
    """The member objects to all direct marketing (GDPR Art. 21(2)); effective at once.

    The objection is an ordinary ledger entry on the umbrella scope; the policy reads
    ``consent_state``, which :func:`consent.record` updates in the same transaction.
    An objection already in force is absolute and permanent, so a second one records
    nothing in the ledger: the earlier entry is returned, and the audit entry (the
    staff action still happened) says ``already_objected``.
    """
    member = get_member(session, member_id, for_update=True)
    ensure_not_erased(member)
    earlier = objection_in_force(session, member.id)
    if earlier is not None:
        audit.record(
            session,
            actor=actor,
            action="member.object",
            member_id=member.id,
            reason=reason,
            detail={"already_objected": True, "event_id": earlier.event_id, "source": source},
        )
        return session.get_one(ConsentEvent, earlier.event_id)
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
