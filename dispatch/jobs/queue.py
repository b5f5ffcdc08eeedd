"""Send messages only once the transaction they depend on has committed.

A job sent before its data is committed may run before the data exists (or after a
rollback, for data that never will); so sends are held on the session and released
by its ``after_commit`` event, or dropped on rollback.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import event
from sqlalchemy.orm import Session

_KEY = "dispatch.jobs.after_commit"


def after_commit(session: Session, send: Callable[[], object]) -> None:
    """Run ``send`` (e.g. ``lambda: actor.send(42)``) when ``session`` commits."""
    if not event.contains(session, "after_commit", _flush):
        # Listeners stay for the session's life (they cannot be removed while the
        # event runs); with nothing pending they do nothing.
        event.listen(session, "after_commit", _flush)
        event.listen(session, "after_rollback", _drop)
    if not session.in_transaction():
        # Held by the transaction that comes: without one begun now, a rollback() is a
        # no-op that fires no event, and the send would leak into the next commit.
        session.begin()
    session.info.setdefault(_KEY, []).append(send)


def _flush(session: Session) -> None:
    for send in session.info.pop(_KEY, []):
        send()


def _drop(session: Session) -> None:
    session.info.pop(_KEY, None)
