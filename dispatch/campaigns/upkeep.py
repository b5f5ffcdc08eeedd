"""After the hand-off: acknowledgements, retention and returned mail.

The print house is a processor (GDPR Art. 28): once it has taken a batch, or once the
batch is past its ``delete_by``, the batch must leave the outbox. :func:`upkeep` runs
periodically (from the worker's sweep) and does three things, each idempotent:

1. **Acknowledged** batches: a done post batch whose ``ACK`` is in the outbox gets
   ``acknowledged_at`` (committed first), is deleted from the outbox, then gets
   ``deleted_at``. A crash between the steps is finished by the next run.
2. **Expired** batches: a done post batch not acknowledged by its manifest's
   ``delete_by`` is deleted too, and recorded with ``deleted_at`` and a ``last_error``
   saying it expired unacknowledged (staff should ask the print house why).
3. **Returned mail**: each report under ``returns/`` names letters by (batch id,
   sequence number). The letter's recipient's address is marked ``returned``, so the
   policy keeps post from them until the feed brings a different address; an
   :class:`~dispatch.register.models.AuditEntry` (actor ``printhouse``) records it. A
   letter handed off before the feed last changed the member's address is only
   recorded: it came back from the old address, and says nothing about the new. The
   report's processing is recorded in the same transaction, and the report is deleted
   from the outbox after the commit: a crash in between never applies it twice.

Only batches the database knows as ``done`` are touched: a batch still being handed off
belongs to its worker (deleting it could make a recovering worker print it again), and
a folder the database does not know is left for an operator.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from sqlalchemy import Engine, select, text, update
from sqlalchemy.orm import Session

from dispatch import batchformat as bf
from dispatch.campaigns.models import BatchStatus, CampaignBatch, CampaignRecipient
from dispatch.db.engine import session_scope
from dispatch.db.types import AddressStatus, utcnow
from dispatch.errors import OperationError
from dispatch.register import audit
from dispatch.register.models import AuditEntry, Member
from dispatch.transports.outbox import Outbox

log = logging.getLogger(__name__)

#: The actor of audit entries written for returned mail.
ACTOR = "printhouse"
#: Audit action on the member whose letter came back.
RETURNED_ACTION = "member.address_returned"
#: The same, for a letter to an address the member has since left (not marked).
RETURNED_BEFORE_MOVE_ACTION = "member.letter_returned_before_move"
#: Audit action (no member) that records a returns report as processed; its reason
#: is the report's name.
REPORT_ACTION = "printhouse.returns_report"
EXPIRED = "expired unacknowledged: deleted from the outbox at its delete_by"
VANISHED = "gone from the outbox before an acknowledgement was seen"
#: Any fixed 64-bit number: the PostgreSQL advisory lock that serialises returns.
_RETURNS_LOCK = 0x64697370_72657475

#: Malformed reports already warned about (so a sweep every few seconds logs it once).
_warned: set[str] = set()


@dataclass
class UpkeepResult:
    acknowledged: int = 0
    expired: int = 0
    #: Done batches found missing from the outbox (recorded as deleted).
    vanished: int = 0
    reports: int = 0
    #: Members whose address was marked returned.
    returned: int = 0
    #: Returned letters sent before the member's address changed (address kept).
    returned_before_move: int = 0
    #: Reported letters naming a batch the database does not know.
    unknown_batch: int = 0
    #: Reported letters whose sequence number is not a letter of a known batch.
    unknown_sequence: int = 0
    #: Reports that cannot be read or parsed (left in the outbox for an operator).
    bad_reports: int = 0
    #: Reports already processed earlier, only deleted now.
    already_processed: int = 0

    @property
    def changed(self) -> int:
        return self.acknowledged + self.expired + self.vanished + self.reports


def upkeep(engine: Engine, outbox: Outbox, *, now: dt.datetime | None = None) -> UpkeepResult:
    """Record acknowledgements, delete what the outbox must not keep, consume returns."""
    now = now or utcnow()
    result = UpkeepResult()
    _batches(engine, outbox, now, result)
    _returns(engine, outbox, result)
    return result


# -- batches ---------------------------------------------------------------------------


def _batches(engine: Engine, outbox: Outbox, now: dt.datetime, result: UpkeepResult) -> None:
    with session_scope(engine) as session:
        rows = session.execute(
            select(CampaignBatch.id, CampaignBatch.outbox_id, CampaignBatch.acknowledged_at)
            .where(
                CampaignBatch.status == BatchStatus.DONE.value,
                CampaignBatch.outbox_id.is_not(None),
                CampaignBatch.handed_off_at.is_not(None),
                CampaignBatch.deleted_at.is_(None),
            )
            .order_by(CampaignBatch.id)
        ).all()
    if not rows:
        return
    # One listing for the whole sweep: which batches are there, which acknowledged.
    # (A request per batch was one HEAD per done batch every sweep, for weeks.)
    inventory = outbox.inventory()
    for batch_id, outbox_id, acknowledged_at in rows:
        if outbox_id not in inventory.batches:
            # Deleted by an earlier run that crashed before recording it, or by hand.
            if _record_vanished(engine, batch_id, now):
                log.warning("outbox batch %s: %s", outbox_id, VANISHED)
                result.vanished += 1
            continue
        if acknowledged_at is None:
            ack = outbox.read_ack(outbox_id) if outbox_id in inventory.acknowledged else None
            if ack is not None:
                _acknowledge(engine, batch_id, outbox_id, ack, now)
                acknowledged_at = now
            elif _expired(outbox, outbox_id, now):
                outbox.delete(outbox_id)
                _record(engine, batch_id, deleted_at=now, last_error=EXPIRED)
                log.warning("outbox batch %s: %s", outbox_id, EXPIRED)
                result.expired += 1
                continue
            else:
                continue
            result.acknowledged += 1
        outbox.delete(outbox_id)
        _record(engine, batch_id, deleted_at=now)


def _record(engine: Engine, batch_id: int, **values: object) -> None:
    with session_scope(engine) as session:
        session.execute(
            update(CampaignBatch)
            .where(CampaignBatch.id == batch_id, CampaignBatch.deleted_at.is_(None))
            .values(**values)
        )


def _record_vanished(engine: Engine, batch_id: int, now: dt.datetime) -> bool:
    """Record a batch missing from the outbox as deleted; True if it was never
    acknowledged (decided in the database, so a concurrent run's ACK counts)."""
    with session_scope(engine) as session:
        unacknowledged = session.execute(
            update(CampaignBatch)
            .where(
                CampaignBatch.id == batch_id,
                CampaignBatch.deleted_at.is_(None),
                CampaignBatch.acknowledged_at.is_(None),
            )
            .values(deleted_at=now, last_error=VANISHED)
        )
        session.execute(
            update(CampaignBatch)
            .where(CampaignBatch.id == batch_id, CampaignBatch.deleted_at.is_(None))
            .values(deleted_at=now)
        )
        return bool(unacknowledged.rowcount)  # type: ignore[attr-defined]


def _acknowledge(
    engine: Engine, batch_id: int, outbox_id: str, ack: bytes, now: dt.datetime
) -> None:
    """Record the acknowledgement (committed before the batch is deleted)."""
    values: dict[str, object] = {"acknowledged_at": now}
    try:
        receipt = bf.Ack.parse(ack)
    except bf.BatchFormatError as exc:
        # The print house wrote it, so it has the batch; keep what we can for staff.
        log.warning("outbox batch %s: unreadable ACK (%s); taken as acknowledged", outbox_id, exc)
        values["last_error"] = f"unreadable ACK: {exc}"[:500]
    else:
        if receipt.batch_id != outbox_id:
            log.warning("outbox batch %s: ACK names batch %s", outbox_id, receipt.batch_id)
            values["last_error"] = f"ACK names batch {receipt.batch_id}"[:500]
        with session_scope(engine) as session:
            letters = session.execute(
                select(CampaignBatch.letters).where(CampaignBatch.id == batch_id)
            ).scalar_one()
        if letters is not None and receipt.letters_accepted != letters:
            values["last_error"] = (
                f"print house accepted {receipt.letters_accepted} of {letters} letters"
            )
            log.warning("outbox batch %s: %s", outbox_id, values["last_error"])
    with session_scope(engine) as session:
        session.execute(
            update(CampaignBatch)
            .where(CampaignBatch.id == batch_id, CampaignBatch.acknowledged_at.is_(None))
            .values(**values)
        )


def _expired(outbox: Outbox, outbox_id: str, now: dt.datetime) -> bool:
    """Whether the batch is past its manifest's ``delete_by`` (unreadable: left alone)."""
    try:
        manifest = bf.Manifest.parse(outbox.get(outbox_id, bf.MANIFEST))
    except (OperationError, bf.BatchFormatError) as exc:
        log.warning("outbox batch %s: cannot read its manifest (%s); left alone", outbox_id, exc)
        return False
    return manifest.delete_by <= now


# -- returned mail ---------------------------------------------------------------------


def _returns(engine: Engine, outbox: Outbox, result: UpkeepResult) -> None:
    for name in outbox.list_returns():
        try:
            letters = bf.parse_returns(outbox.read_return(name))
        except (OperationError, bf.BatchFormatError) as exc:
            result.bad_reports += 1
            if name not in _warned:
                _warned.add(name)
                log.warning("returns report %s: %s; left in the outbox", name, exc)
            continue
        with session_scope(engine) as session:
            _lock_returns(session)
            if _processed(session, name):
                result.already_processed += 1
            else:
                _apply(session, name, letters, result)
                result.reports += 1
        # Only after the commit: a crash before this leaves a report already recorded
        # as processed, which the next run only deletes.
        outbox.delete_return(name)


def _lock_returns(session: Session) -> None:
    """Serialise returns processing across workers (SQLite serialises writers anyway)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _RETURNS_LOCK})


def _processed(session: Session, name: str) -> bool:
    return (
        session.execute(
            select(AuditEntry.id)
            .where(AuditEntry.action == REPORT_ACTION, AuditEntry.reason == name)
            .limit(1)
        ).first()
        is not None
    )


def _apply(
    session: Session, name: str, letters: list[bf.ReturnedLetter], result: UpkeepResult
) -> None:
    outbox_ids = sorted({letter.batch_id for letter in letters})
    # The moment each batch read its letters' addresses (batches from before that was
    # recorded: the hand-off, a later bound).
    batches = {
        outbox_id: (campaign_id, number, read_at or handed_off_at)
        for outbox_id, campaign_id, number, read_at, handed_off_at in session.execute(
            select(
                CampaignBatch.outbox_id,
                CampaignBatch.campaign_id,
                CampaignBatch.number,
                CampaignBatch.addresses_read_at,
                CampaignBatch.handed_off_at,
            ).where(CampaignBatch.outbox_id.in_(outbox_ids))
        ).all()
    }
    marked = unknown_batch = unknown_sequence = moved = 0
    for letter in letters:
        found = batches.get(letter.batch_id)
        if found is None:
            unknown_batch += 1
            log.warning("returns report %s: batch %s is not a batch of ours", name, letter.batch_id)
            continue
        campaign_id, number, read_at = found
        recipient = session.execute(
            select(CampaignRecipient.member_id, Member.address_changed_at)
            .join(Member, Member.id == CampaignRecipient.member_id)
            .where(
                CampaignRecipient.campaign_id == campaign_id,
                CampaignRecipient.batch_no == number,
                CampaignRecipient.sequence_no == letter.sequence_no,
            )
        ).one_or_none()
        if recipient is None:
            unknown_sequence += 1
            log.warning(
                "returns report %s: batch %s has no letter %s",
                name,
                letter.batch_id,
                letter.sequence_no,
            )
            continue
        member_id, changed_at = recipient
        # The campaign's count of returned letters (partner report) reads this.
        session.execute(
            update(CampaignRecipient)
            .where(
                CampaignRecipient.campaign_id == campaign_id,
                CampaignRecipient.member_id == member_id,
                CampaignRecipient.returned_at.is_(None),
            )
            .values(returned_at=utcnow())
        )
        # A letter whose address was read before the address changed went to the
        # address the member had before: the new one is not known to be wrong, so post
        # goes on.
        before_move = changed_at is not None and read_at is not None and changed_at > read_at
        if before_move:
            moved += 1
        else:
            session.execute(
                update(Member)
                .where(Member.id == member_id)
                .values(address_status=AddressStatus.RETURNED.value)
            )
            marked += 1
        audit.record(
            session,
            actor=ACTOR,
            action=RETURNED_BEFORE_MOVE_ACTION if before_move else RETURNED_ACTION,
            member_id=member_id,
            reason=letter.reason,
            detail={
                "campaign_id": campaign_id,
                "batch": letter.batch_id,
                "sequence_no": letter.sequence_no,
                "report": name,
            },
        )
    audit.record(
        session,
        actor=ACTOR,
        action=REPORT_ACTION,
        member_id=None,
        reason=name,
        detail={
            "letters": len(letters),
            "returned": marked,
            "returned_before_move": moved,
            "unknown_batch": unknown_batch,
            "unknown_sequence": unknown_sequence,
        },
    )
    result.returned += marked
    result.returned_before_move += moved
    result.unknown_batch += unknown_batch
    result.unknown_sequence += unknown_sequence
    log.info(
        "returns report %s: %s letters, %s addresses marked returned, %s unknown",
        name,
        len(letters),
        marked,
        unknown_batch + unknown_sequence,
    )
