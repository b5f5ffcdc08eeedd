"""The shared batch format: canonical manifests, signatures, encryption, validation."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from dispatch import batchformat as bf
from tests.printhouse.factories import CREATED, RETENTION, Keys, letters_pdf, make_keys, seal


@pytest.fixture
def keys(tmp_path: Path) -> Keys:
    return make_keys(tmp_path / "keys")


def test_manifest_holds_exactly_the_documented_fields(keys: Keys) -> None:
    sealed = seal(keys)
    doc = json.loads(sealed.manifest)
    assert set(doc) == bf.MANIFEST_FIELDS == {
        "format_version", "batch_id", "campaign_ref", "letter_count", "pages_per_letter",
        "paper", "envelope", "postal_class", "pdf_sha256", "encrypted_sha256",
        "created_at", "delete_by",
    }  # fmt: skip
    assert doc["delete_by"] == "2026-03-16T09:00:00Z"
    assert doc["paper"] == "A4"


def test_manifest_bytes_are_canonical(keys: Keys) -> None:
    sealed = seal(keys)
    parsed = bf.Manifest.parse(sealed.manifest)
    assert parsed.to_bytes() == sealed.manifest
    assert b" " not in sealed.manifest
    assert sealed.manifest == bf.canonical_json(json.loads(sealed.manifest))


def test_pages_per_letter_may_be_a_list_of_one_entry_per_letter() -> None:
    manifest = bf.build_manifest(
        batch_id="b1", campaign_ref="c1", letter_count=2, pages_per_letter=[1, 3],
        envelope="C65", postal_class="priority", pdf_sha256="a" * 64,
        encrypted_sha256="b" * 64, created_at=CREATED, retention=RETENTION,
    )  # fmt: skip
    assert bf.Manifest.parse(manifest).pages_per_letter == (1, 3)
    with pytest.raises(bf.BatchFormatError, match="one entry per letter"):
        bf.build_manifest(
            batch_id="b1", campaign_ref="c1", letter_count=3, pages_per_letter=[1, 3],
            envelope="C65", postal_class="priority", pdf_sha256="a" * 64,
            encrypted_sha256="b" * 64, created_at=CREATED, retention=RETENTION,
        )  # fmt: skip


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"format_version": 2}, "unsupported 2"),
        ({"member_id": 17}, "unknown member_id"),
        ({"envelope": "DL"}, "envelope"),
        ({"letter_count": 0}, "letter_count"),
        ({"batch_id": "../etc"}, "invalid batch id"),
        ({"created_at": "2026-03-02T09:00:00"}, "time zone"),
    ],
)
def test_manifest_parse_refuses_bad_documents(
    keys: Keys, change: dict[str, object], message: str
) -> None:
    doc = json.loads(seal(keys).manifest)
    doc.update(change)
    with pytest.raises(bf.BatchFormatError, match=message):
        bf.Manifest.parse(bf.canonical_json(doc))


def test_manifest_parse_refuses_missing_fields(keys: Keys) -> None:
    doc = json.loads(seal(keys).manifest)
    del doc["pdf_sha256"]
    with pytest.raises(bf.BatchFormatError, match="missing pdf_sha256"):
        bf.Manifest.parse(bf.canonical_json(doc))


def test_signature_verifies_only_the_exact_bytes_with_the_right_key(keys: Keys) -> None:
    sealed = seal(keys)
    public = keys.signing_key.public_key()
    bf.verify_manifest(public, sealed.manifest, sealed.signature)
    with pytest.raises(bf.BatchFormatError):
        bf.verify_manifest(public, sealed.manifest + b" ", sealed.signature)
    with pytest.raises(bf.BatchFormatError):
        other = Ed25519PrivateKey.generate().public_key()
        bf.verify_manifest(other, sealed.manifest, sealed.signature)
    with pytest.raises(bf.BatchFormatError):
        bf.verify_manifest(public, sealed.manifest, b"not base64!")


def test_encrypted_pdf_decrypts_only_with_the_identity(keys: Keys, tmp_path: Path) -> None:
    pdf = letters_pdf()
    path = tmp_path / "in.pdf"
    path.write_bytes(pdf)
    encrypted = bf.encrypt_pdf(path, keys.recipient)
    assert pdf not in encrypted
    assert bf.decrypt(encrypted, keys.identity) == pdf
    other_identity, _ = bf.generate_identity()
    with pytest.raises(bf.BatchFormatError, match="cannot decrypt"):
        bf.decrypt(encrypted, other_identity)
    with pytest.raises(bf.BatchFormatError, match="cannot decrypt"):
        bf.decrypt(encrypted[:-10], keys.identity)


def test_recipient_must_be_an_age_x25519_key() -> None:
    with pytest.raises(bf.BatchFormatError, match="age X25519 recipient"):
        bf.encrypt_pdf(b"%PDF", "age1notakey")


def test_ack_and_returns_round_trip() -> None:
    ack = bf.Ack("b1", CREATED, 3)
    assert bf.Ack.parse(ack.to_bytes()) == ack
    letters = [bf.ReturnedLetter("b1", 2, "moved")]
    assert bf.parse_returns(bf.returns_to_bytes(letters, CREATED)) == letters
    with pytest.raises(bf.BatchFormatError, match="reason"):
        bf.ReturnedLetter("b1", 2, "because")
