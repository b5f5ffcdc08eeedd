"""The partner reports: an audience estimate, the campaign report and the lift.

Every report goes the same way (:func:`release`): the stored answer if this
question was asked before; otherwise, under the partner's lock, the exact counts
(:mod:`.counts`), the differencing guard (:mod:`.guard`), noise, cell suppression
(:mod:`.disclosure`), and the ledger entry that spends the budget (:mod:`.ledger`).
What the caller gets back is the released document, exactly as stored; nothing
exact leaves this module.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func, insert, literal, select
from sqlalchemy.orm import Session

from dispatch.campaigns.models import Campaign, CampaignStatus
from dispatch.campaigns.snapshot import frozen_segment
from dispatch.creatives.models import Partner
from dispatch.db.types import utcnow
from dispatch.reports import counts as exact
from dispatch.reports import disclosure as dc
from dispatch.reports import guard, ledger
from dispatch.reports.disclosure import Controls, ReportRefused
from dispatch.reports.lift import Group, lift
from dispatch.reports.models import AudienceMember, ReportKind
from dispatch.segmenting import services as segments

#: What each kind of release spends of the monthly ε budget.
COSTS = {ReportKind.ESTIMATE: 0.5, ReportKind.REPORT: 2.0, ReportKind.LIFT: 1.0}
#: A Gaussian release spends this share of the period's δ.
DELTA_SHARE = 1 / 20
#: Estimates are rounded to this step.
ROUND_TO = 10
BEFORE_SNAPSHOT = (CampaignStatus.DRAFT, CampaignStatus.APPROVED, CampaignStatus.SCHEDULED)
FINISHED = (CampaignStatus.COMPLETED, CampaignStatus.CANCELLED)
LABELS = {
    "reached_post": "letters handed off",
    "reached_email": "e-mails accepted by the mailer",
    "returned": "letters returned",
    "unsubscribed": "unsubscribes",
    "objected": "objections",
}
DIMENSION_LABELS = {"region": "Region", "age_band": "Age band", "language": "Language"}


def release_delta(controls: Controls) -> float:
    """What a (Gaussian) release may spend of the period's δ."""
    return controls.delta * DELTA_SHARE


def edition_of(kind: ReportKind, now: dt.datetime) -> str:
    """An estimate is answered once; a report or lift once per UTC day."""
    return "once" if kind == ReportKind.ESTIMATE else now.date().isoformat()


def available(campaign: Campaign) -> list[ReportKind]:
    """The kinds of report the campaign's state allows."""
    status = CampaignStatus(campaign.status)
    if status in BEFORE_SNAPSHOT:
        return [ReportKind.ESTIMATE]
    if status in FINISHED and campaign.snapshot_at is not None:
        return [ReportKind.REPORT, ReportKind.LIFT]
    return []


def release(
    session: Session,
    campaign: Campaign,
    kind: ReportKind,
    *,
    controls: Controls,
    actor: str,
    now: dt.datetime | None = None,
) -> dict[str, Any]:
    """The released document for (campaign, kind) today: stored, or released now.

    Raises :class:`ReportRefused` when the campaign's state does not allow this
    report, the differencing guard trips, or the budget is spent.
    """
    now = now or utcnow()
    if kind not in available(campaign):
        raise ReportRefused(_not_available(campaign, kind), where=f"campaign {campaign.public_id}")
    edition = edition_of(kind, now)
    found = ledger.stored(session, campaign.id, kind.value, edition)
    if found is None:
        ledger.lock_partner(session, campaign.partner_id)
        found = ledger.stored(session, campaign.id, kind.value, edition)
    if found is not None:
        return found.answer
    cost = COSTS[kind]
    delta = release_delta(controls) if controls.mechanism == "gaussian" else 0.0
    # Refused before any counting when even the planned spending does not fit.
    ledger.require(ledger.budget(session, campaign.partner_id, controls, now), cost, delta)
    build = {ReportKind.ESTIMATE: _estimate, ReportKind.REPORT: _report, ReportKind.LIFT: _lift}
    answer, noisy, audience = build[kind](session, campaign, controls, cost, now)
    answer.update(
        kind=kind.value,
        campaign=campaign.public_id,
        edition=edition,
        released_at=now.isoformat(),
        mechanism=controls.mechanism,
        epsilon=round(noisy.epsilon, 6),
        delta=noisy.delta,
        error95=noisy.error95 + (ROUND_TO // 2 if kind == ReportKind.ESTIMATE else 0),
        min_cell=controls.min_cell,
    )
    stored = ledger.charge(
        session,
        partner_id=campaign.partner_id,
        campaign_id=campaign.id,
        kind=kind.value,
        edition=edition,
        epsilon=noisy.epsilon,
        delta=noisy.delta,
        controls=controls,
        answer=answer,
        actor=actor,
        now=now,
    )
    if audience is not None:
        session.execute(
            insert(AudienceMember).from_select(
                ["release_id", "member_id"],
                select(literal(stored.id), audience.members.subquery().c.member_id),
            )
        )
    return stored.answer


def campaign_reports(
    session: Session, campaign: Campaign, *, controls: Controls, actor: str
) -> dict[str, Any]:
    """Every report the campaign's state allows, each released (or stored) or refused
    with its reason, and the partner's budget afterwards: what the portal, the API,
    the CSV and ``dispatch report partner`` show."""
    kinds = available(campaign)
    docs: dict[str, Any] = {"campaign": campaign.public_id}
    for kind in ReportKind:
        if kind not in kinds:
            docs[kind.value] = None
            continue
        try:
            answer = release(session, campaign, kind, controls=controls, actor=actor)
            docs[kind.value] = {"available": True, **answer}
        except ReportRefused as exc:
            docs[kind.value] = {"available": False, "reason": exc.message}
    if not kinds:
        docs["report"] = {
            "available": False,
            "reason": _not_available(campaign, ReportKind.REPORT),
        }
    docs["budget"] = ledger.budget(session, campaign.partner_id, controls).as_json()
    return docs


def _not_available(campaign: Campaign, kind: ReportKind) -> str:
    status = campaign.status
    if kind == ReportKind.ESTIMATE:
        return f"an audience estimate is only given before the snapshot; the campaign is {status}"
    return f"the {kind.value} comes once the campaign has finished; it is {status}"


Built = tuple[dict[str, Any], dc.Noisy, "guard.Audience | None"]


def _guard(
    session: Session, campaign: Campaign, audience: guard.Audience, controls: Controls
) -> None:
    guard.check(
        session,
        partner_id=campaign.partner_id,
        campaign_id=campaign.id,
        audience=audience,
        min_cell=controls.min_cell,
    )


def _estimate(
    session: Session, campaign: Campaign, controls: Controls, cost: float, now: dt.datetime
) -> Built:
    segment = frozen_segment(campaign)
    with segments.segment_settings(session):
        compiled = segments.compile_segment(session, segment)
        members = select(compiled.selection().subquery("chosen").c.id.label("member_id"))
        size = session.execute(select(func.count()).select_from(members.subquery())).scalar_one()
        audience = guard.Audience(members, int(size))
        _guard(session, campaign, audience, controls)
    noisy = dc.add_noise([audience.size], 1, cost, controls, delta=release_delta(controls))
    shown = dc.cell(dc.rounded(noisy.values[0], ROUND_TO), controls.min_cell)
    answer = {
        "audience": {
            "value": shown.value,
            "text": f"about {shown.text}" if shown.shown else f"fewer than {controls.min_cell}",
        },
        "holdout_percent": campaign.holdout_bp / 100,
        "segment": campaign.segment_name,
    }
    return answer, noisy, audience


def _report(
    session: Session, campaign: Campaign, controls: Controls, cost: float, now: dt.datetime
) -> Built:
    audience = guard.campaign_audience(session, campaign.id, ReportKind.REPORT.value)
    _guard(session, campaign, audience, controls)
    found = exact.campaign_counts(session, campaign)
    measures, values, sensitivity = report_vector(campaign.channel, found)
    noisy = dc.add_noise(values, sensitivity, cost, controls, delta=release_delta(controls))
    drawn = iter(noisy.values)
    totals = [
        {"name": name, "label": LABELS[name], **dc.cell(next(drawn), controls.min_cell).as_json()}
        for name in measures
    ]
    breakdowns = []
    for dimension in exact.DIMENSIONS:
        labels = exact.CATEGORIES[dimension]
        cells = dc.breakdown([next(drawn) for _ in labels], controls.min_cell)
        breakdowns.append(
            {
                "name": dimension,
                "label": DIMENSION_LABELS[dimension],
                "available": cells is not None,
                "note": None
                if cells is not None
                else "too few in its cells to show without singling anyone out",
                "cells": [
                    {"label": label, **c.as_json()}
                    for label, c in zip(labels, cells or [], strict=False)
                ],
            }
        )
    start, end = exact.window(campaign)
    answer = {
        "channel": campaign.channel,
        "window": {"start": start.date().isoformat(), "end": end.date().isoformat()},
        "totals": totals,
        "breakdowns": breakdowns,
    }
    return answer, noisy, None


def report_vector(channel: str, found: exact.CampaignCounts) -> tuple[list[str], list[int], int]:
    """The campaign report's measures, all its counts in release order (measures, then
    each breakdown's categories), and their sensitivity: one member moves each measure
    by at most one, and one cell of each breakdown."""
    measures = [f"reached_{channel}"]
    values = [found.reached]
    if channel == "post":
        measures.append("returned")
        values.append(found.returned)
    measures += ["unsubscribed", "objected"]
    values += [found.unsubscribed, found.objected]
    for dimension in exact.DIMENSIONS:
        values += [found.by[dimension][c] for c in exact.CATEGORIES[dimension]]
    return measures, values, len(measures) + len(exact.DIMENSIONS)


def lift_vector(found: exact.LiftCounts) -> tuple[list[int], int]:
    """The lift's counts and their sensitivity: a member is in one group, with one
    membership, one response and at most PURCHASE_CAP purchase days."""
    c, h = found.contacted, found.held_out
    values = [c.members, h.members, c.responders, h.responders, c.purchases, h.purchases]
    return values, 2 + exact.PURCHASE_CAP


def _lift(
    session: Session, campaign: Campaign, controls: Controls, cost: float, now: dt.datetime
) -> Built:
    partner = session.get_one(Partner, campaign.partner_id)
    if not partner.bonus_code:
        raise ReportRefused(
            "the lift needs the partner's bonus purchases, and none are reported for "
            f"{partner.name} (it has no bonus code)",
            where="lift",
        )
    if campaign.holdout_bp == 0:
        raise ReportRefused("the campaign held no one out, so there is no lift to measure")
    audience = guard.campaign_audience(session, campaign.id, ReportKind.LIFT.value)
    _guard(session, campaign, audience, controls)
    found = exact.lift_counts(session, campaign, partner.bonus_code, now.date())
    values, sensitivity = lift_vector(found)
    noisy = dc.add_noise(values, sensitivity, cost, controls, delta=release_delta(controls))
    n_c, n_h, r_c, r_h, p_c, p_h = noisy.values
    k = controls.min_cell
    groups = {
        "contacted": {
            "members": dc.cell(n_c, k).as_json(),
            "responders": dc.cell(r_c, k).as_json(),
        },
        "held_out": {
            "members": dc.cell(n_h, k).as_json(),
            "responders": dc.cell(r_h, k).as_json(),
        },
    }
    # Rates only where responders and non-responders both pass the control.
    measurable = all(r >= k and n - r >= k for n, r in ((n_c, r_c), (n_h, r_h)))
    result = (
        lift(Group(n_c, r_c, max(p_c, 0)), Group(n_h, r_h, max(p_h, 0)), noisy.variance)
        if measurable
        else None
    )
    answer = {
        "window": {
            "start": found.start.isoformat(),
            "end": (found.end - dt.timedelta(days=1)).isoformat(),
            "open": found.end < exact.window(campaign)[1].date(),
        },
        "response": "a bonus purchase from the partner in the window",
        "purchase_cap": exact.PURCHASE_CAP,
        "groups": groups,
        "lift": result.as_json() if result else None,
        "note": None
        if result
        else f"Each group needs at least {k} responders and {k} others to measure a lift",
    }
    return answer, noisy, None
