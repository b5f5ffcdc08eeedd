"""bench/reports.py end to end on a small register."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.bench.conftest import run_bench


@pytest.mark.slow
@pytest.mark.bench
@pytest.mark.postgres
def test_report_bench_runs_end_to_end_at_a_tiny_size(
    pg_url: str, tmp_path: Path, database_name: str
) -> None:
    """Its exact SQL agrees with the service's counts (it stops otherwise), and it
    writes both timings, the ratio and the accuracy."""
    ran = run_bench(
        "reports.py", "--members", "2000", "--recipients", "400", "--repeat", "1",
        "--database", database_name, "--drop",
        results=tmp_path / "RESULTS.md",
    )  # fmt: skip
    assert "| reports |" in ran.section and "| exact |" in ran.section
    assert "Reports / exact SQL (p50):" in ran.section
    assert "noisy counts within their bound" in ran.section
