"""Running a bench script as ``python bench/X.py`` is run, at a tiny size.

Every bench runs end to end in the suite (a bench that cannot run is a broken bench),
writing its RESULTS.md section to a temp file: the real bench/RESULTS.md is never
touched, which :func:`run_bench` checks.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import PG_SERVER, need_service, redis_test_url

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "bench"
RESULTS = BENCH / "RESULTS.md"
REDIS_URL = redis_test_url()


@dataclass
class Ran:
    stdout: str
    stderr: str
    section: str  # the bench's section of the temp results file, markers included


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else ""


def run_bench(script: str, *args: str, results: Path, env: dict[str, str] | None = None) -> Ran:
    """Run bench/``script`` with ``--results results``; the section it wrote."""
    before = _digest(RESULTS)
    done = subprocess.run(
        [sys.executable, str(BENCH / script), *args, "--results", str(results)],
        capture_output=True,
        text=True,
        timeout=900,
        cwd=ROOT,
        env={**os.environ, "DISPATCH_BENCH_PG_SERVER": PG_SERVER, **(env or {})},
    )
    assert done.returncode == 0, (done.stdout[-2000:], done.stderr[-3000:])
    assert _digest(RESULTS) == before, "the bench wrote bench/RESULTS.md"
    text = results.read_text(encoding="utf-8")
    begin, end = f"<!-- begin bench/{script} -->", f"<!-- end bench/{script} -->"
    assert text.count(begin) == 1 and text.count(end) == 1, text[:2000]
    section = text[text.index(begin) : text.index(end) + len(end)]
    assert f"Command: `.venv/bin/python bench/{script}" in section
    assert "--results" not in section
    return Ran(done.stdout, done.stderr, section)


@pytest.fixture
def database_name() -> str:
    """A throw-away database name for a bench (which drops it with ``--drop``)."""
    return f"dispatch_bench_test_{uuid.uuid4().hex[:8]}"


@pytest.fixture
def redis_url() -> str:
    """The test Redis database (the benches flush it: keep them in the redis group)."""
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3).ping()
    except Exception as exc:
        need_service("Redis", str(exc).splitlines()[0])
    return REDIS_URL
