"""Geometry of the partner report charts, drawn as inline SVG by ``partner_report.html``.

Like the staff charts, every length is computed here and written as an SVG
attribute (the pages' CSP allows no script and no inline style). The charts only
ever draw released numbers: a hidden cell ("< k") is drawn as an empty track with
its text, never as a bar of its true size.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

#: Drawing width of the bar area, in SVG user units (the label column is 240 wide).
WIDTH = 480


@dataclass(frozen=True)
class Bar:
    label: str
    value: int | float | None
    text: str
    width: float


@dataclass(frozen=True)
class Bars:
    bars: list[Bar]


def breakdown(part: dict[str, Any]) -> Bars:
    """One bar per cell of a released breakdown, on the scale of its largest cell."""
    cells = part.get("cells", [])
    top = max((c["value"] for c in cells if c["value"] is not None), default=0)
    return Bars(
        [
            Bar(
                c["label"],
                c["value"],
                c["text"],
                round(c["value"] * WIDTH / top, 2) if c["value"] and top else 0.0,
            )
            for c in cells
        ]
    )


def totals(report: dict[str, Any]) -> Bars:
    cells = [
        {"label": t["label"], "value": t["value"], "text": t["text"]} for t in report["totals"]
    ]
    return breakdown({"cells": cells})


@dataclass(frozen=True)
class Interval:
    """The lift's difference with its interval, on an axis that always shows zero."""

    x_zero: float
    x_point: float
    x_low: float
    x_high: float
    low: str
    high: str
    point: str


def interval(result: dict[str, Any]) -> Interval:
    low, high = result["interval95"]
    point = result["difference"]
    lo, hi = min(low, 0.0), max(high, 0.0)
    pad = (hi - lo) * 0.1 or 0.01
    lo, hi = lo - pad, hi + pad

    def x(value: float) -> float:
        return round(float(value - lo) * WIDTH / float(hi - lo), 2)

    def pct(value: float) -> str:
        return f"{value * 100:+.1f} pp"

    return Interval(x(0.0), x(point), x(low), x(high), pct(low), pct(high), pct(point))


def rates(result: dict[str, Any]) -> Bars:
    """Response rates of the two groups as bars on one scale."""
    pairs = [
        ("contacted", result["rate_contacted"]),
        ("held out", result["rate_held_out"]),
    ]
    top = max((v for _, v in pairs), default=0.0)
    return Bars(
        [
            Bar(label, value, f"{value * 100:.1f} %", round(value * WIDTH / top, 2) if top else 0.0)
            for label, value in pairs
        ]
    )
