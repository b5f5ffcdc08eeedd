"""The keys of the hand-off: the dispatcher's signing key and the print house's recipient.

The dispatcher signs every manifest with an Ed25519 key kept in a PEM file (mode 0600);
the print house verifies with the public half, written beside it as ``<file>.pub``.
Batches are encrypted to the print house's age X25519 recipient (``age1...``), which
the print house generates with ``printhouse keygen`` and sends over.
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from dispatch import batchformat as bf
from dispatch.errors import InputError


def public_key_path(private_path: Path) -> Path:
    return private_path.with_name(private_path.name + ".pub")


def load_signing_key(path: Path) -> Ed25519PrivateKey:
    """Load the dispatcher's Ed25519 signing key (unencrypted PKCS#8 PEM)."""
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except OSError as exc:
        raise InputError(f"cannot read signing key: {exc.strerror}", where=str(path)) from exc
    except (ValueError, TypeError) as exc:
        raise InputError("not an unencrypted PEM private key", where=str(path)) from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise InputError("not an Ed25519 private key", where=str(path))
    return key


def load_or_create_signing_key(path: Path) -> Ed25519PrivateKey:
    """Load the signing key at ``path``, creating it (0600) and ``<path>.pub`` if absent."""
    if path.exists():
        return load_signing_key(path)
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    # O_EXCL: two workers starting together must not both write a key.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return load_signing_key(path)
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)
    public_key_path(path).write_bytes(bf.public_key_pem(key.public_key()))
    return key


def load_recipient(value: str | Path) -> str:
    """The print house's age recipient, given inline (``age1...``) or as a file path."""
    text = str(value).strip()
    where = None
    if not text.startswith("age1"):
        where = text
        try:
            text = Path(text).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise InputError(f"cannot read recipient: {exc.strerror}", where=where) from exc
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.startswith("#")]
    if len(lines) != 1:
        raise InputError("expected exactly one age recipient", where=where)
    try:
        bf.parse_recipient(lines[0])
    except bf.BatchFormatError as exc:
        raise InputError(str(exc), where=where) from exc
    return lines[0].strip()
