"""Every benchmark script starts: `--help` runs it as `python bench/X.py` is run.

A script in bench/ named like a package (bench/dispatch.py) once shadowed `dispatch` for
its neighbours, which only showed when someone ran the benchmark.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from tests.conftest import PG_SERVER

BENCH = Path(__file__).resolve().parent.parent / "bench"
SCRIPTS = sorted(p for p in BENCH.glob("*.py") if not p.name.startswith("_"))


def test_there_are_benchmarks() -> None:
    assert {p.name for p in SCRIPTS} >= {"segments.py", "render.py", "campaigns.py"}


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_bench_script_starts(script: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(script), "--help"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=BENCH.parent,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "usage" in done.stdout.lower()


@pytest.mark.postgres
def test_segment_bench_agrees_with_its_hand_written_sql(pg_url: str, tmp_path: Path) -> None:
    """bench/segments.py on a small register: every segment has a hand-written query, and
    the compiled query, the count and the hand-written query select the same number."""
    name = f"dispatch_bench_test_{uuid.uuid4().hex[:8]}"
    done = subprocess.run(
        [sys.executable, str(BENCH / "segments.py"), "--members", "600", "--repeat", "1",
         "--no-write", "--database", name, "--drop", "--workers-per-gather", "1"],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=BENCH.parent,
        env={**os.environ, "DISPATCH_BENCH_PG_SERVER": PG_SERVER},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    segments = sorted(p.stem for p in (BENCH.parent / "segments").glob("*.yaml"))
    table = [line for line in done.stdout.splitlines() if line.startswith("| ")]
    assert [line.split(" | ")[0].lstrip("| ") for line in table[1:]] == segments
    assert table[0].endswith("| compiled / hand | count / hand |")
    times = "\N{MULTIPLICATION SIGN}"
    for line in table[2:]:  # both ratios, as positive numbers
        ratios = line.strip("| ").split(" | ")[-2:]
        assert all(r.endswith(times) and float(r[:-1]) > 0 for r in ratios), line
    assert "max_parallel_workers_per_gather = 1" in done.stdout  # what it ran with, said
