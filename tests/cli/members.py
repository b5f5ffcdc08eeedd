"""What the member-command tests read back after the command committed."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch.register.models import AuditEntry, ConsentEvent


def fresh(session: Session) -> Session:
    """The test's session, made to see what the command committed."""
    session.rollback()  # end the snapshot (SQLite holds one per transaction)
    session.expire_all()  # and forget loaded rows (a no-op rollback expires nothing)
    return session


def audit_entries(session: Session) -> list[AuditEntry]:
    return list(fresh(session).scalars(select(AuditEntry).order_by(AuditEntry.id)))


def ledger(session: Session, member_id: int) -> list[ConsentEvent]:
    return list(
        fresh(session).scalars(
            select(ConsentEvent)
            .where(ConsentEvent.member_id == member_id)
            .order_by(ConsentEvent.id)
        )
    )
