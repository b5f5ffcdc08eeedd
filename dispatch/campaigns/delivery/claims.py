"""Claims and leases: which worker may write to a batch, and for how long.

The batch row is the lock. A worker claims it with a conditional UPDATE that sets a
fresh random ``claim_token`` (only a pending batch, a released one, or one whose
holder stopped renewing its heartbeat for longer than the lease); every later write
of the job starts by renewing the heartbeat *where the token is still ours*
(:func:`step`), so a worker that lost its claim can change nothing.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from dispatch.campaigns.models import ERROR_LENGTH, FINISHED_BATCH, BatchStatus, CampaignBatch
from dispatch.db.engine import session_scope
from dispatch.db.types import utcnow
from dispatch.errors import OperationError

log = logging.getLogger(__name__)


class BatchBusy(OperationError):
    """Another worker holds the batch and its heartbeat is fresh: try again later."""


class LostClaim(OperationError):
    """The batch was claimed by another worker (ours was judged dead); stop."""


@dataclass
class Claim:
    """This worker's hold on one batch."""

    engine: Engine
    campaign_id: int
    batch_no: int
    batch_id: int
    token: str
    #: The batch's status when it was claimed ("handing_off": its holder died mid-way).
    previous_status: str

    def lost(self) -> LostClaim:
        """The error that stops a job whose batch another worker has taken over."""
        return LostClaim(
            f"batch {self.batch_no} was taken over by another worker",
            where=f"campaign {self.campaign_id}",
        )


def renew(session: Session, claim: Claim) -> bool:
    """Move the heartbeat to now where the claim is still ours; False if it is not.

    The one statement that keeps a claim alive: every step starts with it, and the
    keep-alive thread repeats it."""
    renewed = session.execute(
        update(CampaignBatch)
        .where(CampaignBatch.id == claim.batch_id, CampaignBatch.claim_token == claim.token)
        .values(heartbeat_at=utcnow())
    )
    return renewed.rowcount == 1  # type: ignore[attr-defined,no-any-return]


@contextmanager
def step(claim: Claim) -> Iterator[Session]:
    """A transaction that first proves the claim is still ours (and renews it).

    Raises :class:`LostClaim` (before anything is written) if another worker took it."""
    with session_scope(claim.engine) as session:
        if not renew(session, claim):
            raise claim.lost()
        yield session


def claim_batch(
    engine: Engine, campaign_id: int, batch_no: int, lease: dt.timedelta
) -> Claim | None:
    """Claim the batch for this worker; None if it is already finished.

    Raises :class:`BatchBusy` while another live worker holds it.
    """
    with session_scope(engine) as session:
        batch = session.execute(
            select(CampaignBatch).where(
                CampaignBatch.campaign_id == campaign_id, CampaignBatch.number == batch_no
            )
        ).scalar_one_or_none()
        if batch is None:
            raise OperationError(f"no batch {batch_no}", where=f"campaign {campaign_id}")
        if batch.status in FINISHED_BATCH:
            return None
        now = utcnow()
        stale = batch.heartbeat_at is None or batch.heartbeat_at < now - lease
        if batch.claim_token is not None and not stale:
            raise BatchBusy(f"batch {batch_no} is being worked on", where=f"campaign {campaign_id}")
        token = secrets.token_hex(16)
        # Compare-and-swap on what we just read: of two claimants only one matches.
        same = (
            CampaignBatch.claim_token.is_(None)
            if batch.claim_token is None
            else CampaignBatch.claim_token == batch.claim_token
        )
        won = session.execute(
            update(CampaignBatch)
            .where(CampaignBatch.id == batch.id, CampaignBatch.status == batch.status, same)
            .values(
                claim_token=token,
                heartbeat_at=now,
                attempts=CampaignBatch.attempts + 1,
                status=(
                    BatchStatus.WORKING.value
                    if batch.status == BatchStatus.PENDING.value
                    else batch.status
                ),
            )
        )
        if won.rowcount != 1:  # type: ignore[attr-defined]
            raise BatchBusy(
                f"batch {batch_no} was claimed just now", where=f"campaign {campaign_id}"
            )
        return Claim(engine, campaign_id, batch_no, batch.id, token, batch.status)


def release(claim: Claim, error: str | None) -> None:
    """Give the batch back (after a handled failure) so any worker may retry it now.

    The heartbeat keeps the time of the release: the job's own retries (with backoff)
    come first, and the sweep sends a message only once a lease has passed without
    one, rather than piling a message per sweep onto a service that is down."""
    with session_scope(claim.engine) as session:
        session.execute(
            update(CampaignBatch)
            .where(CampaignBatch.id == claim.batch_id, CampaignBatch.claim_token == claim.token)
            .values(
                claim_token=None,
                heartbeat_at=utcnow(),
                last_error=(error or "")[:ERROR_LENGTH] or None,
            )
        )


@contextmanager
def keep_alive(claim: Claim, lease: dt.timedelta) -> Iterator[None]:
    """Renew the claim's heartbeat from a thread every third of the lease while the
    job runs, so that a step longer than the lease (a slow upload, a big render) does
    not make a live worker look dead. Only a dead process stops renewing."""
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(lease.total_seconds() / 3):
            try:
                with session_scope(claim.engine) as session:
                    ours = renew(session, claim)
            except Exception:  # the next step will meet the same problem and say so
                log.warning("could not renew the claim of batch %s", claim.batch_no)
                continue
            if not ours:
                return  # released, closed or taken over: nothing left to keep alive

    thread = threading.Thread(target=beat, name=f"heartbeat-{claim.batch_id}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
