"""Engines and sessions for the configured database."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import ConnectionPoolEntry

#: A pooled connection left unused for longer than this is pinged before it is used.
PING_AFTER_IDLE = 10.0


def make_engine(url: str, *, ping_after_idle: float = PING_AFTER_IDLE, **kwargs: Any) -> Engine:
    """Create an engine; for SQLite make the folder, enforce foreign keys and use WAL;
    for a database server, check pooled connections that sat idle (:func:`ping_when_idle`).
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, **kwargs)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        return engine
    engine = create_engine(url, **kwargs)
    ping_when_idle(engine, ping_after_idle)
    return engine


_IDLE_SINCE = "dispatch_idle_since"


def ping_when_idle(engine: Engine, seconds: float) -> None:
    """Ping a pooled connection before it is used only when it has been idle ``seconds``.

    SQLAlchemy's ``pool_pre_ping`` pings at every checkout: one more round trip to the
    database for every web request and every job step (one of the four statements a
    dashboard view made; bench/HISTORY.md). A connection in steady use answered moments
    ago. One the server dropped while it sat in the pool (a restart, an idle
    timeout, a failover) fails the ping here and is replaced before anyone uses it.

    A connection dropped within the last ``seconds`` fails the statement that meets it,
    as it would between a ping and the statement: SQLAlchemy then invalidates every
    connection of the pool that is as old, so the requests after it reconnect, and a job
    retries its batch as it does after any transient fault.
    """

    @event.listens_for(engine, "connect")
    @event.listens_for(engine, "checkin")
    def _idle_from_now(_dbapi: Any, entry: ConnectionPoolEntry) -> None:
        entry.info[_IDLE_SINCE] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _ping_if_idle(dbapi: Any, entry: ConnectionPoolEntry, _proxy: Any) -> None:
        since = entry.info.get(_IDLE_SINCE)
        if since is not None and time.monotonic() - since < seconds:
            return
        try:
            engine.dialect.do_ping(dbapi)
        except engine.dialect.loaded_dbapi.Error as exc:
            # The pool closes this connection and checks out another.
            raise DisconnectionError(f"a pooled connection was lost while idle: {exc}") from exc


#: Every session the project opens comes from this factory (``open_session``,
#: ``session_scope``, ``bound_sessions``). Listeners that must see all of the project's
#: ORM writes, such as the register's contact-flag hook (dispatch.register.flags), attach
#: to it rather than to SQLAlchemy's global ``Session`` class, so they never run in
#: sessions that other libraries open in the same process. A bare ``Session(engine)``
#: bypasses them: use it only to read.
SESSIONS: sessionmaker[Session] = sessionmaker(expire_on_commit=False)


def open_session(bind: Engine | Connection) -> Session:
    """One of the project's sessions on ``bind`` (not begun)."""
    return SESSIONS(bind=bind)


def bound_sessions(engine: Engine) -> sessionmaker[Session]:
    """A factory of the project's sessions bound to ``engine`` (the web app's)."""
    # A sessionmaker makes a subclass of its class_, and listeners on SESSIONS reach
    # subclasses, so these sessions get them too.
    return sessionmaker(engine, class_=SESSIONS.class_, expire_on_commit=False)


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A session whose work commits on success and rolls back on any error."""
    with open_session(engine) as session, session.begin():
        yield session
