"""``dispatch audit list``: reading the audit log, filtered, itself audited."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from dispatch.register.models import AuditEntry
from tests import factories
from tests.conftest import CliResult

Cli = Callable[..., CliResult]


@pytest.fixture
def two_members(cli: Cli, session: Session) -> tuple[int, int]:
    """Two members; maija looked at the first in 2024, pekka at both now."""
    first, second = factories.member(session).id, factories.member(session).id
    session.commit()
    for who, member_id in (("maija", first), ("pekka", first), ("pekka", second)):
        assert cli("member", "show", str(member_id), "--as", who, "--reason", "t1").code == 0
    session.execute(
        update(AuditEntry)
        .where(AuditEntry.actor == "maija")
        .values(at=dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.UTC))
    )
    session.commit()
    return first, second


def _listing(cli: Cli, *args: str) -> list[dict[str, Any]]:
    result = cli("audit", "list", "--as", "aino.auditor", *args, "--json")
    assert result.code == 0, result.err
    doc = result.json()
    assert isinstance(doc, list)
    return doc


def test_filters_by_member_actor_and_time(cli: Cli, two_members: tuple[int, int]) -> None:
    first, second = two_members

    about_first = _listing(cli, "--member", str(first))
    by_pekka = _listing(cli, "--actor", "pekka")
    recent = _listing(cli, "--since", "2025-01-01")

    assert [(e["actor"], e["member_id"]) for e in about_first] == [
        ("maija", first),
        ("pekka", first),
    ]
    assert about_first[0]["at"].startswith("2024-05-01T12:00:00")
    assert about_first[0]["reason"] == "t1" and about_first[0]["action"] == "member.show"
    assert {e["member_id"] for e in by_pekka if e["action"] == "member.show"} == {first, second}
    assert "maija" not in {e["actor"] for e in recent}


def test_reading_the_log_is_recorded_under_the_member(
    cli: Cli, session: Session, two_members: tuple[int, int]
) -> None:
    first, _ = two_members

    shown = _listing(cli, "--member", str(first))

    entry = _fresh_last(session)
    assert (entry.actor, entry.action, entry.member_id) == ("aino.auditor", "audit.list", first)
    assert entry.detail["shown"] == len(shown) == 2
    assert _listing(cli, "--member", str(first))[-1]["action"] == "audit.list"


def _fresh_last(session: Session) -> AuditEntry:
    session.rollback()
    session.expire_all()
    entry = session.scalars(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(1)).first()
    assert entry is not None
    return entry


def test_limit_keeps_the_most_recent(cli: Cli, two_members: tuple[int, int]) -> None:
    last_two = _listing(cli, "--limit", "2")

    assert [e["actor"] for e in last_two] == ["pekka", "pekka"]
    assert last_two[0]["id"] < last_two[1]["id"]


def test_table_names_each_entry(cli: Cli, two_members: tuple[int, int]) -> None:
    result = cli("audit", "list", "--as", "aino.auditor", "--actor", "maija")

    assert result.code == 0, result.err
    assert "2024-05-01T12:00:00" in result.out and "member.show" in result.out


@pytest.mark.parametrize(
    ("args", "where"),
    [
        (("--since", "last tuesday"), "--since"),
        (("--since", "2024-05-01T09:00"), "--since"),
        (("--member", "424242"), "no member with id 424242"),
        (("--member", "x"), "--member"),
    ],
)
def test_bad_filters_are_bad_input(cli: Cli, args: tuple[str, ...], where: str) -> None:
    result = cli("audit", "list", "--as", "aino.auditor", *args)

    assert result.code == 2
    [line] = result.err.strip().splitlines()
    assert where in line


def test_needs_to_know_who_reads(cli: Cli) -> None:
    result = cli("audit", "list")

    assert result.code == 2 and "--as" in result.err
