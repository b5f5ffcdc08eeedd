"""Messages wait for the transaction they depend on (dispatch.jobs.queue)."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from dispatch.db.engine import session_scope
from dispatch.jobs.queue import after_commit


def test_send_runs_only_after_the_commit(engine: Engine) -> None:
    sent: list[str] = []
    with session_scope(engine) as session:
        after_commit(session, lambda: sent.append("snapshot"))
        session.flush()
        assert sent == []  # nothing leaves while the transaction is open
    assert sent == ["snapshot"]


def test_send_is_dropped_on_rollback(engine: Engine) -> None:
    sent: list[str] = []
    with pytest.raises(RuntimeError), session_scope(engine) as session:
        after_commit(session, lambda: sent.append("snapshot"))
        raise RuntimeError("the work failed")
    assert sent == []


def test_each_commit_sends_its_own_messages_once(engine: Engine) -> None:
    sent: list[int] = []
    with Session(engine) as session:
        after_commit(session, lambda: sent.append(1))
        after_commit(session, lambda: sent.append(2))
        session.commit()
        session.commit()  # a later commit does not send the earlier ones again
        after_commit(session, lambda: sent.append(3))
        session.rollback()
        session.commit()
    assert sent == [1, 2]
