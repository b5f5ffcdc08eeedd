"""Art. 17 erasure: every personal value goes, the suppression and the ledger stay."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dispatch.db.types import MemberStatus, SuppressionReason
from dispatch.errors import InputError, OperationError
from dispatch.privacy import erasure
from dispatch.register.models import (
    AuditEntry,
    ConsentEvent,
    ConsentState,
    Household,
    Member,
    Suppression,
)
from tests import factories
from tests.privacy.subjects import dump_all_tables, full_member


def _erase(session: Session, member_id: int) -> erasure.Erasure:
    return erasure.erase_member(session, member_id, actor="maija.staff", reason="request 9")


def test_erasure_leaves_no_personal_value_in_any_table(session: Session) -> None:
    subject = full_member(session, "A")
    values = subject.personal_values()
    before = dump_all_tables(session)
    assert all(value in before for value in values.values())  # the dump does see them

    _erase(session, subject.id)
    session.commit()

    after = dump_all_tables(session)
    for field, value in values.items():
        assert value not in after, f"{field} survived erasure"


def test_erasure_keeps_the_row_hash_and_adds_an_erased_suppression(session: Session) -> None:
    subject = full_member(session, "A")
    digest = subject.member.subject_hash

    _erase(session, subject.id)
    session.commit()

    member = session.get(Member, subject.id)
    assert member is not None
    assert member.birth_year is None
    assert member.member_since is None
    assert member.status == MemberStatus.ERASED
    assert member.erased_at is not None
    assert member.subject_hash == digest
    reasons = session.scalars(select(Suppression.reason).where(Suppression.subject_hash == digest))
    assert list(reasons) == [SuppressionReason.ERASED]


def test_reimported_card_number_is_found_by_the_suppression_check(session: Session) -> None:
    subject = full_member(session, "A")
    card = subject.member.card_number
    _erase(session, subject.id)
    session.commit()

    again = factories.member(session, card_number=card)  # the warehouse feed brings them back

    assert again.id != subject.id
    assert again.subject_hash == subject.member.subject_hash
    suppressed = session.scalars(
        select(Suppression.reason).where(Suppression.subject_hash == again.subject_hash)
    )
    assert SuppressionReason.ERASED in set(suppressed)


def test_erasing_a_reimported_card_again_keeps_one_suppression(session: Session) -> None:
    subject = full_member(session, "A")
    card = subject.member.card_number
    _erase(session, subject.id)
    again = factories.member(session, card_number=card)

    done = _erase(session, again.id)

    assert done.suppression_added is False
    count = session.scalar(
        select(func.count()).where(Suppression.subject_hash == again.subject_hash)
    )
    assert count == 1


def test_erasure_keeps_the_consent_ledger_and_state(session: Session) -> None:
    subject = full_member(session, "A")

    _erase(session, subject.id)
    session.commit()

    events = session.scalars(select(ConsentEvent).where(ConsentEvent.member_id == subject.id))
    assert len(list(events)) == 2
    states = session.scalars(select(ConsentState).where(ConsentState.member_id == subject.id))
    assert len(list(states)) == 2


def test_erasure_deletes_behaviour_and_reports_counts(session: Session) -> None:
    subject = full_member(session, "A")

    done = _erase(session, subject.id)

    assert done.deleted == {
        "purchase_summaries": 2,
        "bonus_purchases": 1,
        "restaurant_visits": 1,
        "web_interests": 1,
    }


def test_erasure_deletes_a_household_left_empty(session: Session) -> None:
    subject = full_member(session, "A")
    household_id = subject.member.household_id

    done = _erase(session, subject.id)

    assert done.household_deleted
    assert session.get(Household, household_id) is None


def test_erasure_keeps_a_household_other_members_share(session: Session) -> None:
    subject = full_member(session, "A")
    household_id = subject.member.household_id
    partner = factories.member(session, household_id=household_id)

    done = _erase(session, subject.id)

    assert not done.household_deleted
    assert session.get(Household, household_id) is not None
    assert session.get(Member, partner.id).household_id == household_id


def test_erasure_is_audited_without_personal_data(session: Session) -> None:
    subject = full_member(session, "A")

    _erase(session, subject.id)

    entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "member.erase")).one()
    assert (entry.actor, entry.member_id, entry.reason) == ("maija.staff", subject.id, "request 9")
    assert entry.detail["suppression_added"] is True


def test_erasing_an_erased_member_is_an_error(session: Session) -> None:
    subject = full_member(session, "A")
    _erase(session, subject.id)

    with pytest.raises(OperationError, match=f"member {subject.id} was erased on"):
        _erase(session, subject.id)


def test_erasing_an_unknown_member_is_an_error(session: Session) -> None:
    with pytest.raises(InputError, match="no member with id 424242"):
        _erase(session, 424242)
