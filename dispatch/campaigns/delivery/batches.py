"""The batch orchestrator: run one batch job, and the queries over open batches.

:func:`run_batch` claims the batch (:mod:`.claims`), builds the channel's job
(:mod:`.post` or :mod:`.email`, each re-checking through :mod:`.recheck`) with the
one transport that channel needs, runs it under a keep-alive, and reports the batch
as it stands. It is safe to call again after any failure.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import ColumnElement, Engine, and_, func, or_, select, update
from sqlalchemy.orm import Session

from dispatch.campaigns import faults
from dispatch.campaigns.content import content_for
from dispatch.campaigns.delivery.claims import Claim, LostClaim, claim_batch, keep_alive, release
from dispatch.campaigns.delivery.email import EmailJob
from dispatch.campaigns.delivery.post import PostJob
from dispatch.campaigns.delivery.recheck import CANCELLED
from dispatch.campaigns.models import (
    ERROR_LENGTH,
    FINISHED_BATCH,
    REASON_LENGTH,
    BatchStatus,
    Campaign,
    CampaignBatch,
    CampaignRecipient,
    CampaignStatus,
    RecipientStatus,
)
from dispatch.campaigns.snapshot import recipients_of
from dispatch.creatives.models import CreativeVersion
from dispatch.db.engine import session_scope
from dispatch.db.types import Channel, utcnow
from dispatch.errors import DispatchError
from dispatch.rendering.identity import LinkSettings
from dispatch.transports.channels import EmailTransport, PostTransport, Transport
from dispatch.transports.mailer import redact

log = logging.getLogger(__name__)

#: The transport for a channel, built (once) by whoever runs the jobs; raises
#: :class:`~dispatch.errors.ConfigurationError` if the settings cannot make one.
TransportFor = Callable[[Channel], Transport]


@dataclass(frozen=True)
class BatchOutcome:
    status: str
    delivered: int = 0
    suppressed: int = 0
    failed: int = 0
    #: True when this was the campaign's last open batch (finalize it).
    campaign_finished: bool = False
    #: True when the job stopped because the campaign was cancelled meanwhile.
    cancelled: bool = False


def unfinished() -> ColumnElement[bool]:
    """The batches that are not finished (see :data:`FINISHED_BATCH`)."""
    return CampaignBatch.status.not_in(FINISHED_BATCH)


def run_batch(
    engine: Engine,
    campaign_id: int,
    batch_no: int,
    *,
    transport_for: TransportFor,
    links: LinkSettings,
    secret: str,
    lease: dt.timedelta,
    retention: dt.timedelta,
) -> BatchOutcome:
    """Do one batch from wherever it stands; safe to call again after any failure.

    Only the transport of the campaign's channel is asked for. Tests inject crashes,
    stalls and objections at the :mod:`~dispatch.campaigns.faults` points it passes.
    """
    claim = claim_batch(engine, campaign_id, batch_no, lease)
    if claim is None:
        return BatchOutcome(status="already_finished")
    try:
        with session_scope(engine) as session:
            campaign = session.get_one(Campaign, campaign_id)
            version = session.get_one(CreativeVersion, campaign.creative_version_id)
            content = content_for(campaign_id, version, secret, links)
        transport = transport_for(Channel(campaign.channel))
        job: PostJob | EmailJob
        if isinstance(transport, PostTransport):
            job = PostJob(claim, campaign, content, transport, retention)
        else:
            job = EmailJob(claim, campaign, content, _email(transport))
        with keep_alive(claim, lease):
            ended = job.run()
        log.info("campaign %s batch %s steps: %s", campaign_id, batch_no, job.clock.summary())
    except (LostClaim, faults.Crash):
        raise  # another worker owns the batch now; or (tests) this process died here
    except BaseException as exc:
        release(claim, describe(exc))
        raise
    return _outcome(claim, cancelled=ended is CANCELLED)


def _email(transport: Transport) -> EmailTransport:
    if not isinstance(transport, EmailTransport):
        raise TypeError(f"an e-mail batch was given {type(transport).__name__}")
    return transport


def describe(exc: BaseException) -> str:
    """One line for ``last_error``: our own errors as they are, others redacted."""
    if isinstance(exc, DispatchError):
        return str(exc)
    return f"{type(exc).__name__}: {redact(str(exc))}"


def _outcome(claim: Claim, *, cancelled: bool) -> BatchOutcome:
    with session_scope(claim.engine) as session:
        counts = dict(
            session.execute(
                select(CampaignRecipient.status, func.count())
                .where(recipients_of(claim.campaign_id, claim.batch_no))
                .group_by(CampaignRecipient.status)
            ).all()
        )
        status = session.execute(
            select(CampaignBatch.status).where(CampaignBatch.id == claim.batch_id)
        ).scalar_one()
        open_count = session.execute(
            select(func.count()).where(CampaignBatch.campaign_id == claim.campaign_id, unfinished())
        ).scalar_one()
    return BatchOutcome(
        status=status,
        delivered=counts.get(RecipientStatus.DELIVERED.value, 0),
        suppressed=counts.get(RecipientStatus.SUPPRESSED.value, 0),
        failed=counts.get(RecipientStatus.FAILED.value, 0),
        campaign_finished=open_count == 0,
        cancelled=cancelled,
    )


def open_batches(session: Session, campaign_id: int) -> list[int]:
    """Numbers of the campaign's batches that are not finished."""
    return list(
        session.scalars(
            select(CampaignBatch.number)
            .where(CampaignBatch.campaign_id == campaign_id, unfinished())
            .order_by(CampaignBatch.number)
        )
    )


def stale_batches(
    session: Session, lease: dt.timedelta, *, eager: bool = False
) -> list[tuple[int, int]]:
    """(campaign, batch) pairs that need a message: released after a failure a lease
    ago (at once if ``eager``, for staff resuming a campaign), held by a worker that
    stopped renewing its claim, or never taken long after the snapshot (a lost
    message). What the sweeper sends again; a duplicate message is harmless, since
    only one claim can win."""
    now = utcnow()
    stale = now - lease
    released = and_(CampaignBatch.claim_token.is_(None), CampaignBatch.attempts > 0)
    if not eager:
        released = and_(
            released,
            or_(CampaignBatch.heartbeat_at.is_(None), CampaignBatch.heartbeat_at < stale),
        )
    return [
        (c, n)
        for c, n in session.execute(
            select(CampaignBatch.campaign_id, CampaignBatch.number)
            .join(Campaign, Campaign.id == CampaignBatch.campaign_id)
            .where(
                Campaign.status == CampaignStatus.DISPATCHING.value,
                unfinished(),
                or_(
                    released,
                    and_(
                        CampaignBatch.claim_token.is_not(None), CampaignBatch.heartbeat_at < stale
                    ),
                    and_(CampaignBatch.attempts == 0, Campaign.snapshot_at < stale),
                ),
            )
            .order_by(CampaignBatch.campaign_id, CampaignBatch.number)
        )
    ]


def fail_batch(engine: Engine, campaign_id: int, batch_no: int, reason: str) -> None:
    """Close a batch that cannot be done (e.g. its creative cannot be laid out): its
    unsent recipients fail with ``reason``, so the campaign can still complete."""
    with session_scope(engine) as session:
        session.execute(
            update(CampaignRecipient)
            .where(
                recipients_of(campaign_id, batch_no),
                CampaignRecipient.status == RecipientStatus.PENDING.value,
            )
            .values(
                status=RecipientStatus.FAILED.value,
                reason=reason[:REASON_LENGTH],
                updated_at=utcnow(),
            )
        )
        session.execute(
            update(CampaignBatch)
            .where(
                CampaignBatch.campaign_id == campaign_id,
                CampaignBatch.number == batch_no,
                CampaignBatch.status.in_([BatchStatus.PENDING.value, BatchStatus.WORKING.value]),
            )
            .values(
                status=BatchStatus.FAILED.value,
                claim_token=None,
                heartbeat_at=None,
                last_error=reason[:ERROR_LENGTH],
            )
        )
