"""The actors, declared on the configured broker, and what each worker process holds.

Each actor states its retries, backoff and time limit (dramatiq's defaults, 20
retries over about a week and a 10-minute limit, suit none of them):

- ``snapshot_campaign``: one big statement; retried a few times if the database
  hiccups (the snapshot runs in one transaction, so a retry starts clean);
- ``dispatch_batch``: retried with backoff while another worker holds the batch or a
  transport fails; after the last retry the batch stays released and resumable
  (``dispatch campaign start`` or the worker's sweeper sends it again);
- ``finalize_campaign``: cheap and idempotent.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from dataclasses import dataclass
from functools import cached_property

import dramatiq
from dramatiq.brokers.stub import StubBroker
from sqlalchemy import Engine

from dispatch.campaigns import delivery, lifecycle
from dispatch.config import Settings, load_settings
from dispatch.db.engine import make_engine
from dispatch.db.types import utcnow
from dispatch.errors import InputError
from dispatch.jobs.broker import make_broker
from dispatch.transports.keys import load_or_create_signing_key, load_recipient
from dispatch.transports.mailer import Mailer, mailer_from_url
from dispatch.transports.outbox import outbox_from_url

log = logging.getLogger(__name__)

SECOND = 1000  # dramatiq counts milliseconds

SNAPSHOT_OPTIONS = {
    "max_retries": 3,
    "min_backoff": 2 * SECOND,
    "max_backoff": 60 * SECOND,
    "time_limit": 60 * 60 * SECOND,
}
BATCH_OPTIONS = {
    "max_retries": 12,
    "min_backoff": 1 * SECOND,
    "max_backoff": 120 * SECOND,
    "time_limit": 15 * 60 * SECOND,
}
FINALIZE_OPTIONS = {
    "max_retries": 5,
    "min_backoff": 1 * SECOND,
    "max_backoff": 30 * SECOND,
    "time_limit": 60 * SECOND,
}
QUEUE = "dispatch"


class Runtime:
    """A worker process's connections: engine, outbox, mailer, keys (built lazily)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._lock = threading.Lock()

    @cached_property
    def engine(self) -> Engine:
        return make_engine(self.settings.database_url)

    @cached_property
    def transports(self) -> delivery.Transports:
        s = self.settings
        with self._lock:
            recipient = load_recipient(s.printhouse_recipient) if s.printhouse_recipient else None
            return delivery.Transports(
                outbox=outbox_from_url(s.outbox_url, s3_endpoint=s.s3_endpoint_url),
                mailer=_mailer(s.mailer_url),
                signing_key=load_or_create_signing_key(s.signing_key_file),
                printhouse_recipient=recipient,
            )

    @property
    def lease(self) -> dt.timedelta:
        return dt.timedelta(seconds=self.settings.batch_lease_seconds)

    def close(self) -> None:
        if "transports" in self.__dict__ and self.transports.mailer is not None:
            self.transports.mailer.close()
        if "engine" in self.__dict__:
            self.engine.dispose()


def _mailer(url: str) -> Mailer:
    return mailer_from_url(url)


_RUNTIME: Runtime | None = None
_RUNTIME_LOCK = threading.Lock()


def runtime() -> Runtime:
    """This process's runtime for the current ``DISPATCH_*`` settings."""
    global _RUNTIME
    settings = load_settings()
    with _RUNTIME_LOCK:
        if _RUNTIME is None or _RUNTIME.settings != settings:
            if _RUNTIME is not None:
                _RUNTIME.close()
            _RUNTIME = Runtime(settings)
        return _RUNTIME


def reset_runtime() -> None:
    """Drop this process's connections (tests, and a worker shutting down)."""
    global _RUNTIME
    with _RUNTIME_LOCK:
        if _RUNTIME is not None:
            _RUNTIME.close()
        _RUNTIME = None


@dataclass(frozen=True)
class Jobs:
    """The actors bound to one broker."""

    broker: dramatiq.Broker
    snapshot: dramatiq.Actor[[int], None]
    batch: dramatiq.Actor[[int, int], None]
    finalize: dramatiq.Actor[[int], None]

    def send_snapshot(self, campaign_id: int, at: dt.datetime | None = None) -> None:
        delay = _delay_ms(at)
        if delay is not None and isinstance(self.broker, StubBroker):
            # The in-process broker lives only as long as this command: a message
            # for later would be lost, or keep the command waiting until then. The
            # sweep of `dispatch worker` (or `campaign start`) sends it when due.
            return
        self.snapshot.send_with_options(args=(campaign_id,), delay=delay)

    def send_batches(self, campaign_id: int, numbers: list[int]) -> None:
        for number in numbers:
            self.batch.send(campaign_id, number)


def _delay_ms(at: dt.datetime | None) -> int | None:
    if at is None:
        return None
    ms = int((at - utcnow()).total_seconds() * 1000)
    return ms if ms > 0 else None


_JOBS: Jobs | None = None


def jobs() -> Jobs:
    """The actors on the broker of the current settings (declared on first use)."""
    global _JOBS
    url = load_settings().broker_url
    if _JOBS is None or getattr(_JOBS.broker, "dispatch_url", None) != url:
        _JOBS = declare(url)
    return _JOBS


def declare(url: str) -> Jobs:
    """Build the broker for ``url``, make it dramatiq's global one, declare the actors."""
    global _JOBS
    broker = make_broker(url)
    broker.dispatch_url = url  # type: ignore[attr-defined]
    dramatiq.set_broker(broker)

    def actor(fn: object, name: str, options: dict[str, int]) -> dramatiq.Actor:  # type: ignore[type-arg]
        return dramatiq.Actor(
            fn,  # type: ignore[arg-type]
            broker=broker,
            actor_name=name,
            queue_name=QUEUE,
            priority=0,
            options=dict(options),
        )

    _JOBS = Jobs(
        broker=broker,
        snapshot=actor(snapshot_campaign, "snapshot_campaign", SNAPSHOT_OPTIONS),
        batch=actor(dispatch_batch, "dispatch_batch", BATCH_OPTIONS),
        finalize=actor(finalize_campaign, "finalize_campaign", FINALIZE_OPTIONS),
    )
    return _JOBS


# -- the actor functions -------------------------------------------------------------


def snapshot_campaign(campaign_id: int) -> None:
    rt = runtime()
    s = rt.settings
    step = lifecycle.run_snapshot(
        rt.engine,
        campaign_id,
        batch_size=s.batch_size,
        frequency_cap=s.frequency_cap,
        min_partner_audience=s.min_partner_audience,
    )
    if step.retry_at is not None:
        jobs().send_snapshot(campaign_id, at=step.retry_at)
        return
    # run_snapshot has committed: the batches exist for whoever takes these.
    jobs().send_batches(campaign_id, step.batches)
    if not step.batches and step.failed is None:
        jobs().finalize.send(campaign_id)


def dispatch_batch(campaign_id: int, batch_no: int) -> None:
    rt = runtime()
    try:
        outcome = delivery.run_batch(
            rt.engine,
            campaign_id,
            batch_no,
            transports=rt.transports,
            secret=rt.settings.secret_key,
            lease=rt.lease,
            retention=dt.timedelta(days=rt.settings.outbox_retention_days),
        )
    except delivery.LostClaim as exc:
        log.warning("%s", exc)  # another worker owns the batch now; nothing to do
        return
    except InputError as exc:
        # Retrying cannot fix the creative or the data: close the batch as failed.
        delivery.fail_batch(rt.engine, campaign_id, batch_no, f"render_failed: {exc}")
        outcome = delivery.BatchOutcome(status="failed", campaign_finished=True)
    log.info(
        "campaign %s batch %s: %s (delivered %s, suppressed %s, failed %s)",
        campaign_id, batch_no, outcome.status,
        outcome.delivered, outcome.suppressed, outcome.failed,
    )  # fmt: skip
    if outcome.campaign_finished:
        jobs().finalize.send(campaign_id)


def finalize_campaign(campaign_id: int) -> None:
    status = lifecycle.finalize(runtime().engine, campaign_id)
    log.info("campaign %s: %s", campaign_id, status)
