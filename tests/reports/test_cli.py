"""``dispatch report partner|budget`` and ``dispatch partner bonus-code``."""

from __future__ import annotations

from collections.abc import Callable

from tests.conftest import CliResult
from tests.reports.conftest import PARTNER, ReportWorld

Cli = Callable[..., CliResult]


def test_report_partner_prints_the_released_reports_once(
    cli: Cli, report_world: ReportWorld
) -> None:
    campaign = report_world.finished(report_world.members(300), report_world.members(100))

    first = cli("report", "partner", str(campaign.id), "--json", "--as", "anna")
    again = cli("report", "partner", campaign.public_id, "--json", "--as", "bertil")
    text = cli("report", "partner", str(campaign.id), "--as", "anna")

    assert first.code == 0, first.err
    doc = first.json()
    assert isinstance(doc, dict)
    assert doc["campaign"] == campaign.public_id and doc["estimate"] is None
    assert doc["report"]["available"] and doc["report"]["totals"][0]["value"] is not None
    assert doc["lift"]["available"] and doc["lift"]["lift"] is None  # nobody bought
    assert again.json() == doc  # the stored answers, nothing spent again
    assert "letters handed off:" in text.out and "privacy budget" in text.out
    budget = cli("report", "budget", PARTNER, "--json")
    assert budget.code == 0, budget.err
    spent = budget.json()
    assert isinstance(spent, dict)
    assert spent["budget"]["spent_epsilon"] == 3.0
    assert {(r["kind"], r["released_by"]) for r in spent["releases"]} == {
        ("report", "anna"),
        ("lift", "anna"),
    }


def test_report_errors_are_one_line(cli: Cli, report_world: ReportWorld) -> None:
    nobody = cli("report", "partner", "999", "--as", "anna")
    assert nobody.code == 2 and nobody.err.strip() == "dispatch: error: CAMPAIGN: no campaign 999"
    anonymous = cli("report", "partner", "1")
    assert anonymous.code == 2 and "--as" in anonymous.err
    assert len(anonymous.err.strip().splitlines()) == 1
    unknown = cli("report", "budget", "Nobody Oy")
    assert unknown.code == 2 and "no partner named 'Nobody Oy'" in unknown.err


def test_partner_bonus_code(cli: Cli, report_world: ReportWorld) -> None:
    assert cli("partner", "create", "Lähivakuutus").code == 0
    bad = cli("partner", "bonus-code", "Lähivakuutus", "Lähi Vakuutus")
    assert bad.code == 2 and "CODE: a bonus code is lower-case" in bad.err
    taken = cli("partner", "bonus-code", "Lähivakuutus", "nordic_air")
    assert taken.code == 2 and "belongs to Nordic Air" in taken.err
    done = cli("partner", "bonus-code", "Lähivakuutus", "lahi_vakuutus", "--json")
    assert done.code == 0 and done.json()["bonus_code"] == "lahi_vakuutus"  # type: ignore[index]
