"""An e-mail campaign against a real SMTP server (aiosmtpd on loopback)."""

from __future__ import annotations

import datetime as dt
import email
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from sqlalchemy import update

from dispatch.campaigns import delivery, faults
from dispatch.campaigns import services as cs
from dispatch.campaigns.content import CampaignContent
from dispatch.campaigns.delivery import email as delivery_email
from dispatch.campaigns.models import BatchStatus, CampaignBatch, CampaignStatus
from dispatch.db.engine import session_scope
from dispatch.db.types import utcnow
from dispatch.jobs import tasks
from dispatch.register.models import Member
from tests.campaigns.conftest import PARTNER, World
from tests.conftest import CliResult, free_port


@dataclass
class Relay:
    """Accepts mail, except: 451 for an address's first ``busy`` attempts, 550 for
    ``unknown`` addresses."""

    busy: int = 0
    unknown: set[str] = field(default_factory=set)
    attempts: Counter[str] = field(default_factory=Counter)
    received: list[bytes] = field(default_factory=list)
    senders: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        with self.lock:
            self.attempts[address] += 1
            if address in self.unknown:
                return f"550 5.1.1 <{address}>: user unknown"
            if self.attempts[address] <= self.busy:
                return "451 4.3.0 mailbox busy, try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        with self.lock:
            self.received.extend(content for _ in envelope.rcpt_tos)
            self.senders[envelope.mail_from or ""] += len(envelope.rcpt_tos)
        return "250 2.0.0 Ok: queued"

    def recipients(self) -> Counter[str]:
        return Counter(
            email.message_from_bytes(m)["To"].split("<")[-1].rstrip(">") for m in self.received
        )


@pytest.fixture
def relay(monkeypatch: pytest.MonkeyPatch, world: World) -> Iterator[Callable[..., Relay]]:
    """Point DISPATCH_MAILER_URL at a port; ``start()`` brings a server up on it."""
    port = free_port()
    monkeypatch.setenv("DISPATCH_MAILER_URL", f"smtp://127.0.0.1:{port}?starttls=off")
    # Keep the in-job 4xx retries quick; what they do is the same.
    monkeypatch.setattr(delivery_email, "EMAIL_RETRY_DELAYS", (0.05, 0.05, 0.05))
    controllers: list[Controller] = []

    def start(**kwargs: object) -> Relay:
        handler = Relay(**kwargs)  # type: ignore[arg-type]
        controller = Controller(handler, hostname="127.0.0.1", port=port)
        controller.start()
        controllers.append(controller)
        return handler

    yield start
    for controller in controllers:
        controller.stop()


def _addresses(world: World, ids: list[int]) -> dict[int, str]:
    with session_scope(world.engine) as session:
        return {m: session.get_one(Member, m).email or "" for m in ids}


def test_email_campaign_delivers_each_message_once_with_headers(
    world: World, relay: Callable[..., Relay]
) -> None:
    server = relay()
    members = world.add_members(30, email_opt_in=True)
    world.add_members(3)  # no opt-in: not selected
    cid = world.start("partner_email", creative=PARTNER)
    world.run_all(cid)

    assert world.status(cid) == CampaignStatus.COMPLETED.value
    addresses = _addresses(world, members)
    assert server.recipients() == Counter(addresses.values())
    assert world.with_status(cid, "delivered") == set(members)
    ids = set()
    for raw in server.received:
        message = email.message_from_bytes(raw)
        assert message["List-Unsubscribe"]
        assert "One-Click" in (message["List-Unsubscribe-Post"] or "")
        assert message["Message-ID"]
        ids.add(message["Message-ID"])
    assert len(ids) == 30
    assert world.report(cid).reconciled


def test_envelope_sender_is_the_configured_one(
    world: World, relay: Callable[..., Relay], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DISPATCH_ENVELOPE_SENDER", "palautukset@osuuskauppa.fi")
    server = relay()
    world.add_members(6, email_opt_in=True)
    cid = world.dispatching("partner_email", creative=PARTNER)

    assert world.run_batch(cid, 0).delivered == 6

    assert server.senders == Counter({"palautukset@osuuskauppa.fi": 6})


def test_deferred_addresses_are_delivered_after_in_job_retries(
    world: World, relay: Callable[..., Relay]
) -> None:
    server = relay(busy=2)
    members = world.add_members(8, email_opt_in=True)
    cid = world.dispatching("partner_email", creative=PARTNER)

    outcome = world.run_batch(cid, 0)

    assert outcome.status == BatchStatus.DONE.value
    assert outcome.delivered == 8
    addresses = _addresses(world, members)
    assert server.recipients() == Counter(addresses.values())
    assert all(server.attempts[a] == 3 for a in addresses.values())


def test_refused_address_fails_with_the_servers_reason_and_others_arrive(
    world: World, relay: Callable[..., Relay]
) -> None:
    members = world.add_members(6, email_opt_in=True)
    addresses = _addresses(world, members)
    bad = members[2]
    server = relay(unknown={addresses[bad]})
    cid = world.dispatching("partner_email", creative=PARTNER)

    assert world.finish(cid) == CampaignStatus.COMPLETED.value

    status, reason = world.recipients(cid)[bad]
    assert status == "failed"
    assert reason is not None and reason.startswith("550 5.1.1")
    assert "user unknown" in reason
    assert addresses[bad] not in reason  # reasons are redacted of addresses
    assert world.with_status(cid, "delivered") == set(members) - {bad}
    assert server.recipients() == Counter(a for m, a in addresses.items() if m != bad)
    report = world.report(cid)
    assert report.reconciled and sum(report.total.failed.values()) == 1


def test_mail_server_down_gives_the_batch_back_then_start_completes_it(
    world: World, relay: Callable[..., Relay], cli: Callable[..., CliResult]
) -> None:
    members = world.add_members(10, email_opt_in=True)
    cid = world.dispatching("partner_email", creative=PARTNER)

    with pytest.raises(delivery.RetryLater, match="10 e-mails deferred"):
        world.run_batch(cid, 0)

    [batch] = world.batches(cid)
    assert batch.claim_token is None and batch.status == BatchStatus.WORKING.value
    assert world.with_status(cid, "pending") == set(members)
    assert world.status(cid) == CampaignStatus.DISPATCHING.value

    server = relay()
    # `dispatch campaign start` is a new process: its mailer has not seen the relay down.
    tasks.reset_runtime()
    result = cli("campaign", "start", str(cid))

    assert result.code == 0, result.err
    assert "resuming unfinished work" in result.out
    assert world.status(cid) == CampaignStatus.COMPLETED.value
    assert server.recipients() == Counter(_addresses(world, members).values())
    assert world.with_status(cid, "delivered") == set(members)


@dataclass
class InChunks:
    """A dispatching e-mail campaign of six members in chunks of two, and its relay."""

    server: Relay
    ids: list[int]
    cid: int


@pytest.fixture
def in_chunks(
    world: World, relay: Callable[..., Relay], monkeypatch: pytest.MonkeyPatch
) -> InChunks:
    server = relay()
    monkeypatch.setattr(delivery_email, "EMAIL_CHUNK", 2)
    ids = world.add_members(6, email_opt_in=True)
    return InChunks(server, ids, world.dispatching("partner_email", creative=PARTNER))


def test_cancel_between_chunks_stops_the_rest_of_the_batch(
    world: World, in_chunks: InChunks
) -> None:
    server, ids, cid = in_chunks.server, in_chunks.ids, in_chunks.cid
    sent_chunks = 0

    def cancel_after_the_first() -> None:
        nonlocal sent_chunks
        sent_chunks += 1
        if sent_chunks == 1:  # staff cancel while the first chunk is at the mailer
            with session_scope(world.engine) as session:
                cs.cancel(session, cs.get(session, cid), "anna")

    with faults.inject("chunk_sent", cancel_after_the_first):
        outcome = world.run_batch(cid, 0)

    assert outcome.status == BatchStatus.FAILED.value  # closed for the cancellation
    assert outcome.delivered == 2 and len(server.received) == 2
    assert outcome.suppressed == len(ids) - 2
    assert world.with_status(cid, "suppressed") == set(ids) - {
        m for m in ids if _addresses(world, [m])[m] in server.recipients()
    }
    assert world.status(cid) == CampaignStatus.CANCELLED.value
    assert world.report(cid).reconciled


def _expire_lease(world: World, cid: int, number: int) -> None:
    """What time does to a dead worker's claim: its heartbeat grows older than the lease."""
    with session_scope(world.engine) as session:
        session.execute(
            update(CampaignBatch)
            .where(CampaignBatch.campaign_id == cid, CampaignBatch.number == number)
            .values(heartbeat_at=utcnow() - tasks.runtime().lease - dt.timedelta(seconds=5))
        )


def test_crash_before_a_chunks_answers_are_recorded_fails_it_unconfirmed_once(
    world: World, in_chunks: InChunks
) -> None:
    server, ids, cid = in_chunks.server, in_chunks.ids, in_chunks.cid
    chunks = 0

    def dies_after_the_second_chunk() -> None:
        nonlocal chunks
        chunks += 1
        if chunks == 2:  # the first chunk's answers went in with the second's "sending"
            raise faults.Crash

    with faults.inject("chunk_sent", dies_after_the_second_chunk), pytest.raises(faults.Crash):
        world.run_batch(cid, 0)

    assert len(world.with_status(cid, "delivered")) == 2
    in_doubt = world.with_status(cid, "sending")
    assert len(in_doubt) == 2 and len(server.received) == 4
    _expire_lease(world, cid, 0)

    outcome = world.run_batch(cid, 0)

    assert outcome.status == BatchStatus.DONE.value
    assert {m: world.recipients(cid)[m] for m in in_doubt} == {
        m: ("failed", delivery.UNCONFIRMED) for m in in_doubt
    }
    assert outcome.delivered == 4 and outcome.failed == 2
    # Nothing went out twice: the two in doubt were never sent again.
    assert server.recipients() == Counter(_addresses(world, ids).values())
    assert world.finish(cid) == CampaignStatus.COMPLETED.value
    assert world.report(cid).reconciled


def test_answers_are_recorded_even_when_the_claim_was_lost_meanwhile(
    world: World, in_chunks: InChunks
) -> None:
    server, ids, cid = in_chunks.server, in_chunks.ids, in_chunks.cid

    def another_worker_takes_over() -> None:
        # The worker stalled with its first chunk at the mailer; another claimed it.
        _expire_lease(world, cid, 0)
        delivery.claim_batch(world.engine, cid, 0, tasks.runtime().lease)

    with faults.inject("chunk_sent", another_worker_takes_over):
        outcome = world.run_batch(cid, 0)

    assert outcome.status == tasks.TAKEN_OVER
    # The first chunk's answers are facts, kept; the second chunk was never marked.
    assert len(world.with_status(cid, "delivered")) == 2
    assert len(world.with_status(cid, "pending")) == 4
    assert len(server.received) == 2
    assert set(server.recipients()) <= set(_addresses(world, ids).values())


def test_an_error_building_the_next_chunk_keeps_the_answers_of_the_one_sent(
    world: World, in_chunks: InChunks, monkeypatch: pytest.MonkeyPatch
) -> None:
    server, ids, cid = in_chunks.server, in_chunks.ids, in_chunks.cid
    built = 0
    email = CampaignContent.email

    def breaks_on_the_third(self: CampaignContent, **kwargs: Any) -> bytes:
        nonlocal built
        built += 1
        if built == 3:  # the second chunk is built while the first is at the mailer
            raise RuntimeError("out of memory")
        return email(self, **kwargs)

    monkeypatch.setattr(CampaignContent, "email", breaks_on_the_third)

    with pytest.raises(RuntimeError, match="out of memory"):
        world.run_batch(cid, 0)

    assert len(server.received) == 2
    assert len(world.with_status(cid, "delivered")) == 2  # recorded, not left in doubt
    assert world.with_status(cid, "sending") == set()
    [batch] = world.batches(cid)
    assert batch.claim_token is None and "out of memory" in (batch.last_error or "")
    monkeypatch.setattr(CampaignContent, "email", email)
    assert world.finish(cid) == CampaignStatus.COMPLETED.value
    assert server.recipients() == Counter(_addresses(world, ids).values())
