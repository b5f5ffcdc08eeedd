"""``dispatch member``: warnings, repeated objections, Art. 9 purchases, and --json on the
commands that change a member's state."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy.orm import Session

from dispatch.register.models import AuditEntry, PurchaseSummary
from tests import factories
from tests.cli.members import audit_entries, ledger
from tests.conftest import CliResult
from tests.privacy.subjects import Subject, full_member

Cli = Callable[..., CliResult]
AS = ("--as", "maija.staff")


@pytest.fixture
def subject(session: Session) -> Subject:
    made = full_member(session, "S")
    session.execute(AuditEntry.__table__.delete())
    session.commit()
    return made


# objections -------------------------------------------------------------------------------


def test_a_second_objection_records_nothing_new_and_says_so(
    cli: Cli, session: Session, subject: Subject
) -> None:
    first = cli("member", "object", str(subject.id), *AS, "--json")
    assert first.code == 0, first.err
    doc: Any = first.json()
    assert doc["new"] is True and doc["objected"] is True
    before = ledger(session, subject.id)

    again = cli("member", "object", str(subject.id), *AS)

    assert again.code == 0, again.err
    assert "already objected to all direct marketing since" in again.out
    assert "nothing new recorded" in again.out
    assert f"ledger entry {doc['ledger_entry']}" in again.out
    assert ledger(session, subject.id) == before
    second = audit_entries(session)[-1]
    assert (second.action, second.detail["already_objected"]) == ("member.object", True)
    assert second.detail["event_id"] == doc["ledger_entry"]


def test_granting_while_an_objection_is_in_force_warns_and_still_records(
    cli: Cli, session: Session, subject: Subject
) -> None:
    assert cli("member", "object", str(subject.id), *AS).code == 0
    grant = f"member consent {subject.id} --purpose partner_marketing --channel email grant"

    result = cli(*grant.split(), *AS, "--json")

    assert result.code == 0, result.err
    [warning] = result.err.strip().splitlines()
    assert warning == (
        f"dispatch: warning: member {subject.id}: granted, but the member's objection to all "
        "direct marketing still blocks it"
    )
    doc: Any = result.json()
    assert doc["warnings"] == [
        "granted, but the member's objection to all direct marketing still blocks it"
    ]
    assert ("direct_marketing", "any", "objected") in {
        (c["purpose"], c["channel"], c["decision"]) for c in doc["consent"]
    }
    assert ledger(session, subject.id)[-1].decision == "granted"


def test_no_warning_where_the_objection_does_not_reach(
    cli: Cli, session: Session, subject: Subject
) -> None:
    """Market research is not direct marketing: the objection does not cover it."""
    assert cli("member", "object", str(subject.id), *AS).code == 0
    grant = f"member consent {subject.id} --purpose market_research --channel email grant"

    result = cli(*grant.split(), *AS)

    assert result.code == 0, result.err
    assert result.err == ""
    assert "ledger entry" in result.out


def test_refusing_and_erasing_print_the_resulting_state_as_json(cli: Cli, subject: Subject) -> None:
    refuse = f"member consent {subject.id} --purpose own_marketing --channel post refuse"

    refused: Any = cli(*refuse.split(), *AS, "--json").json()
    erased: Any = cli("member", "erase", str(subject.id), "--yes", *AS, "--json").json()

    assert (refused["decision"], refused["warnings"]) == ("refused", [])
    assert ("own_marketing", "post", "refused") in {
        (c["purpose"], c["channel"], c["decision"]) for c in refused["consent"]
    }
    assert erased["member"] == subject.id and erased["status"] == "erased"
    assert erased["suppression_added"] is True and erased["deleted"]["purchase_summaries"] == 2


# Art. 9 purchases -------------------------------------------------------------------------


@pytest.fixture
def pharmacy_buyer(session: Session, subject: Subject) -> Subject:
    """The subject also bought in a sensitive group nested under a harmless one."""
    health = factories.product_group(session, "health-S")
    pharmacy = factories.product_group(session, "pharmacy-S", health, sensitive=True)
    session.add(
        PurchaseSummary(
            member_id=subject.id,
            product_group_id=pharmacy.id,
            month=dt.date(2024, 2, 1),
            amount=31.0,
            count=2,
        )
    )
    session.commit()
    return subject


def test_show_hides_sensitive_purchases_and_does_not_hint_at_them(
    cli: Cli, pharmacy_buyer: Subject, subject: Subject
) -> None:
    result = cli("member", "show", str(subject.id), *AS, "--json")

    assert result.code == 0, result.err
    doc: Any = result.json()
    assert doc["sensitive_purchases"] == "hidden"
    assert [p["group"] for p in doc["purchases"]] == ["food-S"]
    assert "pharmacy" not in result.out and "health" not in result.out
    assert "31.00" not in result.out
    text = cli("member", "show", str(subject.id), *AS)
    assert "pharmacy" not in text.out and "Art. 9" in text.out


def test_show_sensitive_needs_a_reason(cli: Cli, session: Session, subject: Subject) -> None:
    result = cli("member", "show", str(subject.id), "--sensitive", *AS)

    assert result.code == 2
    [line] = result.err.strip().splitlines()
    assert "--reason" in line and "Art. 9" in line
    assert audit_entries(session) == []


def test_show_sensitive_with_a_reason_shows_them_apart_and_is_audited(
    cli: Cli, session: Session, pharmacy_buyer: Subject, subject: Subject
) -> None:
    result = cli(
        "member", "show", str(subject.id), "--sensitive", "--reason", "ticket 7", *AS, "--json"
    )

    assert result.code == 0, result.err
    doc: Any = result.json()
    assert doc["sensitive_purchases"] == "shown"
    totals = {p["group"]: (p["amount"], p["sensitive"]) for p in doc["purchases"]}
    # Totalled under the sensitive group itself, never inside its harmless parent.
    assert totals == {"pharmacy-S": ("31.00", True), "food-S": ("13.75", False)}
    [entry] = audit_entries(session)
    assert (entry.action, entry.reason, entry.detail) == (
        "member.show",
        "ticket 7",
        {"sensitive": True},
    )
