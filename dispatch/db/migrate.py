"""Alembic, driven from code: the schema is never created any other way outside tests."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.script.revision import ResolutionError
from alembic.util import CommandError
from sqlalchemy import Engine

from dispatch.errors import InputError, OperationError

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


class NotMigratedError(RuntimeError):
    """The database schema is older than this code (or absent)."""


def alembic_config(database_url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return cfg


def upgrade(database_url: str, revision: str = "head") -> None:
    """Migrate up to ``revision``; an unknown revision is an :class:`InputError`."""
    config = alembic_config(database_url)
    try:
        ScriptDirectory.from_config(config).get_revisions(revision)
    except (ResolutionError, CommandError) as exc:
        raise InputError(f"no revision {revision!r}: {exc}", where="--revision") from None
    try:
        command.upgrade(config, revision)
    except CommandError as exc:
        raise OperationError(f"migration to {revision} failed: {exc}") from None


def head_revision(database_url: str) -> str | None:
    return ScriptDirectory.from_config(alembic_config(database_url)).get_current_head()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def ensure_current(engine: Engine) -> None:
    """Refuse to work on a database whose schema is not at the code's head revision."""
    current = current_revision(engine)
    head = head_revision(engine.url.render_as_string(hide_password=False))
    if current != head:
        state = "not migrated" if current is None else f"at revision {current}, code needs {head}"
        raise NotMigratedError(f"database is {state}: run `dispatch db upgrade`")
