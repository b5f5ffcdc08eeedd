"""Engines and sessions for the configured database."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create an engine; for SQLite make the folder, enforce foreign keys and use WAL."""
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
    return create_engine(url, pool_pre_ping=True, **kwargs)


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
