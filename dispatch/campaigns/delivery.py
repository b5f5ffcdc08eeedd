"""One batch job: claim the batch, re-check, render, hand off, record; exactly once.

The batch row is the lock. A worker claims it with a conditional UPDATE that sets a
fresh random ``claim_token`` (only a pending batch, a released one, or one whose
holder stopped renewing its heartbeat for longer than the lease); every later write
of the job starts by renewing the heartbeat *where the token is still ours*, so a
worker that lost its claim can change nothing.

Post (a batch is one PDF)::

    pending recipients --re-check--> render --re-check--> included + seq. numbers,
    batch "handing_off" (committed) --> outbox upload, COMPLETE last --> delivered

A worker that finds a batch "handing_off" (its holder died) looks in the outbox: a
complete batch was handed off, so it only records the delivery; an incomplete one is
deleted and the batch rendered again, re-checked again. So a (campaign, member) is
in at most one complete outbox batch, whatever crashes (invariant 4), and a member
who objected before the "handing_off" commit is in none (invariant 3).

E-mail goes in chunks: re-check, mark "sending" (committed), hand to the mailer,
record each answer. A worker that finds "sending" recipients cannot know whether the
mailer took them, so it records them as failed ``delivery_unconfirmed`` and never
sends them again: at most once, and still accounted for.
"""

from __future__ import annotations

import datetime as dt
import io
import logging
import secrets
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, cast

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Engine,
    Integer,
    Row,
    and_,
    any_,
    bindparam,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from dispatch import batchformat as bf
from dispatch.campaigns.content import CampaignContent, LetterKey, content_for
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
from dispatch.creatives.models import CreativeVersion
from dispatch.db.engine import session_scope
from dispatch.db.types import Channel, Purpose, utcnow
from dispatch.errors import DispatchError, OperationError
from dispatch.privacy.policy import Policy
from dispatch.register.models import Member, MemberFacts, Store
from dispatch.rendering import Letter, Recipient, write_batch
from dispatch.transports.mailer import Mailer, SendResult, redact
from dispatch.transports.outbox import Outbox

log = logging.getLogger(__name__)

#: Why a recipient whose e-mail was with the mailer when its worker died is failed.
UNCONFIRMED = "delivery_unconfirmed"
#: Messages handed to the mailer per committed "sending" step.
EMAIL_CHUNK = 200
#: In-job retries of a 4xx answer before the job gives the batch back to the queue.
EMAIL_RETRY_DELAYS = (0.2, 1.0, 3.0)
ENVELOPE = "C5"
POSTAL_CLASS = "economy"


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


def letter_for(content: CampaignContent, row: Row[Any]) -> Letter:
    """The letter for one row of :func:`recipient_columns`."""
    recipient = Recipient(
        first_name=row.first_name or "",
        last_name=row.last_name or "",
        address_extra=row.address_extra,
        street=row.street or "",
        postcode=row.postcode or "",
        post_town=row.post_town or "",
        language=row.language,
    )
    fields = {"home_store": row.home_store} if row.home_store else {}
    return Letter(content.variant_key(row.language, row.home_store), recipient, fields)


class BatchBusy(OperationError):
    """Another worker holds the batch and its heartbeat is fresh: try again later."""


class LostClaim(OperationError):
    """The batch was claimed by another worker (ours was judged dead); stop."""


class RetryLater(OperationError):
    """A transient failure (mailer 4xx, store unreachable): the batch is given back."""


@dataclass
class Transports:
    """Where batches go. A post campaign needs the outbox and keys, e-mail the mailer."""

    outbox: Outbox | None = None
    mailer: Mailer | None = None
    signing_key: Ed25519PrivateKey | None = None
    printhouse_recipient: str | None = None
    envelope_from: str = "kampanjat@osuuskauppa.example"


@dataclass(frozen=True)
class BatchOutcome:
    status: str
    delivered: int = 0
    suppressed: int = 0
    failed: int = 0
    #: True when this was the campaign's last open batch (finalize it).
    campaign_finished: bool = False


@dataclass
class _Claim:
    engine: Engine
    campaign_id: int
    batch_no: int
    batch_id: int
    token: str
    previous_status: str


@contextmanager
def _step(claim: _Claim) -> Iterator[Session]:
    """A transaction that first proves the claim is still ours (and renews it)."""
    cancelled = False
    with session_scope(claim.engine) as session:
        renewed = session.execute(
            update(CampaignBatch)
            .where(CampaignBatch.id == claim.batch_id, CampaignBatch.claim_token == claim.token)
            .values(heartbeat_at=utcnow())
        )
        if renewed.rowcount != 1:  # type: ignore[attr-defined]
            raise LostClaim(
                f"batch {claim.batch_no} was taken over by another worker",
                where=f"campaign {claim.campaign_id}",
            )
        try:
            yield session
        except _Cancelled:
            # The step closed the batch for the cancellation: commit that, then tell
            # the caller (raising inside the transaction would roll the closing back).
            cancelled = True
    if cancelled:
        raise _Cancelled


def claim_batch(
    engine: Engine, campaign_id: int, batch_no: int, lease: dt.timedelta
) -> _Claim | None:
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
        if batch.status in (BatchStatus.DONE.value, BatchStatus.FAILED.value):
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
        return _Claim(engine, campaign_id, batch_no, batch.id, token, batch.status)


def release(claim: _Claim, error: str | None) -> None:
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
                last_error=(error or "")[:500] or None,
            )
        )


def run_batch(
    engine: Engine,
    campaign_id: int,
    batch_no: int,
    *,
    transports: Transports,
    secret: str,
    lease: dt.timedelta,
    retention: dt.timedelta,
    on_rendered: Callable[[], None] | None = None,
) -> BatchOutcome:
    """Do one batch from wherever it stands; safe to call again after any failure.

    ``on_rendered`` runs after the batch is rendered and before the last re-check
    (a seam for tests that interleave an objection deterministically).
    """
    claim = claim_batch(engine, campaign_id, batch_no, lease)
    if claim is None:
        return BatchOutcome(status="already_finished")
    try:
        with session_scope(engine) as session:
            campaign = session.get_one(Campaign, campaign_id)
            version = session.get_one(CreativeVersion, campaign.creative_version_id)
            content = content_for(campaign_id, version, secret)
            job = _BatchJob(claim, campaign, content, transports, retention, on_rendered)
        with _keep_alive(claim, lease):
            if campaign.channel == Channel.POST.value:
                job.post()
            else:
                job.email()
    except LostClaim:
        raise
    except _Cancelled:
        pass  # the batch was closed for the cancelled campaign; report it as it stands
    except BaseException as exc:
        release(claim, _describe(exc))
        raise
    return _outcome(claim)


@contextmanager
def _keep_alive(claim: _Claim, lease: dt.timedelta) -> Iterator[None]:
    """Renew the claim's heartbeat from a thread every third of the lease while the
    job runs, so that a step longer than the lease (a slow upload, a big render) does
    not make a live worker look dead. Only a dead process stops renewing."""
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(lease.total_seconds() / 3):
            try:
                with session_scope(claim.engine) as session:
                    renewed = session.execute(
                        update(CampaignBatch)
                        .where(
                            CampaignBatch.id == claim.batch_id,
                            CampaignBatch.claim_token == claim.token,
                        )
                        .values(heartbeat_at=utcnow())
                    )
            except Exception:  # the next step will meet the same problem and say so
                log.warning("could not renew the claim of batch %s", claim.batch_no)
                continue
            if renewed.rowcount != 1:  # type: ignore[attr-defined]
                return  # released, closed or taken over: nothing left to keep alive

    thread = threading.Thread(target=beat, name=f"heartbeat-{claim.batch_id}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def _describe(exc: BaseException) -> str:
    if isinstance(exc, DispatchError):
        return str(exc)
    return f"{type(exc).__name__}: {redact(str(exc))}"


def _outcome(claim: _Claim) -> BatchOutcome:
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
        open_batches = session.execute(
            select(func.count()).where(
                CampaignBatch.campaign_id == claim.campaign_id,
                CampaignBatch.status.not_in([BatchStatus.DONE.value, BatchStatus.FAILED.value]),
            )
        ).scalar_one()
    return BatchOutcome(
        status=status,
        delivered=counts.get(RecipientStatus.DELIVERED.value, 0),
        suppressed=counts.get(RecipientStatus.SUPPRESSED.value, 0),
        failed=counts.get(RecipientStatus.FAILED.value, 0),
        campaign_finished=open_batches == 0,
    )


class _Cancelled(Exception):
    """The campaign was cancelled: the batch has been closed."""


def _is_postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _among(session: Session, column: Any, ids: Sequence[int]) -> ColumnElement[bool]:
    """``column IN ids``; on PostgreSQL ``column = ANY(:ids)``, one array parameter,
    so the statement is compiled and converted once rather than per list length (that
    was most of the CPU of marking a chunk of e-mails)."""
    if _is_postgres(session):
        return column == any_(bindparam(None, list(ids), type_=ARRAY(BigInteger)))  # type: ignore[no-any-return]
    return column.in_(ids)  # type: ignore[no-any-return]


@contextmanager
def _probing(session: Session) -> Iterator[None]:
    """On PostgreSQL, plan the next statements with nested loops and index probes only.

    The re-check asks about a few hundred members, but the planner hashes the whole
    of each consent and suppression set it anti-joins against (e.g. every refusal of
    partner post in the register). Probing per member instead: 30 -> 10 ms for 200
    members on a 400,000-member register, and it does not grow with the register.
    Transaction-local, and put back afterwards.
    """
    if not _is_postgres(session):
        yield
        return
    names = ("enable_hashjoin", "enable_mergejoin")
    before = [session.execute(select(func.current_setting(n))).scalar_one() for n in names]
    for name in names:
        session.execute(select(func.set_config(name, "off", True)))
    yield
    for name, value in zip(names, before, strict=True):
        session.execute(select(func.set_config(name, value, True)))


class _BatchJob:
    def __init__(
        self,
        claim: _Claim,
        campaign: Campaign,
        content: CampaignContent,
        transports: Transports,
        retention: dt.timedelta,
        on_rendered: Callable[[], None] | None,
    ) -> None:
        self.claim = claim
        self.campaign_id = campaign.id
        self.reference = campaign.reference
        self.content = content
        self.transports = transports
        self.retention = retention
        self.on_rendered = on_rendered
        self.policy = Policy(Purpose(campaign.purpose), Channel(campaign.channel))
        self.where = recipients_of(claim.campaign_id, claim.batch_no)

    # -- shared steps -----------------------------------------------------------------

    def _still_dispatching(self, session: Session) -> None:
        status = session.execute(
            select(Campaign.status).where(Campaign.id == self.campaign_id)
        ).scalar_one()
        if status == CampaignStatus.DISPATCHING.value:
            return
        if status == CampaignStatus.CANCELLED.value:
            suppress_unfinished(session, self.campaign_id, self.claim.batch_no, CANCELLED_REASON)
            self._close(session, BatchStatus.FAILED, last_error=CANCELLED_REASON)
            raise _Cancelled
        raise OperationError(
            f"campaign is {status}, not dispatching", where=f"campaign {self.campaign_id}"
        )

    def _close(self, session: Session, status: BatchStatus, **values: Any) -> None:
        session.execute(
            update(CampaignBatch)
            .where(CampaignBatch.id == self.claim.batch_id)
            .values(status=status.value, claim_token=None, heartbeat_at=None, **values)
        )

    def _pending(self, session: Session) -> list[Row[Any]]:
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

    def _blocked_now(self, session: Session, member_ids: Sequence[int]) -> dict[int, str]:
        """The re-check: which of ``member_ids`` the policy blocks now, and why.

        First the members that pass, with the policy's own anti-joins (index probes
        per member, so the cost follows the chunk); then, for the few that do not, the
        ``CASE`` that names the first rule. Asked for every member at once, the
        ``CASE``'s EXISTS tests ran as hashed subplans that read every objection and
        suppression in the register for each chunk.
        """
        blocked: dict[int, str] = {}
        for start in range(0, len(member_ids), 5000):
            chunk = member_ids[start : start + 5000]
            with _probing(session):
                passing = set(
                    session.scalars(self.policy.select(_among(session, MemberFacts.id, chunk)))
                )
            rest = [m for m in chunk if m not in passing]
            if not rest:
                continue
            found = session.execute(
                select(MemberFacts.id, self.policy.first_rule_case()).where(
                    _among(session, MemberFacts.id, rest)
                )
            )
            blocked.update((member_id, name) for member_id, name in found if name)
        return blocked

    def _mark(
        self,
        session: Session,
        member_ids: Sequence[int],
        status: RecipientStatus,
        reason: str | None = None,
        *,
        only: Sequence[RecipientStatus] = (RecipientStatus.PENDING,),
    ) -> None:
        now = utcnow()
        for start in range(0, len(member_ids), 5000):
            session.execute(
                update(CampaignRecipient)
                .where(
                    self.where,
                    _among(session, CampaignRecipient.member_id, member_ids[start : start + 5000]),
                    CampaignRecipient.status.in_([s.value for s in only]),
                )
                .values(status=status.value, reason=reason, updated_at=now)
            )

    def _suppress(self, session: Session, blocked: dict[int, str]) -> None:
        by_rule: dict[str, list[int]] = {}
        for member_id, rule in blocked.items():
            by_rule.setdefault(rule, []).append(member_id)
        for rule, ids in by_rule.items():
            self._mark(
                session,
                ids,
                RecipientStatus.SUPPRESSED,
                rule,
                only=(RecipientStatus.PENDING, RecipientStatus.INCLUDED),
            )

    def _load_and_recheck(self) -> list[Row[Any]] | None:
        """Suppress the pending recipients the policy blocks now; return the rest.

        None if the campaign was cancelled (the batch is then closed)."""
        try:
            with _step(self.claim) as session:
                self._still_dispatching(session)
                rows = self._pending(session)
                blocked = self._blocked_now(session, [r.member_id for r in rows])
                self._suppress(session, blocked)
        except _Cancelled:
            return None
        return [r for r in rows if r.member_id not in blocked]

    def _done(self, **values: Any) -> None:
        with _step(self.claim) as session:
            self._close(session, BatchStatus.DONE, last_error=None, **values)

    # -- post ---------------------------------------------------------------------------

    @property
    def outbox_id(self) -> str:
        return f"{self.reference}-{self.claim.batch_no:05d}"

    def post(self) -> None:
        outbox = self.transports.outbox
        if outbox is None or self.transports.signing_key is None:
            raise OperationError("post needs an outbox and a signing key")
        if not self.transports.printhouse_recipient:
            raise OperationError(
                "no print house key: set DISPATCH_PRINTHOUSE_RECIPIENT", where="configuration"
            )
        if self.claim.previous_status == BatchStatus.HANDING_OFF.value:
            if outbox.is_complete(self.outbox_id):
                self._delivered()  # the dead holder finished the upload
                return
            outbox.delete(self.outbox_id)  # a partial upload: nobody can collect it
            with _step(self.claim) as session:
                self._mark(
                    session,
                    self._included(session),
                    RecipientStatus.PENDING,
                    only=(RecipientStatus.INCLUDED,),
                )
                session.execute(
                    update(CampaignRecipient)
                    .where(self.where, CampaignRecipient.status == RecipientStatus.PENDING.value)
                    .values(sequence_no=None)
                )
                session.execute(
                    update(CampaignBatch)
                    .where(CampaignBatch.id == self.claim.batch_id)
                    .values(status=BatchStatus.WORKING.value)
                )
        while True:
            rows = self._load_and_recheck()
            if rows is None:
                return
            if not rows:
                self._done(letters=0, pages=0)
                return
            rendered = self._render_letters(rows)
            if rendered is None:
                continue  # a letter failed and was recorded; render the rest again
            pdf, order, pages = rendered
            if self.on_rendered is not None:
                self.on_rendered()
            if self._freeze(order, pages):
                break
        self._hand_off(pdf, pages)
        self._delivered()

    def _included(self, session: Session) -> list[int]:
        return list(
            session.scalars(
                select(CampaignRecipient.member_id).where(
                    self.where, CampaignRecipient.status == RecipientStatus.INCLUDED.value
                )
            )
        )

    def _render_letters(self, rows: list[Row[Any]]) -> tuple[bytes, list[int], list[int]] | None:
        """(PDF, member ids in print order, pages per letter), or None after recording
        a letter that cannot be printed as failed."""
        letters = [letter_for(self.content, row) for row in rows]
        variants = self.content.variants({cast(LetterKey, letter.key) for letter in letters})
        out = io.BytesIO()
        try:
            index = write_batch(variants, letters, out)
        except DispatchError as exc:
            position = getattr(exc, "letter_index", None)
            if position is None:
                raise
            with _step(self.claim) as session:
                self._mark(
                    session,
                    [rows[position].member_id],
                    RecipientStatus.FAILED,
                    f"unprintable: {exc.message}"[:200],
                )
            return None
        order = [rows[entry.input_index].member_id for entry in index]
        pages = [entry.page_count for entry in index]
        return out.getvalue(), order, pages

    def _freeze(self, order: list[int], pages: list[int]) -> bool:
        """The last re-check, then fix the letters' sequence numbers and start the
        hand-off, in one transaction. False if someone dropped out (render again)."""
        try:
            with _step(self.claim) as session:
                self._still_dispatching(session)
                blocked = self._blocked_now(session, order)
                if blocked:
                    self._suppress(session, blocked)
                    return False
                self._number(session, order)
                session.execute(
                    update(CampaignBatch)
                    .where(CampaignBatch.id == self.claim.batch_id)
                    .values(
                        status=BatchStatus.HANDING_OFF.value,
                        letters=len(order),
                        pages=sum(pages),
                        outbox_id=self.outbox_id,
                    )
                )
        except _Cancelled:
            raise
        return True

    def _number(self, session: Session, order: list[int]) -> None:
        """Mark the letters included with their sequence numbers (1, 2, ... in
        ``order``): an UPDATE by primary key per letter, which on PostgreSQL is one
        statement joining an unnest() of two arrays instead of thousands."""
        now = utcnow()
        if not _is_postgres(session):
            session.execute(
                update(CampaignRecipient),
                [
                    {
                        "campaign_id": self.campaign_id,
                        "member_id": member_id,
                        "status": RecipientStatus.INCLUDED.value,
                        "sequence_no": number,
                        "updated_at": now,
                    }
                    for number, member_id in enumerate(order, start=1)
                ],
            )
            return
        letters = (
            func.unnest(
                bindparam("member_ids", list(order), type_=ARRAY(BigInteger)),
                bindparam("numbers", list(range(1, len(order) + 1)), type_=ARRAY(Integer)),
            )
            .table_valued("member_id", "number")
            .render_derived()
        )
        done = session.execute(
            update(CampaignRecipient)
            .where(
                # The batch as well (the letters are all of it): with the campaign
                # alone, fresh rows with no statistics yet made the planner hash the
                # whole campaign for every batch.
                self.where,
                CampaignRecipient.member_id == letters.c.member_id,
            )
            .values(
                status=RecipientStatus.INCLUDED.value,
                sequence_no=letters.c.number,
                updated_at=now,
            )
            .execution_options(synchronize_session=False)
        )
        if done.rowcount != len(order):  # type: ignore[attr-defined]
            # What the ORM's bulk UPDATE by primary key raises on the other databases.
            raise StaleDataError(
                f"UPDATE statement on table 'campaign_recipients' expected to update "
                f"{len(order)} row(s); {done.rowcount} were matched."  # type: ignore[attr-defined]
            )

    def _hand_off(self, pdf: bytes, pages: list[int]) -> None:
        outbox = self.transports.outbox
        assert outbox is not None and self.transports.signing_key is not None  # noqa: S101
        sealed = bf.seal_batch(
            pdf,
            recipient=self.transports.printhouse_recipient or "",
            signing_key=self.transports.signing_key,
            batch_id=self.outbox_id,
            campaign_ref=self.reference,
            letter_count=len(pages),
            pages_per_letter=pages,
            envelope=ENVELOPE,
            postal_class=POSTAL_CLASS,
            created_at=utcnow(),
            retention=self.retention,
        )
        outbox.put_batch(self.outbox_id, sealed.encrypted_pdf, sealed.manifest, sealed.signature)

    def _delivered(self) -> None:
        with _step(self.claim) as session:
            self._mark(
                session,
                self._included(session),
                RecipientStatus.DELIVERED,
                only=(RecipientStatus.INCLUDED,),
            )
            self._close(session, BatchStatus.DONE, handed_off_at=utcnow(), last_error=None)

    # -- e-mail -------------------------------------------------------------------------

    def email(self) -> None:
        mailer = self.transports.mailer
        if mailer is None:
            raise OperationError("e-mail needs a mailer")
        with _step(self.claim) as session:
            in_doubt = list(
                session.scalars(
                    select(CampaignRecipient.member_id).where(
                        self.where, CampaignRecipient.status == RecipientStatus.SENDING.value
                    )
                )
            )
            self._mark(
                session,
                in_doubt,
                RecipientStatus.FAILED,
                UNCONFIRMED,
                only=(RecipientStatus.SENDING,),
            )
        rows = self._load_and_recheck()
        if rows is None:
            return
        messages: list[tuple[int, str, bytes]] = []
        unbuildable: dict[str, list[int]] = {}
        for row in rows:
            try:
                message = self.content.email(
                    member_id=row.member_id,
                    language=row.language,
                    first_name=row.first_name,
                    last_name=row.last_name,
                    home_store=row.home_store,
                    to_address=row.email or "",
                )
            except DispatchError as exc:
                unbuildable.setdefault(f"unbuildable: {exc.message}"[:200], []).append(
                    row.member_id
                )
                continue
            messages.append((row.member_id, row.email, message))
        if unbuildable:
            with _step(self.claim) as session:
                for reason, ids in unbuildable.items():
                    self._mark(session, ids, RecipientStatus.FAILED, reason)
        deferred = 0
        for start in range(0, len(messages), EMAIL_CHUNK):
            deferred += self._send_chunk(mailer, messages[start : start + EMAIL_CHUNK])
        if deferred:
            raise RetryLater(
                f"{deferred} e-mails deferred by the mailer (4xx); the batch will be retried",
                where=f"campaign {self.campaign_id} batch {self.claim.batch_no}",
            )
        self._done()

    def _send_chunk(self, mailer: Mailer, chunk: list[tuple[int, str, bytes]]) -> int:
        """Send one chunk; return how many are left pending after the 4xx retries.

        Raises :class:`_Cancelled` (after closing the batch) if the campaign was
        cancelled: the chunks after it must not be sent either."""
        with _step(self.claim) as session:
            self._still_dispatching(session)
            blocked = self._blocked_now(session, [m for m, _, _ in chunk])
            self._suppress(session, blocked)
            chunk = [item for item in chunk if item[0] not in blocked]
            self._mark(session, [m for m, _, _ in chunk], RecipientStatus.SENDING)
        results: dict[int, SendResult] = {}
        todo = chunk
        for delay in (0.0, *EMAIL_RETRY_DELAYS):
            if not todo:
                break
            time.sleep(delay)
            answers = mailer.send_many(
                [(self.transports.envelope_from, address, message) for _, address, message in todo]
            )
            for (member_id, _, _), answer in zip(todo, answers, strict=True):
                results[member_id] = answer
            todo = [item for item in todo if results[item[0]].status == "retry"]
        # Recorded without the claim check: these answers are facts even if another
        # worker took the batch over meanwhile (it never re-sends "sending" rows).
        with session_scope(self.claim.engine) as session:
            by_outcome: dict[tuple[RecipientStatus, str | None], list[int]] = {}
            for member_id, answer in results.items():
                outcome: tuple[RecipientStatus, str | None]
                if answer.status == "sent":
                    outcome = (RecipientStatus.DELIVERED, None)
                elif answer.status == "failed":
                    outcome = (RecipientStatus.FAILED, redact(answer.reason)[:200] or "failed")
                else:
                    outcome = (RecipientStatus.PENDING, None)  # not accepted: safe to retry
                by_outcome.setdefault(outcome, []).append(member_id)
            for (status, reason), ids in by_outcome.items():
                self._mark(session, ids, status, reason, only=(RecipientStatus.SENDING,))
        return len(by_outcome.get((RecipientStatus.PENDING, None), []))


def open_batches(session: Session, campaign_id: int) -> list[int]:
    """Numbers of the campaign's batches that are not finished."""
    return list(
        session.scalars(
            select(CampaignBatch.number)
            .where(
                CampaignBatch.campaign_id == campaign_id,
                CampaignBatch.status.not_in([BatchStatus.DONE.value, BatchStatus.FAILED.value]),
            )
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
                CampaignBatch.status.not_in([BatchStatus.DONE.value, BatchStatus.FAILED.value]),
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
            .values(status=RecipientStatus.FAILED.value, reason=reason[:200], updated_at=utcnow())
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
                last_error=reason[:500],
            )
        )
