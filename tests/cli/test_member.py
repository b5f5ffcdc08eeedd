"""``dispatch member``: each command's behaviour, its errors, and its audit entry."""

from __future__ import annotations

import io
import json
import stat
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dispatch.cli import member as member_cli
from dispatch.db.types import Channel, MemberStatus, Purpose, SuppressionReason
from dispatch.register import consent
from dispatch.register.models import AuditEntry, ConsentState, Member, Suppression
from tests import factories
from tests.cli.members import audit_entries, fresh, ledger
from tests.conftest import CliResult
from tests.privacy.subjects import Subject, full_member

Cli = Callable[..., CliResult]


@pytest.fixture
def subject(session: Session) -> Subject:
    """A committed member with data in every table, and nothing else in the audit log."""
    made = full_member(session, "A")
    session.execute(AuditEntry.__table__.delete())
    session.commit()
    return made


# Every member command, as (audit action, arguments for member id N).
COMMANDS: dict[str, Callable[[int], list[str]]] = {
    "member.show": lambda n: ["member", "show", str(n)],
    "member.consent": lambda n: (
        f"member consent {n} --purpose own_marketing --channel sms grant".split()
    ),
    "member.object": lambda n: ["member", "object", str(n)],
    "member.export": lambda n: ["member", "export", str(n)],
    "member.erase": lambda n: ["member", "erase", str(n), "--yes"],
    "member.links_revoked": lambda n: ["member", "revoke-links", str(n)],
}


@pytest.mark.parametrize("action", COMMANDS)
def test_member_command_writes_exactly_one_audit_entry(
    cli: Cli, session: Session, subject: Subject, action: str
) -> None:
    result = cli(*COMMANDS[action](subject.id), "--as", "maija.staff", "--reason", "ticket 42")

    assert result.code == 0, result.err
    [entry] = audit_entries(session)
    assert (entry.actor, entry.action, entry.member_id, entry.reason) == (
        "maija.staff",
        action,
        subject.id,
        "ticket 42",
    )


@pytest.mark.parametrize("action", COMMANDS)
def test_member_command_without_actor_is_refused_and_unaudited(
    cli: Cli, session: Session, subject: Subject, action: str
) -> None:
    result = cli(*COMMANDS[action](subject.id))

    assert result.code == 2
    assert "--as" in result.err
    assert len(result.err.strip().splitlines()) == 1
    assert result.out == ""
    assert audit_entries(session) == []
    assert len(ledger(session, subject.id)) == 2  # no consent change either
    assert fresh(session).get(Member, subject.id).status == MemberStatus.ACTIVE


@pytest.mark.parametrize("action", COMMANDS)
def test_member_command_on_unknown_id_is_bad_input_and_unaudited(
    cli: Cli, session: Session, subject: Subject, action: str
) -> None:
    """An id that names nobody is bad input, as an unknown campaign is (exit 2)."""
    result = cli(*COMMANDS[action](424242), "--as", "maija.staff")

    assert result.code == 2
    assert result.err.strip() == "dispatch: error: no member with id 424242"
    assert audit_entries(session) == []


def test_actor_may_come_from_the_environment(
    cli: Cli, session: Session, subject: Subject, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DISPATCH_ACTOR", "env.staff")

    assert cli("member", "show", str(subject.id)).code == 0

    assert [e.actor for e in audit_entries(session)] == ["env.staff"]


def test_overlong_reason_is_refused_naming_the_option(cli: Cli, subject: Subject) -> None:
    result = cli("member", "show", str(subject.id), "--as", "m", "--reason", "x" * 201)

    assert result.code == 2
    assert "--reason" in result.err


# show ------------------------------------------------------------------------------------


def test_show_prints_identity_consent_and_purchases(cli: Cli, subject: Subject) -> None:
    result = cli("member", "show", str(subject.id), "--as", "maija.staff")

    assert result.code == 0, result.err
    for text in ("IlmatarA KalevalainenA", subject.member.email, "Sampokuja", "Prisma A"):
        assert text in result.out
    assert "market_research" in result.out and "refused" in result.out
    assert "food-A" in result.out and "13.75" in result.out


def test_show_json_is_one_document_with_totals_per_top_level_group(
    cli: Cli, subject: Subject
) -> None:
    result = cli("member", "show", str(subject.id), "--as", "maija.staff", "--json")

    assert result.code == 0, result.err
    doc: Any = json.loads(result.out)
    assert doc["member"]["id"] == subject.id
    assert doc["household"]["kind"] == "single"
    assert doc["home_store"]["name"] == "Prisma A"
    assert doc["suppressions"] == []
    # dairy-A rolls up into its parent food-A.
    [food] = doc["purchases"]
    assert (food["group"], food["amount"], food["count"]) == ("food-A", "13.75", 4)
    assert {(c["purpose"], c["channel"], c["decision"]) for c in doc["consent"]} == {
        ("own_marketing", "email", "granted"),
        ("market_research", "phone", "refused"),
    }


def test_show_lists_suppressions_that_apply_by_subject_hash(
    cli: Cli, session: Session, subject: Subject
) -> None:
    factories.suppress(session, subject.member, SuppressionReason.OPTOUT_REGISTER)
    session.commit()

    doc: Any = cli("member", "show", str(subject.id), "--as", "m", "--json").json()

    assert [s["reason"] for s in doc["suppressions"]] == ["optout_register"]
    assert subject.member.subject_hash not in json.dumps(doc)


# consent and objection -----------------------------------------------------------------


def test_consent_grant_appends_to_ledger_with_actor_and_default_source(
    cli: Cli, session: Session, subject: Subject
) -> None:
    result = cli(
        *f"member consent {subject.id} --purpose partner_marketing --channel email grant".split(),
        "--as",
        "maija.staff",
    )

    assert result.code == 0, result.err
    event = ledger(session, subject.id)[-1]
    assert (event.purpose, event.channel, event.decision) == (
        "partner_marketing",
        "email",
        "granted",
    )
    assert (event.actor, event.source) == ("maija.staff", "staff")
    state = session.get(ConsentState, (subject.id, "partner_marketing", "email"))
    assert state is not None and state.event_id == event.id


def test_consent_refuse_records_the_given_source(
    cli: Cli, session: Session, subject: Subject
) -> None:
    result = cli(
        *f"member consent {subject.id} --purpose own_marketing --channel email refuse".split(),
        *("--source", "letter", "--as", "maija.staff"),
    )

    assert result.code == 0, result.err
    event = ledger(session, subject.id)[-1]
    assert (event.decision, event.source) == ("refused", "letter")
    states = consent.current_states(session, subject.id)
    assert states[("own_marketing", "email")] == "refused"


@pytest.mark.parametrize(
    ("purpose", "channel", "option"),
    [
        ("bogus", "email", "--purpose"),
        ("own_marketing", "fax", "--channel"),
        ("direct_marketing", "email", "--purpose"),
        ("own_marketing", "any", "--channel"),
    ],
)
def test_consent_with_bad_or_umbrella_scope_is_refused_naming_the_option(
    cli: Cli, session: Session, subject: Subject, purpose: str, channel: str, option: str
) -> None:
    result = cli(
        *f"member consent {subject.id} --purpose {purpose} --channel {channel} grant".split(),
        *("--as", "maija.staff"),
    )

    assert result.code == 2
    assert option in result.err
    assert len(result.err.strip().splitlines()) == 1
    assert len(ledger(session, subject.id)) == 2
    assert audit_entries(session) == []


def test_objection_is_a_ledger_entry_and_blocks_marketing_at_once(
    cli: Cli, session: Session, subject: Subject
) -> None:
    result = cli("member", "object", str(subject.id), "--as", "maija.staff")

    assert result.code == 0, result.err
    event = ledger(session, subject.id)[-1]
    assert (event.purpose, event.channel, event.decision, event.actor) == (
        "direct_marketing",
        "any",
        "objected",
        "maija.staff",
    )
    state = session.get(ConsentState, (subject.id, "direct_marketing", "any"))
    assert state is not None and state.decision == "objected"
    states = consent.current_states(session, subject.id)
    # The e-mail opt-in granted earlier no longer counts.
    for purpose in consent.MARKETING_PURPOSES:
        for channel in consent.CAMPAIGN_CHANNELS:
            assert not consent.allows(
                states, Purpose(purpose), Channel(channel), on_optout_register=False
            )


def test_consent_change_of_an_erased_member_is_refused(
    cli: Cli, session: Session, subject: Subject
) -> None:
    assert cli("member", "erase", str(subject.id), "--yes", "--as", "m").code == 0

    result = cli("member", "object", str(subject.id), "--as", "m")

    assert result.code == 1
    assert f"member {subject.id} was erased" in result.err


# export ----------------------------------------------------------------------------------


def test_export_prints_one_document_that_lists_its_own_access(cli: Cli, subject: Subject) -> None:
    result = cli("member", "export", str(subject.id), "--as", "maija.staff", "--reason", "art15")

    assert result.code == 0, result.err
    doc: Any = json.loads(result.out)
    assert doc["member_id"] == subject.id
    assert len(doc["consent_ledger"]) == 2
    assert [(a["action"], a["reason"]) for a in doc["audit"]] == [("member.export", "art15")]


def test_export_to_file_is_private_and_says_where(
    cli: Cli, subject: Subject, tmp_path: Path
) -> None:
    out = tmp_path / "member.json"

    result = cli("member", "export", str(subject.id), "--out", str(out), "--as", "m")

    assert result.code == 0, result.err
    assert str(out) in result.out
    assert json.loads(out.read_text(encoding="utf-8"))["member_id"] == subject.id
    assert stat.S_IMODE(out.stat().st_mode) == 0o600


def test_export_to_missing_directory_is_refused_unaudited(
    cli: Cli, session: Session, subject: Subject, tmp_path: Path
) -> None:
    out = tmp_path / "missing" / "x.json"

    result = cli("member", "export", str(subject.id), "--out", str(out), "--as", "m")

    assert result.code == 2
    assert "--out" in result.err
    assert audit_entries(session) == []


# erase -----------------------------------------------------------------------------------


def test_erase_with_yes_erases_and_suppresses(cli: Cli, session: Session, subject: Subject) -> None:
    result = cli("member", "erase", str(subject.id), "--yes", "--as", "maija.staff")

    assert result.code == 0, result.err
    assert "erased" in result.out
    member = fresh(session).get(Member, subject.id)
    assert member is not None and member.status == "erased" and member.email is None
    reasons = session.scalars(
        select(Suppression.reason).where(Suppression.subject_hash == member.subject_hash)
    )
    assert list(reasons) == ["erased"]


def test_erase_without_yes_off_a_terminal_is_refused(
    cli: Cli, session: Session, subject: Subject, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(member_cli, "_interactive", lambda: False)

    result = cli("member", "erase", str(subject.id), "--as", "maija.staff")

    assert result.code == 2
    assert "--yes" in result.err
    assert audit_entries(session) == []
    assert fresh(session).get(Member, subject.id).status == "active"


@pytest.mark.parametrize(("answer", "code", "status"), [("y\n", 0, "erased"), ("n\n", 1, "active")])
def test_erase_on_a_terminal_asks_first(
    cli: Cli,
    session: Session,
    subject: Subject,
    monkeypatch: pytest.MonkeyPatch,
    answer: str,
    code: int,
    status: str,
) -> None:
    monkeypatch.setattr(member_cli, "_interactive", lambda: True)
    monkeypatch.setattr(sys, "stdin", io.StringIO(answer))

    result = cli("member", "erase", str(subject.id), "--as", "maija.staff")

    assert result.code == code
    assert "cannot be undone" in result.out
    assert len(audit_entries(session)) == (1 if status == "erased" else 0)
    assert fresh(session).get(Member, subject.id).status == status


def test_erasing_twice_is_an_error_with_one_audit_entry(
    cli: Cli, session: Session, subject: Subject
) -> None:
    assert cli("member", "erase", str(subject.id), "--yes", "--as", "m").code == 0

    result = cli("member", "erase", str(subject.id), "--yes", "--as", "m")

    assert result.code == 1
    assert f"member {subject.id} was erased on" in result.err
    assert [e.action for e in audit_entries(session)] == ["member.erase"]
    count = session.scalar(select(func.count()).select_from(Suppression))
    assert count == 1
