"""Named factories for sealed batches: keys on both sides, a tiny PDF, a sealed batch."""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pikepdf
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from dispatch import batchformat as bf

CREATED = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
RETENTION = timedelta(days=14)


def letters_pdf(letters: int = 3, pages_per_letter: int = 2) -> bytes:
    pdf = pikepdf.new()
    for _ in range(letters * pages_per_letter):
        pdf.add_blank_page(page_size=(595, 842))
    out = io.BytesIO()
    pdf.save(out)
    return out.getvalue()


@dataclass
class Keys:
    """Both parties' keys, and where the print house keeps its copies."""

    signing_key: Ed25519PrivateKey
    identity: str
    recipient: str
    identity_file: Path
    dispatcher_key_file: Path


def make_keys(folder: Path) -> Keys:
    folder.mkdir(parents=True, exist_ok=True)
    signing_key = Ed25519PrivateKey.generate()
    identity, recipient = bf.generate_identity()
    identity_file = folder / "identity.age"
    identity_file.write_text(identity + "\n")
    dispatcher_key_file = folder / "dispatcher.pub"
    dispatcher_key_file.write_bytes(bf.public_key_pem(signing_key.public_key()))
    return Keys(signing_key, identity, recipient, identity_file, dispatcher_key_file)


def seal(
    keys: Keys,
    batch_id: str = "b0001",
    *,
    pdf: bytes | None = None,
    letters: int = 3,
    created_at: datetime = CREATED,
) -> bf.SealedBatch:
    return bf.seal_batch(
        pdf if pdf is not None else letters_pdf(letters),
        recipient=keys.recipient,
        signing_key=keys.signing_key,
        batch_id=batch_id,
        campaign_ref="cref-7f3a9c",
        letter_count=letters,
        pages_per_letter=2,
        envelope="C5",
        postal_class="economy",
        created_at=created_at,
        retention=RETENTION,
    )
