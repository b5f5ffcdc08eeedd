"""The post path: a batch is one sealed PDF in the print outbox.

::

    pending recipients --re-check--> render --re-check--> included + seq. numbers,
    batch "handing_off" (committed) --> outbox upload, COMPLETE last --> delivered

A worker that finds a batch "handing_off" (its holder died) looks in the outbox: a
complete batch was handed off, so it only records the delivery; an incomplete one is
deleted and the batch rendered again, re-checked again. So a (campaign, member) is
in at most one complete outbox batch, whatever crashes (invariant 4), and a member
who objected before the "handing_off" commit is in none (invariant 3).
"""

from __future__ import annotations

import datetime as dt
import io
from enum import Enum
from typing import Any, cast

from sqlalchemy import Row, func, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from dispatch import batchformat as bf
from dispatch.campaigns import faults, links
from dispatch.campaigns.content import CampaignContent, LetterKey
from dispatch.campaigns.delivery.claims import Claim, step
from dispatch.campaigns.delivery.recheck import CANCELLED, BatchWork, OrCancelled
from dispatch.campaigns.models import (
    REASON_LENGTH,
    BatchStatus,
    Campaign,
    CampaignBatch,
    CampaignRecipient,
    RecipientStatus,
)
from dispatch.db.dialect import bigint_array, is_postgres, planning_without
from dispatch.db.types import utcnow
from dispatch.errors import DispatchError
from dispatch.register.tokens import LinkPurpose
from dispatch.rendering import Letter, Recipient, write_batch
from dispatch.transports.channels import PostTransport

ENVELOPE = "C5"
POSTAL_CLASS = "economy"


class Freeze(Enum):
    """How the last re-check before the hand-off ended."""

    FROZEN = "frozen"  # letters numbered, batch "handing_off": upload now
    DROPPED = "dropped"  # someone dropped out since the render: render again


def letter_for(content: CampaignContent, row: Row[Any]) -> Letter:
    """The letter for one row of ``member_id`` and
    :func:`~dispatch.campaigns.delivery.recheck.recipient_columns`, with the member's
    code for the objection notice."""
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
    key = content.variant_key(row.language, row.home_store)
    return Letter(key, recipient, fields, content.letter_code(row.member_id))


class PostJob(BatchWork):
    def __init__(
        self,
        claim: Claim,
        campaign: Campaign,
        content: CampaignContent,
        transport: PostTransport,
        retention: dt.timedelta,
    ) -> None:
        super().__init__(claim, campaign, content)
        self.transport = transport
        self.retention = retention

    @property
    def outbox_id(self) -> str:
        return f"{self.reference}-{self.claim.batch_no:05d}"

    def run(self) -> OrCancelled | None:
        """Do the batch from wherever it stands; :data:`CANCELLED` if it was stopped."""
        clock = self.clock.step
        if self.claim.previous_status == BatchStatus.HANDING_OFF.value:
            if self.transport.outbox.is_complete(self.outbox_id):
                self._delivered()  # the dead holder finished the upload
                return None
            self._start_again()
        while True:
            # Taken before the read: a move in between counts as after it, so the
            # new address is never blamed for a letter that may carry the old one.
            read_at = utcnow()
            with clock("load"):
                rows = self.load_and_recheck()
            if rows is CANCELLED:
                return CANCELLED
            if not rows:
                self.done(letters=0, pages=0)
                return None
            with clock("render"):
                rendered = self._render_letters(rows)
            if rendered is None:
                continue  # a letter failed and was recorded; render the rest again
            pdf, order, pages, codes = rendered
            faults.reached("rendered")
            with clock("freeze"):
                frozen = self._freeze(order, pages, codes, read_at)
            if frozen is CANCELLED:
                return CANCELLED
            if frozen is Freeze.FROZEN:
                break
        with clock("hand_off"):
            self._hand_off(pdf, pages)
        faults.reached("handed_off")
        with clock("record"):
            self._delivered()
        return None

    def _start_again(self) -> None:
        """The dead holder's upload is partial: nobody can collect it. Delete it and
        put its letters back to pending, to be re-checked and rendered again."""
        self.transport.outbox.delete(self.outbox_id)
        with step(self.claim) as session:
            # Their sequence numbers go with them: the next freeze numbers afresh.
            self.mark_every(
                session,
                RecipientStatus.PENDING,
                now_in=RecipientStatus.INCLUDED,
                sequence_no=None,
            )
            session.execute(
                update(CampaignBatch)
                .where(CampaignBatch.id == self.claim.batch_id)
                .values(status=BatchStatus.WORKING.value)
            )

    def _render_letters(
        self, rows: list[Row[Any]]
    ) -> tuple[bytes, list[int], list[int], dict[int, str]] | None:
        """(PDF, member ids in print order, pages per letter, each member's printed
        code), or None after recording a letter that cannot be printed as failed."""
        letters = [letter_for(self.content, row) for row in rows]
        variants = self.content.variants({cast(LetterKey, letter.key) for letter in letters})
        out = io.BytesIO()
        faults.reached("render")
        try:
            index = write_batch(variants, letters, out)
        except DispatchError as exc:
            position = getattr(exc, "letter_index", None)
            if position is None:
                raise
            with step(self.claim) as session:
                self.mark(
                    session,
                    [rows[position].member_id],
                    RecipientStatus.FAILED,
                    f"unprintable: {exc.message}"[:REASON_LENGTH],
                )
            return None
        order = [rows[entry.input_index].member_id for entry in index]
        pages = [entry.page_count for entry in index]
        codes = {
            row.member_id: letter.code
            for row, letter in zip(rows, letters, strict=True)
            if letter.code is not None
        }
        return out.getvalue(), order, pages, codes

    def _freeze(
        self, order: list[int], pages: list[int], codes: dict[int, str], read_at: dt.datetime
    ) -> Freeze | OrCancelled:
        """The last re-check, then fix the letters' sequence numbers and start the
        hand-off, in one transaction."""
        with step(self.claim) as session:
            if not self.still_dispatching(session):
                return CANCELLED
            blocked = self.blocked_now(session, order)
            if blocked:
                self.suppress(session, blocked)
                return Freeze.DROPPED
            self._number(session, order)
            # The letters' codes work from the moment they can be printed.
            # With the codes the letters print (each an HMAC, made once).
            links.issue(
                session,
                self.campaign_id,
                order,
                [LinkPurpose.LETTER],
                self.content.secret,
                values=codes,
            )
            session.execute(
                update(CampaignBatch)
                .where(CampaignBatch.id == self.claim.batch_id)
                .values(
                    status=BatchStatus.HANDING_OFF.value,
                    letters=len(order),
                    pages=sum(pages),
                    outbox_id=self.outbox_id,
                    addresses_read_at=read_at,
                )
            )
        return Freeze.FROZEN

    def _number(self, session: Session, order: list[int]) -> None:
        """Mark the letters included with their sequence numbers (1, 2, ... in
        ``order``): an UPDATE by primary key per letter, which on PostgreSQL is one
        statement joining an unnest() of two arrays instead of thousands."""
        now = utcnow()
        if not is_postgres(session):
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
            func.unnest(bigint_array(order, "member_ids"))
            .table_valued("member_id", with_ordinality="number")
            .render_derived()
        )
        # A hash join of the batch's rows and the arrays, whatever the estimates say.
        # A campaign's rows are new, so the statistics know none of them: the planner
        # expects one row of the batch and ten of the arrays (a prepared statement's
        # plan cannot see their length) and chose a nested loop that compared every
        # letter with every recipient of the batch: 4 million comparisons, 0.7-3 s of
        # PostgreSQL's CPU for a batch of 2,000 instead of about 50 ms (bench/HISTORY.md).
        with planning_without(session, "nestloop"):
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
        sealed = bf.seal_batch(
            pdf,
            recipient=self.transport.recipient,
            signing_key=self.transport.signing_key,
            batch_id=self.outbox_id,
            campaign_ref=self.reference,
            letter_count=len(pages),
            pages_per_letter=pages,
            envelope=ENVELOPE,
            postal_class=POSTAL_CLASS,
            created_at=utcnow(),
            retention=self.retention,
        )
        self.transport.outbox.put_batch(
            self.outbox_id, sealed.encrypted_pdf, sealed.manifest, sealed.signature
        )

    def _delivered(self) -> None:
        # Every letter still included is in the batch just handed off.
        with step(self.claim) as session:
            self.mark_every(session, RecipientStatus.DELIVERED, now_in=RecipientStatus.INCLUDED)
            self.close(session, BatchStatus.DONE, handed_off_at=utcnow(), last_error=None)
