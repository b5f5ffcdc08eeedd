"""Collect batches: download, verify, decrypt into the spool folder.

Every check must pass before anything reaches the spool: the ``COMPLETE`` marker binds
the manifest, the dispatcher's signature covers the manifest, the manifest's checksums
cover the encrypted file and the decrypted PDF. A batch that fails any check is refused
and left untouched in the outbox, for the dispatcher to look into.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from dispatch import batchformat as bf
from printhouse.store import Store

PDF_NAME = "letters.pdf"


class Refused(Exception):
    """One batch failed verification; the message is the reason."""


@dataclass
class CollectReport:
    collected: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    refused: dict[str, str] = field(default_factory=dict)

    def as_json(self) -> dict[str, object]:
        return {
            "collected": self.collected,
            "skipped": self.skipped,
            "refused": [{"batch_id": b, "reason": r} for b, r in self.refused.items()],
        }


def _required(store: Store, batch_id: str, name: str, what: str) -> bytes:
    data = store.read(batch_id, name)
    if data is None:
        raise Refused(f"{name} missing ({what})")
    return data


def verify_batch(
    store: Store, batch_id: str, public_key: Ed25519PublicKey, identity: str
) -> tuple[bf.Manifest, bytes, bytes]:
    """Return (manifest, manifest bytes, plaintext PDF) or raise :class:`Refused`."""
    try:
        bf.validate_batch_id(batch_id)
    except bf.BatchFormatError as exc:
        raise Refused(str(exc)) from exc
    marker = _required(store, batch_id, bf.COMPLETE, "incomplete")
    manifest_bytes = _required(store, batch_id, bf.MANIFEST, "no manifest")
    signature = _required(store, batch_id, bf.SIGNATURE, "unsigned")
    if marker != bf.complete_marker(manifest_bytes):
        raise Refused("COMPLETE does not match manifest.json")
    try:
        bf.verify_manifest(public_key, manifest_bytes, signature)
        manifest = bf.Manifest.parse(manifest_bytes)
    except bf.BatchFormatError as exc:
        raise Refused(str(exc)) from exc
    if manifest.batch_id != batch_id:
        raise Refused(f"manifest names batch {manifest.batch_id}")
    encrypted = _required(store, batch_id, bf.ENCRYPTED_PDF, "no letters")
    if bf.sha256(encrypted) != manifest.encrypted_sha256:
        raise Refused(f"{bf.ENCRYPTED_PDF} checksum mismatch (tampered or truncated)")
    try:
        pdf = bf.decrypt(encrypted, identity)
    except bf.BatchFormatError as exc:
        raise Refused(str(exc)) from exc
    if bf.sha256(pdf) != manifest.pdf_sha256:
        raise Refused("decrypted PDF checksum mismatch")
    return manifest, manifest_bytes, pdf


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def spool_batch(spool: Path, batch_id: str, manifest_bytes: bytes, pdf: bytes) -> Path:
    """Write the batch to ``spool/<batch_id>/`` all at once (via a hidden temp folder)."""
    final = spool / batch_id
    staging = spool / f".{batch_id}.partial"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(mode=0o700, parents=True)
    _write_private(staging / PDF_NAME, pdf)
    _write_private(staging / bf.MANIFEST, manifest_bytes)
    os.replace(staging, final)
    return final


def collect(
    store: Store, spool: Path, public_key: Ed25519PublicKey, identity: str
) -> CollectReport:
    """Collect every complete batch not yet collected or acknowledged."""
    report = CollectReport()
    spool.mkdir(mode=0o700, parents=True, exist_ok=True)
    for batch_id in store.list_complete():
        try:
            bf.validate_batch_id(batch_id)
        except bf.BatchFormatError as exc:
            report.refused[batch_id] = str(exc)
            continue
        if (spool / batch_id / bf.MANIFEST).is_file() or store.exists(batch_id, bf.ACK):
            report.skipped.append(batch_id)
            continue
        try:
            _, manifest_bytes, pdf = verify_batch(store, batch_id, public_key, identity)
        except Refused as exc:
            report.refused[batch_id] = str(exc)
            continue
        spool_batch(spool, batch_id, manifest_bytes, pdf)
        report.collected.append(batch_id)
    return report
