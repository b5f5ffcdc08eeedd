"""Fast bulk loading: ``executemany`` on SQLite, ``COPY`` on PostgreSQL.

The ORM costs tens of microseconds per row, which is hours for a register of 3.7
million members with twenty purchase rows each. These loaders write plain tuples
through the driver inside the caller's transaction, so a load that fails part-way
rolls back with everything else. Values are converted with the same SQLAlchemy type
processors the ORM would use, so a bulk-loaded row is byte-for-byte the row the ORM
would have written (dates and UTC timestamps on SQLite are text in a fixed format).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from itertools import islice
from typing import Any, Protocol

from sqlalchemy import Boolean, Connection, Date, Engine, Table, func, inspect, select, text

Row = Sequence[Any]
_Convert = Callable[[Any], Any]


class BulkLoader(Protocol):
    """Appends rows to one table within the connection's current transaction."""

    def insert(self, table: Table, columns: Sequence[str], rows: Iterable[Row]) -> int:
        """Insert ``rows`` (tuples in ``columns`` order); return how many were written."""
        ...


def loader_for(conn: Connection) -> BulkLoader:
    """The fastest loader for the connection's database."""
    if conn.dialect.name == "postgresql":
        return CopyLoader(conn)
    return ExecuteManyLoader(conn)


def _converters(
    conn: Connection, table: Table, columns: Sequence[str]
) -> list[tuple[int, _Convert]]:
    """(position, function) for every column whose values need the dialect's processing."""
    result: list[tuple[int, _Convert]] = []
    for i, name in enumerate(columns):
        typ = table.c[name].type
        proc = typ.dialect_impl(conn.dialect).bind_processor(conn.dialect)
        if proc is None:
            continue
        if isinstance(typ, Date | Boolean):
            # Few distinct values (13 months in a seed): remember each conversion.
            proc = functools.lru_cache(maxsize=4096)(proc)
        result.append((i, proc))
    return result


def _batches(
    rows: Iterable[Row], converters: list[tuple[int, _Convert]], size: int
) -> Iterator[list[Row]]:
    """``rows`` in lists of ``size``, converted a column at a time.

    Converting column-wise with ``map`` keeps the per-row work in C: a Python loop over
    each row's values cost 3 s of a 100,000-member seed (2.4 million rows).
    """
    it = iter(rows)
    while batch := list(islice(it, size)):
        if converters:
            columns = list(zip(*batch, strict=True))
            for i, convert in converters:
                columns[i] = tuple(map(convert, columns[i]))  # processors pass None through
            batch = list(zip(*columns, strict=True))
        yield batch


class ExecuteManyLoader:
    """SQLite (and the fallback for any other database): one prepared INSERT, many rows."""

    def __init__(self, conn: Connection, *, batch_size: int = 20_000) -> None:
        self._conn = conn
        self._batch_size = batch_size
        if conn.dialect.name == "sqlite":
            # The default 2 MB page cache thrashes on a 2-million-row load; 256 MB cut a
            # 100,000-member seed by 5 s (of 41).
            conn.exec_driver_sql("PRAGMA cache_size=-262144")

    def insert(self, table: Table, columns: Sequence[str], rows: Iterable[Row]) -> int:
        dbapi = self._conn.connection.driver_connection
        if dbapi is None:  # pragma: no cover - only for a detached pool connection
            raise RuntimeError("connection has no driver connection")
        paramstyle = self._conn.dialect.paramstyle
        mark = "?" if paramstyle == "qmark" else "%s"
        sql = (
            f"INSERT INTO {table.name} ({', '.join(columns)}) "  # noqa: S608 - names from the schema
            f"VALUES ({', '.join([mark] * len(columns))})"
        )
        converters = _converters(self._conn, table, columns)
        written = 0
        cursor = dbapi.cursor()
        try:
            for batch in _batches(rows, converters, self._batch_size):
                cursor.executemany(sql, batch)
                written += len(batch)
        finally:
            cursor.close()
        return written


class CopyLoader:
    """PostgreSQL: ``COPY … FROM STDIN`` through psycopg 3, streaming row by row."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def insert(self, table: Table, columns: Sequence[str], rows: Iterable[Row]) -> int:
        dbapi = self._conn.connection.driver_connection
        if dbapi is None:  # pragma: no cover - only for a detached pool connection
            raise RuntimeError("connection has no driver connection")
        converters = _converters(self._conn, table, columns)
        sql = f"COPY {table.name} ({', '.join(columns)}) FROM STDIN"
        written = 0
        with dbapi.cursor() as cursor, cursor.copy(sql) as copy:
            for batch in _batches(rows, converters, 10_000):
                for row in batch:
                    copy.write_row(row)
                written += len(batch)
        return written


def _begin_sqlite(conn: Connection) -> None:
    """Make sure SQLite is inside a transaction before DDL.

    Python's sqlite3 module opens a transaction only before INSERT, UPDATE or DELETE,
    so a DROP INDEX issued first would commit on its own and survive a rollback.
    """
    dbapi = conn.connection.driver_connection
    if dbapi is not None and not dbapi.in_transaction:
        conn.exec_driver_sql("BEGIN")


def connection_of(conn: Any) -> Connection:
    """The Connection behind a Session (or the Connection itself)."""
    return conn if isinstance(conn, Connection) else conn.connection()


@contextmanager
def constraints_deferred(
    conn: Connection, tables: Iterable[Table], *, primary_keys: bool = False
) -> Iterator[None]:
    """Build secondary indexes (and on PostgreSQL check foreign keys) once, after a load.

    Row by row, PostgreSQL's foreign-key triggers cost about 10 µs a row and the
    secondary indexes 3 µs, together five times the COPY itself (a 200,000-member
    seed took 92 s with them, 47 s without). On SQLite, growing the purchase index row
    by row costs about 20% more than building it at the end, and emptying a register
    for ``--replace`` is three times faster without it. Like ``pg_restore``, we drop
    them inside the load's transaction and re-create them from their exact definitions
    before it commits: adding a foreign key validates the table in one join, and an
    index built by sorting is cheaper than one grown row by row. Nobody else sees the
    tables without them (the DDL holds an exclusive lock until commit), and a failed
    load rolls the DDL back with the rows. Primary keys and unique constraints stay,
    so duplicates still fail the load; SQLite keeps checking foreign keys per row.

    ``primary_keys``: on PostgreSQL, rebuild the primary keys too, for a load whose
    rows come from a query that cannot repeat a key (a GROUP BY on it) and arrive in
    another order than the key's: inserted row by row into a key much larger than
    shared buffers, 30M rollup rows took over ten minutes.
    """
    names = [t.name for t in tables]
    if conn.dialect.name == "sqlite":
        _begin_sqlite(conn)
        marks = ", ".join("?" * len(names))
        indexes = conn.exec_driver_sql(
            f"SELECT name, sql FROM sqlite_master WHERE type = 'index' "  # noqa: S608
            f"AND sql IS NOT NULL AND tbl_name IN ({marks}) ORDER BY name",
            tuple(names),
        ).all()
        for name, _ in indexes:
            conn.exec_driver_sql(f'DROP INDEX "{name}"')
        yield
        for _, definition in indexes:
            conn.exec_driver_sql(definition)
        return
    if conn.dialect.name != "postgresql":
        yield
        return
    params = {"tables": names, "kinds": ["f", "p"] if primary_keys else ["f"]}
    # Foreign keys after primary keys, so dropped first and added back last.
    constraints = conn.execute(
        text(
            "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) "
            'FROM pg_constraint WHERE contype = ANY(CAST(:kinds AS "char"[])) '
            "AND conrelid = ANY(CAST(:tables AS regclass[])) ORDER BY contype = 'f', 1, 2"
        ),
        params,
    ).all()
    indexes = conn.execute(
        text(
            "SELECT indexrelid::regclass::text, pg_get_indexdef(indexrelid) FROM pg_index "
            "WHERE NOT indisunique AND NOT indisprimary "
            "AND indrelid = ANY(CAST(:tables AS regclass[])) ORDER BY 1"
        ),
        params,
    ).all()
    for table, name, _ in reversed(constraints):
        conn.execute(text(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"'))
    for index, _ in indexes:
        conn.execute(text(f"DROP INDEX {index}"))
    yield
    for _, definition in indexes:
        conn.execute(text(definition))
    for table, name, definition in constraints:
        conn.execute(text(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}'))


def dependents(conn: Connection, names: Iterable[str]) -> list[str]:
    """``names`` plus every table that refers to them (transitively), referrers first.

    Read from the database rather than from our models, so a table added by another
    package (campaign recipients, the audit log) is found even if its module is not
    imported here.
    """
    insp = inspect(conn)
    referrers: dict[str, set[str]] = {}
    for table in insp.get_table_names():
        for fk in insp.get_foreign_keys(table):
            referrers.setdefault(fk["referred_table"], set()).add(table)
    wanted: set[str] = set()
    pending = list(names)
    while pending:
        name = pending.pop()
        if name not in wanted:
            wanted.add(name)
            pending.extend(referrers.get(name, ()))
    order: list[str] = []

    def visit(name: str, path: frozenset[str]) -> None:
        if name in order or name in path:
            return
        for child in sorted(referrers.get(name, set()) & wanted):
            visit(child, path | {name})
        order.append(name)

    for name in sorted(wanted):
        visit(name, frozenset())
    return order


def empty(conn: Connection, names: Iterable[str]) -> list[str]:
    """Delete every row of ``names`` and of the tables that refer to them.

    Returns the tables emptied. On PostgreSQL this is one ``TRUNCATE … RESTART
    IDENTITY`` (seconds even for millions of rows); SQLite deletes referrers first.
    """
    tables = dependents(conn, names)
    if conn.dialect.name == "postgresql":
        quoted = ", ".join(f'"{t}"' for t in tables)
        conn.execute(text(f"TRUNCATE {quoted} RESTART IDENTITY"))
    else:
        for table in tables:
            conn.execute(text(f'DELETE FROM "{table}"'))  # noqa: S608 - names from the database
    return tables


def reset_sequences(conn: Connection, tables: Iterable[Table]) -> None:
    """After loading explicit ids on PostgreSQL, move each id sequence past the highest id.

    Otherwise the next row inserted normally (a member from the feed, a consent change)
    would be given an id that is already taken.
    """
    if conn.dialect.name != "postgresql":
        return  # SQLite's INTEGER PRIMARY KEY always continues after the highest id
    for table in tables:
        pk = list(table.primary_key.columns)
        if len(pk) != 1:
            continue
        column = pk[0].name
        highest = f'COALESCE((SELECT MAX("{column}") FROM "{table.name}"), 0) + 1'  # noqa: S608
        conn.execute(
            text(f"SELECT setval(pg_get_serial_sequence(:table, :column), {highest}, false)"),
            {"table": table.name, "column": column},
        )


def analyze(conn: Connection, tables: Iterable[Table]) -> None:
    """Refresh planner statistics after a bulk load (PostgreSQL only; cheap there)."""
    if conn.dialect.name == "postgresql":
        for table in tables:
            conn.execute(text(f'ANALYZE "{table.name}"'))


def vacuum(engine: Engine, tables: Iterable[Table], *, rewrite: Iterable[Table] = ()) -> None:
    """VACUUM (ANALYZE) after a committed bulk load (PostgreSQL only).

    A freshly loaded table has an empty visibility map, so PostgreSQL cannot answer
    from an index alone and reads the whole heap: at 79M purchase rows that made a
    segment count about 7 s instead of well under one. Autovacuum would fix it
    eventually, but it may be slow or (as on this machine) switched off. VACUUM
    cannot run inside a transaction, hence the separate autocommit connection.

    ``rewrite``: tables whose every row the load updated after inserting it, so that
    half their pages hold dead rows that every scan would read: VACUUM FULL writes
    them anew, packed (``member_facts`` after the seed's activity bits, 10 s at 3.7M).
    """
    if engine.dialect.name != "postgresql":
        return
    full = {t.name for t in rewrite}
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        for table in tables:
            options = "FULL, ANALYZE" if table.name in full else "ANALYZE"
            conn.execute(text(f'VACUUM ({options}) "{table.name}"'))


def count_rows(conn: Connection, tables: Iterable[Table]) -> dict[str, int]:
    return {t.name: conn.execute(select(func.count()).select_from(t)).scalar_one() for t in tables}
