"""The lift's statistics, from noisy counts only.

Response rates of the contacted and the held-out group, their difference with a
95 % confidence interval, and purchases per member. The interval's variance adds
the noise's to the sampling's: for a rate r/n whose counts both carry noise of
variance V, by the delta method Var ≈ p(1-p)/n + V(1 + p²)/n². Everything here is
post-processing of released numbers, so it spends no budget.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

#: Two-sided 95 % normal quantile.
Z95 = 1.959963984540054


@dataclass(frozen=True)
class Group:
    members: int
    responders: int
    purchases: int

    @property
    def rate(self) -> float:
        return self.responders / self.members

    def rate_variance(self, noise_variance: float) -> float:
        p = min(max(self.rate, 0.0), 1.0)
        n = self.members
        return p * (1 - p) / n + noise_variance * (1 + p * p) / (n * n)

    @property
    def purchases_per_member(self) -> float:
        return self.purchases / self.members


@dataclass(frozen=True)
class Lift:
    contacted: Group
    held_out: Group
    difference: float
    low: float
    high: float

    @property
    def covers_zero(self) -> bool:
        return self.low <= 0 <= self.high

    def as_json(self) -> dict[str, Any]:
        return {
            "rate_contacted": round(self.contacted.rate, 6),
            "rate_held_out": round(self.held_out.rate, 6),
            "difference": round(self.difference, 6),
            "interval95": [round(self.low, 6), round(self.high, 6)],
            "purchases_per_member_contacted": round(self.contacted.purchases_per_member, 4),
            "purchases_per_member_held_out": round(self.held_out.purchases_per_member, 4),
            "significant": not self.covers_zero,
        }


def lift(contacted: Group, held_out: Group, noise_variance: float) -> Lift:
    """The difference of response rates with its interval (noise included)."""
    difference = contacted.rate - held_out.rate
    spread = Z95 * math.sqrt(
        contacted.rate_variance(noise_variance) + held_out.rate_variance(noise_variance)
    )
    return Lift(contacted, held_out, difference, difference - spread, difference + spread)
