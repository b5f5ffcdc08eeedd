"""``dispatch register import DIR``: load the loyalty data warehouse's CSV feed.

The feed is a folder of CSV files, each optional, loaded in dependency order (stores
and product groups before members, members before their purchases and consents).
The format is documented for the warehouse team in ``docs/feed.md``.

Two levels of failure, each with its own guarantee:

- **A bad row** (a malformed value, an unknown card number, a store that is not a
  restaurant) is reported as ``FILE:LINE: field: reason``, one line per problem and
  every problem of the row, and skipped; the good rows of the file load.
- **A bad file** (wrong header, undecodable bytes, a database error part-way) loads
  nothing: each file is one transaction, so the register is exactly as it was before
  that file. Files already loaded stay loaded; later files still load.

Rows are read, checked and written in batches, so memory stays flat for a feed with
millions of rows.
"""

from __future__ import annotations

import codecs
import csv
import logging
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from dispatch.db.engine import open_session
from dispatch.errors import DispatchError, InputError
from dispatch.register.feed_activity import (
    BonusPurchasesFile,
    ConsentsFile,
    PurchasesFile,
    RestaurantVisitsFile,
    SuppressionsFile,
    WebInterestsFile,
)
from dispatch.register.feed_fields import Bad, problems_of
from dispatch.register.feed_files import (
    FeedFile,
    HouseholdsFile,
    MembersFile,
    ProductGroupsFile,
    StoresFile,
)

log = logging.getLogger(__name__)

#: The files of the feed, in the order they load (referenced data first).
FILES: tuple[type[FeedFile], ...] = (
    StoresFile,
    ProductGroupsFile,
    HouseholdsFile,
    MembersFile,
    PurchasesFile,
    BonusPurchasesFile,
    RestaurantVisitsFile,
    WebInterestsFile,
    ConsentsFile,
    SuppressionsFile,
)
BATCH_ROWS = 2000
#: Rejected rows listed per file; beyond this only a count (a feed of garbage should not
#: fill the terminal with millions of lines or the memory with their messages).
MAX_PROBLEMS_PER_FILE = 10_000


@dataclass
class FileReport:
    file: str
    loaded: int = 0
    rejected: int = 0
    unchanged: int = 0
    failed: str | None = None  # why nothing of this file was loaded


@dataclass
class FeedReport:
    files: list[FileReport] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)  # CSV files that are not feed files
    problems: list[DispatchError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict[str, Any]:
        return {
            "files": [asdict(f) for f in self.files],
            "loaded": sum(f.loaded for f in self.files),
            "rejected": sum(f.rejected for f in self.files),
            "ignored": list(self.ignored),
            "problems": [str(p) for p in self.problems],
        }


class FileFailed(Exception):
    """The file as a whole cannot be loaded (its header, its bytes, its CSV syntax)."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line


def import_feed(
    engine: Engine, directory: Path, *, secret_key: str, batch_rows: int = BATCH_ROWS
) -> FeedReport:
    """Load every feed file found in ``directory``; report what loaded and what did not."""
    if not directory.is_dir():
        raise InputError("not a directory", where=str(directory))
    known = {spec.name: spec for spec in FILES}
    report = FeedReport()
    present = sorted(p.name for p in directory.iterdir() if p.suffix.lower() == ".csv")
    for name in present:
        if name not in known:
            report.ignored.append(name)
            report.problems.append(
                InputError(f"not a feed file (expected {', '.join(known)})", where=name)
            )
    if not any(name in known for name in present):
        raise InputError(
            f"no feed files here (expected any of {', '.join(known)})", where=str(directory)
        )
    for spec in FILES:
        path = directory / spec.name
        if path.is_file():
            report.files.append(
                _load_file(engine, spec, path, secret_key, batch_rows, report.problems)
            )
    return report


def _lines(path: Path) -> Iterator[str]:
    """The file's lines, decoded one by one so a bad byte is reported with its line."""
    decoder = codecs.getincrementaldecoder("utf-8-sig")()
    number = 0
    with path.open("rb") as fh:
        try:
            for number, raw in enumerate(fh, start=1):  # noqa: B007 - read after the loop
                yield decoder.decode(raw)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError as exc:
            raise FileFailed(f"not UTF-8 text ({exc.reason})", number) from None


def _records(path: Path) -> Iterator[tuple[int, list[str]]]:
    """(line number, cells) per CSV record; a record may span lines inside quotes."""
    reader = csv.reader(_lines(path), strict=True)
    line = 1
    try:
        for cells in reader:
            yield line, cells
            line = reader.line_num + 1
    except csv.Error as exc:
        raise FileFailed(f"not valid CSV: {exc}", reader.line_num) from None


def _header(spec: type[FeedFile], cells: list[str]) -> list[str]:
    columns = [c.strip() for c in cells]
    allowed = (*spec.required, *spec.optional)
    missing = [c for c in spec.required if c not in columns]
    unknown = [c for c in columns if c not in allowed]
    twice = sorted({c for c in columns if columns.count(c) > 1})
    reasons = []
    if missing:
        reasons.append(f"missing column(s) {', '.join(missing)}")
    if unknown:
        reasons.append(f"unknown column(s) {', '.join(unknown)} (allowed: {', '.join(allowed)})")
    if twice:
        reasons.append(f"column(s) named twice: {', '.join(twice)}")
    if reasons:
        raise FileFailed("header: " + "; ".join(reasons), 1)
    return columns


def _load_file(
    engine: Engine,
    spec: type[FeedFile],
    path: Path,
    secret_key: str,
    batch_rows: int,
    problems: list[DispatchError],
) -> FileReport:
    """Load one file in one transaction; on any failure of the file, roll it all back."""
    report = FileReport(spec.name)
    rows: list[DispatchError] = []  # row problems, in line order
    listed = 0  # rejected rows whose problems are in ``rows``
    where = spec.name

    def reject(line: int, problems: list[Bad]) -> None:
        nonlocal listed
        report.rejected += 1
        if listed < MAX_PROBLEMS_PER_FILE:
            listed += 1
            rows.extend(InputError(str(bad), where=f"{spec.name}:{line}") for bad in problems)

    try:
        with open_session(engine) as session, session.begin():
            _load_rows(session, spec, secret_key, path, batch_rows, report, reject)
    except FileFailed as exc:
        report.failed = exc.message
        where = f"{spec.name}:{exc.line}" if exc.line else spec.name
    except SQLAlchemyError as exc:
        report.failed = "database error: " + str(getattr(exc, "orig", None) or exc).strip()
        report.failed = report.failed.splitlines()[0]
    except OSError as exc:
        report.failed = f"cannot read: {exc.strerror}"
    problems.extend(rows)
    if report.rejected > listed:
        hidden = report.rejected - listed
        problems.append(InputError(f"{hidden} more rejected rows not listed", where=spec.name))
    if report.failed:
        # The transaction rolled back: whatever the batches had written is gone.
        report.loaded = report.unchanged = 0
        problems.append(InputError(f"{report.failed}; nothing loaded from this file", where=where))
        log.warning("feed %s: nothing loaded: %s", spec.name, report.failed)
    log.info("feed %s: %d loaded, %d rejected", spec.name, report.loaded, report.rejected)
    return report


def _load_rows(
    session: Session,
    spec: type[FeedFile],
    secret_key: str,
    path: Path,
    batch_rows: int,
    report: FileReport,
    reject: Callable[[int, list[Bad]], None],
) -> None:
    """Check the header, then parse, check and write the rows batch by batch."""
    records = _records(path)
    first = next(records, None)
    if first is None:
        raise FileFailed("empty file: expected a header line", 1)
    columns = _header(spec, first[1])
    loader = spec(secret_key=secret_key, columns=columns)
    loader.begin(session)
    while batch := list(islice(records, batch_rows)):
        parsed, bad_rows, unparsed = [], [], []
        for line, cells in batch:
            if not any(c.strip() for c in cells):
                continue  # a blank line
            if len(cells) != len(columns):
                reason = f"has {len(cells)} fields, the header {len(columns)}"
                bad_rows.append((line, Bad("row", reason)))
                continue
            row = dict(zip(columns, cells, strict=True))
            try:
                parsed.append((line, loader.parse(row)))
            except Bad as bad:
                bad_rows.append((line, bad))
                unparsed.append((line, row))
        outcome = loader.load(session, parsed)
        # A row rejected for its cells is still checked for its references: the
        # operator reads every problem of the row in one run.
        found = [*bad_rows, *outcome.rejected, *loader.unresolved(session, unparsed)]
        by_line: dict[int, list[Bad]] = {}
        for line, problem in found:
            by_line.setdefault(line, []).extend(problems_of(problem))
        for line in sorted(by_line):
            reject(line, by_line[line])
        report.loaded += outcome.loaded
        report.unchanged += outcome.unchanged
