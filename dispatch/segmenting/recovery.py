"""The criteria of a segment file whose YAML does not parse, for the reference check.

A YAML syntax error stops the parser: without help, ``dispatch segment check`` could
only say where the YAML breaks, and a misspelt product group further down would show
up only in the next run. Here the line the parser stops at is blanked (it becomes an
empty line, so every other line keeps its number) and the text parsed again, a few
times over; the criteria of what then parses are checked against the register. Only
their names are used: the file's own problems are the parser's, already reported.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from dispatch.segmenting import spec
from dispatch.segmenting.tree import Criterion

#: Lines blanked at most: a file broken in more places than this is left as it is.
MAX_BLANKED = 20


def _breaks_at(text: str) -> tuple[int | None, int | None] | None:
    """(problem line, context line) of the first YAML syntax error, or None (parses)."""
    try:
        for _ in yaml.parse(text, Loader=yaml.SafeLoader):
            pass
    except yaml.MarkedYAMLError as exc:
        problem, context = exc.problem_mark, exc.context_mark
        return (problem.line if problem else None, context.line if context else None)
    return None


def criteria(path: Path | str) -> tuple[Criterion, ...]:
    """The criteria readable once the lines that break the YAML are blanked; none when
    the file cannot be read, parses as it is, or stays broken."""
    try:
        raw = Path(path).read_bytes()
        if len(raw) > spec.MAX_FILE_BYTES:
            return ()
        lines = raw.decode("utf-8").splitlines(keepends=True)
    except (OSError, UnicodeDecodeError):
        return ()
    blanked = 0
    while (found := _breaks_at("".join(lines))) is not None:
        # Where the parser gave up, or, past the end (an unclosed quote or bracket),
        # where the construct it was reading began.
        candidates = [n for n in found if n is not None and 0 <= n < len(lines)]
        line = next((n for n in candidates if lines[n].strip()), None)
        if line is None or blanked == MAX_BLANKED:
            return ()
        lines[line] = "\n"
        blanked += 1
    if not blanked:
        return ()
    return spec.parse_all("".join(lines), str(path)).criteria
