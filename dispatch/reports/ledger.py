"""The privacy budget ledger: stored answers, spending per period, new releases.

A question is (campaign, kind, edition). Asked again, it gets the stored answer
(:func:`stored`), never a fresh draw, so repeating a question gains nothing. A new
release locks the partner's row first (PostgreSQL; SQLite serializes writers
anyway), so two releases at once cannot both fit a budget that holds only one.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dispatch.creatives.models import Partner
from dispatch.db.types import utcnow
from dispatch.reports.disclosure import Controls, ReportRefused
from dispatch.reports.models import Release


def period_of(when: dt.datetime) -> dt.date:
    """The budget period of a moment: its calendar month (UTC)."""
    return when.date().replace(day=1)


def next_period(period: dt.date) -> dt.date:
    return (period + dt.timedelta(days=32)).replace(day=1)


@dataclass(frozen=True)
class Budget:
    """A partner's budget in one period: what is allowed, spent and left."""

    period: dt.date
    epsilon: float
    delta: float
    spent_epsilon: float
    spent_delta: float
    releases: int

    @property
    def left_epsilon(self) -> float:
        return max(self.epsilon - self.spent_epsilon, 0.0)

    def fits(self, epsilon: float, delta: float) -> bool:
        # A hair of tolerance: OpenDP's map may round ε up in its last bits.
        slack = 1e-9
        return (
            self.spent_epsilon + epsilon <= self.epsilon + slack
            and self.spent_delta + delta <= self.delta + slack * self.delta
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "period": self.period.isoformat(),
            "renews": next_period(self.period).isoformat(),
            "epsilon": self.epsilon,
            "delta": self.delta,
            "spent_epsilon": round(self.spent_epsilon, 6),
            "spent_delta": self.spent_delta,
            "left_epsilon": round(self.left_epsilon, 6),
            "releases": self.releases,
        }


def budget(
    session: Session, partner_id: int, controls: Controls, now: dt.datetime | None = None
) -> Budget:
    period = period_of(now or utcnow())
    spent_epsilon, spent_delta, count = session.execute(
        select(
            func.coalesce(func.sum(Release.epsilon), 0.0),
            func.coalesce(func.sum(Release.delta), 0.0),
            func.count(),
        ).where(Release.partner_id == partner_id, Release.period == period)
    ).one()
    return Budget(
        period=period,
        epsilon=controls.epsilon,
        delta=controls.delta,
        spent_epsilon=float(spent_epsilon),
        spent_delta=float(spent_delta),
        releases=int(count),
    )


def stored(session: Session, campaign_id: int, kind: str, edition: str) -> Release | None:
    """The earlier answer to this very question, if there is one."""
    return session.scalar(
        select(Release).where(
            Release.campaign_id == campaign_id, Release.kind == kind, Release.edition == edition
        )
    )


def lock_partner(session: Session, partner_id: int) -> None:
    """Serialize releases of one partner (spending must be checked and written as one)."""
    session.execute(select(Partner.id).where(Partner.id == partner_id).with_for_update())


def require(left: Budget, epsilon: float, delta: float) -> None:
    """Refuse (:class:`ReportRefused`) a release that does not fit what is left."""
    if not left.fits(epsilon, delta):
        raise ReportRefused(
            f"the privacy budget for {left.period:%B %Y} is spent (ε {left.spent_epsilon:.2f} "
            f"of {left.epsilon:g} used; this report needs {epsilon:.2f}); it renews on "
            f"{next_period(left.period).isoformat()}",
            where="privacy budget",
        )


def charge(
    session: Session,
    *,
    partner_id: int,
    campaign_id: int,
    kind: str,
    edition: str,
    epsilon: float,
    delta: float,
    controls: Controls,
    answer: dict[str, Any],
    actor: str,
    now: dt.datetime | None = None,
) -> Release:
    """Append a release to the ledger, or refuse it when the period's budget is spent.

    The caller holds :func:`lock_partner` and commits (or rolls back) the transaction.
    """
    now = now or utcnow()
    left = budget(session, partner_id, controls, now)
    require(left, epsilon, delta)
    release = Release(
        partner_id=partner_id,
        campaign_id=campaign_id,
        kind=kind,
        edition=edition,
        period=left.period,
        mechanism=controls.mechanism,
        epsilon=epsilon,
        delta=delta,
        released_at=now,
        released_by=actor,
        answer=answer,
    )
    session.add(release)
    session.flush()
    return release


def releases(session: Session, partner_id: int, limit: int = 50) -> list[Release]:
    """The partner's latest releases, newest first (its ledger as the partner sees it)."""
    return list(
        session.scalars(
            select(Release)
            .where(Release.partner_id == partner_id)
            .order_by(Release.released_at.desc(), Release.id.desc())
            .limit(limit)
        )
    )


def release_doc(release: Release, *, staff: bool = False) -> dict[str, Any]:
    """One ledger row without its answer; who released it only for staff (a partner is
    told nothing about staff accounts)."""
    doc = {
        "campaign": release.answer.get("campaign"),
        "kind": release.kind,
        "edition": release.edition,
        "released_at": release.released_at.isoformat(),
        "period": release.period.isoformat(),
        "mechanism": release.mechanism,
        "epsilon": release.epsilon,
        "delta": release.delta,
    }
    if staff:
        doc["released_by"] = release.released_by
    return doc
