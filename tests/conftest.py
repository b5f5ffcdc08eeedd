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
from urllib.parse import urlsplit, urlunsplit

import pytest
from argon2 import profiles
from sqlalchemy import Engine, create_engine, make_url, text
from sqlalchemy.orm import Session

from dispatch.accounts import credentials
from dispatch.cli import run
from dispatch.config import Settings, load_settings
from dispatch.db.engine import make_engine, open_session
from dispatch.db.migrate import upgrade
from dispatch.jobs import tasks
from dispatch.migrations.all_models import metadata
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


@pytest.fixture(scope="session", autouse=True)
def _cheap_password_hashes() -> Iterator[None]:
    """Argon2id at argon2-cffi's ``CHEAPEST`` parameters in the test process.

    The web tests make a dozen accounts per test, and at the production parameters
    (64 MiB, three passes) each hash takes 0.1-0.5 s on this machine. Servers the tests
    start as processes, and tests/accounts/test_credentials.py, use the production
    profile.
    """
    credentials.use_profile(profiles.CHEAPEST)
    yield
    credentials.use_profile(credentials.PROFILE)


@pytest.fixture(autouse=True)
def _fresh_job_runtime() -> Iterator[None]:
    """Each test's jobs run on its own settings.

    A worker process builds its job runtime (engine, transports) once, from the
    settings it starts with; tests run many embedded workers in one process, each on
    other settings, and would otherwise reach an earlier test's database.
    """
    tasks.reset_runtime()
    yield
    tasks.reset_runtime()


def redis_test_url() -> str:
    """The test Redis database of this xdist worker: ``DISPATCH_TEST_REDIS_URL``'s
    database number plus the worker's (gw0 +0, gw1 +1, ...), so that workers that
    empty their database never touch another's queues."""
    base = urlsplit(os.environ.get("DISPATCH_TEST_REDIS_URL", "redis://127.0.0.1:6379/0"))
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw")
    number = int(base.path.strip("/") or 0) + int(worker or 0)
    return urlunsplit(base._replace(path=f"/{number}"))


#: Module-scoped fixtures that seed a synthetic register (5,000-20,000 members, 5-25 s).
SEEDED_REGISTERS = frozenset({"seeded_engine", "seeded", "demo_register"})


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook reads the groups
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run the tests that start worker processes, and the RabbitMQ tests, one after
    another on one xdist worker, from the start of the run; then the other slow tests.

    The RabbitMQ tests share the broker's queues (and empty them before and after each
    test), so two of them at once would take each other's messages. The tests marked
    ``workers`` each start several processes; on this two-core machine, four of them at
    once took twice as long each (their clocks are real: leases, kills, waits). The
    other workers meanwhile run everything else in parallel (each has its own
    PostgreSQL and Redis database: :func:`redis_test_url`), the other slow tests first,
    so that the run does not end with one worker finishing a long test alone.
    """
    for item in items:
        callspec = getattr(item, "callspec", None)
        broker = callspec.params.get("broker_url") if callspec is not None else None
        if broker == "rabbitmq" or item.get_closest_marker("workers") is not None:
            item.add_marker(pytest.mark.xdist_group("workers"))
        elif SEEDED_REGISTERS.intersection(getattr(item, "fixturenames", ())):
            # A module-scoped register is built once per xdist worker that runs one of
            # the module's tests: keep the module on one worker, so it is built once.
            item.add_marker(pytest.mark.xdist_group(item.nodeid.partition("::")[0]))

    def order(item: pytest.Item) -> int:
        if item.get_closest_marker("xdist_group") is not None:
            return 0
        return 1 if item.get_closest_marker("slow") is not None else 2

    items.sort(key=order)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file; each test gets a copy (migrating per test is slow)."""
    path = tmp_path_factory.mktemp("sqlite") / "template.db"
    upgrade(f"sqlite:///{path}")
    return path


def _check_connects(url: str) -> None:
    engine = create_engine(url)
    try:
        with engine.connect():
            pass
    except Exception as exc:
        need_service("PostgreSQL", str(exc).splitlines()[0])
    finally:
        engine.dispose()


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A migrated PostgreSQL database for this test process.

    ``DISPATCH_TEST_PG_URL`` is used as it is in a run without xdist workers. Each xdist
    worker (``-n``) gets a database of its own beside it, named after it
    (``<name>_gw0``, ...), since the tests truncate every table between tests; without
    the variable, a throw-away database is made on ``DISPATCH_TEST_PG_SERVER``.
    """
    given = os.environ.get("DISPATCH_TEST_PG_URL")
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if given and not worker:
        _check_connects(given)
        upgrade(given)
        yield given
        return
    if given:
        base = make_url(given)
        name = f"{base.database}_{worker}"
        server = base.set(database="postgres").render_as_string(hide_password=False)
        url = base.set(database=name).render_as_string(hide_password=False)
    else:
        name = f"dispatch_test_{uuid.uuid4().hex[:10]}"
        server = f"{PG_SERVER}/postgres"
        url = f"{PG_SERVER}/{name}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        admin.dispose()
        need_service("PostgreSQL", str(exc).splitlines()[0])
    try:
        upgrade(url)
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


#: One query that names the tables with a row (most tests fill a handful of them).
_FILLED = text(
    " UNION ALL ".join(
        f"SELECT '{t.name}' WHERE EXISTS (SELECT FROM \"{t.name}\")" for t in metadata.sorted_tables
    )
)
#: A table that lost more rows than this is vacuumed (autovacuum may be off, and the
#: dead rows of a seeded register would slow the worker's later tests).
_VACUUM_AFTER = 1000
_EMPTYING: dict[str, Engine] = {}


def empty_database(url: str) -> None:
    """Empty every table of the PostgreSQL database ``url`` and restart its ids.

    ``DELETE`` of the tables that have rows, with triggers off for the transaction (so
    no foreign-key checks, order, or append-only guard), is about 15 times faster here
    than one ``TRUNCATE ... CASCADE`` of every table, which cost 150-200 ms a test.
    """
    engine = _EMPTYING.get(url)
    if engine is None:
        engine = _EMPTYING[url] = create_engine(url, pool_pre_ping=True, pool_size=1)
    emptied: list[str] = []
    with engine.begin() as conn:
        conn.execute(text("SET LOCAL session_replication_role = replica"))
        for name in conn.execute(_FILLED).scalars().all():
            if conn.execute(text(f'DELETE FROM "{name}"')).rowcount > _VACUUM_AFTER:
                emptied.append(name)
        conn.execute(text("SELECT setval(seqrelid, seqstart, false) FROM pg_sequence"))
    if emptied:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM " + ", ".join(f'"{name}"' for name in emptied)))


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated, empty database on each backend.

    PostgreSQL's is emptied before the test, not after: every user of the worker's
    shared database (this fixture, tests/register's ``seeded_engine``) empties it first,
    so a second emptying after each test would only cost time.
    """
    if request.param == "sqlite":
        path = tmp_path / "dispatch.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite:///{path}"
        return
    url: str = request.getfixturevalue("pg_url")
    empty_database(url)
    yield url


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
    with open_session(engine) as s:
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
