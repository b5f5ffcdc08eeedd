"""bench/scale.py end to end at a tiny size: S3 outbox on moto, SMTP sinks, one worker
process (each further worker count is the same loop again, with its own worker start
of several seconds)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.bench.conftest import run_bench


@pytest.mark.bench
@pytest.mark.postgres
@pytest.mark.slow
@pytest.mark.workers
def test_scale_bench_runs_both_channels_per_worker_count(
    pg_url: str, redis_url: str, tmp_path: Path, database_name: str
) -> None:
    ran = run_bench(
        "scale.py", "--members", "1500", "--recipients-post", "120", "--recipients-email",
        "60", "--workers", "1", "--batch-size", "50", "--baseline-messages", "200",
        "--database", database_name, "--drop",
        results=tmp_path / "RESULTS.md",
        env={"DISPATCH_BENCH_REDIS": redis_url},
    )  # fmt: skip
    for label in ("post, 1 process", "e-mail, 1 process"):
        assert f"| {label} |" in ran.section
    assert "target >= 0.5" in ran.section and "target >= 0.7" in ran.section
    assert "Where a post batch's time goes" in ran.section
    assert "complete outbox batches" in ran.section
    # A fresh database: nothing of earlier runs to empty, and the vacuum after it ran.
    assert "(0 recipients of earlier runs removed)" in ran.stderr
