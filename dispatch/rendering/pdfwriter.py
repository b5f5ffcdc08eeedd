"""A small streaming PDF writer: objects go to the file as they are made.

The batch engine writes thousands of pages whose objects are a few hundred bytes
each; a general PDF library that keeps the whole document as a graph in memory
(pikepdf, pypdf, pydyf) costs both time and memory per letter. Here each object is
formatted and appended to a buffer that is flushed to the output, and only its byte
offset (8 bytes) is kept for the cross-reference table. Object numbers can be
reserved ahead of writing, so an object may point at one that is written later (the
page tree, the fonts, whose glyph set is only known at the end of the batch).
"""

from __future__ import annotations

import hashlib
import zlib
from array import array
from collections.abc import Sequence
from dataclasses import dataclass
from typing import BinaryIO

_FLUSH_AT = 1 << 18


def num(value: float) -> str:
    """A PDF number: integers plain, reals with at most three decimals."""
    text = str(round(value, 3) + 0.0)  # + 0.0 turns -0.0 into 0.0
    return text[:-2] if text.endswith(".0") else text


def literal(text: str) -> str:
    """An ASCII PDF string literal (for labels and metadata we write ourselves)."""
    escaped = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
    if not escaped.isascii() or any(ord(ch) < 32 for ch in escaped):
        raise ValueError("only printable ASCII in PDF string literals")
    return f"({escaped})"


def ref(number: int) -> str:
    return f"{number} 0 R"


@dataclass(frozen=True)
class PdfGraph:
    """A self-contained group of PDF objects with local references, root first.

    Each object is a sequence of parts: ``bytes`` are written as they are, an ``int``
    ``i`` becomes a reference to the group's ``i``-th object. A group is made once
    (e.g. from a WeasyPrint page) and written into any number of batches, each time
    under fresh object numbers. ``digest`` identifies equal groups so a batch writes
    each only once.
    """

    objects: tuple[tuple[bytes | int, ...], ...]
    digest: str

    @classmethod
    def of(cls, objects: Sequence[Sequence[bytes | int]]) -> PdfGraph:
        sha = hashlib.sha256()
        for obj in objects:
            for part in obj:
                sha.update(part if isinstance(part, bytes) else b"\x00R%d\x00" % part)
            sha.update(b"\x00E\x00")
        return cls(tuple(tuple(obj) for obj in objects), sha.hexdigest())

    def write(self, writer: PdfWriter) -> int:
        """Write every object of the group; return the root's object number."""
        numbers = [writer.reserve() for _ in self.objects]
        for number, obj in zip(numbers, self.objects, strict=True):
            body = b"".join(
                part if isinstance(part, bytes) else b"%d 0 R" % numbers[part] for part in obj
            )
            writer.write_raw(number, body)
        return numbers[0]


class PdfWriter:
    """Append-only PDF 1.7 writer with a classic cross-reference table."""

    def __init__(self, out: BinaryIO) -> None:
        self._out = out
        self._buffer = bytearray()
        self._position = 0
        self._offsets = array("q", [0])  # index = object number; 0 = not yet written
        self._hash = hashlib.sha256()
        self._emit(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")

    def reserve(self) -> int:
        """A new object number, to be written later with :meth:`write`."""
        self._offsets.append(0)
        return len(self._offsets) - 1

    def write(self, number: int, body: str) -> None:
        """Write object ``number`` whose body (a dictionary, array...) is ASCII text."""
        self.write_raw(number, body.encode("latin-1"))

    def write_raw(self, number: int, body: bytes) -> None:
        if self._offsets[number]:
            raise ValueError(f"object {number} written twice")
        self._offsets[number] = self._position
        self._emit(b"%d 0 obj\n%s\nendobj\n" % (number, body))

    def stream(self, number: int, entries: str, data: bytes, *, level: int = 6) -> None:
        """Write a stream object; ``entries`` are extra dictionary entries.

        ``level`` is the zlib level (0: no compression).
        """
        if level:
            data = zlib.compress(data, level)
            entries += "/Filter/FlateDecode"
        self.write_raw(
            number,
            b"<<%s/Length %d>>\nstream\n%s\nendstream"
            % (entries.encode("latin-1"), len(data), data),
        )

    def add(self, body: str) -> int:
        number = self.reserve()
        self.write(number, body)
        return number

    def close(self, root: int, info: int | None = None) -> None:
        """Write the cross-reference table and trailer; flush. Nothing can follow."""
        try:
            missing = self._offsets.index(0, 1)
        except ValueError:
            pass
        else:
            raise ValueError(f"object {missing} was reserved but never written")
        xref_at = self._position
        self._flush()
        # The file identifier must not depend on time or chance: identical input gives
        # an identical file. A hash of everything written so far is unique enough.
        file_id = self._hash.hexdigest()[:32]
        count = len(self._offsets)
        self._emit(b"xref\n0 %d\n0000000000 65535 f \n" % count)
        # In slices: one bytes object per entry for a whole batch would be the only
        # thing in the writer that grows with the batch.
        for start in range(1, count, 4096):
            chunk = self._offsets[start : start + 4096]
            self._emit(b"".join(b"%010d 00000 n \n" % offset for offset in chunk))
        info_entry = f"/Info {ref(info)}" if info else ""
        self._emit(
            (
                f"trailer\n<</Size {count}/Root {ref(root)}{info_entry}"
                f"/ID[<{file_id}><{file_id}>]>>\nstartxref\n{xref_at}\n%%EOF\n"
            ).encode("ascii")
        )
        self._flush()

    def _emit(self, data: bytes) -> None:
        self._buffer += data
        self._position += len(data)
        if len(self._buffer) >= _FLUSH_AT:
            self._flush()

    def _flush(self) -> None:
        if self._buffer:
            self._hash.update(self._buffer)
            self._out.write(self._buffer)
            self._buffer = bytearray()
