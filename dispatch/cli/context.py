"""What every CLI command shares: settings, the engine, the actor, JSON output."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, TypeVar

import click
from sqlalchemy import Engine

from dispatch.config import Settings, load_settings
from dispatch.db.engine import make_engine
from dispatch.db.migrate import ensure_current
from dispatch.errors import InputError

F = TypeVar("F", bound=Callable[..., Any])

# Column widths of the audit log; checked before the database is touched so that an
# over-long value is a one-line input error on every backend (SQLite would store it).
ACTOR_MAX, REASON_MAX = 80, 200


@dataclass
class AppContext:
    """Lazily built per invocation, so `--help` never touches the database."""

    _settings: Settings | None = None
    _engines: dict[bool, Engine] = field(default_factory=dict)

    @cached_property
    def settings(self) -> Settings:
        return self._settings or load_settings()

    def engine(self, *, migrated: bool = True) -> Engine:
        """The database engine; unless told otherwise, refuse an unmigrated schema."""
        if migrated not in self._engines:
            engine = make_engine(self.settings.database_url)
            if migrated:
                ensure_current(engine)
            self._engines[migrated] = engine
        return self._engines[migrated]

    def close(self) -> None:
        """Release pooled connections when the invocation ends (``cli`` arranges it).

        Without this an in-process run (tests, ``dispatch.cli.run``) leaves open
        connections for the garbage collector, which warns about each of them.
        """
        for engine in self._engines.values():
            engine.dispose()
        self._engines.clear()

    def actor(
        self, given: str | None, *, why: str = "this command shows or changes one member's data"
    ) -> str:
        """The person behind a staff action (required; audited or recorded).

        ``why`` says in the error why this command needs to know who is acting.
        """
        actor = (given or self.settings.actor or "").strip()
        if not actor:
            raise InputError(
                f"{why}: say who you are with --as NAME or DISPATCH_ACTOR", where="--as"
            )
        return actor


pass_app = click.make_pass_decorator(AppContext, ensure=True)

#: An id as the CLI takes it: the database's INTEGER (campaigns, creative versions) or
#: BIGINT (members). A larger number would reach the driver and end in an overflow.
ROW_ID = click.IntRange(1, 2**31 - 1)
MEMBER_ID = click.IntRange(1, 2**63 - 1)


def check_length(value: str, limit: int, option: str) -> None:
    """Refuse ``value`` longer than ``limit`` characters, naming ``option``."""
    if len(value) > limit:
        raise InputError(f"at most {limit} characters, got {len(value)}", where=option)


def staff_actor(app: AppContext, actor: str | None, reason: str | None) -> str:
    """The person behind an audited command, and their reason, checked before any access."""
    who = app.actor(actor)
    check_length(who, ACTOR_MAX, "--as")
    if reason is not None:
        check_length(reason, REASON_MAX, "--reason")
    return who


def json_option(func: F) -> F:
    """Add ``--json``: print exactly one JSON document on stdout instead of a table."""
    return click.option(
        "--json", "as_json", is_flag=True, help="Print one JSON document on stdout, for scripts."
    )(func)


def actor_option(func: F) -> F:
    func = click.option(
        "--reason", default=None, help="Why you are looking (recorded in the audit log)."
    )(func)
    return click.option(
        "--as",
        "actor",
        metavar="NAME",
        default=None,
        help="Your personal account name (or DISPATCH_ACTOR); every access is audited.",
    )(func)


def emit_json(document: Any) -> None:
    json.dump(document, sys.stdout, ensure_ascii=False, indent=2, default=str)
    sys.stdout.write("\n")
