"""Returned mail: the print house's CSV, checked row by row before anything is sent."""

from __future__ import annotations

import csv
import io

from dispatch import batchformat as bf

COLUMNS = ("batch_id", "sequence_no", "reason")


class ReturnsFileError(ValueError):
    """A returns CSV is malformed; the message names the line."""


def parse_returns_csv(text: str, where: str) -> list[bf.ReturnedLetter]:
    """Parse ``batch_id,sequence_no,reason`` rows (with that header line)."""
    reader = csv.DictReader(io.StringIO(text))
    if tuple(reader.fieldnames or ()) != COLUMNS:
        raise ReturnsFileError(f"{where}:1: header must be {','.join(COLUMNS)}")
    letters = []
    seen = set()
    for row in reader:
        line = reader.line_num
        if None in row or any(v is None for v in row.values()):
            raise ReturnsFileError(f"{where}:{line}: expected {len(COLUMNS)} columns")
        try:
            sequence_no = int(row["sequence_no"].strip())
            letter = bf.ReturnedLetter(row["batch_id"].strip(), sequence_no, row["reason"].strip())
        except ValueError as exc:
            # int() and BatchFormatError (a ValueError) both land here.
            raise ReturnsFileError(f"{where}:{line}: {exc}") from exc
        if (letter.batch_id, letter.sequence_no) in seen:
            raise ReturnsFileError(f"{where}:{line}: letter reported twice")
        seen.add((letter.batch_id, letter.sequence_no))
        letters.append(letter)
    if not letters:
        raise ReturnsFileError(f"{where}: no returned letters")
    return letters
