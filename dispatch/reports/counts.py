"""The exact counts behind the partner reports (never released as they are).

Each function is one aggregate query over the campaign's recipient rows; what a
partner receives is made from these by :mod:`.disclosure`. Staff see exact counts
in the reconciliation (``dispatch campaign report``), never through these.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field

from sqlalchemy import ColumnElement, Exists, and_, case, exists, func, literal, select
from sqlalchemy.orm import Session

from dispatch.campaigns.models import Campaign, CampaignRecipient, RecipientStatus
from dispatch.db.types import Decision
from dispatch.register.models import BonusPurchase, ConsentEvent, MemberFacts

#: Age bands of the breakdown: (label, youngest, oldest or None).
AGE_BANDS: tuple[tuple[str, int, int | None], ...] = (
    ("18-34", 18, 34),
    ("35-54", 35, 54),
    ("55-74", 55, 74),
    ("75+", 75, None),
)
UNKNOWN = "unknown"
#: Finland's 19 regions: a breakdown always lists every one (and ``unknown`` for the
#: rest), so that which cells exist says nothing about the audience.
REGIONS = (
    "Uusimaa", "Varsinais-Suomi", "Satakunta", "Kanta-Häme", "Pirkanmaa", "Päijät-Häme",
    "Kymenlaakso", "Etelä-Karjala", "Etelä-Savo", "Pohjois-Savo", "Pohjois-Karjala",
    "Keski-Suomi", "Etelä-Pohjanmaa", "Pohjanmaa", "Keski-Pohjanmaa", "Pohjois-Pohjanmaa",
    "Kainuu", "Lappi", "Ahvenanmaa",
)  # fmt: skip
LANGUAGES = ("fi", "sv")
#: A member's purchases count up to this many days in a lift (bounds their influence).
PURCHASE_CAP = 5
DIMENSIONS = ("region", "age_band", "language")
#: Every dimension's categories, in the order shown.
CATEGORIES: dict[str, tuple[str, ...]] = {
    "region": (*REGIONS, UNKNOWN),
    "age_band": (*(label for label, _, _ in AGE_BANDS), UNKNOWN),
    # A member's language is always fi or sv (a CHECK constraint): no "unknown" cell,
    # which would always be empty and force a complementary suppression.
    "language": LANGUAGES,
}


@dataclass
class CampaignCounts:
    """Exact counts of one campaign's contacted recipients."""

    reached: int = 0
    returned: int = 0
    unsubscribed: int = 0
    objected: int = 0
    #: Reached recipients per dimension and value.
    by: dict[str, Counter[str]] = field(
        default_factory=lambda: {d: Counter[str]() for d in DIMENSIONS}
    )


def window(campaign: Campaign) -> tuple[dt.datetime, dt.datetime]:
    """The campaign's response window: from the snapshot, ``response_days`` long."""
    start = campaign.snapshot_at or campaign.started_at or campaign.created_at
    return start, start + dt.timedelta(days=campaign.response_days)


def _age_band(year: int) -> ColumnElement[str]:
    age = literal(year) - MemberFacts.birth_year
    whens = [
        (and_(age >= low, age <= high) if high is not None else age >= low, literal(label))
        for label, low, high in AGE_BANDS
    ]
    return case(*whens, else_=literal(UNKNOWN))


def _decided(decision: Decision, start: dt.datetime, end: dt.datetime) -> Exists:
    return exists().where(
        ConsentEvent.member_id == CampaignRecipient.member_id,
        ConsentEvent.decision == decision.value,
        ConsentEvent.recorded_at >= start,
        ConsentEvent.recorded_at < end,
    )


def campaign_counts(session: Session, campaign: Campaign) -> CampaignCounts:
    """Reached, returned, unsubscribed and objected, and the reached per dimension.

    One grouped query: the recipients (the held out excepted) joined with the narrow
    member facts, grouped by region, age band and language, summing each measure.
    Unsubscribes and objections are the recipients' consent decisions (refusals,
    objections) recorded within the campaign's response window.
    """
    start, end = window(campaign)
    year = start.year
    region = func.coalesce(MemberFacts.region, literal(UNKNOWN))
    band = _age_band(year)
    reached = case((CampaignRecipient.status == RecipientStatus.DELIVERED.value, 1), else_=0)
    returned = case((CampaignRecipient.returned_at.is_not(None), 1), else_=0)
    refused = case((_decided(Decision.REFUSED, start, end), 1), else_=0)
    objected = case((_decided(Decision.OBJECTED, start, end), 1), else_=0)
    rows = session.execute(
        select(
            region,
            band,
            MemberFacts.language,
            func.sum(reached),
            func.sum(returned),
            func.sum(refused),
            func.sum(objected),
        )
        .select_from(CampaignRecipient)
        .join(MemberFacts, MemberFacts.id == CampaignRecipient.member_id)
        .where(
            CampaignRecipient.campaign_id == campaign.id,
            CampaignRecipient.status != RecipientStatus.HELD_OUT.value,
        )
        .group_by(region, band, MemberFacts.language)
    ).all()
    counts = CampaignCounts()
    for region_value, band_value, language, n_reached, n_returned, n_refused, n_objected in rows:
        counts.reached += int(n_reached or 0)
        counts.returned += int(n_returned or 0)
        counts.unsubscribed += int(n_refused or 0)
        counts.objected += int(n_objected or 0)
        for dimension, value in zip(DIMENSIONS, (region_value, band_value, language), strict=True):
            category = str(value) if str(value) in CATEGORIES[dimension] else UNKNOWN
            counts.by[dimension][category] += int(n_reached or 0)
    return counts


@dataclass(frozen=True)
class GroupCounts:
    members: int
    responders: int
    #: Purchase days in the window, each member's capped at PURCHASE_CAP.
    purchases: int


@dataclass(frozen=True)
class LiftCounts:
    contacted: GroupCounts
    held_out: GroupCounts
    start: dt.date
    end: dt.date


def lift_counts(
    session: Session, campaign: Campaign, partner_code: str, today: dt.date
) -> LiftCounts:
    """Members, responders and capped purchases, for the contacted and the held out.

    The contacted group is everyone not held out (intention to treat: the random
    split happened before any suppression, so only this comparison is fair). A
    response is a bonus purchase from the partner from the snapshot's day to the end
    of the window, or today while the window is still open.
    """
    begin, finish = window(campaign)
    start = begin.date()
    end = min(finish.date(), today + dt.timedelta(days=1))
    bought = (
        select(BonusPurchase.member_id, func.count().label("days"))
        .where(
            BonusPurchase.partner_code == partner_code,
            BonusPurchase.purchased_on >= start,
            BonusPurchase.purchased_on < end,
        )
        .group_by(BonusPurchase.member_id)
        .subquery("bought")
    )
    held = case((CampaignRecipient.status == RecipientStatus.HELD_OUT.value, 1), else_=0)
    capped = case(
        (bought.c.days > PURCHASE_CAP, PURCHASE_CAP), else_=func.coalesce(bought.c.days, 0)
    )
    rows = session.execute(
        select(held, func.count(), func.count(bought.c.member_id), func.sum(capped))
        .select_from(CampaignRecipient)
        .outerjoin(bought, bought.c.member_id == CampaignRecipient.member_id)
        .where(CampaignRecipient.campaign_id == campaign.id)
        .group_by(held)
    ).all()
    groups = {int(h): GroupCounts(int(n), int(r), int(p or 0)) for h, n, r, p in rows}
    empty = GroupCounts(0, 0, 0)
    return LiftCounts(groups.get(0, empty), groups.get(1, empty), start, end)
