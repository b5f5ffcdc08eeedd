"""What both channels do to a batch's recipients: load them, re-check them against the
policy as it stands now, and record what became of them.

A snapshot is taken days before some of its batches run; an objection, a withdrawn
consent or a returned address since then must still stop the contact. So every batch
re-checks its recipients when it loads them, and again just before the hand-off.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import Enum
from typing import Any, Literal

from sqlalchemy import Row, ScalarResult, Select, any_, select, update
from sqlalchemy.orm import Session

from dispatch.campaigns.content import CampaignContent
from dispatch.campaigns.delivery.claims import Claim, step
from dispatch.campaigns.delivery.steps import StepClock
from dispatch.campaigns.models import (
    BatchStatus,
    Campaign,
    CampaignBatch,
    CampaignRecipient,
    CampaignStatus,
    RecipientStatus,
)
from dispatch.campaigns.services import CANCELLED_REASON, suppress_unfinished
from dispatch.campaigns.snapshot import recipients_of
from dispatch.db.dialect import (
    among,
    among_joined,
    bigint_array,
    int_array_literal,
    is_postgres,
    planning_without,
    probing,
)
from dispatch.db.types import Channel, Purpose, utcnow
from dispatch.errors import OperationError
from dispatch.privacy.policy import Policy
from dispatch.register.models import Member, MemberFacts, Store

#: Members per statement of the re-check and of marking recipients (bounds the size
#: of one ``IN``/``ANY`` list).
ID_CHUNK = 5000


class Cancelled(Enum):
    """A step's answer when the campaign was cancelled: the step has closed the batch
    (committed), and the caller stops and reports the batch as it stands."""

    CANCELLED = "cancelled"


CANCELLED = Cancelled.CANCELLED
OrCancelled = Literal[Cancelled.CANCELLED]


def recipient_columns() -> tuple[Any, ...]:
    """What rendering needs of a member; select from Member outer-joined to Store."""
    return (
        Member.first_name,
        Member.last_name,
        Member.address_extra,
        Member.street,
        Member.postcode,
        Member.post_town,
        Member.language,
        Member.email,
        Store.name.label("home_store"),
    )


class BatchWork:
    """The steps shared by the post and e-mail paths of one claimed batch."""

    def __init__(self, claim: Claim, campaign: Campaign, content: CampaignContent) -> None:
        self.claim = claim
        self.campaign_id = campaign.id
        self.reference = campaign.reference
        self.content = content
        self.policy = Policy(Purpose(campaign.purpose), Channel(campaign.channel))
        self.where = recipients_of(claim.campaign_id, claim.batch_no)
        self.clock = StepClock()
        self._recheck: Select[int] | None = None

    def still_dispatching(self, session: Session) -> bool:
        """True while the campaign dispatches; False if it was cancelled, after closing
        the batch in ``session`` (the caller lets the step commit, then stops)."""
        status = session.execute(
            select(Campaign.status).where(Campaign.id == self.campaign_id)
        ).scalar_one()
        if status == CampaignStatus.DISPATCHING.value:
            return True
        if status == CampaignStatus.CANCELLED.value:
            suppress_unfinished(session, self.campaign_id, self.claim.batch_no, CANCELLED_REASON)
            self.close(session, BatchStatus.FAILED, last_error=CANCELLED_REASON)
            return False
        raise OperationError(
            f"campaign is {status}, not dispatching", where=f"campaign {self.campaign_id}"
        )

    def close(self, session: Session, status: BatchStatus, **values: Any) -> None:
        session.execute(
            update(CampaignBatch)
            .where(CampaignBatch.id == self.claim.batch_id)
            .values(status=status.value, claim_token=None, heartbeat_at=None, **values)
        )

    def pending(self, session: Session) -> list[Row[Any]]:
        """The batch's pending recipients with what rendering needs."""
        return list(
            session.execute(
                select(CampaignRecipient.member_id, *recipient_columns())
                .join(Member, Member.id == CampaignRecipient.member_id)
                .outerjoin(Store, Store.id == Member.home_store_id)
                .where(self.where, CampaignRecipient.status == RecipientStatus.PENDING.value)
                .order_by(CampaignRecipient.member_id)
            )
        )

    def blocked_now(self, session: Session, member_ids: Sequence[int]) -> dict[int, str]:
        """The re-check: which of ``member_ids`` the policy blocks now, and why.

        First the members that pass, with the policy's own anti-joins (index probes
        per member, so the cost follows the chunk); then, for the few that do not, the
        ``CASE`` that names the first rule. Asked for every member at once, the
        ``CASE``'s EXISTS tests ran as hashed subplans that read every objection and
        suppression in the register for each chunk.
        """
        blocked: dict[int, str] = {}
        for start in range(0, len(member_ids), ID_CHUNK):
            chunk = member_ids[start : start + ID_CHUNK]
            with probing(session):
                passing = set(self._passing(session, chunk))
            rest = [m for m in chunk if m not in passing]
            if not rest:
                continue
            found = session.execute(
                select(MemberFacts.id, self.policy.first_rule_case()).where(
                    among(session, MemberFacts.id, rest)
                )
            )
            blocked.update((member_id, name) for member_id, name in found if name)
        return blocked

    def _passing(self, session: Session, member_ids: Sequence[int]) -> ScalarResult[int]:
        """Which of ``member_ids`` pass the policy now. On PostgreSQL the statement is
        built once per batch, the ids its one parameter: building the policy's query
        for each chunk was 4 % of an e-mail worker's CPU (bench/HISTORY.md)."""
        if not is_postgres(session):
            return session.scalars(self.policy.select(among(session, MemberFacts.id, member_ids)))
        if self._recheck is None:
            self._recheck = self.policy.select(MemberFacts.id == any_(bigint_array((), "ids")))
        return session.scalars(self._recheck, {"ids": int_array_literal(member_ids)})

    def mark(
        self,
        session: Session,
        member_ids: Sequence[int],
        status: RecipientStatus,
        reason: str | None = None,
        *,
        only: Sequence[RecipientStatus] = (RecipientStatus.PENDING,),
    ) -> None:
        now = utcnow()
        for start in range(0, len(member_ids), ID_CHUNK):
            chunk = member_ids[start : start + ID_CHUNK]
            # A hash join of the batch's rows and the ids. As ``member_id = ANY(:ids)``
            # the planner (expecting one row of the batch: its rows are new to the
            # statistics) filtered the batch's rows by a linear search of the array,
            # each row against every id: 0.1-0.3 s per 500 e-mails (bench/HISTORY.md).
            with planning_without(session, "nestloop"):
                session.execute(
                    update(CampaignRecipient)
                    .where(
                        self.where,
                        among_joined(session, CampaignRecipient.member_id, chunk),
                        CampaignRecipient.status.in_([s.value for s in only]),
                    )
                    .values(status=status.value, reason=reason, updated_at=now)
                    # The job's sessions hold no recipient objects to keep in step.
                    .execution_options(synchronize_session=False)
                )

    def mark_every(
        self,
        session: Session,
        status: RecipientStatus,
        *,
        now_in: RecipientStatus,
        **values: Any,
    ) -> None:
        """Every recipient of the batch now in ``now_in`` to ``status`` (with ``values``),
        in one UPDATE by status: no ids read only to be sent back."""
        session.execute(
            update(CampaignRecipient)
            .where(self.where, CampaignRecipient.status == now_in.value)
            .values(status=status.value, reason=None, updated_at=utcnow(), **values)
            .execution_options(synchronize_session=False)
        )

    def suppress(self, session: Session, blocked: dict[int, str]) -> None:
        by_rule: dict[str, list[int]] = {}
        for member_id, rule in blocked.items():
            by_rule.setdefault(rule, []).append(member_id)
        for rule, ids in by_rule.items():
            self.mark(
                session,
                ids,
                RecipientStatus.SUPPRESSED,
                rule,
                only=(RecipientStatus.PENDING, RecipientStatus.INCLUDED),
            )

    def load_and_recheck(self) -> list[Row[Any]] | OrCancelled:
        """Suppress the pending recipients the policy blocks now; return the rest."""
        with step(self.claim) as session:
            if not self.still_dispatching(session):
                return CANCELLED
            rows = self.pending(session)
            blocked = self.blocked_now(session, [r.member_id for r in rows])
            self.suppress(session, blocked)
        return [r for r in rows if r.member_id not in blocked]

    def done(self, **values: Any) -> None:
        with step(self.claim) as session:
            self.close(session, BatchStatus.DONE, last_error=None, **values)
