"""Fitting personal text into its reserved box: shrink, then wrap, never clip.

A box holds one or more logical lines (an address has three or four, a first name
one). The rule, deterministic so that the same input always prints the same way:

1. the largest size from ``size`` down to ``min_size`` (in :data:`STEP` steps) at
   which every line fits the width on one line and all lines fit the height;
2. otherwise the largest such size at which each overlong line, broken once at the
   space or hyphen that balances the two halves best, fits;
3. otherwise :class:`TextDoesNotFit`: a letter is never printed with text cut off.

Lines are :data:`LEADING` times the size apart; the first baseline is one size below
the top of the box (the same geometry the layout gives a placeholder box).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from dispatch.errors import InputError
from dispatch.rendering.fonts import StampFont

STEP = 0.25
LEADING = 1.2
_EPSILON = 1e-6


class TextDoesNotFit(InputError):
    """Personal text too long for its box even at the minimum size on two lines.

    The message names the box and the text's length, never the text itself.
    """


@dataclass(frozen=True, slots=True)
class Fitted:
    size: float
    lines: tuple[str, ...]


def _floor(size: float) -> float:
    return math.floor(size / STEP + _EPSILON) * STEP


def _best_split(font: StampFont, line: str) -> tuple[str, str] | None:
    best: tuple[int, str, str] | None = None
    for i, ch in enumerate(line):
        if ch == " ":
            head, tail = line[:i], line[i + 1 :]
        elif ch == "-" and 0 < i < len(line) - 1:
            head, tail = line[: i + 1], line[i + 1 :]
        else:
            continue
        if not head.strip() or not tail.strip():
            continue
        widest = max(font.width(head), font.width(tail))
        if best is None or widest < best[0]:
            best = (widest, head, tail)
    return None if best is None else (best[1], best[2])


def fit_lines(
    lines: Sequence[str],
    font: StampFont,
    *,
    width: float,
    height: float,
    size: float,
    min_size: float,
    what: str = "text",
) -> Fitted:
    """Choose the size and line breaks for ``lines`` in a ``width`` x ``height`` box."""
    lines = tuple(line for line in lines if line)
    if not lines:
        return Fitted(size, ())
    widths = [font.width(line) for line in lines]
    widest = max(widths)
    by_width = width * 1000 / widest if widest else size
    by_height = height / (len(lines) * LEADING)
    single = _floor(min(size, by_width, by_height))
    if single >= min_size - _EPSILON:
        return Fitted(single, lines)

    splits: dict[str, tuple[str, str] | None] = {}
    candidate = _floor(size)
    while candidate >= min_size - _EPSILON:
        wrapped = _wrap(lines, widths, splits, font, width, candidate)
        if wrapped is not None and len(wrapped) * LEADING * candidate <= height + _EPSILON:
            return Fitted(candidate, wrapped)
        candidate -= STEP
    longest = max(len(line) for line in lines)
    raise TextDoesNotFit(
        f"{what} ({longest} characters on its longest line) does not fit its "
        f"{width:.0f} x {height:.0f} pt box even at {min_size:g} pt on two lines",
        where=what,
    )


def _wrap(
    lines: Sequence[str],
    widths: Sequence[int],
    splits: dict[str, tuple[str, str] | None],
    font: StampFont,
    width: float,
    size: float,
) -> tuple[str, ...] | None:
    limit = width * 1000 / size + _EPSILON
    out: list[str] = []
    for line, w in zip(lines, widths, strict=True):
        if w <= limit:
            out.append(line)
            continue
        if line not in splits:
            splits[line] = _best_split(font, line)
        split = splits[line]
        if split is None or max(font.width(split[0]), font.width(split[1])) > limit:
            return None
        out.extend(split)
    return tuple(out)
