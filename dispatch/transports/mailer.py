"""The mailer: hands one finished e-mail to a contracted mail service.

A :class:`Mailer` takes a message as the complete RFC 5322 bytes that
:class:`dispatch.rendering.EmailBuilder` made and answers with a :class:`SendResult`
that says which of three things happened, because the caller must act differently
on each:

``sent``
    the service accepted the message; ``reason`` is its answer and ``message_id``
    its id for the message where it gives one (SES, a maildir file name).
``retry``
    nothing is known to have been delivered and trying later may work: a 4xx
    answer, a refused or dropped connection, a timeout, throttling. The recipient
    stays pending.
``failed``
    the service refused this recipient or message for good (5xx, SES
    ``MessageRejected``); ``reason`` is its answer, e.g.
    ``550 5.1.1 user unknown``, and the recipient is marked failed with it.

A mailer never raises for a failed delivery: one bad recipient or a server that is
down must not kill the batch, it becomes a result. Implementations, chosen by
``DISPATCH_MAILER_URL`` through :func:`dispatch.transports.factory.mailer_from_url`:

=======================================  ===========================================
``maildir://./var/mail``                 :mod:`~dispatch.transports.mailer_maildir`
``smtp://user:pass@host:587``,           :mod:`~dispatch.transports.mailer_smtp`
``smtps://host:465``
``ses://eu-north-1``                     :mod:`~dispatch.transports.mailer_ses`
=======================================  ===========================================

Privacy: reasons that a server gives often quote the recipient's address, so
anything logged here goes through :func:`redact` and per-message lines are DEBUG;
INFO lines carry counts only. Message bodies are never logged.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal, NamedTuple, Protocol

log = logging.getLogger(__name__)

SendStatus = Literal["sent", "retry", "failed"]
_STATUSES: frozenset[str] = frozenset({"sent", "retry", "failed"})


@dataclass(frozen=True, slots=True)
class SendResult:
    """What became of one message. Build with :meth:`sent`, :meth:`retry`, :meth:`failed`."""

    status: SendStatus
    #: The service's answer ("250 2.0.0 Ok: queued as 4F2A", "550 5.1.1 user unknown")
    #: or our own description of what went wrong ("connection refused").
    reason: str
    #: The service's id for an accepted message, where it gives one.
    message_id: str | None = None

    def __post_init__(self) -> None:
        if self.status not in _STATUSES:
            raise ValueError(f"unknown send status {self.status!r}")
        if self.message_id is not None and self.status != "sent":
            raise ValueError("only a sent message has a message id")

    @classmethod
    def sent(cls, reason: str, message_id: str | None = None) -> SendResult:
        return cls("sent", reason, message_id)

    @classmethod
    def retry(cls, reason: str) -> SendResult:
        return cls("retry", reason)

    @classmethod
    def failed(cls, reason: str) -> SendResult:
        return cls("failed", reason)

    @classmethod
    def from_smtp_code(cls, code: int, text: str) -> SendResult:
        """Classify an SMTP reply: 2xx sent, 5xx failed, anything else retry."""
        reason = f"{code} {text}".strip()
        if 200 <= code < 300:
            return cls.sent(reason)
        if 500 <= code < 600:
            return cls.failed(reason)
        return cls.retry(reason)


class Envelope(NamedTuple):
    """One message with its SMTP envelope; a plain 3-tuple works wherever this does."""

    envelope_from: str
    recipient: str
    message: bytes


class Mailer(Protocol):
    """Delivers finished messages. Implementations are safe to use from several threads."""

    def send(self, envelope_from: str, recipient: str, message: bytes) -> SendResult:
        """Deliver ``message`` to ``recipient``; never raises for a delivery failure."""
        ...

    def send_many(
        self, items: Iterable[tuple[str, str, bytes]], *, workers: int | None = None
    ) -> list[SendResult]:
        """Deliver many messages, concurrently where the transport allows.

        Results come back in the order of ``items``.
        """
        ...

    def close(self) -> None:
        """Release connections; the mailer may not be used afterwards."""
        ...


_ADDRESS = re.compile(r"[^\s<>()\[\]\"',;:]+@[^\s<>()\[\]\"',;:]+")


def redact(reason: str) -> str:
    """``reason`` with anything that looks like an e-mail address replaced, for logs."""
    return _ADDRESS.sub("<address>", reason)


def log_outcome(transport: str, results: Sequence[SendResult]) -> None:
    """One INFO line of counts for a batch; per-reason counts (redacted) at DEBUG."""
    counts = Counter(r.status for r in results)
    log.info(
        "%s: %d sent, %d to retry, %d failed",
        transport,
        counts["sent"],
        counts["retry"],
        counts["failed"],
    )
    if log.isEnabledFor(logging.DEBUG):
        reasons = Counter((r.status, redact(r.reason)) for r in results if r.status != "sent")
        for (status, reason), n in reasons.most_common():
            log.debug("%s: %d %s: %s", transport, n, status, reason)
