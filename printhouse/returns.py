"""Returned mail: the print house's CSV, checked row by row before anything is sent.

Every row is checked and every bad one reported (file, line, field and what is wrong,
in words), so that one run shows all there is to fix; nothing is sent while any row
is bad. A letter is known by its batch and its sequence number in that batch, so the
number must be one the batch has, which the batch's manifest tells.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass

from dispatch import batchformat as bf

COLUMNS = ("batch_id", "sequence_no", "reason")
_REASONS = ", ".join(sorted(bf.RETURN_REASONS))


class ReturnsFileError(ValueError):
    """A returns CSV is malformed; ``problems`` holds one line per problem."""

    def __init__(self, problems: list[str], summary: str) -> None:
        super().__init__(summary)
        self.problems = problems


@dataclass(frozen=True)
class Row:
    """One checked row: the letter and the line it was written on."""

    line: int
    letter: bf.ReturnedLetter


def _sequence_no(value: str) -> int | str:
    """The sequence number, or what is wrong with it (in words, not int()'s)."""
    text = value.strip()
    if not text:
        return "missing (the letter's number in its batch, 1 for the first)"
    if not text.isdigit():
        return f"{text!r} is not a whole number (the letter's number in its batch)"
    number = int(text)
    if number < 1:
        return "must be 1 or more (the first letter of a batch is 1)"
    return number


def _row_problems(row: dict[str, str]) -> list[tuple[str, str]]:
    """(field, problem) for each bad field of a row with the right number of columns."""
    found = []
    batch_id = row["batch_id"].strip()
    try:
        bf.validate_batch_id(batch_id)
    except bf.BatchFormatError:
        what = "missing" if not batch_id else f"{batch_id!r} is not a batch id"
        found.append(("batch_id", f"{what} (letters, digits, - and _, at most 64)"))
    sequence_no = _sequence_no(row["sequence_no"])
    if isinstance(sequence_no, str):
        found.append(("sequence_no", sequence_no))
    reason = row["reason"].strip()
    if reason not in bf.RETURN_REASONS:
        what = "missing" if not reason else f"{reason!r} is not a return reason"
        found.append(("reason", f"{what}; use one of {_REASONS}"))
    return found


def check_returns_csv(
    text: str, where: str, letter_count: Callable[[str], int | None]
) -> list[Row]:
    """The returned letters of a ``batch_id,sequence_no,reason`` CSV (with that header).

    ``letter_count(batch_id)`` is the batch's letter count from its manifest, or None
    when no manifest of the batch can be found: a letter of an unknown batch, or with
    a sequence number its batch does not have, is refused like a malformed row.
    Raises :class:`ReturnsFileError` listing every problem, in line order.
    """
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if tuple(name.strip() for name in header or ()) != COLUMNS:
        problem = f"{where}:1: header must be {','.join(COLUMNS)}"
        raise ReturnsFileError([problem], f"{where}: not a returns file; nothing reported")
    rows: list[Row] = []
    problems: list[tuple[int, str]] = []
    first_seen: dict[tuple[str, int], int] = {}
    for values in reader:
        line = reader.line_num
        if not values:
            continue  # a blank line
        if len(values) != len(COLUMNS):
            problems.append(
                (line, f"expected {len(COLUMNS)} columns ({','.join(COLUMNS)}), got {len(values)}")
            )
            continue
        row = dict(zip(COLUMNS, values, strict=True))
        bad = _row_problems(row)
        problems.extend((line, f"{field}: {problem}") for field, problem in bad)
        if bad:
            continue
        letter = bf.ReturnedLetter(
            row["batch_id"].strip(), int(row["sequence_no"].strip()), row["reason"].strip()
        )
        key = (letter.batch_id, letter.sequence_no)
        if key in first_seen:
            problems.append(
                (
                    line,
                    f"letter {letter.sequence_no} of batch {letter.batch_id} is reported twice "
                    f"(first on line {first_seen[key]})",
                )
            )
            continue
        first_seen[key] = line
        rows.append(Row(line, letter))
    problems.extend(_outside_batches(rows, letter_count))
    if problems:
        found = [f"{where}:{line}: {problem}" for line, problem in sorted(problems)]
        n = len(found)
        raise ReturnsFileError(
            found, f"{where}: {n} problem{'s' if n > 1 else ''}; nothing reported"
        )
    if not rows:
        raise ReturnsFileError([f"{where}: no returned letters"], f"{where}: nothing reported")
    return rows


def _outside_batches(
    rows: list[Row], letter_count: Callable[[str], int | None]
) -> list[tuple[int, str]]:
    """Letters of unknown batches, and sequence numbers beyond their batch's letters."""
    counts: dict[str, int | None] = {}
    problems = []
    for row in rows:
        batch_id, number = row.letter.batch_id, row.letter.sequence_no
        if batch_id not in counts:
            counts[batch_id] = letter_count(batch_id)
        count = counts[batch_id]
        if count is None:
            problems.append(
                (row.line, f"batch_id: no batch {batch_id!r} in the outbox or the spool")
            )
        elif number > count:
            has = f"batch {batch_id} has {count} letters"
            problems.append((row.line, f"sequence_no: {has}; there is no letter {number}"))
    return problems
