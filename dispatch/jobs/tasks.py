"""The actors, declared on the configured broker, and what each worker process holds.

Each actor states its retries, backoff and time limit (dramatiq's defaults, 20
retries over about a week and a 10-minute limit, suit none of them):

- ``snapshot_campaign``: one big statement; retried a few times if the database
  hiccups (the snapshot runs in one transaction, so a retry starts clean);
- ``dispatch_batch``: retried with backoff while another worker holds the batch or a
  transport fails; after the last retry the batch stays released and resumable
  (``dispatch campaign start`` or the worker's sweeper sends it again). A setting
  that cannot work (:class:`~dispatch.errors.ConfigurationError`) is not retried:
  the batch is released with the reason, and resumes once the setting is fixed;
- ``finalize_campaign``: cheap and idempotent.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import dramatiq
from dramatiq.brokers.stub import StubBroker
from sqlalchemy import Engine

from dispatch.campaigns import delivery, lifecycle
from dispatch.config import Settings, load_settings
from dispatch.db.engine import make_engine
from dispatch.db.types import Channel, utcnow
from dispatch.errors import ConfigurationError, InputError
from dispatch.jobs.broker import make_broker
from dispatch.rendering import variant
from dispatch.rendering.identity import LinkSettings
from dispatch.transports import channels
from dispatch.transports.channels import Transport
from dispatch.transports.outbox import Outbox

log = logging.getLogger(__name__)

SECOND = 1000  # dramatiq counts milliseconds

SNAPSHOT_OPTIONS = {
    "max_retries": 3,
    "min_backoff": 2 * SECOND,
    "max_backoff": 60 * SECOND,
    "time_limit": 60 * 60 * SECOND,
}
BATCH_OPTIONS: dict[str, Any] = {
    # A setting that cannot work is not retried (see batch_job).
    "throws": (ConfigurationError,),
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
#: The status a batch job reports when another worker took the batch over.
TAKEN_OVER = "taken_over"


class Runtime:
    """What a worker process's jobs use, built once per process from the settings and
    passed to every job: the engine, and one transport per channel, built (and checked)
    the first time a job of that channel needs it. A channel that cannot be built is
    not remembered, so a fixed key file is picked up by the next job."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.lease = dt.timedelta(seconds=settings.batch_lease_seconds)
        self.retention = dt.timedelta(days=settings.outbox_retention_days)
        self.links = LinkSettings.from_settings(settings)
        self._lock = threading.Lock()
        self._transports: dict[Channel, Transport] = {}

    @cached_property
    def engine(self) -> Engine:
        return make_engine(self.settings.database_url)

    @cached_property
    def outbox(self) -> Outbox:
        """The outbox alone (upkeep needs no keys); the post transport shares it."""
        return channels.outbox(self.settings)

    def warm_up(self) -> None:
        """Lay out now what every post batch needs whatever its campaign (the letter
        frame of each language), so the process's first batch does not; only where
        post is configured. A failure is left for a batch to meet and report."""
        if self.settings.printhouse_recipient is None:
            return
        try:
            variant.warm_up(self.links.sender())
        except Exception:
            log.warning("could not lay out the letter frame in advance", exc_info=True)

    def transport(self, channel: Channel) -> Transport:
        """The transport of ``channel``; :class:`ConfigurationError` if it cannot work."""
        with self._lock:
            built = self._transports.get(channel)
            if built is None:
                if channel == Channel.POST:
                    built = channels.post_transport(self.settings, shared=self.outbox)
                elif channel == Channel.EMAIL:
                    built = channels.email_transport(self.settings)
                else:
                    raise ConfigurationError("channel", f"no batch jobs deliver by {channel}")
                self._transports[channel] = built
            return built

    def close(self) -> None:
        with self._lock:
            for built in self._transports.values():
                built.close()
            self._transports.clear()
        if "engine" in self.__dict__:
            self.engine.dispose()


_RUNTIME: Runtime | None = None
_RUNTIME_LOCK = threading.Lock()


def runtime() -> Runtime:
    """This process's runtime, built from the ``DISPATCH_*`` settings on first use."""
    global _RUNTIME
    with _RUNTIME_LOCK:
        if _RUNTIME is None:
            _RUNTIME = Runtime(load_settings())
        return _RUNTIME


def reset_runtime() -> None:
    """Drop this process's runtime (a worker shutting down; tests changing settings)."""
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

    def actor(fn: object, name: str, options: dict[str, Any]) -> dramatiq.Actor:  # type: ignore[type-arg]
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
    outcome = batch_job(runtime(), campaign_id, batch_no)
    if outcome.campaign_finished:
        jobs().finalize.send(campaign_id)


def batch_job(rt: Runtime, campaign_id: int, batch_no: int) -> delivery.BatchOutcome:
    """One batch, as the ``dispatch_batch`` actor runs it (tests call it too).

    Returns how the batch stands; raises what dramatiq should retry (a busy batch, a
    transport down), and :class:`ConfigurationError` (released, with the reason kept on
    the batch), which the actor lists in ``throws``: retrying cannot fix a setting, and
    the campaign resumes once it is fixed.
    """
    try:
        outcome = delivery.run_batch(
            rt.engine,
            campaign_id,
            batch_no,
            transport_for=rt.transport,
            links=rt.links,
            secret=rt.settings.secret_key,
            lease=rt.lease,
            retention=rt.retention,
        )
    except delivery.LostClaim as exc:
        log.warning("%s", exc)  # another worker owns the batch now; nothing to do
        return delivery.BatchOutcome(status=TAKEN_OVER)
    except ConfigurationError as exc:
        log.error("campaign %s batch %s: %s", campaign_id, batch_no, exc)
        raise
    except InputError as exc:
        # Retrying cannot fix the creative or the data: close the batch as failed.
        delivery.fail_batch(rt.engine, campaign_id, batch_no, f"render_failed: {exc}")
        return delivery.BatchOutcome(status="failed", campaign_finished=True)
    log.info(
        "campaign %s batch %s: %s (delivered %s, suppressed %s, failed %s)",
        campaign_id, batch_no, "cancelled" if outcome.cancelled else outcome.status,
        outcome.delivered, outcome.suppressed, outcome.failed,
    )  # fmt: skip
    return outcome


def finalize_campaign(campaign_id: int) -> None:
    status = lifecycle.finalize(runtime().engine, campaign_id)
    log.info("campaign %s: %s", campaign_id, status)
