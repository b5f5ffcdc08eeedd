"""Where PostgreSQL and SQLite need different SQL for the same question."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import BigInteger, ColumnElement, String, Text, any_, bindparam, cast, func, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session


def is_postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def bigint_array(values: Sequence[int], name: str | None = None) -> ColumnElement[Any]:
    """A ``bigint[]`` parameter for PostgreSQL, sent as the text of an array literal
    (``{1,2,3}``) and cast in the statement. psycopg dumps a list element by element in
    Python: a chunk's id and digest arrays were 6 % of an e-mail worker's CPU
    (bench/HISTORY.md); one string is made and sent at C speed. A statement built once
    and run for many lists takes ``values`` empty and a name, and each list's
    :func:`int_array_literal` under that name at execution."""
    return cast(bindparam(name, int_array_literal(values), type_=Text), ARRAY(BigInteger))


def int_array_literal(values: Sequence[int]) -> str:
    """PostgreSQL's text of a one-dimensional array of whole numbers."""
    return "{" + ",".join(map(str, map(int, values))) + "}"


def array_literal(values: Sequence[str]) -> str:
    """PostgreSQL's text of a one-dimensional array of ``values``; every element is
    quoted, so an empty string, ``NULL`` or a comma stay what they are."""
    joined = '","'.join(values)
    if '"' in joined or "\\" in joined:
        joined = '","'.join(v.replace("\\", "\\\\").replace('"', '\\"') for v in values)
    return '{"' + joined + '"}' if values else "{}"


def text_array(values: Sequence[str], name: str | None = None) -> ColumnElement[Any]:
    """A ``varchar[]`` parameter for PostgreSQL, as :func:`bigint_array`."""
    return cast(bindparam(name, array_literal(values), type_=Text), ARRAY(String))


def among(session: Session, column: Any, ids: Sequence[int]) -> ColumnElement[bool]:
    """``column IN ids``; on PostgreSQL ``column = ANY(:ids)``, one array parameter,
    so the statement is compiled and converted once rather than per list length (that
    was most of the CPU of marking a chunk of e-mails)."""
    if is_postgres(session):
        return column == any_(bigint_array(ids))  # type: ignore[no-any-return]
    return column.in_(ids)  # type: ignore[no-any-return]


def among_joined(session: Session, column: Any, ids: Sequence[int]) -> ColumnElement[bool]:
    """``column IN ids`` as a join: on PostgreSQL ``column = ids.id`` with ``ids`` an
    unnest() of one array parameter, which a statement then reads as a table (an
    UPDATE's FROM), so the planner can hash the ids instead of searching the array for
    each row as ``= ANY`` does; on SQLite ``IN``, as :func:`among`."""
    if not is_postgres(session):
        return column.in_(ids)  # type: ignore[no-any-return]
    table = func.unnest(bigint_array(ids)).table_valued("id").render_derived()
    return column == table.c.id  # type: ignore[no-any-return]


@contextmanager
def probing(session: Session) -> Iterator[None]:
    """On PostgreSQL, plan the next statements with nested loops and index probes only.

    The re-check asks about a few hundred members, but the planner hashes the whole
    of each consent and suppression set it anti-joins against (e.g. every refusal of
    partner post in the register). Probing per member instead: 30 -> 10 ms for 200
    members on a 400,000-member register, and it does not grow with the register.
    """
    with planning_without(session, "hashjoin", "mergejoin"):
        yield


@contextmanager
def planning_without(session: Session, *methods: str) -> Iterator[None]:
    """On PostgreSQL, plan the next statements without the plan ``methods`` (the
    ``enable_<method>`` settings: ``"nestloop"``, ``"hashjoin"``...), for a statement
    whose good plan the row estimates cannot be trusted to find. Transaction-local,
    and put back afterwards as they were (so it nests).

    One statement each way: it reads the settings and turns them off together
    (``pg_settings`` is read whole before the select list runs), and puts them back
    together. Read and set one by one, a re-check took six statements around its
    one query."""
    if not is_postgres(session):
        yield
        return
    names = array_literal([f"enable_{method}" for method in methods])
    before = session.execute(_SWITCH_OFF, {"names": names}).all()
    yield
    session.execute(
        _PUT_BACK,
        {
            "names": array_literal([row.name for row in before]),
            "settings": array_literal([row.setting for row in before]),
        },
    )


_SWITCH_OFF = text(
    "SELECT name, setting, set_config(name, 'off', true) FROM pg_settings"
    " WHERE name = ANY(CAST(:names AS text[]))"
)
_PUT_BACK = text(
    "SELECT set_config(name, setting, true)"
    " FROM unnest(CAST(:names AS text[]), CAST(:settings AS text[])) AS t(name, setting)"
)
