"""bench/_results.py: each bench replaces its own marked section of RESULTS.md."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.bench.conftest import BENCH

sys.path.insert(0, str(BENCH))
import _results


def test_a_section_is_appended_then_replaced_and_others_are_kept(tmp_path: Path) -> None:
    path = tmp_path / "RESULTS.md"
    _results.write_section(path, "render.py", "## Rendering\n\n1 letter/s\n")
    _results.write_section(path, "mailer.py", "## Mailer\n\n2 messages/s\n")
    _results.write_section(path, "render.py", "## Rendering\n\n3 letters/s\n")
    text = path.read_text(encoding="utf-8")
    assert text.startswith("# Benchmark results")
    assert "1 letter/s" not in text and "3 letters/s" in text and "2 messages/s" in text
    assert text.count("<!-- begin bench/render.py -->") == 1
    # The replaced section keeps its place, before the mailer's.
    assert text.index("3 letters/s") < text.index("2 messages/s")


def test_the_command_leaves_out_where_the_results_went() -> None:
    argv = ["--letters", "20", "--results", "out/x.md", "--no-write", "--results=/y"]
    assert _results.command("render.py", argv) == ".venv/bin/python bench/render.py --letters 20"


@pytest.mark.parametrize(
    ("values", "expected"),
    [([5.0], "5 (n=1)"), ([3.0, 1.0, 2.0], "2 (1-3, n=3)")],
)
def test_spread_is_median_min_max(values: list[float], expected: str) -> None:
    assert _results.spread(values) == expected


def test_the_checked_in_results_are_all_written_by_benches() -> None:
    """Every section of bench/RESULTS.md is inside one bench's markers."""
    text = (BENCH / "RESULTS.md").read_text(encoding="utf-8")
    outside = text
    for script in sorted(p.name for p in BENCH.glob("*.py") if not p.name.startswith("_")):
        begin, end = f"<!-- begin bench/{script} -->", f"<!-- end bench/{script} -->"
        if begin in outside:
            outside = outside[: outside.index(begin)] + outside[outside.index(end) + len(end) :]
    assert "## " not in outside, "a section of RESULTS.md that no bench writes"
