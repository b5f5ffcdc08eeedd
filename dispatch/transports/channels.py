"""One typed transport per channel: what a batch job of that channel hands its work to.

A post batch needs the outbox, the dispatcher's signing key and the print house's key
(:class:`PostTransport`); an e-mail batch needs the mailer and the envelope sender
(:class:`EmailTransport`). Each is built from the settings by its own function, which
turns anything missing or unusable into one :class:`~dispatch.errors.ConfigurationError`
naming the variable; the ``check_*`` functions find the same problems without writing
anything (the preflight of ``campaign start``, ``dispatch worker`` and ``/readyz``).

Only a post transport loads (or creates) the signing key: an e-mail-only deployment
never writes one.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from dispatch.config import Settings
from dispatch.db.types import Channel
from dispatch.errors import ConfigurationError, DispatchError
from dispatch.transports.factory import mailer_from_url, outbox_from_url
from dispatch.transports.keys import load_or_create_signing_key, load_recipient, load_signing_key
from dispatch.transports.mailer import Mailer
from dispatch.transports.outbox import Outbox

RECIPIENT = "DISPATCH_PRINTHOUSE_RECIPIENT"
SIGNING_KEY = "DISPATCH_SIGNING_KEY_FILE"
OUTBOX = "DISPATCH_OUTBOX_URL"
MAILER = "DISPATCH_MAILER_URL"


@dataclass(frozen=True)
class PostTransport:
    """Where a post batch goes: sealed for ``recipient``, signed, put in ``outbox``."""

    outbox: Outbox
    signing_key: Ed25519PrivateKey
    #: The print house's age recipient (``age1...``) that batches are encrypted to.
    recipient: str

    def close(self) -> None:
        """Nothing to release (the outbox holds no connections of its own)."""


@dataclass(frozen=True)
class EmailTransport:
    """Where an e-mail batch goes: ``mailer``, with ``envelope_sender`` as MAIL FROM."""

    mailer: Mailer
    envelope_sender: str

    def close(self) -> None:
        self.mailer.close()


Transport = PostTransport | EmailTransport


def _recipient(settings: Settings) -> str:
    if not settings.printhouse_recipient:
        raise ConfigurationError(
            RECIPIENT, "no print house key: post campaigns need the print house's age recipient"
        )
    try:
        return load_recipient(settings.printhouse_recipient)
    except DispatchError as exc:
        raise ConfigurationError(RECIPIENT, str(exc)) from exc


def outbox(settings: Settings) -> Outbox:
    """The outbox of ``DISPATCH_OUTBOX_URL`` (upkeep needs it without the keys)."""
    try:
        return outbox_from_url(settings.outbox_url, s3_endpoint=settings.s3_endpoint_url)
    except DispatchError as exc:
        raise ConfigurationError(OUTBOX, exc.message) from exc


def _mailer(settings: Settings) -> Mailer:
    try:
        return mailer_from_url(settings.mailer_url)
    except DispatchError as exc:
        raise ConfigurationError(MAILER, exc.message) from exc


def check_post(settings: Settings) -> None:
    """Raise :class:`ConfigurationError` if a post batch could not be handed off;
    writes nothing (a missing signing key only needs a folder it can be created in)."""
    _recipient(settings)
    outbox(settings)
    path = settings.signing_key_file
    if path.exists():
        try:
            load_signing_key(path)
        except DispatchError as exc:
            raise ConfigurationError(SIGNING_KEY, str(exc)) from exc
        return
    folder = _existing_parent(path)
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ConfigurationError(
            SIGNING_KEY, f"no signing key at {path}, and {folder} is not writable to create one"
        )


def check_email(settings: Settings) -> None:
    """Raise :class:`ConfigurationError` if an e-mail batch could not be sent."""
    _mailer(settings).close()


CHECKS = {Channel.POST: check_post, Channel.EMAIL: check_email}


def post_transport(settings: Settings, *, shared: Outbox | None = None) -> PostTransport:
    """The post transport; creates the signing key (and its ``.pub``) if absent.

    ``shared``: an outbox already built from the same settings, to use instead of a new
    one (a worker process keeps one, with its connection pool)."""
    recipient = _recipient(settings)
    box = shared if shared is not None else outbox(settings)
    try:
        key = load_or_create_signing_key(settings.signing_key_file)
    except DispatchError as exc:
        raise ConfigurationError(SIGNING_KEY, str(exc)) from exc
    except OSError as exc:
        raise ConfigurationError(
            SIGNING_KEY, f"cannot create {settings.signing_key_file}: {exc.strerror}"
        ) from exc
    return PostTransport(outbox=box, signing_key=key, recipient=recipient)


def email_transport(settings: Settings) -> EmailTransport:
    return EmailTransport(mailer=_mailer(settings), envelope_sender=settings.envelope_sender)


def _existing_parent(path: Path) -> Path:
    for parent in path.absolute().parents:
        if parent.exists():
            return parent
    return Path("/")
