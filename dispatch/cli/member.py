"""``dispatch member``: one member's data, every access audited.

Each command needs an actor (``--as NAME`` or ``DISPATCH_ACTOR``) and writes exactly
one audit entry in the same transaction as the access; ``docs/members.md`` explains
the commands and the audit log for staff.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click
from rich.console import Console, JustifyMethod
from rich.table import Table

from dispatch.cli.context import (
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
from dispatch.db.types import Channel, Decision, Purpose
from dispatch.errors import InputError, OperationError
from dispatch.members import services as member_services
from dispatch.privacy import erasure, export
from dispatch.register import services
from dispatch.register.consent import ConsentError

# The consent ledger's column; checked here so that an over-long value is a one-line
# input error on every backend (SQLite would store it).
SOURCE_MAX = 40

member_id_argument = click.argument("member_id", metavar="ID", type=MEMBER_ID)


@click.group("member")
def group() -> None:
    """One member's data: show, consent, objection, export, erasure.

    Every command needs your personal account name (--as NAME or DISPATCH_ACTOR)
    and is recorded in the audit log with the --reason you give.
    """


def _interactive() -> bool:
    return sys.stdin.isatty()


def _warn(message: str) -> None:
    """One line on stderr that does not make the command fail."""
    click.echo(f"dispatch: warning: {message}", err=True)


@group.command("show", short_help="Show one member's register data.")
@member_id_argument
@click.option(
    "--sensitive",
    is_flag=True,
    help="Also show special-category purchases (GDPR Art. 9); needs --reason, audited.",
)
@actor_option
@json_option
@pass_app
def show(
    app: AppContext,
    member_id: int,
    sensitive: bool,
    actor: str | None,
    reason: str | None,
    as_json: bool,
) -> None:
    """Show member ID's register data, consent and suppressions (audited).

    Purchases of special-category product groups (pharmacy, special diets: they
    reveal health) are left out unless you ask with --sensitive and say why with
    --reason; the audit entry records that they were shown.
    """
    who = staff_actor(app, actor, reason)
    with session_scope(app.engine()) as session:
        doc = services.show_member(
            session, member_id, actor=who, reason=reason, sensitive=sensitive
        )
    if as_json:
        emit_json(doc)
    else:
        _render_profile(doc)


@group.command("consent", short_help="Record a member's consent grant or refusal.")
@member_id_argument
@click.argument("decision", type=click.Choice(["grant", "refuse"]))
@click.option(
    "--purpose",
    required=True,
    type=click.Choice([p.value for p in Purpose]),
    help="What the decision is about (direct_marketing is for `member object` only).",
)
@click.option(
    "--channel",
    required=True,
    type=click.Choice([c.value for c in Channel]),
    help="Which channel (any is for `member object` only).",
)
@click.option("--source", default="staff", show_default=True, help="Where the decision came from.")
@actor_option
@json_option
@pass_app
def consent_command(
    app: AppContext,
    member_id: int,
    decision: str,
    purpose: str,
    channel: str,
    source: str,
    actor: str | None,
    reason: str | None,
    as_json: bool,
) -> None:
    """Record that member ID grants or refuses PURPOSE on CHANNEL (audited).

    DECISION is grant or refuse. The entry goes to the consent ledger with you as
    its actor, and the current consent state follows at once. A grant while the
    member's objection is in force is recorded, with a warning: the objection still
    blocks all direct marketing.
    """
    who = staff_actor(app, actor, reason)
    check_length(source, SOURCE_MAX, "--source")
    value = Decision.GRANTED if decision == "grant" else Decision.REFUSED
    try:
        with session_scope(app.engine()) as session:
            event = services.change_consent(
                session,
                member_id,
                Purpose(purpose),
                Channel(channel),
                value,
                source=source,
                actor=who,
                reason=reason,
            )
            blocked: str | None = None
            if value == Decision.GRANTED:
                blocked = services.still_blocked(
                    session, member_id, Purpose(purpose), Channel(channel)
                )
            warnings = [f"granted, but {blocked}"] if blocked else []
            doc = {
                "member": member_id,
                "purpose": purpose,
                "channel": channel,
                "decision": str(value),
                "ledger_entry": event.id,
                "consent": services.consent_state(session, member_id),
                "warnings": warnings,
            }
    except ConsentError as exc:
        where = "--purpose" if purpose == Purpose.DIRECT_MARKETING else "--channel"
        raise InputError(str(exc), where=where) from exc
    for warning in warnings:
        _warn(f"member {member_id}: {warning}")
    if as_json:
        emit_json(doc)
    else:
        click.echo(f"member {member_id}: {purpose}/{channel} {value} (ledger entry {event.id})")


@group.command("object", short_help="Record an objection to all direct marketing.")
@member_id_argument
@click.option("--source", default="staff", show_default=True, help="Where the objection came from.")
@actor_option
@json_option
@pass_app
def object_command(
    app: AppContext,
    member_id: int,
    source: str,
    actor: str | None,
    reason: str | None,
    as_json: bool,
) -> None:
    """Record member ID's objection to all direct marketing (GDPR Art. 21(2)).

    Absolute and effective at once: it blocks every marketing purpose on every
    channel, including letters already queued but not yet handed off. An objection
    already in force is not recorded again (the command says since when).
    """
    who = staff_actor(app, actor, reason)
    check_length(source, SOURCE_MAX, "--source")
    with session_scope(app.engine()) as session:
        before = services.objection_in_force(session, member_id)
        event = services.object_to_direct_marketing(
            session, member_id, source=source, actor=who, reason=reason
        )
        doc = {
            "member": member_id,
            "objected": True,
            "new": before is None,
            "ledger_entry": event.id,
            "since": services.plain(event.recorded_at),
        }
    if as_json:
        emit_json(doc)
    elif doc["new"]:
        click.echo(
            f"member {member_id}: objected to all direct marketing, effective now "
            f"(ledger entry {event.id})"
        )
    else:
        click.echo(
            f"member {member_id}: already objected to all direct marketing since "
            f"{doc['since']} (ledger entry {event.id}); nothing new recorded"
        )


@group.command("export", short_help="Export everything kept about a member (Art. 15).")
@member_id_argument
@click.option(
    "--out",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    default=None,
    help="Write the document to FILE (readable by you only) instead of stdout.",
)
@actor_option
@json_option
@pass_app
def export_command(
    app: AppContext,
    member_id: int,
    out: Path | None,
    actor: str | None,
    reason: str | None,
    as_json: bool,
) -> None:
    """Export everything kept about member ID as one JSON document (GDPR Art. 15).

    Without --out the document is the output (--json changes nothing); with --out
    and --json, a short JSON document says where it was written.
    """
    who = staff_actor(app, actor, reason)
    if out is not None and not out.parent.is_dir():
        raise InputError(f"no directory {out.parent} for {out}", where="--out")
    with session_scope(app.engine()) as session:
        document = export.export_member(
            session,
            member_id,
            actor=who,
            reason=reason,
            destination="stdout" if out is None else "file",
        )
    # Shown only after the audit entry has committed: an export that fails to be
    # written leaves an entry too many, never an access without an entry.
    if out is None:
        click.echo(export.dumps(document), nl=False)
        return
    try:
        export.write_document(document, out)
    except OSError as exc:
        raise OperationError(f"cannot write {out}: {exc.strerror}", where="--out") from exc
    if as_json:
        emit_json({"member": member_id, "out": str(out)})
    else:
        click.echo(f"member {member_id}: export written to {out}")


@group.command("erase", short_help="Erase a member's personal data (Art. 17).")
@member_id_argument
@click.option("--yes", is_flag=True, help="Do not ask for confirmation (needed in scripts).")
@actor_option
@json_option
@pass_app
def erase_command(
    app: AppContext,
    member_id: int,
    yes: bool,
    actor: str | None,
    reason: str | None,
    as_json: bool,
) -> None:
    """Erase member ID's personal data (GDPR Art. 17); they stay suppressed.

    Names, address, e-mail, phone, card number and birth year are cleared and the
    behaviour data deleted. The keyed hash of the card number and an 'erased'
    suppression remain, so a re-import of the card is never contacted; the consent
    ledger remains as proof. Erasing an erased member is an error.
    """
    who = staff_actor(app, actor, reason)
    if not yes:
        if not _interactive():
            raise InputError("refusing to erase without confirmation; pass --yes", where="--yes")
        with session_scope(app.engine()) as session:
            services.ensure_not_erased(services.get_member(session, member_id))
        click.confirm(
            f"Erase the personal data of member {member_id}? This cannot be undone",
            abort=True,
            err=as_json,
        )
    with session_scope(app.engine()) as session:
        done = erasure.erase_member(session, member_id, actor=who, reason=reason)
    if as_json:
        emit_json(
            {
                "member": member_id,
                "status": "erased",
                "deleted": done.deleted,
                "household_deleted": done.household_deleted,
                "suppression_added": done.suppression_added,
            }
        )
        return
    counts = ", ".join(f"{n} {table}" for table, n in done.deleted.items())
    click.echo(f"member {member_id}: erased ({counts} deleted); suppressed as erased")


@group.command("revoke-links", short_help="Revoke every link a member was sent.")
@member_id_argument
@actor_option
@json_option
@pass_app
def revoke_links_command(
    app: AppContext, member_id: int, actor: str | None, reason: str | None, as_json: bool
) -> None:
    """Revoke member ID's unsubscribe and preference-centre links and letter codes.

    For a lost or stolen letter or e-mail: every link and code sent so far, and any
    open preference-centre visit, stops working at once (audited). Later letters and
    e-mails bring new ones.
    """
    who = staff_actor(app, actor, reason)
    with session_scope(app.engine()) as session:
        count = member_services.revoke_links(session, member_id, actor=who, reason=reason)
    if as_json:
        emit_json({"member": member_id, "links_revoked": count})
        return
    click.echo(f"member {member_id}: {count} links revoked")


def _render_profile(doc: dict[str, Any]) -> None:
    """The ``member show`` document for people; --json gives the same data."""
    console = Console(markup=False, highlight=False, emoji=False)
    m = doc["member"]
    name = " ".join(part for part in (m["first_name"], m["last_name"]) if part)
    console.print(f"Member {m['id']}  {name or '-'}", style="bold")

    facts = Table.grid(padding=(0, 2))
    facts.add_column(style="dim")
    facts.add_column()
    address = [m["address_extra"], m["street"], f"{m['postcode'] or ''} {m['post_town'] or ''}"]
    household, store = doc["household"], doc["home_store"]
    for label, value in (
        ("status", m["status"] + (f" since {m['erased_at']}" if m["erased_at"] else "")),
        ("card", m["card_number"]),
        ("language", m["language"]),
        ("born", m["birth_year"]),
        ("e-mail", m["email"]),
        ("phone", m["phone"]),
        ("address", "\n".join(line.strip() for line in address if line and line.strip())),
        ("address status", m["address_status"]),
        ("municipality", f"{m['municipality'] or '-'}, {m['region'] or '-'}"),
        ("member since", m["member_since"]),
        ("household", f"{household['kind']} (#{household['id']})" if household else None),
        ("home store", f"{store['name']}, {store['municipality']}" if store else None),
    ):
        facts.add_row(label, "-" if value in (None, "") else str(value))
    console.print(facts)

    consent = Table(title="Consent (current state)", title_justify="left")
    for heading in ("purpose", "channel", "decision", "since"):
        consent.add_column(heading)
    for row in doc["consent"]:
        consent.add_row(row["purpose"], row["channel"], row["decision"], row["updated_at"])
    console.print(consent if doc["consent"] else "Consent: no decisions recorded")

    if doc["suppressions"]:
        suppressed = Table(title="Suppressions", title_justify="left")
        for heading in ("reason", "since", "source"):
            suppressed.add_column(heading)
        for row in doc["suppressions"]:
            suppressed.add_row(row["reason"], row["since"], row["source"])
        console.print(suppressed)
    else:
        console.print("Suppressions: none")

    if doc["sensitive_purchases"] == "hidden":
        console.print(
            "Special-category purchases (GDPR Art. 9) are not shown; "
            "--sensitive --reason WHY shows them (audited)."
        )
    if doc["purchases"]:
        bought = Table(title="Purchases by top-level group", title_justify="left")
        columns: tuple[tuple[str, JustifyMethod], ...] = (
            ("group", "left"),
            ("amount EUR", "right"),
            ("items", "right"),
            ("months", "left"),
        )
        for heading, justify in columns:
            bought.add_column(heading, justify=justify)
        for row in doc["purchases"]:
            bought.add_row(
                row["group"] + (" (sensitive)" if row["sensitive"] else ""),
                row["amount"],
                str(row["count"]),
                f"{row['first_month'][:7]} .. {row['last_month'][:7]}",
            )
        console.print(bought)
    else:
        console.print("Purchases: none")
