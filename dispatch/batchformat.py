"""The outbox batch format shared by the dispatcher and the print house.

The print house's tool runs at another company and imports nothing from ``dispatch``
except this module, so it depends only on the standard library, ``cryptography``
(Ed25519 signatures) and ``pyrage`` (age encryption to the print house's X25519 key).

One batch is one folder (or key prefix) ``<batch_id>/`` holding:

``letters.pdf.age``
    the print-ready PDF, encrypted to the print house's age recipient;
``manifest.json``
    canonical JSON (:class:`Manifest`): counts, paper, checksums, retention;
``manifest.sig``
    the dispatcher's Ed25519 signature over the exact manifest bytes, base64;
``COMPLETE``
    written last, holding the SHA-256 of ``manifest.json``: until it exists the batch
    is invisible to the print house.

The print house answers with ``ACK`` beside them. Nothing here carries a member id or
the reason a member was chosen: a letter is known only by its sequence number.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO

import pyrage  # type: ignore[import-untyped]  # ships no type information
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

FORMAT_VERSION = 1

ENCRYPTED_PDF = "letters.pdf.age"
MANIFEST = "manifest.json"
SIGNATURE = "manifest.sig"
COMPLETE = "COMPLETE"
ACK = "ACK"
# Returned-mail reports live beside the batches, under this reserved folder name.
RETURNS_DIR = "returns"

PAPERS = frozenset({"A4"})
ENVELOPES = frozenset({"C5", "C65"})
POSTAL_CLASSES = frozenset({"priority", "economy"})
RETURN_REASONS = frozenset({"unknown_address", "moved", "refused", "undeliverable", "other"})

# The documented manifest fields, and nothing else: a new field is a format change.
MANIFEST_FIELDS = frozenset(
    {
        "format_version",
        "batch_id",
        "campaign_ref",
        "letter_count",
        "pages_per_letter",
        "paper",
        "envelope",
        "postal_class",
        "pdf_sha256",
        "encrypted_sha256",
        "created_at",
        "delete_by",
    }
)
ACK_FIELDS = frozenset({"batch_id", "received_at", "letters_accepted"})

# Batch ids become folder names on another company's disk: no separators, no dot-dot.
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
_HEX64 = re.compile(r"[0-9a-f]{64}")
_CHUNK = 1 << 20


class BatchFormatError(ValueError):
    """A batch, manifest, signature, acknowledgement or returns file is not valid."""


def validate_batch_id(batch_id: str) -> str:
    """Return ``batch_id`` if it is safe as a folder name, else raise."""
    if not _ID.fullmatch(batch_id) or batch_id == RETURNS_DIR:
        raise BatchFormatError(f"invalid batch id {batch_id!r}")
    return batch_id


def sha256(data: bytes | BinaryIO) -> str:
    """Hex SHA-256 of bytes or of a binary stream (read to its end, in chunks)."""
    if isinstance(data, bytes | bytearray | memoryview):
        return hashlib.sha256(data).hexdigest()
    digest = hashlib.sha256()
    for chunk in iter(lambda: data.read(_CHUNK), b""):
        digest.update(chunk)
    return digest.hexdigest()


def _iso(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise BatchFormatError("times must carry a time zone")
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _parse_time(value: object, field: str) -> datetime:
    if not isinstance(value, str):
        raise BatchFormatError(f"{field}: expected an ISO time")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise BatchFormatError(f"{field}: not an ISO time: {value!r}") from exc
    if moment.tzinfo is None:
        raise BatchFormatError(f"{field}: time zone missing")
    return moment


def canonical_json(document: dict[str, Any]) -> bytes:
    """Sorted keys, no insignificant whitespace, UTF-8: one document, one byte string."""
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _load_object(data: bytes, what: str) -> dict[str, Any]:
    try:
        document = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BatchFormatError(f"{what} is not JSON: {exc}") from exc
    if not isinstance(document, dict):
        raise BatchFormatError(f"{what} is not a JSON object")
    return document


def _positive_int(value: object, field: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise BatchFormatError(f"{field}: expected a positive integer")
    return value


def _choice(value: object, field: str, allowed: frozenset[str]) -> str:
    if value not in allowed:
        raise BatchFormatError(f"{field}: expected one of {', '.join(sorted(allowed))}")
    assert isinstance(value, str)  # noqa: S101 - narrowed by the membership test
    return value


def _digest(value: object, field: str) -> str:
    if not isinstance(value, str) or not _HEX64.fullmatch(value):
        raise BatchFormatError(f"{field}: expected a lowercase hex SHA-256")
    return value


@dataclass(frozen=True)
class Manifest:
    """What the print house needs to print and post one batch, and nothing more."""

    batch_id: str
    campaign_ref: str
    letter_count: int
    pages_per_letter: int | tuple[int, ...]
    paper: str
    envelope: str
    postal_class: str
    pdf_sha256: str
    encrypted_sha256: str
    created_at: datetime
    delete_by: datetime
    format_version: int = FORMAT_VERSION

    def __post_init__(self) -> None:
        validate_batch_id(self.batch_id)
        if not _ID.fullmatch(self.campaign_ref):
            raise BatchFormatError("campaign_ref: expected an opaque token")
        _positive_int(self.letter_count, "letter_count")
        if isinstance(self.pages_per_letter, tuple):
            if len(self.pages_per_letter) != self.letter_count:
                raise BatchFormatError("pages_per_letter: one entry per letter expected")
            for pages in self.pages_per_letter:
                _positive_int(pages, "pages_per_letter")
        else:
            _positive_int(self.pages_per_letter, "pages_per_letter")
        _choice(self.paper, "paper", PAPERS)
        _choice(self.envelope, "envelope", ENVELOPES)
        _choice(self.postal_class, "postal_class", POSTAL_CLASSES)
        _digest(self.pdf_sha256, "pdf_sha256")
        _digest(self.encrypted_sha256, "encrypted_sha256")
        if self.delete_by <= self.created_at:
            raise BatchFormatError("delete_by: must be after created_at")
        if self.format_version != FORMAT_VERSION:
            raise BatchFormatError(f"format_version: unsupported {self.format_version!r}")

    def to_bytes(self) -> bytes:
        """The canonical manifest bytes (what is signed and stored)."""
        pages = self.pages_per_letter
        return canonical_json(
            {
                "format_version": self.format_version,
                "batch_id": self.batch_id,
                "campaign_ref": self.campaign_ref,
                "letter_count": self.letter_count,
                "pages_per_letter": list(pages) if isinstance(pages, tuple) else pages,
                "paper": self.paper,
                "envelope": self.envelope,
                "postal_class": self.postal_class,
                "pdf_sha256": self.pdf_sha256,
                "encrypted_sha256": self.encrypted_sha256,
                "created_at": _iso(self.created_at),
                "delete_by": _iso(self.delete_by),
            }
        )

    @classmethod
    def parse(cls, data: bytes) -> Manifest:
        """Parse and validate manifest bytes; unknown versions and fields are refused."""
        doc = _load_object(data, "manifest")
        version = doc.get("format_version")
        if version != FORMAT_VERSION:
            raise BatchFormatError(f"format_version: unsupported {version!r}")
        missing = MANIFEST_FIELDS - doc.keys()
        if missing:
            raise BatchFormatError(f"manifest: missing {', '.join(sorted(missing))}")
        extra = doc.keys() - MANIFEST_FIELDS
        if extra:
            raise BatchFormatError(f"manifest: unknown {', '.join(sorted(extra))}")
        pages = doc["pages_per_letter"]
        for field in ("batch_id", "campaign_ref", "paper", "envelope", "postal_class"):
            if not isinstance(doc[field], str):
                raise BatchFormatError(f"{field}: expected a string")
        return cls(
            batch_id=doc["batch_id"],
            campaign_ref=doc["campaign_ref"],
            letter_count=doc["letter_count"],
            pages_per_letter=tuple(pages) if isinstance(pages, list) else pages,
            paper=doc["paper"],
            envelope=doc["envelope"],
            postal_class=doc["postal_class"],
            pdf_sha256=doc["pdf_sha256"],
            encrypted_sha256=doc["encrypted_sha256"],
            created_at=_parse_time(doc["created_at"], "created_at"),
            delete_by=_parse_time(doc["delete_by"], "delete_by"),
            format_version=version,
        )


def build_manifest(
    *,
    batch_id: str,
    campaign_ref: str,
    letter_count: int,
    pages_per_letter: int | Iterable[int],
    envelope: str,
    postal_class: str,
    pdf_sha256: str,
    encrypted_sha256: str,
    created_at: datetime,
    retention: timedelta,
    paper: str = "A4",
) -> bytes:
    """Validate the fields and return canonical manifest bytes, ready to sign."""
    pages = pages_per_letter if isinstance(pages_per_letter, int) else tuple(pages_per_letter)
    return Manifest(
        batch_id=batch_id,
        campaign_ref=campaign_ref,
        letter_count=letter_count,
        pages_per_letter=pages,
        paper=paper,
        envelope=envelope,
        postal_class=postal_class,
        pdf_sha256=pdf_sha256,
        encrypted_sha256=encrypted_sha256,
        created_at=created_at,
        delete_by=created_at + retention,
    ).to_bytes()


def sign_manifest(private_key: Ed25519PrivateKey, manifest: bytes) -> bytes:
    """The base64 Ed25519 signature over the exact manifest bytes."""
    return base64.b64encode(private_key.sign(manifest)) + b"\n"


def verify_manifest(public_key: Ed25519PublicKey, manifest: bytes, signature: bytes) -> None:
    """Raise :class:`BatchFormatError` unless ``signature`` signs ``manifest``."""
    try:
        raw = base64.b64decode(signature.strip(), validate=True)
        public_key.verify(raw, manifest)
    except (binascii.Error, InvalidSignature) as exc:
        raise BatchFormatError("manifest signature does not verify") from exc


def load_public_key(pem: bytes) -> Ed25519PublicKey:
    """Load the dispatcher's Ed25519 public key from PEM (SubjectPublicKeyInfo)."""
    try:
        key = serialization.load_pem_public_key(pem)
    except ValueError as exc:
        raise BatchFormatError("not a PEM public key") from exc
    if not isinstance(key, Ed25519PublicKey):
        raise BatchFormatError("not an Ed25519 public key")
    return key


def public_key_pem(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def parse_recipient(text: str) -> Any:
    """An age X25519 recipient (``age1...``), validated."""
    try:
        return pyrage.x25519.Recipient.from_str(text.strip())
    except pyrage.RecipientError as exc:
        raise BatchFormatError(f"not an age X25519 recipient: {exc}") from exc


def parse_identity(text: str) -> Any:
    """An age X25519 identity (``AGE-SECRET-KEY-1...``); comment lines are skipped."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.startswith("#")]
    if len(lines) != 1:
        raise BatchFormatError("identity file must hold exactly one age identity")
    try:
        return pyrage.x25519.Identity.from_str(lines[0])
    except pyrage.IdentityError as exc:
        raise BatchFormatError(f"not an age X25519 identity: {exc}") from exc


def generate_identity() -> tuple[str, str]:
    """A fresh age X25519 key pair as ``(identity, recipient)`` strings."""
    identity = pyrage.x25519.Identity.generate()
    return str(identity), str(identity.to_public())


def encrypt_pdf(source: bytes | Path | BinaryIO, recipient: str) -> bytes:
    """Encrypt a PDF (bytes, a path or a binary stream) to one age recipient."""
    out = io.BytesIO()
    encrypt_stream(source, out, recipient)
    return out.getvalue()


def encrypt_stream(source: bytes | Path | BinaryIO, out: BinaryIO, recipient: str) -> None:
    """Stream-encrypt ``source`` into ``out`` (memory stays flat for large PDFs)."""
    target = parse_recipient(recipient)
    if isinstance(source, bytes):
        source = io.BytesIO(source)
    try:
        if isinstance(source, Path):
            with source.open("rb") as handle:
                pyrage.encrypt_io(handle, out, [target])
        else:
            pyrage.encrypt_io(source, out, [target])
    except pyrage.EncryptError as exc:
        raise BatchFormatError(f"cannot encrypt: {exc}") from exc


def decrypt(source: bytes | BinaryIO, identity: str) -> bytes:
    """Decrypt an age file with the print house's identity and return the plaintext."""
    out = io.BytesIO()
    decrypt_stream(source, out, identity)
    return out.getvalue()


def decrypt_stream(source: bytes | BinaryIO, out: BinaryIO, identity: str) -> None:
    """Stream-decrypt ``source`` into ``out``; a tampered or truncated file raises."""
    key = parse_identity(identity)
    stream = io.BytesIO(source) if isinstance(source, bytes) else source
    try:
        pyrage.decrypt_io(stream, out, [key])
    # A truncated stream surfaces from pyrage's reader as OSError, not DecryptError.
    except (pyrage.DecryptError, OSError) as exc:
        raise BatchFormatError(f"cannot decrypt: {exc}") from exc


def complete_marker(manifest: bytes) -> bytes:
    """The content of ``COMPLETE``: it binds the marker to one manifest."""
    return f"{sha256(manifest)}\n".encode()


@dataclass(frozen=True)
class SealedBatch:
    """The three files :meth:`Outbox.put_batch` stores, produced together."""

    encrypted_pdf: bytes
    manifest: bytes
    signature: bytes


def seal_batch(
    pdf: bytes,
    *,
    recipient: str,
    signing_key: Ed25519PrivateKey,
    batch_id: str,
    campaign_ref: str,
    letter_count: int,
    pages_per_letter: int | Iterable[int],
    envelope: str,
    postal_class: str,
    created_at: datetime,
    retention: timedelta,
) -> SealedBatch:
    """Encrypt, describe and sign one print-ready PDF."""
    encrypted = encrypt_pdf(pdf, recipient)
    manifest = build_manifest(
        batch_id=batch_id,
        campaign_ref=campaign_ref,
        letter_count=letter_count,
        pages_per_letter=pages_per_letter,
        envelope=envelope,
        postal_class=postal_class,
        pdf_sha256=sha256(pdf),
        encrypted_sha256=sha256(encrypted),
        created_at=created_at,
        retention=retention,
    )
    return SealedBatch(encrypted, manifest, sign_manifest(signing_key, manifest))


@dataclass(frozen=True)
class Ack:
    """The print house's receipt for one batch."""

    batch_id: str
    received_at: datetime
    letters_accepted: int

    def to_bytes(self) -> bytes:
        return canonical_json(
            {
                "batch_id": validate_batch_id(self.batch_id),
                "received_at": _iso(self.received_at),
                "letters_accepted": self.letters_accepted,
            }
        )

    @classmethod
    def parse(cls, data: bytes) -> Ack:
        doc = _load_object(data, "ACK")
        if doc.keys() != ACK_FIELDS:
            raise BatchFormatError(f"ACK: expected fields {', '.join(sorted(ACK_FIELDS))}")
        accepted = doc["letters_accepted"]
        if not isinstance(accepted, int) or isinstance(accepted, bool) or accepted < 0:
            raise BatchFormatError("letters_accepted: expected a non-negative integer")
        batch_id = doc["batch_id"]
        if not isinstance(batch_id, str):
            raise BatchFormatError("batch_id: expected a string")
        return cls(
            validate_batch_id(batch_id),
            _parse_time(doc["received_at"], "received_at"),
            accepted,
        )


@dataclass(frozen=True)
class ReturnedLetter:
    """One letter the post office brought back, known by batch and sequence number."""

    batch_id: str
    sequence_no: int
    reason: str

    def __post_init__(self) -> None:
        validate_batch_id(self.batch_id)
        _positive_int(self.sequence_no, "sequence_no")
        _choice(self.reason, "reason", RETURN_REASONS)


def returns_to_bytes(letters: Iterable[ReturnedLetter], reported_at: datetime) -> bytes:
    """A returns report: ``{"format_version", "reported_at", "letters": [...]}``."""
    return canonical_json(
        {
            "format_version": FORMAT_VERSION,
            "reported_at": _iso(reported_at),
            "letters": [
                {"batch_id": r.batch_id, "sequence_no": r.sequence_no, "reason": r.reason}
                for r in letters
            ],
        }
    )


def parse_returns(data: bytes) -> list[ReturnedLetter]:
    doc = _load_object(data, "returns")
    if doc.get("format_version") != FORMAT_VERSION:
        raise BatchFormatError(f"format_version: unsupported {doc.get('format_version')!r}")
    letters = doc.get("letters")
    if not isinstance(letters, list):
        raise BatchFormatError("returns: letters missing")
    out = []
    for entry in letters:
        if not isinstance(entry, dict) or entry.keys() != {"batch_id", "sequence_no", "reason"}:
            raise BatchFormatError("returns: each letter needs batch_id, sequence_no, reason")
        out.append(ReturnedLetter(entry["batch_id"], entry["sequence_no"], entry["reason"]))
    return out
