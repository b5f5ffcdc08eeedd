"""Pooled connections on PostgreSQL: pinged after sitting idle, not on every checkout."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import DBAPIError

from dispatch.db.engine import make_engine

pytestmark = pytest.mark.postgres

BACKEND_PID = text("SELECT pg_backend_pid()")


@pytest.fixture
def admin(pg_url: str) -> Iterator[Engine]:
    engine = create_engine(pg_url, isolation_level="AUTOCOMMIT")
    yield engine
    engine.dispose()


@contextmanager
def pool_of_one(url: str, ping_after_idle: float) -> Iterator[Engine]:
    """An engine with one pooled connection, disposed afterwards."""
    engine = make_engine(url, pool_size=1, ping_after_idle=ping_after_idle)
    try:
        yield engine
    finally:
        engine.dispose()


def counted_pings(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The pings ``engine`` makes, recorded as they happen (the real ping still runs)."""
    pings: list[int] = []
    real = engine.dialect.do_ping

    def do_ping(dbapi_connection: Any) -> bool:
        pings.append(1)
        return real(dbapi_connection)

    monkeypatch.setattr(engine.dialect, "do_ping", do_ping)
    return pings


def backend_pid(engine: Engine) -> int:
    with engine.connect() as conn:
        pid: int = conn.execute(BACKEND_PID).scalar_one()
    return pid


def terminate(admin: Engine, pid: int) -> None:
    with admin.connect() as conn:
        conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        for _ in range(100):  # until the server has let it go
            gone = conn.execute(
                text("SELECT NOT EXISTS (SELECT FROM pg_stat_activity WHERE pid = :pid)"),
                {"pid": pid},
            ).scalar_one()
            if gone:
                return
            time.sleep(0.05)
    raise AssertionError(f"backend {pid} still runs")


def test_a_connection_in_steady_use_is_not_pinged(
    pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pool_of_one(pg_url, 60) as engine:
        pings = counted_pings(engine, monkeypatch)
        pids = {backend_pid(engine) for _ in range(5)}
    assert len(pids) == 1  # the same pooled connection each time
    assert pings == []


def test_a_connection_idle_longer_than_the_limit_is_pinged_before_use(
    pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pool_of_one(pg_url, 0.05) as engine:
        pings = counted_pings(engine, monkeypatch)
        backend_pid(engine)  # a new connection: not pinged
        assert pings == []
        for _ in range(3):
            time.sleep(0.1)
            backend_pid(engine)
    assert len(pings) == 3


def test_a_connection_dropped_while_idle_is_replaced_before_anyone_uses_it(
    pg_url: str, admin: Engine
) -> None:
    with pool_of_one(pg_url, 0.05) as engine:
        first = backend_pid(engine)
        terminate(admin, first)  # as a server restart or an idle timeout would
        time.sleep(0.1)
        second = backend_pid(engine)  # no error: the ping found it gone
    assert second != first


def test_a_connection_dropped_in_steady_use_fails_one_statement_then_the_pool_recovers(
    pg_url: str, admin: Engine
) -> None:
    """The price of not pinging every checkout, as docs/service.md states it."""
    with pool_of_one(pg_url, 60) as engine:
        first = backend_pid(engine)
        terminate(admin, first)
        with pytest.raises(DBAPIError) as raised:
            backend_pid(engine)
        assert raised.value.connection_invalidated
        second = backend_pid(engine)
    assert second != first
