"""The campaign state machine: every status change goes through :func:`transition`.

::

    draft ─► approved ─► scheduled ─► snapshotting ─► dispatching ─► completed
      │          │           │             │    │           │
      └──────────┴───────────┴─────────────┴────┴───────────┴──► cancelled
                                           └────────────────┴──► failed

The change is one conditional ``UPDATE ... WHERE status = <expected>``, so two
processes racing to move the same campaign (two workers, or a worker and a staff
member cancelling) cannot both win: the loser gets :class:`TransitionRefused`.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session

from dispatch.campaigns.models import Campaign, CampaignStatus
from dispatch.errors import OperationError

S = CampaignStatus

TRANSITIONS: Mapping[CampaignStatus, frozenset[CampaignStatus]] = MappingProxyType(
    {
        S.DRAFT: frozenset({S.APPROVED, S.CANCELLED}),
        S.APPROVED: frozenset({S.SCHEDULED, S.CANCELLED}),
        S.SCHEDULED: frozenset({S.SNAPSHOTTING, S.CANCELLED}),
        S.SNAPSHOTTING: frozenset({S.DISPATCHING, S.FAILED, S.CANCELLED}),
        S.DISPATCHING: frozenset({S.COMPLETED, S.FAILED, S.CANCELLED}),
        S.COMPLETED: frozenset(),
        S.CANCELLED: frozenset(),
        S.FAILED: frozenset(),
    }
)

#: States in which work may still happen (and which ``cancel`` stops).
ACTIVE = frozenset({S.SCHEDULED, S.SNAPSHOTTING, S.DISPATCHING})
FINAL = frozenset(s for s, targets in TRANSITIONS.items() if not targets)


class TransitionRefused(OperationError):
    """The campaign is not in a state from which the change is allowed."""


def allowed(current: str, target: CampaignStatus) -> bool:
    return target in TRANSITIONS[CampaignStatus(current)]


def transition(
    session: Session,
    campaign: Campaign,
    target: CampaignStatus,
    *,
    expected: CampaignStatus | None = None,
    **values: Any,
) -> None:
    """Move ``campaign`` to ``target`` (setting ``values`` too), or raise.

    ``expected`` is the state the caller believes the campaign is in (default: the
    state loaded in ``campaign``). The update only happens if the row still has it,
    and the transition must be in :data:`TRANSITIONS`.
    """
    source = CampaignStatus(expected or campaign.status)
    if target not in TRANSITIONS[source]:
        raise TransitionRefused(
            f"campaign {campaign.id} is {source.value}; it cannot become {target.value}",
            where=f"campaign {campaign.id}",
        )
    result = session.execute(
        update(Campaign)
        .where(Campaign.id == campaign.id, Campaign.status == source.value)
        .values(status=target.value, **values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        session.refresh(campaign)
        raise TransitionRefused(
            f"campaign {campaign.id} is {campaign.status} now, not {source.value}; "
            f"it cannot become {target.value}",
            where=f"campaign {campaign.id}",
        )
    session.refresh(campaign)
