"""How far one released count may fall from the truth in a test that must not flake.

A release documents ``error95``: the noise stays within it in 95 % of draws, so a test
that compares a single draw with it fails one run in twenty (tests/reports/
test_accuracy.py checks the 95 % itself, over many draws). A single draw is checked
against five times the bound instead: beyond it lies e^-15 (about 3e-7) of the
discrete Laplace noise and nothing measurable of the Gaussian, while a count taken
from the wrong group or the wrong members still lands far outside.
"""

from __future__ import annotations

MARGIN = 5


def near(released: int, truth: int, error95: int) -> bool:
    """Whether ``released`` is as close to ``truth`` as the noise can put it."""
    return abs(released - truth) <= MARGIN * error95
