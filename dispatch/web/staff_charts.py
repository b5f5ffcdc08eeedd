"""The numbers behind the staff charts: a segment's waterfall and a campaign's funnel.

Both are bars on one scale, computed here and drawn by ``staff_chart.html`` as
inline SVG (the pages' CSP allows no script and no inline style, so every length is
an SVG attribute). A *waterfall* shows what each policy rule removed from the
members the criteria matched; a campaign's *funnel* continues it past the snapshot
to where every recipient ended: delivered, suppressed or failed, by reason, or held
out at the snapshot (the lift report's comparison group).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dispatch.campaigns.report import Report
from dispatch.segmenting.services import SegmentCount

#: Drawing width of the bar area, in SVG user units.
WIDTH = 480


@dataclass(frozen=True)
class Step:
    """One bar: ``value`` members drawn from ``start`` (a removal floats, waterfall style)."""

    label: str
    value: int
    start: int
    #: total, removed, kept, delivered, suppressed, failed, held, pending
    kind: str


@dataclass(frozen=True)
class Chart:
    steps: list[Step]
    scale: int

    def x(self, value: int) -> float:
        return round(value * WIDTH / self.scale, 2) if self.scale else 0.0

    def width(self, step: Step) -> float:
        # A bar of one member is still visible; a bar of none is not drawn at all.
        return max(self.x(step.value), 1.5) if step.value else 0.0

    def as_json(self) -> list[dict[str, Any]]:
        return [{"label": s.label, "kind": s.kind, "value": s.value} for s in self.steps]


def _removals(matched: int, removed: dict[str, int], steps: list[Step]) -> int:
    left = matched
    for rule, n in removed.items():
        if n:
            left -= n
            steps.append(Step(f"removed: {rule.replace('_', ' ')}", n, left, "removed"))
    return left


def waterfall(count: SegmentCount) -> Chart:
    """matched → one bar per policy rule that removed anyone → selected."""
    steps = [Step("matched by the criteria", count.matched, 0, "total")]
    _removals(count.matched, count.removed, steps)
    steps.append(Step("selected", count.selected, 0, "kept"))
    return Chart(steps, count.matched)


def funnel(report: Report, stats: dict[str, Any] | None) -> Chart:
    """matched → policy removals → frequency cap → snapshot → outcomes by reason.

    The part before the snapshot comes from the campaign's ``snapshot_stats`` (what
    the snapshot counted); the outcomes from the recipients' rows (the report), so the
    last bars always add up to the snapshot bar when the campaign reconciles.
    """
    total = report.total
    steps: list[Step] = []
    scale = total.snapshot
    if stats:
        matched = int(stats.get("matched", 0))
        scale = max(matched, scale)
        steps.append(Step("matched by the segment", matched, 0, "total"))
        left = _removals(matched, dict(stats.get("removed", {})), steps)
        capped = int(stats.get("removed_by_frequency_cap", 0))
        if capped:
            steps.append(Step("removed: frequency cap", capped, left - capped, "removed"))
    steps.append(Step("snapshot", total.snapshot, 0, "kept"))
    at = 0
    steps.append(Step("delivered", total.delivered, at, "delivered"))
    at += total.delivered
    for reason, n in sorted(total.suppressed.items()):
        steps.append(Step(f"suppressed: {reason.replace('_', ' ')}", n, at, "suppressed"))
        at += n
    for reason, n in sorted(total.failed.items()):
        steps.append(Step(f"failed: {reason.replace('_', ' ')}", n, at, "failed"))
        at += n
    if total.held_out:
        steps.append(Step("held out (not contacted)", total.held_out, at, "held"))
        at += total.held_out
    if total.in_flight:
        steps.append(Step("in flight", total.in_flight, at, "pending"))
    return Chart(steps, scale)
