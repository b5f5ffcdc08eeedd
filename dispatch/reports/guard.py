"""The differencing guard: no two released audiences of a partner may nearly coincide.

Two audiences whose members differ by a handful let a partner subtract one report
from the other and learn about those few members, however well each report hides
small cells on its own. Before a release about an audience, the guard compares it
with every audience this partner was earlier given numbers about (on other
campaigns): when the two differ by fewer than k members, counting both directions
(|A \\ B| + |B \\ A| < k), the release is refused and the earlier report stays the
only one. This is the check Google Ads Data Hub applies to overlapping queries.

Audiences are sets of member ids that never leave the database: an estimate's
members are kept in ``report_audience_members``; a campaign's are its recipient
rows (all of them for the lift, the contacted for the report).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, func, literal, select, union_all
from sqlalchemy.orm import Session

from dispatch.campaigns.models import Campaign, CampaignRecipient, RecipientStatus
from dispatch.reports.disclosure import ReportRefused
from dispatch.reports.models import AudienceMember, Release, ReportKind


@dataclass(frozen=True)
class Audience:
    """Members a release is about: a query of ``member_id``, and its size."""

    members: Select[Any]
    size: int


def campaign_audience(session: Session, campaign_id: int, kind: str) -> Audience:
    """The report's audience is the contacted; the lift's adds the held out."""
    query = select(CampaignRecipient.member_id.label("member_id")).where(
        CampaignRecipient.campaign_id == campaign_id
    )
    if kind == ReportKind.REPORT.value:
        query = query.where(CampaignRecipient.status != RecipientStatus.HELD_OUT.value)
    size = session.execute(select(func.count()).select_from(query.subquery())).scalar_one()
    return Audience(query, int(size))


def _earlier(partner_id: int, campaign_id: int) -> Any:
    """(key, member_id) of every audience the partner was given numbers about before.

    One key per (campaign, kind): later editions of a report are about the same
    audience as its first.
    """
    others = (
        select(
            Release.campaign_id,
            Release.kind,
            func.min(Release.id).label("release_id"),
        )
        .where(Release.partner_id == partner_id, Release.campaign_id != campaign_id)
        .group_by(Release.campaign_id, Release.kind)
        .subquery("others")
    )
    estimates = select(
        others.c.release_id.label("key"), AudienceMember.member_id.label("member_id")
    ).join(AudienceMember, AudienceMember.release_id == others.c.release_id)
    estimates = estimates.where(others.c.kind == ReportKind.ESTIMATE.value)
    reports = (
        select(others.c.release_id.label("key"), CampaignRecipient.member_id.label("member_id"))
        .join(CampaignRecipient, CampaignRecipient.campaign_id == others.c.campaign_id)
        .where(
            others.c.kind == ReportKind.REPORT.value,
            CampaignRecipient.status != RecipientStatus.HELD_OUT.value,
        )
    )
    lifts = (
        select(others.c.release_id.label("key"), CampaignRecipient.member_id.label("member_id"))
        .join(CampaignRecipient, CampaignRecipient.campaign_id == others.c.campaign_id)
        .where(others.c.kind == ReportKind.LIFT.value)
    )
    return union_all(estimates, reports, lifts).subquery("earlier")


def check(
    session: Session, *, partner_id: int, campaign_id: int, audience: Audience, min_cell: int
) -> None:
    """Refuse (:class:`ReportRefused`) when ``audience`` nearly equals an earlier one."""
    has_earlier = session.scalar(
        select(literal(1))
        .where(Release.partner_id == partner_id, Release.campaign_id != campaign_id)
        .limit(1)
    )
    if not has_earlier:
        return
    earlier = _earlier(partner_id, campaign_id)
    sizes: dict[int, int] = {
        key: n
        for key, n in session.execute(select(earlier.c.key, func.count()).group_by(earlier.c.key))
    }
    mine = audience.members.subquery("mine")
    overlaps = session.execute(
        select(earlier.c.key, func.count())
        .join(mine, mine.c.member_id == earlier.c.member_id)
        .group_by(earlier.c.key)
    ).all()
    for key, common in overlaps:
        difference = audience.size + sizes[key] - 2 * common
        if difference < min_cell:
            earlier_release = session.get_one(Release, key)
            other = session.get_one(Campaign, earlier_release.campaign_id)
            raise ReportRefused(
                f"this audience differs from the one of your earlier {earlier_release.kind} "
                f"for campaign {other.public_id} by fewer than {min_cell} members; only that "
                "earlier report is available, so that the two cannot be subtracted",
                where="differencing guard",
            )
