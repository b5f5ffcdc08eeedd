"""The e-mail path: a batch goes to the mailer in chunks.

Each chunk: re-check, mark "sending" (committed), hand to the mailer, record each
answer. A worker that finds "sending" recipients cannot know whether the mailer took
them, so it records them as failed :data:`UNCONFIRMED` and never sends them again: at
most once, and still accounted for.
"""

from __future__ import annotations

import time

from sqlalchemy import select

from dispatch.campaigns import faults, links
from dispatch.campaigns.content import CampaignContent
from dispatch.campaigns.delivery.claims import Claim, step
from dispatch.campaigns.delivery.recheck import CANCELLED, BatchWork, OrCancelled
from dispatch.campaigns.models import REASON_LENGTH, Campaign, CampaignRecipient, RecipientStatus
from dispatch.db.engine import session_scope
from dispatch.errors import DispatchError, OperationError
from dispatch.register.tokens import LinkPurpose
from dispatch.transports.channels import EmailTransport
from dispatch.transports.mailer import SendResult, redact

#: Why a recipient whose e-mail was with the mailer when its worker died is failed.
UNCONFIRMED = "delivery_unconfirmed"
#: Messages handed to the mailer per committed "sending" step.
EMAIL_CHUNK = 200
#: In-job retries of a 4xx answer before the job gives the batch back to the queue.
EMAIL_RETRY_DELAYS = (0.2, 1.0, 3.0)
EMAIL_LINKS = (LinkPurpose.UNSUBSCRIBE, LinkPurpose.CENTRE)

#: (member id, address, the message's bytes)
Message = tuple[int, str, bytes]


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
        self._fail_unconfirmed()
        rows = self.load_and_recheck()
        if rows is CANCELLED:
            return CANCELLED
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
        if unbuildable:
            with step(self.claim) as session:
                for reason, ids in unbuildable.items():
                    self.mark(session, ids, RecipientStatus.FAILED, reason)
        deferred = 0
        for start in range(0, len(messages), EMAIL_CHUNK):
            left = self._send_chunk(messages[start : start + EMAIL_CHUNK])
            if left is CANCELLED:
                return CANCELLED  # the chunks after it must not be sent either
            deferred += left
            faults.reached("chunk_sent")
        if deferred:
            raise RetryLater(
                f"{deferred} e-mails deferred by the mailer (4xx); the batch will be retried",
                where=f"campaign {self.campaign_id} batch {self.claim.batch_no}",
            )
        self.done()
        return None

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

    def _send_chunk(self, chunk: list[Message]) -> int | OrCancelled:
        """Send one chunk; how many are left pending after the 4xx retries, or
        :data:`CANCELLED` (the batch closed, nothing sent) if the campaign was."""
        with step(self.claim) as session:
            if not self.still_dispatching(session):
                return CANCELLED
            blocked = self.blocked_now(session, [m for m, _, _ in chunk])
            self.suppress(session, blocked)
            chunk = [item for item in chunk if item[0] not in blocked]
            self.mark(session, [m for m, _, _ in chunk], RecipientStatus.SENDING)
            # The message's links work from the moment the mailer may deliver it.
            links.issue(
                session,
                self.campaign_id,
                [m for m, _, _ in chunk],
                EMAIL_LINKS,
                self.content.secret,
            )
        results = self._deliver(chunk)
        # Recorded without the claim check: these answers are facts even if another
        # worker took the batch over meanwhile (it never re-sends "sending" rows).
        with session_scope(self.claim.engine) as session:
            by_outcome: dict[tuple[RecipientStatus, str | None], list[int]] = {}
            for member_id, answer in results.items():
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
        return len(by_outcome.get((RecipientStatus.PENDING, None), []))

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
