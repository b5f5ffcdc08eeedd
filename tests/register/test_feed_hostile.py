"""Hostile feed values: every column of every feed file gets NUL, control characters,
huge numbers, very long text and bytes that are not UTF-8. Each row ends loaded or
rejected as FILE:LINE: field: reason (exit 2), never as a traceback or a database
error."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import CliResult

Cli = Callable[..., CliResult]
SAMPLE = Path(__file__).parent / "feed_sample"
HOSTILE = {
    "nul": "a\x00b",
    "escape": "a\x1bb",
    "huge": "9" * 5000,
    "not-finite": "1e400",
    "long": "x" * 20_000,
}
NOT_UTF8 = b"\xff\xfe"


def _file(folder: Path, name: str, column: int, value: str | bytes) -> None:
    rows = list(csv.reader(io.StringIO((SAMPLE / name).read_text(encoding="utf-8"))))
    header, row = rows[0], list(rows[1])
    row[column] = "@@HOSTILE@@"
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows([header, row])
    text = out.getvalue().encode("utf-8")
    raw = value if isinstance(value, bytes) else value.encode("utf-8", "surrogatepass")
    (folder / name).write_bytes(text.replace(b"@@HOSTILE@@", raw))


def _columns(name: str) -> list[str]:
    with (SAMPLE / name).open(encoding="utf-8") as f:
        return next(csv.reader(f))


CASES = [
    (name, i, column)
    for name in sorted(p.name for p in SAMPLE.glob("*.csv"))
    for i, column in enumerate(_columns(name))
]


@pytest.mark.parametrize(("name", "index", "column"), CASES, ids=[f"{n}:{c}" for n, _, c in CASES])
def test_a_hostile_value_in_any_column_is_loaded_or_rejected_by_name(
    cli: Cli, tmp_path: Path, name: str, index: int, column: str
) -> None:
    for kind, value in [*HOSTILE.items(), ("not-utf8", NOT_UTF8)]:
        folder = tmp_path / f"{column}-{kind}"
        folder.mkdir()
        _file(folder, name, index, value)

        result = cli("register", "import", str(folder))

        what = f"{name} {column} {kind}: {result.err[-300:]}"
        assert result.code in (0, 2), what
        assert "Traceback" not in result.err, what
        assert "database error" not in result.err, what
        for line in result.err.strip().splitlines():
            assert line.startswith((f"dispatch: {name}:", "dispatch: error: ")), what
