"""``dispatch segment``: exit codes, one-line errors, one JSON document, audited why."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from dispatch.db.types import Channel, Decision, Purpose
from dispatch.register.models import AuditEntry, Member
from tests import factories
from tests.conftest import CliResult
from tests.segmenting.conftest import Register, buy

Cli = Callable[..., CliResult]
MAY = dt.date(2025, 5, 1)

GOOD = """\
name: baby-buyers
description: Bought baby products lately
purpose: partner_marketing
channel: post
unit: household
where:
  all:
    - purchased: {group: baby, within_months: 6}
"""


@pytest.fixture
def population(session: Session, register: Register) -> dict[str, Member]:
    """Three baby buyers, one of whom objected; committed for the CLI to see."""
    people = {name: factories.member(session) for name in ("a", "b", "objector")}
    for m in people.values():
        buy(session, m, register.groups["diapers"], MAY)
    factories.set_consent(
        session, people["objector"], Purpose.DIRECT_MARKETING, Channel.ANY, Decision.OBJECTED
    )
    session.commit()
    return people


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_segment_help_lists_every_command(cli: Cli) -> None:
    result = cli("segment", "--help")

    assert result.code == 0
    for command in ("check", "count", "explain", "why"):
        assert command in result.out


def test_check_passes_good_files(cli: Cli, population: dict[str, Member], tmp_path: Path) -> None:
    path = write(tmp_path, "good.yaml", GOOD)

    result = cli("segment", "check", str(path))

    assert result.code == 0, result.err
    assert result.out == f"ok {path}\n"


def test_check_reports_every_problem_of_every_file_and_exits_2(
    cli: Cli, population: dict[str, Member], tmp_path: Path
) -> None:
    good = write(tmp_path, "good.yaml", GOOD)
    syntax = write(
        tmp_path, "syntax.yaml", GOOD.replace("channel: post", "channel: fax") + "x: 1\n"
    )
    refs = write(
        tmp_path,
        "refs.yaml",
        GOOD.replace("group: baby", "group: nappies") + "    - home_store_chain: Lidl\n",
    )

    result = cli("segment", "check", str(good), str(syntax), str(refs))

    assert result.code == 2
    lines = result.err.strip().splitlines()
    assert len(lines) == 5
    assert lines[0] == (
        f"dispatch: {syntax}:4: channel: unknown value 'fax'; expected one of "
        "post, email, sms, phone"
    )
    assert lines[1].startswith(f"dispatch: {syntax}:9: x: unknown key 'x'")
    assert lines[2].startswith(
        f"dispatch: {refs}:8: where.all[0].purchased.group: unknown product group 'nappies'"
    )
    assert lines[3] == (
        f"dispatch: {refs}:9: where.all[1].home_store_chain: unknown chain 'Lidl'; "
        "known: ABC, Amarillo, Prisma, Rosso"
    )
    assert lines[4] == "dispatch: error: 4 problems in 2 of 3 files"
    assert result.out == ""


def test_check_lists_unknown_names_beside_syntax_problems_in_one_run(
    cli: Cli, population: dict[str, Member], tmp_path: Path
) -> None:
    """A typo in a product group is reported with the syntax error above it, not after it
    is fixed; so is a name in a criterion whose other field is bad."""
    text = (
        GOOD.replace("purpose: partner_marketing", "purpose: marketing").replace(
            "group: baby", "group: babby"
        )
        + "    - visited: {chain: Rossso, within_months: zero}\n"
        + "    - browsed: {category: bikes, within_days: 30}\n"
    )
    path = write(tmp_path, "typos.yaml", text)

    result = cli("segment", "check", str(path))

    assert result.code == 2
    lines = result.err.strip().splitlines()
    assert lines == [
        f"dispatch: {path}:3: purpose: unknown value 'marketing'; expected one of "
        "own_marketing, partner_marketing, market_research, profiling",
        f"dispatch: {path}:9: where.all[1].visited.within_months: expected a whole number, "
        "got 'zero'",
        f"dispatch: {path}:8: where.all[0].purchased.group: unknown product group 'babby'; "
        "did you mean 'baby'?",
        f"dispatch: {path}:9: where.all[1].visited.chain: unknown restaurant chain 'Rossso'; "
        "did you mean 'Rosso'?",
        f"dispatch: {path}:10: where.all[2].browsed.category: unknown web category 'bikes'; "
        "did you mean 'bicycles'?",
        "dispatch: error: 5 problems in 1 of 1 file",
    ]


def test_check_json_is_one_document_listing_problems_per_file(
    cli: Cli, population: dict[str, Member], tmp_path: Path
) -> None:
    good = write(tmp_path, "good.yaml", GOOD)
    bad = write(tmp_path, "bad.yaml", GOOD.replace("within_months: 6", "within_months: six"))

    result = cli("segment", "check", "--json", str(good), str(bad))

    assert result.code == 2
    doc = json.loads(result.out)
    assert doc["ok"] is False
    assert doc["files"][0] == {"file": str(good), "ok": True, "problems": []}
    assert doc["files"][1]["problems"] == [
        {
            "where": f"{bad}:8: where.all[0].purchased.within_months",
            "message": "expected a whole number, got 'six'",
        }
    ]


def test_check_syntax_only_needs_no_database(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DISPATCH_DATABASE_URL", f"sqlite:///{tmp_path / 'absent' / 'x.db'}")
    path = write(tmp_path, "good.yaml", GOOD.replace("group: baby", "group: anything"))

    result = cli("segment", "check", "--syntax-only", str(path))

    assert result.code == 0, result.err
    assert not (tmp_path / "absent").exists()


def test_count_json_numbers_reconcile(
    cli: Cli, population: dict[str, Member], tmp_path: Path
) -> None:
    path = write(tmp_path, "good.yaml", GOOD)

    result = cli("segment", "count", str(path), "--as-of", "2025-06-15", "--json")

    assert result.code == 0, result.err
    doc = json.loads(result.out)
    assert doc["as_of"] == "2025-06-15"
    assert (doc["matched"], doc["selected"]) == (3, 2)
    assert doc["removed"]["objection"] == 1
    assert doc["matched"] == doc["selected"] + sum(doc["removed"].values())
    assert list(doc["removed"]) == [
        "status",
        "suppressed",
        "minor",
        "objection",
        "consent_refused",
        "optout_register",
        "address",
        "household",
    ]


def test_count_prints_a_table(cli: Cli, population: dict[str, Member], tmp_path: Path) -> None:
    result = cli("segment", "count", str(write(tmp_path, "g.yaml", GOOD)), "--as-of", "2025-06-15")

    assert result.code == 0, result.err
    assert "baby-buyers: partner_marketing by post, one per household, as of 2025-06-15" in (
        result.out
    )
    assert "removed: objection" in result.out


def test_count_of_a_bad_file_is_one_line_and_exit_2(
    cli: Cli, population: dict[str, Member], tmp_path: Path
) -> None:
    path = write(tmp_path, "bad.yaml", GOOD.replace("group: baby", "group: pharmacy"))

    result = cli("segment", "count", str(path), "--json")

    assert result.code == 2
    assert result.out == ""
    [line] = result.err.strip().splitlines()
    assert line.startswith(f"dispatch: error: {path}:8: where.all[0].purchased.group: ")
    assert "GDPR Art. 9" in line


def test_bad_as_of_date_is_bad_input(cli: Cli, tmp_path: Path) -> None:
    result = cli("segment", "count", str(write(tmp_path, "g.yaml", GOOD)), "--as-of", "15.6.2025")

    assert result.code == 2
    assert "--as-of" in result.err


def test_explain_prints_sql_for_the_current_dialect(
    cli: Cli, population: dict[str, Member], tmp_path: Path, engine: Engine, session: Session
) -> None:
    path = write(tmp_path, "good.yaml", GOOD)

    plain = cli("segment", "explain", str(path), "--as-of", "2025-06-15")
    doc = cli("segment", "explain", str(path), "--as-of", "2025-06-15", "--count", "--json")

    assert plain.code == 0, plain.err
    assert plain.out.startswith("SELECT min(member_facts.id)")
    if session.info["rollups"]:  # the rollups hold these months: one row per buyer
        assert "LEFT OUTER JOIN purchase_rollups AS rollup_" in plain.out
        assert "purchase_summaries" not in plain.out
    else:
        assert "purchase_summaries.month >= '2024-12-01'" in plain.out
    assert doc.code == 0, doc.err
    explained = json.loads(doc.out)
    assert explained["dialect"] == engine.dialect.name
    assert explained["query"] == "count"
    assert "CASE WHEN" in explained["sql"]


def test_why_is_audited_under_the_actor(
    cli: Cli, population: dict[str, Member], tmp_path: Path, engine: Engine
) -> None:
    path = write(tmp_path, "good.yaml", GOOD)
    objector = population["objector"].id

    result = cli(
        "segment",
        "why",
        str(path),
        str(objector),
        "--as",
        "maija.staff",
        "--reason",
        "complaint 42",
        "--as-of",
        "2025-06-15",
        "--json",
    )

    assert result.code == 0, result.err
    doc = json.loads(result.out)
    assert doc["selected"] is False
    assert doc["rule"] == "objection"
    assert doc["removed_by"] == "rule objection"
    with Session(engine) as s:
        [entry] = s.execute(select(AuditEntry)).scalars()
    assert (entry.actor, entry.member_id, entry.reason) == ("maija.staff", objector, "complaint 42")


def test_why_human_output_names_the_criterion(
    cli: Cli, population: dict[str, Member], tmp_path: Path, session: Session
) -> None:
    outsider = factories.member(session)
    session.commit()
    path = write(tmp_path, "good.yaml", GOOD)

    result = cli("segment", "why", str(path), str(outsider.id), "--as", "maija")

    assert result.code == 0, result.err
    assert "not selected" in result.out
    assert f"criterion where.all[0].purchased ({path}:8): not matched" in result.out


def test_why_without_actor_is_refused_and_not_audited(
    cli: Cli, population: dict[str, Member], tmp_path: Path, engine: Engine
) -> None:
    path = write(tmp_path, "good.yaml", GOOD)

    result = cli("segment", "why", str(path), str(population["a"].id), "--json")

    assert result.code == 2
    assert result.out == ""
    [line] = result.err.strip().splitlines()
    assert "--as" in line
    with Session(engine) as s:
        assert s.execute(select(AuditEntry)).first() is None


def test_check_names_values_no_member_has_with_the_closest_ones(
    cli: Cli, session: Session, population: dict[str, Member], tmp_path: Path
) -> None:
    """A typo, a look-alike letter or a value nobody has would count zero in silence."""
    factories.member(session, municipality="Espoo", postcode="02100", language="fi")
    session.commit()
    text = GOOD + (
        "    - municipality: [Helsinky, Esp\u043eo]\n"  # a typo; a Cyrillic o
        "    - region: UUSIMAA\n"
        "    - postcode_prefix: ['001', '991']\n"
        "    - language: sv\n"
        "    - home_store_chain: Prisrna\n"
    )
    path = write(tmp_path, "places.yaml", text)

    result = cli("segment", "check", str(path))

    assert result.code == 2
    assert result.err.strip().splitlines() == [
        f"dispatch: {path}:13: where.all[5].home_store_chain: unknown chain 'Prisrna'; "
        "did you mean 'Prisma'?",
        f"dispatch: {path}:9: where.all[1].municipality[0]: no member has municipality "
        "'Helsinky'; did you mean 'Helsinki'?",
        f"dispatch: {path}:9: where.all[1].municipality[1]: no member has municipality "
        "'Esp\u043eo'; did you mean 'Espoo'? ('Esp\u043eo' has '\u043e' U+043E CYRILLIC "
        "SMALL LETTER O, which no known value has)",
        f"dispatch: {path}:10: where.all[2].region: no member has region 'UUSIMAA'; "
        "did you mean 'Uusimaa'?",
        f"dispatch: {path}:11: where.all[3].postcode_prefix: no member has 3-digit postcode "
        "prefix '991'; known: 001, 021",
        f"dispatch: {path}:12: where.all[4].language: no member has language 'sv'; known: fi",
        "dispatch: error: 6 problems in 1 of 1 file",
    ]
