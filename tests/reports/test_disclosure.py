"""The disclosure control's parts: noise through OpenDP, cells, complementary suppression."""

from __future__ import annotations

import pytest

from dispatch.config import load_settings
from dispatch.reports import disclosure as dc
from dispatch.reports.disclosure import Controls


@pytest.mark.parametrize("mechanism", ["laplace", "gaussian"])
def test_noise_spends_the_asked_epsilon_and_varies(mechanism: str) -> None:
    controls = Controls(mechanism=mechanism)
    draws = [dc.add_noise([1000, 500, 0], 3, 1.0, controls) for _ in range(50)]
    assert all(d.epsilon == pytest.approx(1.0, rel=1e-6) for d in draws)
    assert all(d.delta == (0.0 if mechanism == "laplace" else controls.delta) for d in draws)
    # Fresh noise each time (from OpenDP's own sampler): not one repeated vector.
    assert len({tuple(d.values) for d in draws}) > 10
    assert all(len(d.values) == 3 and d.error95 > 0 for d in draws)


def test_more_sensitivity_means_more_noise_for_the_same_epsilon() -> None:
    one = dc.add_noise([100], 1, 1.0, Controls())
    seven = dc.add_noise([100], 7, 1.0, Controls())
    assert seven.scale == pytest.approx(7 * one.scale)
    assert seven.error95 > one.error95


def test_a_cell_under_k_is_shown_as_fewer_than_k() -> None:
    assert dc.cell(49, 50).text == "< 50" and dc.cell(49, 50).value is None
    assert dc.cell(50, 50).value == 50 and dc.cell(1234, 50).text == "1,234"
    assert dc.rounded(1234) == 1230 and dc.rounded(1235) == 1240 and dc.rounded(-3) == 0


def test_one_hidden_cell_takes_the_next_smallest_with_it() -> None:
    cells = dc.breakdown([500, 40, 300, 900], 50)
    assert cells is not None
    assert [c.value for c in cells] == [500, None, None, 900]


def test_hidden_cells_hold_at_least_k_together() -> None:
    cells = dc.breakdown([400, 10, 12, 60, 700], 50)
    assert cells is not None
    hidden = [v for v, c in zip([400, 10, 12, 60, 700], cells, strict=True) if c.value is None]
    assert len(hidden) >= 2 and sum(hidden) >= 50
    assert hidden == [10, 12, 60]


def test_even_when_the_hidden_cells_look_big_enough_a_visible_one_goes_with_them() -> None:
    # Noisy near-empty cells can add up to k; they say nothing of the small one beside
    # them, so the smallest visible cell is hidden as well.
    cells = dc.breakdown([400, 3, 30, 30, 700, 300], 50)
    assert cells is not None
    assert [c.value for c in cells] == [400, None, None, None, 700, None]


def test_a_breakdown_that_would_show_one_cell_is_not_released() -> None:
    assert dc.breakdown([500, 400, 30], 50) is None
    assert dc.breakdown([5, 7], 50) is None
    assert dc.breakdown([500, 400, 300], 50) is not None


def test_k_is_never_below_ten() -> None:
    with pytest.raises(ValueError, match="never below 10"):
        Controls(min_cell=9)
    with pytest.raises(ValueError, match="DISPATCH_REPORT_MIN_CELL"):
        load_settings({"DISPATCH_REPORT_MIN_CELL": "5"})
    with pytest.raises(ValueError, match="DISPATCH_REPORT_MECHANISM"):
        load_settings({"DISPATCH_REPORT_MECHANISM": "homemade"})
    settings = load_settings({"DISPATCH_REPORT_EPSILON": "2.5", "DISPATCH_REPORT_MIN_CELL": "20"})
    controls = Controls.from_settings(settings)
    assert controls.epsilon == 2.5 and controls.min_cell == 20
