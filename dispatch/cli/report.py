"""``dispatch report``: the partner reports, as the partner receives them.

Every number printed here has passed the disclosure control (docs/reports.md), and
releasing it spends the partner's privacy budget exactly as the portal does; staff
see exact counts in ``dispatch campaign report`` instead.
"""

from __future__ import annotations

from typing import Any

import click
from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch.campaigns.models import Campaign
from dispatch.cli.context import AppContext, emit_json, json_option, pass_app
from dispatch.creatives import services as creatives
from dispatch.db.engine import session_scope
from dispatch.errors import InputError
from dispatch.reports import ledger
from dispatch.reports import services as reports
from dispatch.reports.disclosure import Controls

_WHY = "a report released to a partner is recorded with who released it"


@click.group("report")
def group() -> None:
    """Partner reports: noisy, thresholded aggregates that single no one out."""


def _campaign(session: Session, given: str) -> Campaign:
    found = session.scalar(
        select(Campaign).where(
            Campaign.id == int(given) if given.isdigit() else Campaign.public_id == given
        )
    )
    if found is None:
        raise InputError(f"no campaign {given}", where="CAMPAIGN")
    return found


@group.command("partner")
@click.argument("campaign_id", metavar="CAMPAIGN")
@click.option(
    "--as", "actor", metavar="NAME", default=None, help="Who releases it (or DISPATCH_ACTOR)."
)
@json_option
@pass_app
def partner(app: AppContext, campaign_id: str, actor: str | None, as_json: bool) -> None:
    """The reports of CAMPAIGN (its id or public id) as its partner gets them.

    Before the snapshot an audience estimate; once the campaign has finished what it
    reached, with breakdowns, and its lift against the holdout. Asked again the same
    day, the stored answers come back and nothing more is spent.
    """
    who = app.actor(actor, why=_WHY)
    controls = Controls.from_settings(app.settings)
    with session_scope(app.engine()) as session:
        doc = reports.campaign_reports(
            session, _campaign(session, campaign_id), controls=controls, actor=who
        )
    if as_json:
        emit_json(doc)
        return
    _print(doc)


def _print(doc: dict[str, Any]) -> None:
    click.echo(f"campaign {doc['campaign']}")
    estimate, report, lift = doc["estimate"], doc["report"], doc["lift"]
    if estimate:
        if estimate["available"]:
            click.echo(
                f"audience estimate: {estimate['audience']['text']} members "
                f"(± {estimate['error95']} at 95 %)"
            )
        else:
            click.echo(f"audience estimate refused: {estimate['reason']}")
    if report:
        if report["available"]:
            click.echo(f"report (each number ± {report['error95']} at 95 %):")
            for total in report["totals"]:
                click.echo(f"  {total['label']}: {total['text']}")
            for part in report["breakdowns"]:
                cells = ", ".join(f"{c['label']} {c['text']}" for c in part["cells"])
                click.echo(f"  by {part['label'].lower()}: {cells or part['note']}")
        else:
            click.echo(f"report refused: {report['reason']}")
    if lift:
        if not lift["available"]:
            click.echo(f"lift refused: {lift['reason']}")
        elif lift["lift"]:
            result = lift["lift"]
            low, high = result["interval95"]
            click.echo(
                f"lift: response {result['rate_contacted']:.2%} contacted vs "
                f"{result['rate_held_out']:.2%} held out; difference "
                f"{result['difference'] * 100:+.2f} pp (95 % interval {low * 100:+.2f} to "
                f"{high * 100:+.2f} pp)"
            )
        else:
            click.echo(f"lift: {lift['note']}")
    budget = doc["budget"]
    click.echo(
        f"privacy budget {budget['period'][:7]}: ε {budget['spent_epsilon']:.2f} of "
        f"{budget['epsilon']:g} spent"
    )


@group.command("budget")
@click.argument("name", metavar="PARTNER")
@json_option
@pass_app
def budget(app: AppContext, name: str, as_json: bool) -> None:
    """The privacy budget of PARTNER this month and its latest releases."""
    controls = Controls.from_settings(app.settings)
    with session_scope(app.engine()) as session:
        partner = creatives.get_partner(session, name)
        doc: dict[str, Any] = {
            "partner": partner.name,
            "budget": ledger.budget(session, partner.id, controls).as_json(),
            "releases": [
                ledger.release_doc(r, staff=True) for r in ledger.releases(session, partner.id)
            ],
        }
    if as_json:
        emit_json(doc)
        return
    b = doc["budget"]
    click.echo(
        f"{doc['partner']}: ε {b['spent_epsilon']:.2f} of {b['epsilon']:g} spent in "
        f"{b['period'][:7]} ({b['releases']} releases); renews {b['renews']}"
    )
    for r in doc["releases"]:
        click.echo(
            f"  {r['released_at'][:16]}  {r['campaign']}  {r['kind']:<8} ε {r['epsilon']:.2f}"
        )
