"""bench/serve.py end to end at a tiny size."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.bench.conftest import run_bench


@pytest.mark.bench
@pytest.mark.postgres
@pytest.mark.slow
def test_serve_bench_loads_every_endpoint(
    pg_url: str, redis_url: str, tmp_path: Path, database_name: str
) -> None:
    ran = run_bench(
        "serve.py", "--campaigns", "5", "--clients", "2", "--seconds", "0.5", "--warmup",
        "0.2", "--rounds", "1", "--workers", "1", "--load-processes", "1",
        "--database", database_name,
        results=tmp_path / "RESULTS.md",
        env={"DISPATCH_BENCH_REDIS": redis_url},
    )  # fmt: skip
    assert "## Web service" in ran.section
    assert "every answer was 200" in ran.section
