"""bench/campaigns.py end to end at a tiny size: real workers, Redis, SMTP sinks."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.bench.conftest import run_bench


@pytest.mark.bench
@pytest.mark.postgres
@pytest.mark.slow
@pytest.mark.workers
def test_campaign_bench_runs_post_and_email_campaigns(
    pg_url: str, redis_url: str, tmp_path: Path, database_name: str
) -> None:
    """The bench's own checks pass (every recipient has an outcome, the outbox and the
    sink hold exactly the delivered), and it writes paired ratios and the database cost
    of the workers' backends."""
    ran = run_bench(
        "campaigns.py", "--members", "300", "--recipients-post", "30",
        "--recipients-post-small", "10", "--recipients-email", "20", "--repeat", "1",
        "--sinks", "fast", "--baseline-messages", "200", "--database", database_name,
        # One worker process and one relay: each run starts its workers afresh, and at
        # this size their start is nearly all of the bench's time.
        "--processes", "1", "--relays", "1",
        results=tmp_path / "RESULTS.md",
        env={"DISPATCH_BENCH_REDIS": redis_url},
    )  # fmt: skip
    for label in ("post-small", "post", "email (fast)"):
        assert f"| {label} |" in ran.section
    assert ran.section.count("median ratio of paired runs") == 3
    assert "PostgreSQL (workers' backends)" in ran.section
    assert "complete outbox batches" in ran.section and "one per delivered recipient" in ran.section
    # Where the time goes: the jobs' own step lines, summed per campaign.
    for row in ("| post | render |", "| post | freeze |", "| email (fast) | wait_for_mailer |"):
        assert row in ran.section
