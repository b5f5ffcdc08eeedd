"""Every benchmark script starts and has an end-to-end test at a tiny size.

`--help` runs each as `python bench/X.py` is run: a script in bench/ named like a
package (bench/dispatch.py) once shadowed `dispatch` for its neighbours, which only
showed when someone ran the benchmark.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.bench.conftest import BENCH

SCRIPTS = sorted(p for p in BENCH.glob("*.py") if not p.name.startswith("_"))


def test_there_are_benchmarks() -> None:
    assert {p.name for p in SCRIPTS} >= {"segments.py", "render.py", "campaigns.py", "scale.py"}


def test_every_benchmark_has_an_end_to_end_test() -> None:
    here = Path(__file__).parent
    missing = [p.name for p in SCRIPTS if not (here / f"test_{p.stem}.py").exists()]
    assert not missing, f"bench scripts without tests/bench/test_<name>.py: {missing}"


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
    assert "--results" in done.stdout and "--no-write" in done.stdout
