"""Every benchmark script has an end-to-end test at a tiny size.

Those tests run each script as `python bench/X.py` is run (``run_bench``), with
``--results``: a script in bench/ named like a package (bench/dispatch.py) once
shadowed `dispatch` for its neighbours, which only showed when someone ran the
benchmark. (A separate `--help` run of each script repeated that start and cost
40 s of the suite.)
"""

from __future__ import annotations

from pathlib import Path

from tests.bench.conftest import BENCH

SCRIPTS = sorted(p for p in BENCH.glob("*.py") if not p.name.startswith("_"))


def test_there_are_benchmarks() -> None:
    assert {p.name for p in SCRIPTS} >= {"segments.py", "render.py", "campaigns.py", "scale.py"}


def test_every_benchmark_has_an_end_to_end_test() -> None:
    here = Path(__file__).parent
    missing = [p.name for p in SCRIPTS if not (here / f"test_{p.stem}.py").exists()]
    assert not missing, f"bench scripts without tests/bench/test_<name>.py: {missing}"
