"""The benchmarks' PostgreSQL database: made (or reused) at the schema's head, dropped.

Imported by the bench scripts (run as ``python bench/X.py``, so this folder is on
sys.path); the leading underscore marks it as a helper rather than a benchmark.
"""

from __future__ import annotations

import os

from sqlalchemy import Engine, create_engine, text

from dispatch.db.engine import make_engine
from dispatch.db.migrate import upgrade

SERVER = os.environ.get("DISPATCH_BENCH_PG_SERVER", "postgresql+psycopg://postgres@127.0.0.1:5432")


def open_database(name: str, *, keep: bool) -> tuple[Engine, int]:
    """The database ``name``, migrated, and how many members it has.

    Without ``keep`` an existing database of that name is dropped and made anew.
    """
    admin = create_engine(f"{SERVER}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        exists = conn.execute(
            text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}
        ).first()
        if exists and not keep:
            conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
            exists = None
        if not exists:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    url = f"{SERVER}/{name}"
    upgrade(url)
    engine = make_engine(url)
    with engine.connect() as conn:
        members: int = conn.execute(text("SELECT count(*) FROM members")).scalar_one()
    return engine, members


def drop_database(name: str) -> None:
    admin = create_engine(f"{SERVER}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()
