"""The e-mail path: a batch goes to the mailer in chunks.

Each chunk: re-check, mark "sending" (committed), hand to the mailer, record each
answer. A worker that finds "sending" recipients cannot know whether the mailer took
them, so it records them as failed :data:`UNCONFIRMED` and never sends them again: at
most once, and still accounted for.

One transaction per chunk: the answers of a chunk are recorded in the same
transaction as the next chunk's re-check and "sending" mark (the last chunk's with
closing the batch), and the next chunk's messages are built while the mailer has
the current one. With a transaction for each of the two, and the messages built
before the first was sent, a batch of 2,000 e-mails took 20 transactions and its
worker thread sat idle during every send (bench/campaigns.py).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from sqlalchemy import Row, select
from sqlalchemy.orm import Session

from dispatch.campaigns import faults, links
from dispatch.campaigns.content import CampaignContent
from dispatch.campaigns.delivery.claims import Claim, renew, step
from dispatch.campaigns.delivery.recheck import CANCELLED, BatchWork, OrCancelled
from dispatch.campaigns.models import (
    REASON_LENGTH,
    BatchStatus,
    Campaign,
    CampaignRecipient,
    RecipientStatus,
)
from dispatch.db.engine import session_scope
from dispatch.errors import DispatchError, OperationError
from dispatch.register.tokens import LinkPurpose
from dispatch.transports.channels import EmailTransport
from dispatch.transports.mailer import SendResult, redact

#: Why a recipient whose e-mail was with the mailer when its worker died is failed.
UNCONFIRMED = "delivery_unconfirmed"
#: Messages handed to the mailer per committed "sending" step: at most this many are
#: in doubt (failed as :data:`UNCONFIRMED`) after a crash.
EMAIL_CHUNK = 500
#: In-job retries of a 4xx answer before the job gives the batch back to the queue.
EMAIL_RETRY_DELAYS = (0.2, 1.0, 3.0)
EMAIL_LINKS = (LinkPurpose.UNSUBSCRIBE, LinkPurpose.CENTRE)

#: (member id, address, the message's bytes)
Message = tuple[int, str, bytes]
#: A chunk's messages, and the members whose message could not be built, by reason.
Built = tuple[list[Message], dict[str, list[int]]]


class RetryLater(OperationError):
    """A transient failure (mailer 4xx, store unreachable): the batch is given back."""


class EmailJob(BatchWork):
    def __init__(
        self, claim: Claim, campaign: Campaign, content: CampaignContent, transport: EmailTransport
    ) -> None:
        super().__init__(claim, campaign, content)
        self.transport = transport

    def run(self) -> OrCancelled | None:
        """Send the batch; :data:`CANCELLED` if the campaign was stopped meanwhile.

        Raises :class:`RetryLater` if the mailer deferred some messages (4xx)."""
        clock = self.clock.step
        with clock("load"):
            self._fail_unconfirmed()
            rows = self.load_and_recheck()
        if rows is CANCELLED:
            return CANCELLED
        chunks = [rows[start : start + EMAIL_CHUNK] for start in range(0, len(rows), EMAIL_CHUNK)]
        answers: dict[int, SendResult] = {}  # the last chunk's, not yet recorded
        deferred = 0
        with clock("build"):
            built: Built = self._build(chunks[0]) if chunks else ([], {})
        with ThreadPoolExecutor(1, thread_name_prefix="email-chunk") as sender:
            for number in range(len(chunks)):
                with clock("record_and_prepare"):
                    ready = self._record_and_prepare(answers, built)
                answers = {}
                if ready is CANCELLED:
                    return CANCELLED  # the chunks after it must not be sent either
                sending = sender.submit(self._deliver, ready)
                # Built while the mailer has this chunk: the build is CPU, the send
                # mostly waits for the server.
                if number + 1 < len(chunks):
                    try:
                        with clock("build"):
                            built = self._build(chunks[number + 1])
                    except Exception:
                        # The chunk at the mailer goes out whatever failed here: keep
                        # its answers rather than leave it in doubt.
                        self._record_only(sending.result())
                        raise
                with clock("wait_for_mailer"):
                    answers = sending.result()
                deferred += sum(1 for answer in answers.values() if answer.status == "retry")
                faults.reached("chunk_sent")
        with clock("record"):
            self._record_and_close(answers, done=not deferred)
        if deferred:
            raise RetryLater(
                f"{deferred} e-mails deferred by the mailer (4xx); the batch will be retried",
                where=f"campaign {self.campaign_id} batch {self.claim.batch_no}",
            )
        return None

    def _build(self, rows: Sequence[Row[Any]]) -> Built:
        messages: list[Message] = []
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
                reason = f"unbuildable: {exc.message}"[:REASON_LENGTH]
                unbuildable.setdefault(reason, []).append(row.member_id)
                continue
            messages.append((row.member_id, row.email, message))
        return messages, unbuildable

    def _fail_unconfirmed(self) -> None:
        """Recipients left "sending" by a dead worker: failed, never sent again."""
        with step(self.claim) as session:
            in_doubt = list(
                session.scalars(
                    select(CampaignRecipient.member_id).where(
                        self.where, CampaignRecipient.status == RecipientStatus.SENDING.value
                    )
                )
            )
            self.mark(
                session,
                in_doubt,
                RecipientStatus.FAILED,
                UNCONFIRMED,
                only=(RecipientStatus.SENDING,),
            )

    def _record(self, session: Session, answers: dict[int, SendResult]) -> None:
        """Record the mailer's answers; these are facts even if another worker took the
        batch over meanwhile (it never re-sends "sending" rows), so no claim is needed."""
        by_outcome: dict[tuple[RecipientStatus, str | None], list[int]] = {}
        for member_id, answer in answers.items():
            outcome: tuple[RecipientStatus, str | None]
            if answer.status == "sent":
                outcome = (RecipientStatus.DELIVERED, None)
            elif answer.status == "failed":
                refused = redact(answer.reason)[:REASON_LENGTH] or "failed"
                outcome = (RecipientStatus.FAILED, refused)
            else:
                outcome = (RecipientStatus.PENDING, None)  # not accepted: safe to retry
            by_outcome.setdefault(outcome, []).append(member_id)
        for (status, reason), ids in by_outcome.items():
            self.mark(session, ids, status, reason, only=(RecipientStatus.SENDING,))

    def _record_only(self, answers: dict[int, SendResult]) -> None:
        with session_scope(self.claim.engine) as session:
            self._record(session, answers)

    def _record_and_prepare(
        self, answers: dict[int, SendResult], built: Built
    ) -> list[Message] | OrCancelled:
        """One transaction: record the previous chunk's answers, then (where the claim
        is still ours) re-check this chunk, fail what could not be built and mark the
        rest "sending" with their links; the messages to send now, or
        :data:`CANCELLED` (the batch closed, nothing sent) if the campaign was."""
        messages, unbuildable = built
        with session_scope(self.claim.engine) as session:
            self._record(session, answers)
            owned = renew(session, self.claim)
            if owned:
                if not self.still_dispatching(session):
                    return CANCELLED
                for reason, ids in unbuildable.items():
                    self.mark(session, ids, RecipientStatus.FAILED, reason)
                blocked = self.blocked_now(session, [m for m, _, _ in messages])
                self.suppress(session, blocked)
                messages = [item for item in messages if item[0] not in blocked]
                ids = [m for m, _, _ in messages]
                self.mark(session, ids, RecipientStatus.SENDING)
                # The message's links work from the moment the mailer may deliver it.
                links.issue(session, self.campaign_id, ids, EMAIL_LINKS, self.content.secret)
        if not owned:  # the answers are recorded (committed); nothing else was written
            raise self.claim.lost()
        return messages

    def _record_and_close(self, answers: dict[int, SendResult], *, done: bool) -> None:
        """Record the last chunk's answers and, if nothing is left, close the batch."""
        with session_scope(self.claim.engine) as session:
            self._record(session, answers)
            if not done:
                return
            owned = renew(session, self.claim)
            if owned:
                self.close(session, BatchStatus.DONE, last_error=None)
        if not owned:  # the answers are recorded (committed)
            raise self.claim.lost()

    def _deliver(self, chunk: list[Message]) -> dict[int, SendResult]:
        """Hand the chunk to the mailer, retrying 4xx answers a few times in the job."""
        sender = self.transport.envelope_sender
        results: dict[int, SendResult] = {}
        todo = chunk
        for delay in (0.0, *EMAIL_RETRY_DELAYS):
            if not todo:
                break
            time.sleep(delay)
            answers = self.transport.mailer.send_many(
                [(sender, address, message) for _, address, message in todo]
            )
            for (member_id, _, _), answer in zip(todo, answers, strict=True):
                results[member_id] = answer
            todo = [item for item in todo if results[item[0]].status == "retry"]
        return results
