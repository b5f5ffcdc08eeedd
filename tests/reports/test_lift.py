"""The lift on synthetic data: a planted effect is recovered within its interval, and
with none planted the interval covers zero.

The data are drawn with a fixed seed, and each test first checks that its sample
shows what was planted (so the only randomness left is the release's noise, which
is not seeded); the groups are large enough that the noise cannot move the interval
off the truth except with negligible probability (under 1e-6, see the margins).
"""

from __future__ import annotations

import datetime as dt
import math
import random

import pytest

from dispatch.db.types import utcnow
from dispatch.reports.lift import Z95
from dispatch.reports.models import ReportKind
from tests.reports.conftest import ReportWorld

CONTACTED, HELD_OUT = 20_000, 10_000


def _run(world: ReportWorld, rate_contacted: float, rate_held_out: float) -> dict[str, object]:
    rng = random.Random(1919)
    contacted = world.members(CONTACTED)
    held_out = world.members(HELD_OUT)
    snapshot = utcnow() - dt.timedelta(days=3)
    buyers_c = [m for m in contacted if rng.random() < rate_contacted]
    buyers_h = [m for m in held_out if rng.random() < rate_held_out]
    # The sample itself is within 0.4 percentage points of the planted difference.
    realized = len(buyers_c) / CONTACTED - len(buyers_h) / HELD_OUT
    assert realized == pytest.approx(rate_contacted - rate_held_out, abs=0.004)
    world.purchases(buyers_c, snapshot.date() + dt.timedelta(days=1))
    world.purchases(buyers_h, snapshot.date() + dt.timedelta(days=2))
    campaign = world.finished(contacted, held_out, snapshot_at=snapshot, holdout_percent=33.33)
    return world.ask(campaign, ReportKind.LIFT)


@pytest.mark.slow
def test_a_planted_effect_is_recovered_within_its_interval(report_world: ReportWorld) -> None:
    answer = _run(report_world, 0.28, 0.20)
    lift = answer["lift"]
    assert isinstance(lift, dict)
    low, high = lift["interval95"]
    assert low <= 0.08 <= high
    assert lift["significant"] is True and low > 0
    assert lift["difference"] == pytest.approx(0.08, abs=0.01)
    assert lift["purchases_per_member_contacted"] > lift["purchases_per_member_held_out"]
    # The interval is wider than sampling alone would make it: it includes the noise.
    groups = answer["groups"]
    assert isinstance(groups, dict)
    n_c, n_h = groups["contacted"]["members"]["value"], groups["held_out"]["members"]["value"]
    p_c, p_h = lift["rate_contacted"], lift["rate_held_out"]
    sampling = Z95 * math.sqrt(p_c * (1 - p_c) / n_c + p_h * (1 - p_h) / n_h)
    assert (high - low) / 2 > sampling


@pytest.mark.slow
def test_with_no_effect_the_interval_covers_zero(report_world: ReportWorld) -> None:
    answer = _run(report_world, 0.20, 0.20)
    lift = answer["lift"]
    assert isinstance(lift, dict)
    low, high = lift["interval95"]
    assert low <= 0 <= high
    assert lift["significant"] is False


def test_a_small_holdout_gives_no_lift_rather_than_small_cells(report_world: ReportWorld) -> None:
    contacted = report_world.members(400)
    held_out = report_world.members(20)
    report_world.purchases(contacted[:100] + held_out[:5], utcnow().date())
    answer = report_world.ask(report_world.finished(contacted, held_out), ReportKind.LIFT)
    assert answer["lift"] is None
    assert "at least 50 responders" in str(answer["note"])
    assert answer["groups"]["held_out"]["responders"]["text"] == "< 50"
