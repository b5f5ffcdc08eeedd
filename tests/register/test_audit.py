"""The audit log: an entry lives and dies with the access it records."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dispatch.register import audit
from dispatch.register.models import AuditEntry
from tests import factories


def _count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(AuditEntry)) or 0


def test_entry_records_who_what_when_why_and_detail(session: Session) -> None:
    member = factories.member(session)
    before = dt.datetime.now(dt.UTC)

    audit.record(
        session,
        actor="maija.staff",
        action="member.show",
        member_id=member.id,
        reason="customer called",
        detail={"destination": "stdout"},
    )
    session.commit()

    entry = session.scalars(select(AuditEntry)).one()
    assert (entry.actor, entry.action, entry.member_id, entry.reason) == (
        "maija.staff",
        "member.show",
        member.id,
        "customer called",
    )
    assert entry.detail == {"destination": "stdout"}
    assert before <= entry.at <= dt.datetime.now(dt.UTC)


def test_entry_without_detail_stores_an_empty_document(session: Session) -> None:
    audit.record(session, actor="maija.staff", action="report.view", member_id=None)
    session.commit()

    entry = session.scalars(select(AuditEntry)).one()
    assert entry.detail == {}
    assert entry.member_id is None


def test_entry_rolls_back_with_the_access_that_failed(session: Session) -> None:
    member = factories.member(session)
    session.commit()

    with pytest.raises(RuntimeError), session.begin_nested():
        audit.record(session, actor="maija.staff", action="member.show", member_id=member.id)
        raise RuntimeError("the access failed after its entry was written")
    session.commit()

    assert _count(session) == 0


def test_entry_commits_with_the_access_that_succeeded(session: Session) -> None:
    member = factories.member(session)
    audit.record(session, actor="maija.staff", action="member.show", member_id=member.id)
    session.commit()

    assert _count(session) == 1
