"""The dramatiq broker named by ``DISPATCH_BROKER_URL``.

``inprocess://`` is dramatiq's stub broker: messages live in this process and a
worker thread here runs them (embedded mode: demo, tests, small shops). ``redis://``
and ``amqp://`` are the real brokers that worker processes on any host share.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import dramatiq
from dramatiq.brokers.stub import StubBroker
from dramatiq.middleware import (
    AgeLimit,
    Callbacks,
    CurrentMessage,
    Pipelines,
    Retries,
    ShutdownNotifications,
    TimeLimit,
)

#: How long a Redis worker may be silent before its unacknowledged messages go back
#: to the queue (dramatiq's default is 60 s; batches are also re-found by the
#: sweeper, so this only bounds how soon).
REDIS_HEARTBEAT_MS = 15_000


def _middleware() -> list[dramatiq.Middleware]:
    # Spelled out rather than dramatiq's default list: every actor states its own
    # retries and time limit, and these are the pieces that read those options.
    return [
        AgeLimit(),
        TimeLimit(),
        ShutdownNotifications(),
        Callbacks(),
        Pipelines(),
        Retries(),
        CurrentMessage(),
    ]


def make_broker(url: str) -> dramatiq.Broker:
    scheme = urlsplit(url).scheme
    if scheme == "inprocess":
        return StubBroker(middleware=_middleware())
    if scheme in ("redis", "rediss"):
        from dramatiq.brokers.redis import RedisBroker

        broker: dramatiq.Broker = RedisBroker(  # type: ignore[no-untyped-call]
            url=url, middleware=_middleware(), heartbeat_timeout=REDIS_HEARTBEAT_MS
        )
        return broker
    if scheme in ("amqp", "amqps"):
        from dramatiq.brokers.rabbitmq import RabbitmqBroker

        return RabbitmqBroker(url=url, middleware=_middleware())
    raise ValueError(f"unsupported broker URL scheme {scheme!r}")


def is_inprocess(url: str) -> bool:
    return urlsplit(url).scheme == "inprocess"
