"""The audience estimate: rounded, noisy, once per campaign, before the snapshot only;
and what a Gaussian release records."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from dispatch.db.engine import session_scope
from dispatch.reports import ledger
from dispatch.reports.disclosure import Controls, ReportRefused
from dispatch.reports.models import AudienceMember, Release, ReportKind
from tests.reports.conftest import ReportWorld
from tests.reports.noise import near

ESTIMATE = ReportKind.ESTIMATE


def test_an_estimate_is_rounded_noisy_and_asked_once(report_world: ReportWorld) -> None:
    report_world.members(300, region="Pirkanmaa")
    draft = report_world.draft("Pirkanmaa")

    first = report_world.ask(draft, ESTIMATE)
    again = report_world.ask(draft, ESTIMATE)

    value = first["audience"]["value"]
    assert value is not None and value % 10 == 0
    assert near(value, 300, first["error95"])
    assert first["audience"]["text"] == f"about {value:,}"
    assert again == first
    assert first["holdout_percent"] == 10.0 and first["epsilon"] == 0.5
    with session_scope(report_world.engine) as session:
        kept = session.scalar(select(func.count()).select_from(AudienceMember))
    assert kept == 300  # the members behind it, for the differencing guard


def test_a_second_draft_on_the_same_audience_gets_no_second_estimate(
    report_world: ReportWorld,
) -> None:
    report_world.members(300, region="Pirkanmaa")
    report_world.ask(report_world.draft("Pirkanmaa"), ESTIMATE)
    with pytest.raises(ReportRefused, match="differencing guard"):
        report_world.ask(report_world.draft("Pirkanmaa"), ESTIMATE)


def test_no_estimate_after_the_snapshot_and_no_report_before_it(
    report_world: ReportWorld,
) -> None:
    finished = report_world.finished(report_world.members(100))
    with pytest.raises(ReportRefused, match="only given before the snapshot"):
        report_world.ask(finished, ESTIMATE)
    report_world.members(100, region="Lappi")
    with pytest.raises(ReportRefused, match="once the campaign has finished; it is draft"):
        report_world.ask(report_world.draft("Lappi"), ReportKind.REPORT)


def test_a_gaussian_release_records_its_delta_in_the_ledger(report_world: ReportWorld) -> None:
    report_world.controls = Controls(mechanism="gaussian")
    answer = report_world.ask(report_world.finished(report_world.members(300)), ReportKind.REPORT)
    assert answer["mechanism"] == "gaussian"
    assert answer["delta"] == pytest.approx(report_world.controls.delta / 20)
    with session_scope(report_world.engine) as session:
        row = session.scalars(select(Release)).one()
        spent = ledger.budget(session, report_world.partner_id, report_world.controls)
    assert row.epsilon == pytest.approx(2.0, rel=1e-6) and row.delta == answer["delta"]
    assert spent.spent_delta == pytest.approx(report_world.controls.delta / 20)
