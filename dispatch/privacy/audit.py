"""The audit log: every look at or change to one member's data is recorded."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from dispatch.db.types import utcnow
from dispatch.privacy.models import AuditEntry


def record(
    session: Session,
    *,
    actor: str,
    action: str,
    member_id: int | None,
    reason: str | None = None,
    detail: dict[str, Any] | None = None,
) -> AuditEntry:
    """Add an audit entry in the caller's transaction.

    Writing it in the same transaction as the access means an access that fails
    leaves no entry, and an access that succeeds cannot lose its entry.
    """
    entry = AuditEntry(
        at=utcnow(),
        actor=actor,
        action=action,
        member_id=member_id,
        reason=reason,
        detail=detail or {},
    )
    session.add(entry)
    session.flush()
    return entry
