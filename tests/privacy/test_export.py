"""The Art. 15 export: everything about the member, nothing about anyone else."""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dispatch.db.types import SuppressionReason
from dispatch.errors import InputError
from dispatch.privacy import export
from dispatch.register import audit
from dispatch.register.models import AuditEntry
from tests import factories
from tests.privacy.subjects import Subject, full_member


def _export(session: Session, subject: Subject) -> dict[str, Any]:
    return export.export_member(
        session, subject.id, actor="maija.staff", reason="request 7", destination="stdout"
    )


def test_export_holds_every_section_of_the_members_data(session: Session) -> None:
    subject = full_member(session, "A")
    factories.suppress(session, subject.member, SuppressionReason.OPTOUT_REGISTER)

    doc = _export(session, subject)

    assert doc["format"] == export.FORMAT
    assert doc["member_id"] == subject.id
    assert doc["member"]["email"] == subject.member.email
    assert doc["member"]["card_number"] == subject.member.card_number
    assert doc["household"] == {"id": subject.member.household_id, "kind": "single"}
    assert doc["home_store"]["name"] == "Prisma A"
    assert [(p["group"], p["month"], p["amount"]) for p in doc["purchases"]] == [
        ("dairy-A", "2024-01-01", "12.50"),
        ("food-A", "2024-03-01", "1.25"),
    ]
    assert doc["restaurant_visits"] == [
        {"month": "2024-02-01", "store": export.services.store_doc(subject.restaurant), "visits": 2}
    ]
    assert doc["web_interests"] == [
        {"category": "interest-of-KalevalainenA", "last_seen": "2024-04-02"}
    ]
    assert doc["campaigns"] == []


def test_export_holds_the_full_consent_ledger_and_current_state(session: Session) -> None:
    subject = full_member(session, "A")

    doc = _export(session, subject)

    ledger = [(e["purpose"], e["channel"], e["decision"]) for e in doc["consent_ledger"]]
    assert ledger == [
        ("own_marketing", "email", "granted"),
        ("market_research", "phone", "refused"),
    ]
    state = {(s["purpose"], s["channel"]): s["decision"] for s in doc["consent_state"]}
    assert state == {("own_marketing", "email"): "granted", ("market_research", "phone"): "refused"}


def test_export_lists_earlier_accesses_and_its_own(session: Session) -> None:
    subject = full_member(session, "A")

    doc = _export(session, subject)

    actions = [(a["action"], a["reason"]) for a in doc["audit"]]
    assert actions == [("member.show", "call"), ("member.export", "request 7")]


def test_export_gives_suppression_reason_and_date_but_not_the_hash(session: Session) -> None:
    subject = full_member(session, "A")
    factories.suppress(session, subject.member, SuppressionReason.OPTOUT_REGISTER)

    doc = _export(session, subject)

    [suppression] = doc["suppressions"]
    assert suppression["reason"] == "optout_register"
    assert suppression["since"]
    assert subject.member.subject_hash not in export.dumps(doc)


def test_export_names_no_staff_member(session: Session) -> None:
    subject = full_member(session, "A")

    text = export.dumps(_export(session, subject))

    # The factories record consent as "tester" and the earlier look as "earlier.staff".
    for staff in ("tester", "earlier.staff", "maija.staff"):
        assert staff not in text


def test_export_contains_no_other_members_data(session: Session) -> None:
    subject = full_member(session, "A")
    # The hardest neighbour: same household, their own consent and audit trail.
    other = full_member(session, "Z", household_id=subject.member.household_id)
    factories.suppress(session, other.member, SuppressionReason.DECEASED)
    audit.record(session, actor="x", action="member.show", member_id=other.id, reason="secret Z")

    text = export.dumps(_export(session, subject)).encode()

    for field, value in other.personal_values().items():
        assert value.encode() not in text, f"other member's {field} leaked"
    for value in ("Prisma Z", "Rosso Z", "dairy-Z", "secret Z", "deceased"):
        assert value.encode() not in text
    assert other.member.subject_hash.encode() not in text


def test_export_is_plain_json(session: Session) -> None:
    subject = full_member(session, "A")

    doc = _export(session, subject)

    # dumps has no fallback serialiser, so this fails on any non-JSON value.
    assert json.loads(export.dumps(doc)) == doc


def test_export_of_unknown_member_fails_and_leaves_no_audit_entry(session: Session) -> None:
    with pytest.raises(InputError, match="no member with id 424242"):
        export.export_member(
            session, 424242, actor="maija.staff", reason=None, destination="stdout"
        )
    assert session.scalar(select(func.count()).select_from(AuditEntry)) == 0


def test_written_export_is_readable_by_its_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "export.json"
    path.write_text("an older export", encoding="utf-8")

    export.write_document({"member_id": 1}, path)

    assert json.loads(path.read_text(encoding="utf-8")) == {"member_id": 1}
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["export.json"]
