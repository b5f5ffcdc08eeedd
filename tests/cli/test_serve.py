"""`dispatch serve` as a user runs it: a separate process, a real port, JSON logs."""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx2
import pytest

from dispatch.cli.serve import is_loopback, url_to_open
from dispatch.web.logs import JsonFormatter
from tests.conftest import CliResult, free_port
from tests.factories import TEST_SECRET

Cli = Callable[..., CliResult]
#: The installed entry point, as a user runs it.
DISPATCH = str(Path(sys.executable).with_name("dispatch"))


def _environment(database: Path, var: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DISPATCH_")}
    env.update(
        {
            "DISPATCH_DATABASE_URL": f"sqlite:///{database}",
            "DISPATCH_VAR_DIR": str(var),
            "DISPATCH_SECRET_KEY": TEST_SECRET,
        }
    )
    return env


def _serve(env: dict[str, str], port: int) -> subprocess.Popen[str]:
    command = [DISPATCH, "serve", "--port", str(port)]
    return subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def _wait_up(base: str, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"dispatch serve exited early: {process.communicate()[1][-2000:]}")
        try:
            httpx2.get(f"{base}/healthz", timeout=1)
            return
        except httpx2.HTTPError:
            time.sleep(0.1)
    process.kill()
    pytest.fail("dispatch serve did not answer within 30 s")


def test_serve_answers_health_checks_and_logs_json_without_query_strings(
    sqlite_template: Path, tmp_path: Path
) -> None:
    database = tmp_path / "dispatch.db"
    shutil.copyfile(sqlite_template, database)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    process = _serve(_environment(database, tmp_path / "var"), port)
    try:
        _wait_up(base, process)
        health = httpx2.get(f"{base}/healthz?member_id=4242&token=sekrit-value")
        ready = httpx2.get(f"{base}/readyz")
        login = httpx2.get(f"{base}/login")
    finally:
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=30)

    assert health.status_code == 200 and health.json() == {"status": "ok"}
    assert ready.status_code == 200 and ready.json()["checks"]["database"] == "ok"
    assert login.status_code == 200
    assert "server" not in health.headers  # no software name or version given away
    # uvicorn shuts down cleanly, then re-raises the signal so a supervisor sees it.
    assert process.returncode in (0, -signal.SIGTERM), err[-2000:]
    assert "Application shutdown complete." in err
    assert f"open {base}/login" in out
    lines = [json.loads(line) for line in err.splitlines() if line.strip()]  # every line JSON
    access = [doc for doc in lines if doc["logger"] == "dispatch.web.access"]
    assert [(d["method"], d["route"], d["status"]) for d in access[-3:]] == [
        ("GET", "/healthz", 200),
        ("GET", "/readyz", 200),
        ("GET", "/login", 200),
    ]
    assert all(isinstance(d["ms"], float) and d["user"] is None for d in access)
    assert (
        "4242" not in err and "sekrit" not in err and "?" not in "".join(d["route"] for d in access)
    )
    assert not [d for d in lines if d["logger"] == "uvicorn.access"]


def test_serve_refuses_an_unmigrated_database(tmp_path: Path) -> None:
    env = _environment(tmp_path / "empty.db", tmp_path / "var")
    done = subprocess.run(
        [DISPATCH, "serve", "--port", str(free_port())],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert done.returncode == 1
    [line] = done.stderr.strip().splitlines()
    assert "not migrated" in line and "dispatch db upgrade" in line
    assert done.stdout == ""


def test_serve_refuses_a_bad_port_as_bad_input(cli: Cli) -> None:
    result = cli("serve", "--port", "70000")

    assert result.code == 2
    assert "--port" in result.err


def test_loopback_and_the_url_to_open() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("10.1.2.3")  # noqa: S104
    assert url_to_open("0.0.0.0", 8000) == "http://127.0.0.1:8000"  # noqa: S104
    assert url_to_open("::1", 8080) == "http://[::1]:8080"


def test_json_formatter_merges_extra_and_a_json_message() -> None:
    formatter = JsonFormatter()
    record = logging.LogRecord(
        "dispatch.x", logging.WARNING, __file__, 1, "plain %s", ("text",), None
    )
    record.check = "database"
    access = logging.LogRecord(
        "dispatch.web.access",
        logging.INFO,
        __file__,
        1,
        '{"route": "/healthz", "level": "x"}',
        None,
        None,
    )

    plain = json.loads(formatter.format(record))
    merged = json.loads(formatter.format(access))

    assert plain["msg"] == "plain text" and plain["check"] == "database"
    assert plain["level"] == "warning" and plain["logger"] == "dispatch.x"
    assert merged["route"] == "/healthz" and "msg" not in merged
    assert merged["level"] == "info"  # a message cannot overwrite the record's own fields
