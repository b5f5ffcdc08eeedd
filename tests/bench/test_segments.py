"""bench/segments.py end to end on a small register."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.bench.conftest import BENCH, run_bench


@pytest.mark.slow
@pytest.mark.bench
@pytest.mark.postgres
def test_segment_bench_agrees_with_its_hand_written_sql(
    pg_url: str, tmp_path: Path, database_name: str
) -> None:
    """Every segment has a hand-written query, and the compiled query, the count and the
    hand-written query select the same number (the bench stops otherwise)."""
    ran = run_bench(
        "segments.py", "--members", "600", "--repeat", "1", "--database", database_name,
        "--drop", "--workers-per-gather", "1",
        results=tmp_path / "RESULTS.md",
    )  # fmt: skip
    segments = sorted(p.stem for p in (BENCH.parent / "segments").glob("*.yaml"))
    table = [line for line in ran.section.splitlines() if line.startswith("| ")]
    assert [line.split(" | ")[0].lstrip("| ") for line in table[1:]] == segments
    assert table[0].endswith("| compiled / hand | count / hand |")
    times = "\N{MULTIPLICATION SIGN}"
    for line in table[2:]:  # both ratios, as positive numbers
        ratios = line.strip("| ").split(" | ")[-2:]
        assert all(r.endswith(times) and float(r[:-1]) > 0 for r in ratios), line
    assert "max_parallel_workers_per_gather = 1" in ran.section  # what it ran with, said
