"""The disclosure control: every number released to a partner passes through here.

Three layers, applied in this order to the exact counts of one release:

1. **Noise** (:func:`add_noise`): the release's counts form one vector and get one
   OpenDP measurement, discrete Laplace (pure ε-differential privacy) or discrete
   Gaussian (zero-concentrated DP, stated as (ε, δ)), scaled so that the release
   spends exactly its share of the partner's budget. The sensitivity is how many of
   the vector's counts one member can move by one (their L1 norm; the L2 norm for
   Gaussian noise), so the guarantee is about any one member being in the data or
   not. OpenDP draws the noise with its own sampler from OpenSSL's generator, which
   the operating system seeds; nothing here can seed or replay it.
2. **Minimum cell size** (:func:`cell`): a noisy count under k is shown as "< k".
   The test is on the *noisy* value, so the choice itself is post-processing of the
   private output and reveals nothing further.
3. **Complementary suppression** (:func:`breakdown`): when a breakdown hides a
   cell, it also hides its smallest visible cell, and more until the hidden ones
   together hold at least k, so that the total minus the visible cells cannot reveal
   one.

Budgets, consistency and the differencing guard are kept by :mod:`.ledger` and
:mod:`.guard`; this module holds no state.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import opendp.prelude as dp

from dispatch.config import Settings
from dispatch.errors import OperationError

# OpenDP keeps its measurements behind the "contrib" flag until their proofs finish
# its vetting process (docs/reports.md says why that is acceptable here). Only this
# flag: not "floating-point" nor "honest-but-curious", which we never need.
dp.enable_features("contrib")

#: k is never below this, whatever the settings say.
MIN_CELL_FLOOR = 10
#: The confidence of the error bounds shown beside each count.
ALPHA = 0.05


class ReportRefused(OperationError):
    """A release the disclosure control will not make (budget, guard, too small)."""


@dataclass(frozen=True)
class Controls:
    """The disclosure control's parameters (DISPATCH_REPORT_* settings)."""

    min_cell: int = 50
    #: A partner's budget per calendar month.
    epsilon: float = 10.0
    delta: float = 1e-6
    mechanism: str = "laplace"

    def __post_init__(self) -> None:
        if self.min_cell < MIN_CELL_FLOOR:
            raise ValueError(f"the minimum cell size is never below {MIN_CELL_FLOOR}")
        if self.mechanism not in ("laplace", "gaussian"):
            raise ValueError(f"unknown mechanism {self.mechanism!r}")

    @classmethod
    def from_settings(cls, settings: Settings) -> Controls:
        return cls(
            min_cell=settings.report_min_cell,
            epsilon=settings.report_epsilon,
            delta=settings.report_delta,
            mechanism=settings.report_mechanism,
        )


@dataclass(frozen=True)
class Noisy:
    """One release's counts after noise, with what it spent and how far off it may be."""

    values: list[int]
    epsilon: float
    delta: float
    #: Each value is within this of the exact count with probability 1 - ALPHA.
    error95: int
    #: The noise's variance per value (for confidence intervals that include it).
    variance: float
    scale: float


def _laplace(length: int, scale: float) -> Any:
    space = dp.vector_domain(dp.atom_domain(T=int), size=length), dp.l1_distance(T=int)
    return dp.m.make_laplace(*space, scale=scale)


def _gaussian(length: int, scale: float) -> Any:
    space = dp.vector_domain(dp.atom_domain(T=int), size=length), dp.l2_distance(T=int)
    return dp.m.make_gaussian(*space, scale=scale)


def add_noise(
    values: Sequence[int],
    sensitivity: int,
    epsilon: float,
    controls: Controls,
    *,
    delta: float | None = None,
) -> Noisy:
    """Release ``values`` with noise that spends ``epsilon`` (and, Gaussian, ``delta``,
    by default the whole of the settings' δ).

    ``sensitivity`` is how many of the values one member can change by one each. The
    privacy loss recorded is what OpenDP's own privacy map says the measurement costs.
    """
    delta = controls.delta if delta is None else delta
    exact = [int(v) for v in values]
    if controls.mechanism == "laplace":
        scale = sensitivity / epsilon
        measurement = _laplace(len(exact), scale)
        spent_epsilon, spent_delta = float(measurement.map(sensitivity)), 0.0
        error = dp.discrete_laplacian_scale_to_accuracy(scale, ALPHA)
        t = math.exp(-1 / scale)
        variance = 2 * t / (1 - t) ** 2
    else:
        d_in = math.ceil(math.sqrt(sensitivity))
        # zCDP, rho = d^2 / (2 scale^2): the scale whose rho converts to ``epsilon`` at δ.
        scale = _gaussian_scale(d_in, epsilon, delta)
        measurement = _gaussian(len(exact), scale)
        spent_epsilon, spent_delta = _approx(measurement, d_in, delta)
        error = dp.discrete_gaussian_scale_to_accuracy(scale, ALPHA)
        variance = scale**2
    drawn = [int(v) for v in measurement(exact)]
    return Noisy(
        values=drawn,
        epsilon=spent_epsilon,
        delta=spent_delta,
        error95=math.ceil(error),
        variance=variance,
        scale=scale,
    )


def _approx(measurement: Any, d_in: int, delta: float) -> tuple[float, float]:
    """OpenDP's conversion of a zCDP measurement's loss to (ε, δ) at a fixed δ."""
    converted = dp.c.make_fix_delta(dp.c.make_zCDP_to_approxDP(measurement), delta)
    epsilon, spent_delta = converted.map(d_in)  # type: ignore[no-untyped-call]
    return float(epsilon), float(spent_delta)


@functools.lru_cache(maxsize=64)
def _gaussian_scale(d_in: int, epsilon: float, delta: float) -> float:
    if delta <= 0:
        raise ReportRefused(
            "Gaussian noise needs a δ above 0 (DISPATCH_REPORT_DELTA)", where="settings"
        )

    def cost(scale: float) -> float:
        return _approx(_gaussian(1, scale), d_in, delta)[0]

    # The loss falls as the scale grows: bisect (in OpenDP's own accounting) for the
    # smallest scale whose loss is within the share.
    low, high = 1e-3, 1.0
    while cost(high) > epsilon:
        high *= 2
    for _ in range(40):
        middle = (low + high) / 2
        if cost(middle) > epsilon:
            low = middle
        else:
            high = middle
    return high


# --- cells -------------------------------------------------------------------------


@dataclass(frozen=True)
class Cell:
    """A released count: a noisy value, or hidden as "< k" (``value`` None)."""

    value: int | None
    below: int

    @property
    def shown(self) -> bool:
        return self.value is not None

    @property
    def text(self) -> str:
        return f"{self.value:,}" if self.value is not None else f"< {self.below}"

    def as_json(self) -> dict[str, Any]:
        return {"value": self.value, "text": self.text}


def cell(noisy_value: int, min_cell: int) -> Cell:
    """A noisy count as released: shown when it reaches k, else "< k"."""
    return Cell(noisy_value if noisy_value >= min_cell else None, min_cell)


def rounded(noisy_value: int, step: int = 10) -> int:
    """Round half up to ``step`` (post-processing: makes no estimate look exact)."""
    return math.floor(noisy_value / step + 0.5) * step


def breakdown(noisy_values: Sequence[int], min_cell: int) -> list[Cell] | None:
    """The cells of a breakdown after primary and complementary suppression.

    Cells under k are hidden; if any is hidden, the smallest visible cell is hidden
    too (always: the hidden small cells may be nearly empty, whatever their noise
    says), and then the next smallest until the hidden ones together hold at least k,
    so that no hidden cell can be worked out from the total and the visible ones.
    None when that would leave fewer than two visible cells: the breakdown is not
    released at all.
    """
    hidden = {i for i, v in enumerate(noisy_values) if v < min_cell}
    if hidden:
        by_size = sorted(
            (i for i in range(len(noisy_values)) if i not in hidden),
            key=lambda i: (noisy_values[i], i),
        )
        if not by_size:
            return None
        hidden.add(by_size.pop(0))
        while sum(max(noisy_values[i], 0) for i in hidden) < min_cell:
            if not by_size:
                return None
            hidden.add(by_size.pop(0))
    if len(noisy_values) - len(hidden) < 2:
        return None
    return [Cell(None if i in hidden else v, min_cell) for i, v in enumerate(noisy_values)]
