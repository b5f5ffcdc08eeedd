"""Erasure of one member's personal data (GDPR Art. 17), keeping them suppressed.

What goes and what stays (explained for staff in ``docs/members.md``):

- **goes**: every identifying column of the member row (:data:`ERASED_COLUMNS`), the
  links to household and home store, and every behaviour row (:data:`BEHAVIOUR`)
  with the purchase rollups derived from them and the member's activity bits
  (``member_facts``, the other derived copy, follows the member row through its
  trigger; :mod:`dispatch.register.activity` is refreshed); a household nobody else
  belongs to is deleted with the link.
- **dies**: every member link of theirs (unsubscribe, preference centre, letter codes,
  sessions, confirmations) is revoked, so no old letter or e-mail opens anything;
- **stays**: the member row itself with ``status = erased`` and its ``subject_hash``;
  a ``Suppression(reason=erased)`` keyed by that hash, so a re-import of the same card
  number from the warehouse feed is suppressed at once; the consent ledger and state
  (proof of what the member decided, keyed by member id only); the audit log.

A later table that holds member data must be added here, or, when a stage above this
one keeps it, by that stage with :func:`add_step` (the reports' estimated audiences,
the members' links): privacy sits below the stages that use its policy, so it does not
import them. The erasure test dumps every table in the schema after an erasure and
fails if any personal value survives.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import CursorResult, delete, exists, select
from sqlalchemy.orm import Session

from dispatch.db.types import MemberStatus, SuppressionReason, utcnow
from dispatch.register import activity, audit
from dispatch.register.models import (
    BonusPurchase,
    Household,
    Member,
    PurchaseSummary,
    RestaurantVisit,
    Suppression,
    WebInterest,
    purchase_rollups,
)
from dispatch.register.services import IDENTITY_FIELDS, ensure_not_erased, get_member

#: Member columns set to NULL: identity, contact, address, and where they belong.
ERASED_COLUMNS = (*IDENTITY_FIELDS, "household_id", "home_store_id")

#: Tables of behaviour keyed by member id, deleted outright.
BEHAVIOUR: tuple[
    type[PurchaseSummary] | type[BonusPurchase] | type[RestaurantVisit] | type[WebInterest], ...
] = (
    PurchaseSummary,
    BonusPurchase,
    RestaurantVisit,
    WebInterest,
)


@dataclass(frozen=True)
class Erasure:
    """What an erasure did, for the audit entry and the operator's message."""

    member_id: int
    deleted: dict[str, int]
    household_deleted: bool
    suppression_added: bool

    def detail(self) -> dict[str, Any]:
        """The audit entry's detail: counts and flags, never an erased value."""
        return {
            "deleted": dict(self.deleted),
            "household_deleted": self.household_deleted,
            "suppression_added": self.suppression_added,
        }


def _suppress(session: Session, subject_hash: str) -> bool:
    """Add the erased suppression unless the hash already has one (a re-imported card)."""
    already = session.scalar(
        select(
            exists().where(
                Suppression.subject_hash == subject_hash,
                Suppression.reason == SuppressionReason.ERASED,
            )
        )
    )
    if already:
        return False
    session.add(
        Suppression(
            subject_hash=subject_hash,
            reason=SuppressionReason.ERASED,
            created_at=utcnow(),
            source="erasure",
        )
    )
    return True


def _drop_orphan_household(session: Session, household_id: int) -> bool:
    """Delete the household if the erased member was its only member."""
    others = session.scalar(select(exists().where(Member.household_id == household_id)))
    if others:
        return False
    session.execute(delete(Household).where(Household.id == household_id))
    return True


#: A stage's part of an erasure: (session, member id), in the caller's transaction.
Step = Callable[[Session, int], object]

#: The steps that stages above this one provide, in the order they run. An erasure with
#: one missing fails rather than leaving that stage's data behind.
STEP_ORDER = (
    "reports.audiences",  # the member in estimated audiences (the differencing guard)
    "members.links",  # every link of theirs dies: no old letter or e-mail opens anything
)
STEPS: dict[str, Step] = {}


def add_step(name: str, step: Step) -> None:
    """Provide the erasure step ``name`` (one of :data:`STEP_ORDER`)."""
    if name not in STEP_ORDER:
        raise ValueError(f"{name!r} is not a step of an erasure")
    STEPS[name] = step


def erase_member(session: Session, member_id: int, *, actor: str, reason: str | None) -> Erasure:
    """Erase the member's personal data in the caller's transaction, audited.

    Erasing an already erased member is an :class:`OperationError` rather than a
    silent no-op: a second request usually means a mistyped id.
    """
    missing = [name for name in STEP_ORDER if name not in STEPS]
    if missing:  # a programming error: the stage that provides them was not imported
        raise RuntimeError(f"erasure steps not provided: {', '.join(missing)}")
    member = get_member(session, member_id, for_update=True)
    ensure_not_erased(member)

    deleted: dict[str, int] = {}
    for model in BEHAVIOUR:
        result = cast(
            "CursorResult[Any]", session.execute(delete(model).where(model.member_id == member.id))
        )
        deleted[model.__tablename__] = result.rowcount
    STEPS["reports.audiences"](session, member.id)
    # Derived from the purchases just deleted, so not counted as data of its own.
    session.execute(delete(purchase_rollups).where(purchase_rollups.c.member_id == member.id))
    activity.refresh(session, [member.id])  # which behaviour they had: none now

    STEPS["members.links"](session, member.id)
    household_id = member.household_id
    for column in ERASED_COLUMNS:
        setattr(member, column, None)
    member.status = MemberStatus.ERASED
    member.erased_at = utcnow()
    session.flush()
    household_deleted = household_id is not None and _drop_orphan_household(session, household_id)

    erasure = Erasure(
        member_id=member.id,
        deleted=deleted,
        household_deleted=household_deleted,
        suppression_added=_suppress(session, member.subject_hash),
    )
    audit.record(
        session,
        actor=actor,
        action="member.erase",
        member_id=member.id,
        reason=reason,
        detail=erasure.detail(),
    )
    return erasure
