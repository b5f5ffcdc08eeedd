"""Collecting from a local outbox: the happy path and every way a batch is refused."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from dispatch import batchformat as bf
from dispatch.transports.outbox import LocalOutbox
from tests.printhouse.factories import Keys, make_keys, seal
from tests.printhouse.scenario import collect, hand_off_collect_ack_delete


@pytest.fixture
def keys(tmp_path: Path) -> Keys:
    return make_keys(tmp_path / "keys")


@pytest.fixture
def outbox(tmp_path: Path) -> LocalOutbox:
    return LocalOutbox(tmp_path / "outbox")


def url(outbox: LocalOutbox) -> str:
    return f"file://{outbox.root}"


def put(outbox: LocalOutbox, keys: Keys, batch_id: str) -> None:
    sealed = seal(keys, batch_id)
    outbox.put_batch(batch_id, sealed.encrypted_pdf, sealed.manifest, sealed.signature)


def test_local_hand_off_collect_ack_delete(outbox: LocalOutbox, keys: Keys, tmp_path: Path) -> None:
    hand_off_collect_ack_delete(outbox, url(outbox), keys, tmp_path / "spool")


def _flip_last_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[-1] ^= 0x01
    path.write_bytes(bytes(data))


def _flip_manifest_byte(path: Path) -> None:
    path.write_bytes(path.read_bytes().replace(b'"letter_count":3', b'"letter_count":4'))


def _resign_with_another_key(folder: Path) -> None:
    other = Ed25519PrivateKey.generate()
    (folder / "manifest.sig").write_bytes(
        bf.sign_manifest(other, (folder / "manifest.json").read_bytes())
    )


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[:-100])


TAMPERINGS: dict[str, tuple[Callable[[Path], None], str]] = {
    "flipped byte in encrypted file": (
        lambda f: _flip_last_byte(f / "letters.pdf.age"),
        "letters.pdf.age checksum mismatch",
    ),
    "flipped byte in manifest": (
        lambda f: _flip_manifest_byte(f / "manifest.json"),
        "COMPLETE does not match",
    ),
    "wrong signature key": (_resign_with_another_key, "manifest signature does not verify"),
    "missing signature": (lambda f: (f / "manifest.sig").unlink(), "manifest.sig missing"),
    "truncated encrypted file": (
        lambda f: _truncate(f / "letters.pdf.age"),
        "letters.pdf.age checksum mismatch",
    ),
}


@pytest.mark.parametrize("tampering", sorted(TAMPERINGS))
def test_tampered_batch_is_refused_loudly_and_left_in_place(
    outbox: LocalOutbox, keys: Keys, tmp_path: Path, tampering: str
) -> None:
    put(outbox, keys, "b0001")
    put(outbox, keys, "b0002")
    damage, reason = TAMPERINGS[tampering]
    damage(outbox.root / "b0001")
    before = {p.name: p.read_bytes() for p in (outbox.root / "b0001").iterdir()}

    spool = tmp_path / "spool"
    run = collect(url(outbox), keys, spool)

    assert run.code == 1
    assert f"refused batch b0001: {reason}" in run.err
    assert run.json()["collected"] == ["b0002"]
    assert not (spool / "b0001").exists()
    assert {p.name: p.read_bytes() for p in (outbox.root / "b0001").iterdir()} == before


def test_manifest_re_signed_by_an_attacker_is_refused(
    outbox: LocalOutbox, keys: Keys, tmp_path: Path
) -> None:
    # COMPLETE recomputed too: only the signature stands between the attacker and us.
    put(outbox, keys, "b0001")
    folder = outbox.root / "b0001"
    _flip_manifest_byte(folder / "manifest.json")
    (folder / "COMPLETE").write_bytes(bf.complete_marker((folder / "manifest.json").read_bytes()))
    run = collect(url(outbox), keys, tmp_path / "spool")
    assert run.code == 1
    assert "refused batch b0001: manifest signature does not verify" in run.err


def test_batch_without_complete_is_not_collected(
    outbox: LocalOutbox, keys: Keys, tmp_path: Path
) -> None:
    put(outbox, keys, "b0001")
    (outbox.root / "b0001" / "COMPLETE").unlink()
    run = collect(url(outbox), keys, tmp_path / "spool")
    assert run.code == 0
    assert run.json() == {"collected": [], "skipped": [], "refused": []}
