"""Named points in a batch job where a test can inject a fault.

The exactly-once tests must crash a job at a precise step (after the upload, before
it is recorded), stall it (so its lease runs out and another worker takes over), or
change the world in the middle (an objection after rendering, a cancellation between
e-mail chunks). The job calls :func:`reached` at each :data:`Point`; outside tests no
hook is set and it does nothing. A test sets one with :func:`inject`::

    with faults.inject("handed_off", faults.crash):
        ...

A hook may raise :class:`Crash`: a process dying at that point, which runs no
handler (the claim is not released, nothing is recorded).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Literal

#: ``rendered``: a post batch's PDF exists, before the last re-check;
#: ``handed_off``: the batch is complete in the outbox, before it is recorded;
#: ``render``: just before the batch PDF is rendered;
#: ``chunk_sent``: an e-mail chunk's answers are in, before they are recorded
#: (with the next chunk's re-check, or with closing the batch).
Point = Literal["render", "rendered", "handed_off", "chunk_sent"]

_hooks: dict[str, Callable[[], None]] = {}


class Crash(BaseException):
    """The process dies here (not an Exception: nothing should handle it)."""


def crash() -> None:
    raise Crash


def reached(point: Point) -> None:
    """Called by the job at ``point``; runs the hook a test set there, if any."""
    hook = _hooks.get(point)
    if hook is not None:
        hook()


@contextmanager
def inject(point: Point, hook: Callable[[], None]) -> Iterator[None]:
    """Run ``hook`` whenever a job reaches ``point`` inside the ``with`` block."""
    _hooks[point] = hook
    try:
        yield
    finally:
        _hooks.pop(point, None)
