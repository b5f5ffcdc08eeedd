"""``dispatch mailer``: the mail that comes back.

``dispatch mailer inbound`` applies the unsubscribe mails sent to the
List-Unsubscribe ``mailto:`` address (``DISPATCH_UNSUBSCRIBE_MAILTO``), read from its
mailbox (``DISPATCH_INBOUND_URL``: a Maildir, or IMAP in production); run it from cron
or a timer every few minutes. See :mod:`dispatch.members.inbound`.
"""

from __future__ import annotations

import dataclasses

import click

from dispatch.cli.context import AppContext, emit_json, json_option, pass_app
from dispatch.members import inbound


@click.group("mailer")
def group() -> None:
    """Mail that comes back to the dispatcher: unsubscribe requests."""


@group.command("inbound", short_help="Apply the unsubscribe mails waiting in the mailbox.")
@click.option(
    "--from",
    "source",
    metavar="URL",
    default=None,
    help="The mailbox: maildir://PATH or imaps://USER:PASS@HOST/FOLDER "
    "(default: DISPATCH_INBOUND_URL).",
)
@json_option
@pass_app
def inbound_command(app: AppContext, source: str | None, as_json: bool) -> None:
    """Withdraw the e-mail permission of every member whose unsubscribe mail waits.

    Each mail's subject carries the token of the e-mail it answers; the withdrawal is
    the same as the one-click one (a consent-ledger entry, source unsubscribe-mail,
    with the campaign) and the mail is deleted. Mails without a valid token are marked
    read and left for a person. Prints counts only: the mails hold addresses.
    """
    settings = app.settings
    engine = app.engine()
    box = inbound.open_mailbox(source or settings.inbound_url)
    try:
        result = inbound.process(engine, box, settings.secret_key)
    finally:
        box.close()
    if as_json:
        emit_json(dataclasses.asdict(result))
        return
    click.echo(
        f"{result.withdrawn} withdrawn, {result.already} already withdrawn, "
        f"{result.kept} left in the mailbox for a person (no valid token)"
    )
