"""Maildir mailer: the embedded default, every message becomes a file.

``maildir://./var/mail`` (relative to the working directory) or
``maildir:///srv/mail`` (absolute). Each message is written by
:class:`mailbox.Maildir` to ``tmp/`` and renamed into ``new/``, so a reader never
sees half a message. The stored file is what a delivery agent would store:
``Return-Path`` and ``Delivered-To`` lines (the envelope, which the message's own
headers need not repeat) followed by the message bytes unchanged, CRLF included.
Any mail client or ``python -m mailbox`` reads it for a demo.
"""

from __future__ import annotations

import mailbox
import threading
from collections.abc import Iterable
from pathlib import Path
from urllib.parse import unquote, urlsplit

from dispatch.errors import InputError
from dispatch.transports.mailer import SendResult, log_outcome


def _header_safe(value: str) -> bool:
    return value.isascii() and not any(c in value for c in "\r\n\0")


class MaildirMailer:
    """Delivers into one local Maildir folder (created when missing)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        # Maildir(create=True) makes the subfolders only when the folder itself is new.
        for sub in ("tmp", "new", "cur"):
            (self.path / sub).mkdir(mode=0o700, parents=True, exist_ok=True)
        self._box = mailbox.Maildir(self.path, create=False)
        # mailbox.Maildir keeps a table of contents; adding is safe only one at a time.
        self._lock = threading.Lock()

    @classmethod
    def from_url(cls, url: str) -> MaildirMailer:
        parts = urlsplit(url)
        path = unquote(parts.netloc + parts.path)
        if parts.scheme != "maildir" or not path:
            raise InputError(f"expected maildir://PATH, not {url!r}", where="DISPATCH_MAILER_URL")
        return cls(path)

    def send(self, envelope_from: str, recipient: str, message: bytes) -> SendResult:
        if not (_header_safe(envelope_from) and _header_safe(recipient)):
            return SendResult.failed("envelope address is not a deliverable address")
        envelope = f"Return-Path: <{envelope_from}>\r\nDelivered-To: {recipient}\r\n"
        try:
            with self._lock:
                key = self._box.add(envelope.encode("ascii") + message)
        except OSError as exc:
            # A full or read-only disk may well be fixed before the next attempt.
            return SendResult.retry(f"maildir write failed: {exc.strerror or exc}")
        return SendResult.sent("delivered to maildir", message_id=key)

    def send_many(
        self, items: Iterable[tuple[str, str, bytes]], *, workers: int | None = None
    ) -> list[SendResult]:
        """Sequential: a local disk gains nothing from threads (``workers`` is ignored)."""
        results = [self.send(*item) for item in items]
        log_outcome("maildir", results)
        return results

    def close(self) -> None:
        self._box.close()
