"""The local outbox: complete-last hand-off, acknowledgement, deletion, retention."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from dispatch import batchformat as bf
from dispatch.errors import InputError
from dispatch.transports.factory import outbox_from_url
from dispatch.transports.keys import load_or_create_signing_key, load_recipient, public_key_path
from dispatch.transports.outbox import (
    BatchExists,
    LocalOutbox,
    acknowledged,
    purge_expired,
    read_returns,
)
from tests.printhouse.factories import CREATED, RETENTION, Keys, make_keys, seal


@pytest.fixture
def keys(tmp_path: Path) -> Keys:
    return make_keys(tmp_path / "keys")


@pytest.fixture
def outbox(tmp_path: Path) -> LocalOutbox:
    return LocalOutbox(tmp_path / "outbox")


def put(outbox: LocalOutbox, keys: Keys, batch_id: str = "b0001") -> bf.SealedBatch:
    sealed = seal(keys, batch_id)
    outbox.put_batch(batch_id, sealed.encrypted_pdf, sealed.manifest, sealed.signature)
    return sealed


def test_put_batch_writes_the_files_and_complete_binds_the_manifest(
    outbox: LocalOutbox, keys: Keys
) -> None:
    sealed = put(outbox, keys)
    folder = outbox.root / "b0001"
    assert sorted(p.name for p in folder.iterdir()) == [
        "COMPLETE", "letters.pdf.age", "manifest.json", "manifest.sig"
    ]  # fmt: skip
    assert (folder / "COMPLETE").read_bytes() == bf.complete_marker(sealed.manifest)
    assert outbox.list_complete() == ["b0001"]
    assert outbox.get("b0001", bf.ENCRYPTED_PDF) == sealed.encrypted_pdf


def test_batch_without_complete_is_not_listed_as_complete(outbox: LocalOutbox, keys: Keys) -> None:
    put(outbox, keys)
    (outbox.root / "b0001" / "COMPLETE").unlink()
    assert outbox.list_batches() == ["b0001"]
    assert outbox.list_complete() == []


def test_a_complete_batch_is_never_overwritten(outbox: LocalOutbox, keys: Keys) -> None:
    put(outbox, keys)
    with pytest.raises(BatchExists):
        put(outbox, keys)


def test_batch_id_cannot_escape_the_outbox(outbox: LocalOutbox, keys: Keys) -> None:
    sealed = seal(keys)
    with pytest.raises(InputError, match="invalid batch id"):
        outbox.put_batch("../x", sealed.encrypted_pdf, sealed.manifest, sealed.signature)


def test_acknowledged_batch_is_purged(outbox: LocalOutbox, keys: Keys) -> None:
    put(outbox, keys, "b0001")
    put(outbox, keys, "b0002")
    outbox.write_ack("b0001", bf.Ack("b0001", CREATED, 3).to_bytes())
    assert acknowledged(outbox, "b0001")
    assert not acknowledged(outbox, "b0002")
    assert purge_expired(outbox, CREATED + timedelta(hours=1)) == ["b0001"]
    assert outbox.list_batches() == ["b0002"]
    assert not (outbox.root / "b0001").exists()


def test_unacknowledged_batch_is_purged_after_delete_by(outbox: LocalOutbox, keys: Keys) -> None:
    put(outbox, keys)
    assert purge_expired(outbox, CREATED + RETENTION - timedelta(seconds=1)) == []
    assert purge_expired(outbox, CREATED + RETENTION) == ["b0001"]
    assert outbox.list_batches() == []


def test_outbox_from_url_reads_relative_and_absolute_paths(tmp_path: Path) -> None:
    relative = outbox_from_url("file://./var/outbox")
    assert isinstance(relative, LocalOutbox)
    assert relative.root == Path("./var/outbox")
    absolute = outbox_from_url(f"file://{tmp_path}/o")
    assert isinstance(absolute, LocalOutbox)
    assert absolute.root == tmp_path / "o"
    with pytest.raises(InputError, match="unsupported"):
        outbox_from_url("ftp://host/x")


def test_read_returns_yields_each_returned_letter(outbox: LocalOutbox) -> None:
    folder = outbox.root / bf.RETURNS_DIR
    folder.mkdir(parents=True)
    letters = [bf.ReturnedLetter("b0001", 2, "moved"), bf.ReturnedLetter("b0001", 3, "refused")]
    (folder / "20260302T090000Z.json").write_bytes(bf.returns_to_bytes(letters, CREATED))
    assert list(read_returns(outbox)) == [("b0001", 2, "moved"), ("b0001", 3, "refused")]
    assert outbox.list_batches() == []


def test_signing_key_is_created_once_with_private_mode(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "signing.pem"
    key = load_or_create_signing_key(path)
    assert path.stat().st_mode & 0o777 == 0o600
    again = load_or_create_signing_key(path)
    assert again.public_key() == key.public_key()
    public = bf.load_public_key(public_key_path(path).read_bytes())
    assert public == key.public_key()


def test_recipient_loads_inline_or_from_a_file(tmp_path: Path) -> None:
    _, recipient = bf.generate_identity()
    assert load_recipient(recipient) == recipient
    path = tmp_path / "recipient.txt"
    path.write_text(f"# print house\n{recipient}\n")
    assert load_recipient(path) == recipient
    with pytest.raises(InputError, match="recipient"):
        load_recipient("age1nope")
