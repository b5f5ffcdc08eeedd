"""``dispatch audit``: read the audit log (docs/members.md).

Reading the log is itself recorded: who looked at whose access history is as much
an access to one member's data as the access it shows.
"""

from __future__ import annotations

import datetime as dt
import json

import click
from rich.console import Console
from rich.table import Table

from dispatch.cli.context import (
    ACTOR_MAX,
    MEMBER_ID,
    AppContext,
    actor_option,
    check_length,
    emit_json,
    json_option,
    pass_app,
    staff_actor,
)
from dispatch.db.engine import session_scope
from dispatch.errors import InputError
from dispatch.register import audit
from dispatch.register.services import get_member


@click.group("audit")
def group() -> None:
    """The audit log: who looked at or changed what, when, why and from where."""


def parse_since(value: str | None) -> dt.datetime | None:
    """``--since``: a date (midnight UTC) or an ISO 8601 time with a zone."""
    if value is None:
        return None
    try:
        if len(value) == 10:
            day = dt.date.fromisoformat(value)
            return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        raise InputError(
            f"not a date or time: {value!r} (e.g. 2026-03-01 or 2026-03-01T09:00+02:00)",
            where="--since",
        ) from None
    if moment.tzinfo is None:
        raise InputError("give a time zone, e.g. 2026-03-01T09:00+02:00", where="--since")
    return moment


@group.command("list")
@click.option(
    "--member", "member_id", type=MEMBER_ID, default=None, help="Only entries about member ID."
)
@click.option("--actor", "by", metavar="NAME", default=None, help="Only entries by NAME.")
@click.option("--since", default=None, help="Only entries from this date or time on (ISO 8601).")
@click.option(
    "--limit",
    type=click.IntRange(1, 100_000),
    default=200,
    show_default=True,
    help="At most this many entries: the most recent ones.",
)
@actor_option
@json_option
@pass_app
def list_(
    app: AppContext,
    member_id: int | None,
    by: str | None,
    since: str | None,
    limit: int,
    actor: str | None,
    reason: str | None,
    as_json: bool,
) -> None:
    """List audit entries, oldest first (the most recent --limit of them).

    Needs your account name (--as or DISPATCH_ACTOR): the listing is recorded as
    `audit.list`, under the member given with --member.
    """
    who = staff_actor(app, actor, reason)
    if by is not None:
        check_length(by, ACTOR_MAX, "--actor")
    start = parse_since(since)
    with session_scope(app.engine()) as session:
        if member_id is not None:
            get_member(session, member_id)
        found = audit.entries(session, member_id=member_id, actor=by, since=start, limit=limit)
        docs = [audit.as_document(entry) for entry in found]
        audit.record(
            session,
            actor=who,
            action="audit.list",
            member_id=member_id,
            reason=reason,
            detail={"actor": by, "since": start.isoformat() if start else None, "shown": len(docs)},
        )
    if as_json:
        emit_json(docs)
        return
    if not docs:
        click.echo("no audit entries match")
        return
    table = Table("at (UTC)", "actor", "action", "member", "reason", "detail")
    for d in docs:
        table.add_row(
            d["at"][:19],
            d["actor"],
            d["action"],
            "" if d["member_id"] is None else str(d["member_id"]),
            d["reason"] or "",
            json.dumps(d["detail"], ensure_ascii=False, sort_keys=True) if d["detail"] else "",
        )
    Console(width=160, markup=False, highlight=False, emoji=False).print(table)
