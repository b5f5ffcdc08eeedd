"""The print outbox: where sealed batches wait for the print house to collect them.

:class:`Outbox` is the interface; :class:`LocalOutbox` (a folder, the embedded default)
lives here and :class:`~dispatch.transports.outbox_s3.S3Outbox` beside it. The
configured ``DISPATCH_OUTBOX_URL`` picks one through
:func:`dispatch.transports.factory.outbox_from_url`.

A batch becomes visible only when its ``COMPLETE`` marker exists, and the marker is
always written last: a crash or a storage error half-way leaves no marker, so the print
house never collects half a batch.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import BinaryIO, Protocol

from dispatch import batchformat as bf
from dispatch.errors import InputError, OperationError


class BatchExists(OperationError):
    """A complete batch with this id is already in the outbox; it is never overwritten."""


@dataclass(frozen=True)
class Inventory:
    """What the outbox holds, from one listing: every batch folder, and which of them
    the print house has acknowledged (an ``ACK`` beside the batch)."""

    batches: frozenset[str]
    acknowledged: frozenset[str]


class Outbox(Protocol):
    """Storage for sealed batches, shared with the print house."""

    url: str

    def put_batch(
        self,
        batch_id: str,
        encrypted_pdf: BinaryIO | bytes,
        manifest: bytes,
        signature: bytes,
    ) -> None:
        """Store the three files, then ``COMPLETE``; raise :class:`BatchExists` if done."""

    def is_complete(self, batch_id: str) -> bool: ...

    def get(self, batch_id: str, name: str) -> bytes:
        """One file of a batch; :class:`OperationError` if it is missing."""

    def list_batches(self) -> list[str]:
        """Every batch folder, complete or not, sorted."""

    def list_complete(self) -> list[str]: ...

    def inventory(self) -> Inventory:
        """Batches and acknowledgements in one listing (one request per 1,000 objects
        on S3), rather than a request per batch: what upkeep asks every sweep."""

    def write_ack(self, batch_id: str, ack: bytes) -> None: ...

    def read_ack(self, batch_id: str) -> bytes | None: ...

    def delete(self, batch_id: str) -> None:
        """Remove a batch; ``COMPLETE`` goes first so it is never seen half-deleted."""

    def list_returns(self) -> list[str]:
        """Names of the returned-mail reports under ``returns/``, oldest first."""

    def read_return(self, name: str) -> bytes: ...

    def delete_return(self, name: str) -> None:
        """Remove a processed returns report; nothing happens if it is already gone."""


def acknowledged(outbox: Outbox, batch_id: str) -> bool:
    """Whether the print house has acknowledged ``batch_id``."""
    return outbox.read_ack(batch_id) is not None


def purge_expired(outbox: Outbox, now: datetime) -> list[str]:
    """Delete acknowledged batches and those past their ``delete_by``; return their ids.

    The print house is a processor (GDPR Art. 28): a batch it has taken, or one left
    past its retention, must not linger. A batch without a readable manifest is left for
    an operator, as is one that is neither acknowledged nor expired.
    """
    purged = []
    for batch_id in outbox.list_batches():
        if not acknowledged(outbox, batch_id):
            try:
                manifest = bf.Manifest.parse(outbox.get(batch_id, bf.MANIFEST))
            except (OperationError, bf.BatchFormatError):
                continue
            if manifest.delete_by > now:
                continue
        outbox.delete(batch_id)
        purged.append(batch_id)
    return purged


def read_returns(outbox: Outbox) -> Iterator[tuple[str, int, str]]:
    """Yield ``(batch_id, sequence_no, reason)`` for every returned letter reported.

    Reports stay in the outbox; whoever consumes them removes them with
    :meth:`Outbox.delete_return` once what they say is recorded
    (:func:`dispatch.campaigns.upkeep.upkeep` does).
    A malformed report raises :class:`OperationError` naming it.
    """
    for name in outbox.list_returns():
        try:
            letters = bf.parse_returns(outbox.read_return(name))
        except bf.BatchFormatError as exc:
            raise OperationError(str(exc), where=f"{bf.RETURNS_DIR}/{name}") from exc
        for letter in letters:
            yield letter.batch_id, letter.sequence_no, letter.reason


def _batch_id(batch_id: str) -> str:
    try:
        return bf.validate_batch_id(batch_id)
    except bf.BatchFormatError as exc:
        raise InputError(str(exc)) from exc


def _chunks(data: BinaryIO | bytes) -> Iterator[bytes]:
    if isinstance(data, bytes):
        yield data
        return
    yield from iter(lambda: data.read(1 << 20), b"")


class LocalOutbox:
    """An outbox in a local folder (embedded mode, or a share the print house mounts)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.url = f"file://{root.as_posix()}"

    def _dir(self, batch_id: str) -> Path:
        return self.root / _batch_id(batch_id)

    def _write(self, folder: Path, name: str, data: BinaryIO | bytes) -> None:
        # Temp name + fsync + rename: a reader sees the whole file or none of it.
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as handle:
                for chunk in _chunks(data):
                    handle.write(chunk)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, folder / name)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
        _fsync_dir(folder)

    def put_batch(
        self,
        batch_id: str,
        encrypted_pdf: BinaryIO | bytes,
        manifest: bytes,
        signature: bytes,
    ) -> None:
        folder = self._dir(batch_id)
        if (folder / bf.COMPLETE).exists():
            raise BatchExists(f"batch {batch_id} is already in the outbox", where=self.url)
        try:
            folder.mkdir(parents=True, exist_ok=True)
            self._write(folder, bf.ENCRYPTED_PDF, encrypted_pdf)
            self._write(folder, bf.MANIFEST, manifest)
            self._write(folder, bf.SIGNATURE, signature)
            self._write(folder, bf.COMPLETE, bf.complete_marker(manifest))
        except OSError as exc:
            raise OperationError(f"cannot write batch {batch_id}: {exc}", where=self.url) from exc

    def is_complete(self, batch_id: str) -> bool:
        return (self._dir(batch_id) / bf.COMPLETE).is_file()

    def get(self, batch_id: str, name: str) -> bytes:
        path = self._dir(batch_id) / name
        try:
            return path.read_bytes()
        except OSError as exc:
            raise OperationError(f"cannot read {batch_id}/{name}: {exc.strerror}") from exc

    def list_batches(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(
            p.name
            for p in self.root.iterdir()
            if p.is_dir() and p.name != bf.RETURNS_DIR and not p.name.startswith(".")
        )

    def list_complete(self) -> list[str]:
        return [b for b in self.list_batches() if self.is_complete(b)]

    def inventory(self) -> Inventory:
        batches = self.list_batches()
        acked = (b for b in batches if (self.root / b / bf.ACK).is_file())
        return Inventory(frozenset(batches), frozenset(acked))

    def write_ack(self, batch_id: str, ack: bytes) -> None:
        self._write(self._dir(batch_id), bf.ACK, ack)

    def read_ack(self, batch_id: str) -> bytes | None:
        try:
            return (self._dir(batch_id) / bf.ACK).read_bytes()
        except FileNotFoundError:
            return None

    def delete(self, batch_id: str) -> None:
        folder = self._dir(batch_id)
        with contextlib.suppress(FileNotFoundError):
            (folder / bf.COMPLETE).unlink()
        shutil.rmtree(folder, ignore_errors=True)

    def list_returns(self) -> list[str]:
        folder = self.root / bf.RETURNS_DIR
        if not folder.is_dir():
            return []
        return sorted(p.name for p in folder.iterdir() if p.suffix == ".json")

    def read_return(self, name: str) -> bytes:
        if "/" in name or name.startswith("."):
            raise InputError(f"invalid returns file name {name!r}")
        try:
            return (self.root / bf.RETURNS_DIR / name).read_bytes()
        except OSError as exc:
            raise OperationError(f"cannot read {bf.RETURNS_DIR}/{name}: {exc.strerror}") from exc

    def delete_return(self, name: str) -> None:
        if "/" in name or name.startswith("."):
            raise InputError(f"invalid returns file name {name!r}")
        try:
            (self.root / bf.RETURNS_DIR / name).unlink(missing_ok=True)
        except OSError as exc:
            raise OperationError(
                f"cannot delete {bf.RETURNS_DIR}/{name}: {exc.strerror}", where=self.url
            ) from exc


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
