"""Shared fixtures: every database test runs on SQLite and on PostgreSQL.

PostgreSQL comes from ``DISPATCH_TEST_PG_URL`` (``.ci/run`` creates a fresh database
and sets it) or, failing that, a throw-away database created here on 127.0.0.1. When
no server answers, PostgreSQL tests skip locally but fail in CI (``CI=true``).
"""

from __future__ import annotations

import io
import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.orm import Session, sessionmaker

from dispatch.cli import run
from dispatch.config import Settings, load_settings
from dispatch.db.all_models import metadata
from dispatch.db.engine import make_engine
from dispatch.db.migrate import upgrade
from tests.factories import TEST_SECRET

IN_CI = os.environ.get("CI", "").lower() == "true"

PG_SERVER = os.environ.get(
    "DISPATCH_TEST_PG_SERVER", "postgresql+psycopg://postgres@127.0.0.1:5432"
)


def need_service(name: str, reason: str) -> None:
    """Skip locally, fail in CI: a missing service must never hide a test in CI."""
    message = f"{name} unavailable: {reason}"
    if IN_CI:
        pytest.fail(message)
    pytest.skip(message)


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def fake_aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """Credentials for a moto server, and none of the caller's real AWS settings."""
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(key, value)
    for key in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(key, raising=False)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file; each test gets a copy (migrating per test is slow)."""
    path = tmp_path_factory.mktemp("sqlite") / "template.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    given = os.environ.get("DISPATCH_TEST_PG_URL")
    if given:
        engine = create_engine(given)
        try:
            with engine.connect():
                pass
        except Exception as exc:
            need_service("PostgreSQL", str(exc).splitlines()[0])
        finally:
            engine.dispose()
        upgrade(given)
        yield given
        return
    admin = create_engine(f"{PG_SERVER}/postgres", isolation_level="AUTOCOMMIT")
    name = f"dispatch_test_{uuid.uuid4().hex[:10]}"
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        admin.dispose()
        need_service("PostgreSQL", str(exc).splitlines()[0])
    url = f"{PG_SERVER}/{name}"
    try:
        upgrade(url)
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _truncate_all(url: str) -> None:
    engine = create_engine(url)
    tables = ", ".join(f'"{t.name}"' for t in metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated, empty database on each backend."""
    if request.param == "sqlite":
        path = tmp_path / "dispatch.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite:///{path}"
        return
    url: str = request.getfixturevalue("pg_url")
    _truncate_all(url)
    yield url
    _truncate_all(url)


@pytest.fixture
def sqlite_url(tmp_path: Path, sqlite_template: Path) -> str:
    """A migrated, empty SQLite database only (for tests of the embedded default)."""
    path = tmp_path / "dispatch.db"
    shutil.copyfile(sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    eng = make_engine(db_url)
    yield eng
    eng.dispose()


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    with sessionmaker(engine, expire_on_commit=False)() as s:
        yield s


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, db_url: str) -> dict[str, str]:
    """A DISPATCH_* environment pointing at the test database and a private var dir."""
    for key in list(os.environ):
        if key.startswith("DISPATCH_") and not key.startswith("DISPATCH_TEST_"):
            monkeypatch.delenv(key)
    values = {
        "DISPATCH_DATABASE_URL": db_url,
        "DISPATCH_VAR_DIR": str(tmp_path / "var"),
        "DISPATCH_SECRET_KEY": TEST_SECRET,
    }
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    return values


@pytest.fixture
def settings(env: dict[str, str]) -> Settings:
    return load_settings(env)


@dataclass
class CliResult:
    code: int
    out: str
    err: str

    def json(self) -> object:
        import json

        return json.loads(self.out)


@pytest.fixture
def cli(env: dict[str, str]) -> Callable[..., CliResult]:
    """Run ``dispatch ARGS`` in-process against the test database."""

    def invoke(*args: str) -> CliResult:
        out, err = io.StringIO(), io.StringIO()
        with redirect_stdout(out), redirect_stderr(err):
            code = run(list(args))
        return CliResult(code, out.getvalue(), err.getvalue())

    return invoke
