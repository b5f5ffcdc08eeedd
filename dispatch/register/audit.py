"""The audit log: every look at one member's data, and every login, failed login,
approval and upload, with who, what, when and from where."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch.db.types import utcnow
from dispatch.register.models import AuditEntry


def record(
    session: Session,
    *,
    actor: str,
    action: str,
    member_id: int | None,
    reason: str | None = None,
    detail: dict[str, Any] | None = None,
    origin: str | None = None,
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
        origin=origin,
    )
    session.add(entry)
    session.flush()
    return entry


def entries(
    session: Session,
    *,
    member_id: int | None = None,
    actor: str | None = None,
    since: dt.datetime | None = None,
    limit: int | None = None,
) -> list[AuditEntry]:
    """Audit entries, oldest first, filtered by member, actor and time.

    With ``limit`` the most recent ``limit`` entries that match (still oldest first):
    someone reading the log wants the end of it.
    """
    query = select(AuditEntry)
    if member_id is not None:
        query = query.where(AuditEntry.member_id == member_id)
    if actor is not None:
        query = query.where(AuditEntry.actor == actor)
    if since is not None:
        query = query.where(AuditEntry.at >= since)
    query = query.order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
    if limit is not None:
        query = query.limit(limit)
    return list(reversed(session.scalars(query).all()))


def as_document(entry: AuditEntry) -> dict[str, Any]:
    """One entry as JSON: every column, the time in ISO 8601 UTC."""
    return {
        "id": entry.id,
        "at": entry.at.isoformat(),
        "actor": entry.actor,
        "action": entry.action,
        "member_id": entry.member_id,
        "reason": entry.reason,
        "origin": entry.origin,
        "detail": entry.detail,
    }
