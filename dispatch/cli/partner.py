"""``dispatch partner``: register and list the partners that submit creatives."""

from __future__ import annotations

import click

from dispatch.cli.context import AppContext, emit_json, json_option, pass_app
from dispatch.creatives import services
from dispatch.creatives.models import Partner
from dispatch.db.engine import session_scope


@click.group("partner")
def group() -> None:
    """Partners: organisations that advertise to members through us.

    The cooperative's own marketing is a partner too, so that every creative has an
    owner. Partners never see members; see docs/creatives.md.
    """


def _doc(partner: Partner) -> dict[str, object]:
    return {
        "id": partner.id,
        "name": partner.name,
        "house": partner.house,
        "bonus_code": partner.bonus_code,
        "created_at": partner.created_at.isoformat(),
    }


@group.command("create")
@click.argument("name")
@click.option(
    "--house",
    is_flag=True,
    help="NAME is the cooperative itself: its campaigns may use own-marketing segments.",
)
@json_option
@pass_app
def create(app: AppContext, name: str, house: bool, as_json: bool) -> None:
    """Register a partner called NAME (unique).

    Campaigns of a partner that is not --house must use partner_marketing segments,
    so that the partner-marketing consent rules and the opt-out register apply.
    """
    with session_scope(app.engine()) as session:
        partner = services.create_partner(session, name, house=house)
        doc = _doc(partner)
    if as_json:
        emit_json(doc)
    else:
        click.echo(f"partner {doc['id']}: {doc['name']}" + (" (the cooperative)" if house else ""))


@group.command("house")
@click.argument("name")
@json_option
@pass_app
def house(app: AppContext, name: str, as_json: bool) -> None:
    """Mark the existing partner NAME as the cooperative itself.

    For a register whose partners were made before partners had this mark: until
    then its own-marketing campaigns are refused like any partner's.
    """
    with session_scope(app.engine()) as session:
        doc = _doc(services.mark_house(session, name))
    if as_json:
        emit_json(doc)
    else:
        click.echo(f"partner {doc['id']}: {doc['name']} (the cooperative)")


@group.command("bonus-code")
@click.argument("name")
@click.argument("code")
@json_option
@pass_app
def bonus_code(app: AppContext, name: str, code: str, as_json: bool) -> None:
    """Give the partner NAME its CODE in the bonus-purchase feed (docs/feed.md).

    The lift report of the partner's campaigns counts the feed's purchases under
    this code as responses (docs/reports.md).
    """
    with session_scope(app.engine()) as session:
        doc = _doc(services.set_bonus_code(session, name, code))
    if as_json:
        emit_json(doc)
    else:
        click.echo(f"partner {doc['id']}: {doc['name']} reports bonus purchases as {code}")


@group.command("list")
@json_option
@pass_app
def list_(app: AppContext, as_json: bool) -> None:
    """List the partners."""
    with session_scope(app.engine()) as session:
        docs = [_doc(p) for p in services.list_partners(session)]
    if as_json:
        emit_json(docs)
        return
    if not docs:
        click.echo("no partners yet: add one with `dispatch partner create NAME`")
    for doc in docs:
        house = "  (the cooperative)" if doc["house"] else ""
        click.echo(f"{doc['id']:>5}  {doc['name']}{house}")
