"""bench/mailer.py end to end at a tiny size."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.bench.conftest import run_bench


@pytest.mark.bench
def test_mailer_bench_sends_and_writes_its_section(tmp_path: Path) -> None:
    ran = run_bench(
        "mailer.py", "--messages", "40", "--repeat", "2", "--servers", "1",
        results=tmp_path / "RESULTS.md",
    )  # fmt: skip
    assert "## Mailer" in ran.section and "n=2)" in ran.section
    assert "Pool / one connection, median of paired runs:" in ran.section
