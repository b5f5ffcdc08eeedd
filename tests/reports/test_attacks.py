"""Attacks a partner would try on its reports; each must fail.

Each test builds the audience an attacker would want, asks as the partner does
(:func:`dispatch.reports.services.release`, what the portal, API, CSV and CLI call)
and checks that the answer cannot single anyone out.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from sqlalchemy import func, select, text

from dispatch.db.engine import session_scope
from dispatch.db.types import utcnow
from dispatch.reports import ledger
from dispatch.reports.disclosure import Controls, ReportRefused
from dispatch.reports.models import Release, ReportKind
from tests.reports.conftest import ReportWorld

REPORT = ReportKind.REPORT


def _releases(world: ReportWorld) -> int:
    with session_scope(world.engine) as session:
        return int(session.scalar(select(func.count()).select_from(Release)) or 0)


def _cells(answer: dict[str, Any], dimension: str) -> dict[str, int | None]:
    part = next(p for p in answer["breakdowns"] if p["name"] == dimension)
    return {c["label"]: c["value"] for c in part["cells"]}


def test_a_segment_matching_a_handful_of_members_is_fewer_than_k(
    report_world: ReportWorld,
) -> None:
    report_world.members(4, region="Kainuu")
    report_world.members(300)
    estimate = report_world.ask(report_world.draft("Kainuu"), ReportKind.ESTIMATE)
    assert estimate["audience"]["value"] is None
    assert estimate["audience"]["text"] == "fewer than 50"
    assert "4" not in json.dumps(estimate["audience"])
    # The same handful as a finished campaign: every count hidden, no breakdown at all.
    few = report_world.members(6, region="Kainuu")
    answer = report_world.ask(report_world.finished(few), REPORT)
    assert all(t["value"] is None and t["text"] == "< 50" for t in answer["totals"])
    assert not any(p["available"] for p in answer["breakdowns"])


@pytest.mark.parametrize("direction", ["one more", "one fewer"])
def test_two_campaigns_whose_audiences_differ_by_one_member(
    report_world: ReportWorld, direction: str
) -> None:
    audience = report_world.members(400)
    first = report_world.finished(audience)
    report_world.ask(first, REPORT)
    other = [*audience, *report_world.members(1)] if direction == "one more" else audience[1:]
    second = report_world.finished(other)
    with pytest.raises(ReportRefused) as refused:
        report_world.ask(second, REPORT)
    assert "differs from the one of your earlier report" in str(refused.value)
    assert first.public_id in str(refused.value)
    assert "400" not in str(refused.value) and "401" not in str(refused.value)
    # The lift of the near twin, which adds its held out, is refused the same way.
    with pytest.raises(ReportRefused):
        report_world.ask(second, ReportKind.LIFT)
    assert _releases(report_world) == 1


def test_audiences_that_differ_by_k_or_more_are_both_released(report_world: ReportWorld) -> None:
    audience = report_world.members(400)
    report_world.ask(report_world.finished(audience), REPORT)
    wider = report_world.finished([*audience, *report_world.members(50)])
    assert report_world.ask(wider, REPORT)["totals"][0]["value"] is not None


def test_the_same_question_asked_a_thousand_times_gets_one_answer(
    report_world: ReportWorld,
) -> None:
    campaign = report_world.finished(report_world.members(500))
    answers = {json.dumps(report_world.ask(campaign, REPORT), sort_keys=True) for _ in range(1000)}
    assert len(answers) == 1
    with session_scope(report_world.engine) as session:
        spent = ledger.budget(session, report_world.partner_id, report_world.controls)
    assert spent.releases == 1 and spent.spent_epsilon == pytest.approx(2.0)
    # A new day is a new release, and it is charged again: averaging costs budget.
    tomorrow = utcnow() + dt.timedelta(days=1)
    report_world.ask(campaign, REPORT, now=tomorrow)
    assert _releases(report_world) == 2


def test_breakdowns_cannot_be_sliced_to_isolate_one_member(report_world: ReportWorld) -> None:
    report_world.members(1, region="Kainuu", birth_year=1940, language="sv")
    crowd = report_world.members(300) + report_world.members(200, region="Pirkanmaa")
    crowd += report_world.members(150, region="Varsinais-Suomi")
    target = report_world.members(1, region="Kainuu", birth_year=1940, language="sv")
    answer = report_world.ask(report_world.finished(crowd + target), REPORT)
    # Only the three fixed one-way breakdowns exist: no cross-tab to narrow down to one.
    assert [p["name"] for p in answer["breakdowns"]] == ["region", "age_band", "language"]
    regions = _cells(answer, "region")
    assert regions["Kainuu"] is None and regions["Uusimaa"] is not None
    assert _cells(answer, "age_band") == {} or _cells(answer, "age_band")["75+"] is None
    languages = _cells(answer, "language")
    assert languages == {} or languages["sv"] is None


def test_subtracting_the_visible_cells_from_the_total_reveals_no_hidden_cell(
    report_world: ReportWorld,
) -> None:
    exact = {"Uusimaa": 400, "Pirkanmaa": 300, "Varsinais-Suomi": 200, "Kainuu": 3}
    audience = [m for region, n in exact.items() for m in report_world.members(n, region=region)]
    answer = report_world.ask(report_world.finished(audience), REPORT)
    cells = _cells(answer, "region")
    hidden = [region for region, value in cells.items() if value is None]
    assert "Kainuu" in hidden
    # The hidden cells are several, and what they hold together is at least k, so the
    # total minus the visible cells is a sum that no single member can be read from.
    hidden_with_members = [r for r in hidden if exact.get(r)]
    assert len(hidden_with_members) >= 2
    assert sum(exact[r] for r in hidden_with_members) >= report_world.controls.min_cell


def test_a_spent_budget_then_a_new_campaign_on_the_same_audience(
    report_world: ReportWorld,
) -> None:
    report_world.controls = Controls(epsilon=4.0)
    audience = report_world.members(400)
    report_world.ask(report_world.finished(audience), REPORT)
    report_world.ask(report_world.finished(report_world.members(400)), REPORT)
    third = report_world.finished(report_world.members(400))
    with pytest.raises(ReportRefused) as refused:
        report_world.ask(third, REPORT)
    assert "privacy budget" in str(refused.value) and "renews on" in str(refused.value)
    # Next month the budget is back, but a new campaign on the first audience is
    # still refused: the differencing guard remembers what was released.
    next_month = utcnow() + dt.timedelta(days=32)
    same = report_world.finished(audience)
    with pytest.raises(ReportRefused, match="differs from the one of your earlier"):
        report_world.ask(same, REPORT, now=next_month)
    assert report_world.ask(third, REPORT, now=next_month)["totals"][0]["value"] is not None
    assert _releases(report_world) == 3


def test_the_ledger_cannot_be_rewritten(report_world: ReportWorld) -> None:
    report_world.ask(report_world.finished(report_world.members(200)), REPORT)
    for statement in ("UPDATE report_releases SET epsilon = 0", "DELETE FROM report_releases"):
        with (
            pytest.raises(Exception, match="append-only"),
            session_scope(report_world.engine) as session,
        ):
            session.execute(text(statement))
    assert _releases(report_world) == 1
