"""The unsubscribe mailbox: mails to the ``mailto:`` of List-Unsubscribe, applied.

Every marketing e-mail offers ``mailto:ADDRESS?subject=TOKEN`` beside the one-click
URL; a mail client that uses it sends a mail whose subject holds the token.
``dispatch mailer inbound`` reads that mailbox (``DISPATCH_INBOUND_URL``) and, per
mail, withdraws the e-mail permission exactly as the one-click POST does (source
``unsubscribe-mail``), then deletes the mail: it holds the member's address and is of
no use once applied. A mail without a valid token (a reply, an expired or forged
token) is marked seen and left for a person to read; nothing is changed for it.

Two mailboxes, chosen by the URL, behind one small interface:

``maildir://PATH``                  a local Maildir (the embedded default, tests)
``imaps://USER:PASS@HOST[:PORT]/FOLDER``  IMAP over TLS (production); ``imap://`` is
                                    IMAP with STARTTLS, or plain with ``?starttls=off``
                                    (a server on loopback)
"""

from __future__ import annotations

import email
import email.policy
import imaplib
import mailbox
import re
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol
from urllib.parse import parse_qs, unquote, urlsplit

from sqlalchemy import Engine

from dispatch.db.engine import session_scope
from dispatch.errors import InputError, OperationError
from dispatch.members import links, services
from dispatch.register.tokens import LinkPurpose

_TOKEN = re.compile(r"(?<![A-Za-z0-9_-])([A-Za-z0-9_-]{43})(?![A-Za-z0-9_-])")
_WHERE = "DISPATCH_INBOUND_URL"


class Mailbox(Protocol):
    """Where unsubscribe mails wait. ``done`` deletes a mail, ``keep`` marks it seen."""

    def unread(self) -> Iterator[tuple[str, bytes]]: ...

    def done(self, key: str) -> None: ...

    def keep(self, key: str) -> None: ...

    def close(self) -> None: ...


class MaildirBox:
    """A local Maildir: unread mails are those in ``new/``; kept ones move to ``cur/``."""

    def __init__(self, path: Path) -> None:
        for sub in ("tmp", "new", "cur"):
            (path / sub).mkdir(mode=0o700, parents=True, exist_ok=True)
        self._box = mailbox.Maildir(path, create=False)

    def unread(self) -> Iterator[tuple[str, bytes]]:
        for key in list(self._box.keys()):
            message = self._box.get_message(key)
            if message.get_subdir() == "new":
                yield key, self._box.get_bytes(key)

    def done(self, key: str) -> None:
        self._box.remove(key)

    def keep(self, key: str) -> None:
        message = self._box.get_message(key)
        message.set_subdir("cur")
        message.add_flag("S")
        self._box[key] = message

    def close(self) -> None:
        self._box.close()


class ImapBox:
    """One IMAP folder: unread mails are the \\Unseen ones, by UID."""

    def __init__(self, client: imaplib.IMAP4, folder: str) -> None:
        self._client = client
        self._deleted = False
        status, _ = client.select(_quoted(folder))
        if status != "OK":
            raise OperationError(f"cannot open the IMAP folder {folder!r}", where=_WHERE)

    def unread(self) -> Iterator[tuple[str, bytes]]:
        status, data = self._client.uid("SEARCH", "UNSEEN")
        if status != "OK":
            raise OperationError("the IMAP server refused to search the folder", where=_WHERE)
        for uid in (data[0] or b"").split():
            status, parts = self._client.uid("FETCH", uid.decode(), "(BODY.PEEK[])")
            raw = next((p[1] for p in parts if isinstance(p, tuple)), None)
            if status == "OK" and isinstance(raw, bytes):
                yield uid.decode(), raw

    def done(self, key: str) -> None:
        self._client.uid("STORE", key, "+FLAGS", "(\\Deleted)")
        self._deleted = True

    def keep(self, key: str) -> None:
        self._client.uid("STORE", key, "+FLAGS", "(\\Seen)")

    def close(self) -> None:
        try:
            if self._deleted:
                self._client.expunge()
            self._client.close()
        finally:
            self._client.logout()


def _quoted(folder: str) -> str:
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'


def open_mailbox(url: str, *, ssl_context: ssl.SSLContext | None = None) -> Mailbox:
    """The mailbox ``url`` names; a one-line error when it cannot be opened."""
    parts = urlsplit(url)
    if parts.scheme == "maildir":
        path = unquote(parts.netloc + parts.path)
        if not path:
            raise InputError(f"expected maildir://PATH, not {url!r}", where=_WHERE)
        return MaildirBox(Path(path))
    if parts.scheme not in {"imap", "imaps"} or not parts.hostname:
        raise InputError(
            f"expected maildir://PATH, imap://... or imaps://..., not {parts.scheme}://",
            where=_WHERE,
        )
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    starttls = query.get("starttls", "on")
    if starttls not in {"on", "off"}:
        raise InputError("starttls must be on or off", where=_WHERE)
    if not parts.username or parts.password is None:
        raise InputError("the IMAP URL needs a user and a password", where=_WHERE)
    context = ssl_context or ssl.create_default_context(cafile=query.get("cafile"))
    client: imaplib.IMAP4 | None = None
    try:
        if parts.scheme == "imaps":
            client = imaplib.IMAP4_SSL(
                parts.hostname, parts.port or 993, ssl_context=context, timeout=30
            )
        else:
            client = imaplib.IMAP4(parts.hostname, parts.port or 143, timeout=30)
            if starttls == "on":
                client.starttls(ssl_context=context)
        client.login(unquote(parts.username), unquote(parts.password))
    except (OSError, imaplib.IMAP4.error) as exc:
        if client is not None:
            client.shutdown()
        # The server's words only: the URL holds a password.
        said = exc.args[0] if exc.args else exc
        text = said.decode(errors="replace") if isinstance(said, bytes) else str(said)
        raise OperationError(f"cannot sign in to the IMAP server: {text}", where=_WHERE) from None
    return ImapBox(client, unquote(parts.path.lstrip("/")) or "INBOX")


def token_in(raw: bytes) -> str | None:
    """The unsubscribe token in a mail's subject (``Re:`` and encoding allowed)."""
    message = email.message_from_bytes(raw, policy=email.policy.default)
    found = _TOKEN.search(str(message.get("Subject", "")))
    return found.group(1) if found else None


@dataclass
class InboundResult:
    """What one run did: counts only (the mails hold addresses)."""

    withdrawn: int = 0
    #: Valid token, but the member already received no such e-mail.
    already: int = 0
    #: Kept for a person: no token, or one that is unknown, expired or revoked.
    kept: int = 0


def process(engine: Engine, box: Mailbox, secret: str) -> InboundResult:
    """Apply every unread unsubscribe mail; each in its own transaction."""
    result = InboundResult()
    for key, raw in box.unread():
        token = token_in(raw)
        event = None
        try:
            if token is None:
                raise links.LinkRefused(404, "no token")
            with session_scope(engine) as session:
                link = links.look_up(session, LinkPurpose.UNSUBSCRIBE, token, secret, origin=None)
                event = services.withdraw_email(session, link, source=services.UNSUBSCRIBE_MAIL)
        except links.LinkRefused:
            box.keep(key)
            result.kept += 1
            continue
        box.done(key)
        if event is None:
            result.already += 1
        else:
            result.withdrawn += 1
    return result
