"""Activity bits: which kinds of behaviour a member has any rows of, in ``member_facts``.

A segment with a behaviour criterion joins the members it matched with every one of
the 3.7 million ``member_facts`` rows, and at that size the join, not the scan, is
most of a count: 0.65 s for bicycle browsers, of which 0.22 s is the scan
(bench/RESULTS.md). Two columns of ``member_facts`` say cheaply which members *could*
match a behaviour criterion, so that the scan drops the others before the join:

- ``purchased_groups_0`` and ``purchased_groups_1``: a bit for every product group the
  member has a ``purchase_rollups`` row of (the group or one of its descendants bought
  within the rollup window): group ``g`` is bit ``g % 63`` of column ``g % 126 // 63``,
  so the first 126 group ids have a bit of their own;
- ``activity``: a bit per web-shop category the member has a ``web_interests`` row of
  (:data:`WEB_BITS`, any other category :data:`OTHER_WEB`), and :data:`VISITED` when the
  member has any ``restaurant_visits`` row.

The bits are exact (:func:`drift` checks it), but the compiler uses them only as a
necessary condition next to the criterion itself, which stays the truth: a member who
matches "browsed bicycles within 90 days" has a bicycles row, so has the bit. Groups
past the 126th share bits, which only lets more members through to the join (but
see bench/RESULTS.md: in one column, baby products shared the bit of fuel, and the
filter let 1.5M members through instead of 0.35M).

Unlike ``member_facts``' own columns, they are derived from three behaviour tables,
so they are kept in step by the code that writes those tables, in the same
transaction: :func:`refresh` after the rollups change (``rollups.rebuild`` and
``rollups.after_purchases``), after a visits or web-interests feed, after erasure,
and by the seed (through the rollup rebuild). A new writer of these tables must call
it too; the tests run :func:`drift` after each kind of write.
"""

from __future__ import annotations

import typing
from collections.abc import Iterable
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Integer,
    Select,
    Table,
    case,
    cast,
    exists,
    func,
    literal,
    or_,
    select,
    union_all,
    update,
)

from dispatch.register import bulk, catalog
from dispatch.register.models import (
    MemberFacts,
    RestaurantVisit,
    WebInterest,
    purchase_rollups,
)

#: Bits per ``purchased_groups_<n>`` column (bit 63 is left unused, so that every bit
#: is a positive 64-bit integer on both backends), and the columns.
GROUP_BITS = 63
GROUP_COLUMNS = ("purchased_groups_0", "purchased_groups_1")

#: Bits of ``activity`` for the feed's web-shop categories, in catalogue order.
WEB_BITS = {category: 1 << i for i, category in enumerate(catalog.WEB_CATEGORIES)}
#: Any other web category (the feed refuses them, but the table does not).
OTHER_WEB = 1 << 14
#: Any restaurant visit.
VISITED = 1 << 15

_COLUMNS = (*GROUP_COLUMNS, "activity")
_CHUNK = 5000
_BEHAVIOUR = (purchase_rollups, WebInterest.__table__, RestaurantVisit.__table__)
_FACTS = typing.cast(Table, MemberFacts.__table__)


def group_bit(group_id: int) -> tuple[str, int]:
    """The column and bit of product group ``group_id``."""
    column = group_id % (GROUP_BITS * len(GROUP_COLUMNS)) // GROUP_BITS
    return GROUP_COLUMNS[column], 1 << (group_id % GROUP_BITS)


def web_bit(category: str) -> int:
    return WEB_BITS.get(category, OTHER_WEB)


def _any(column: ColumnElement[int], bit: int) -> ColumnElement[bool]:
    """NULL-free (the columns are NOT NULL): ``(column & bit) > 0``, bits being positive.

    Not ``= bit``: PostgreSQL makes an equivalence class of ``expr = constant`` and
    tests it after every other condition of the scan, so each of the 3.7M rows paid
    for the policy's tests first (0.38 → 0.50 s for nordic-air-travellers). Not
    ``<> 0`` either: PostgreSQL estimates it to pass 199 rows in 200, and planned the
    members who pass as the larger side of the join; ``>`` is estimated at one in
    three, nearer the truth (a tenth to a third).
    """
    value = literal(bit, column.type, literal_execute=True)
    return column.op("&")(value) > literal(0, column.type, literal_execute=True)


def may_have_bought(group_id: int) -> ColumnElement[bool]:
    """Necessary for a rollup row of ``group_id``: its bit."""
    column, bit = group_bit(group_id)
    return _any(_FACTS.c[column], bit)


def may_have_browsed(category: str) -> ColumnElement[bool]:
    """Necessary for a ``web_interests`` row of ``category``."""
    return _any(_FACTS.c.activity, web_bit(category))


def may_have_visited() -> ColumnElement[bool]:
    """Necessary for any ``restaurant_visits`` row."""
    return _any(_FACTS.c.activity, VISITED)


def _web_bit_of(category: Any) -> ColumnElement[int]:
    return case(
        *[(category == name, literal(bit, BigInteger)) for name, bit in WEB_BITS.items()],
        else_=literal(OTHER_WEB, BigInteger),
    )


def _computed(dialect: str, member_ids: list[int] | None) -> Select[Any]:
    """(member_id, *GROUP_COLUMNS, activity) from the behaviour tables, for the members
    that have any behaviour row (of ``member_ids`` when given)."""
    r, w, v = purchase_rollups, WebInterest, RestaurantVisit
    zero = literal(0, BigInteger)
    group = r.c.product_group_id
    bit = cast(literal(1), BigInteger).op("<<")(group % GROUP_BITS)
    in_column = [
        case((group % (GROUP_BITS * len(GROUP_COLUMNS)) // GROUP_BITS == i, bit), else_=zero)
        for i in range(len(GROUP_COLUMNS))
    ]
    zeros = [zero] * len(GROUP_COLUMNS)
    parts = [
        select(
            r.c.member_id.label("member_id"),
            *[b.label(f"g{i}") for i, b in enumerate(in_column)],
            zero.label("a"),
        ),
        select(w.member_id, *zeros, _web_bit_of(w.category)),
        select(v.member_id, *zeros, literal(VISITED, BigInteger)).group_by(v.member_id),
    ]
    if member_ids is not None:
        parts = [part.where(part.selected_columns.member_id.in_(member_ids)) for part in parts]
    rows = union_all(*parts).subquery("behaviour")

    def fold(bits: Any) -> ColumnElement[int]:
        # SQLite has no bit_or; a sum of the distinct single bits is the same number.
        folded = func.bit_or(bits) if dialect == "postgresql" else func.sum(bits.distinct())
        return cast(func.coalesce(folded, 0), BigInteger)

    return select(
        rows.c.member_id,
        *[fold(rows.c[f"g{i}"]).label(name) for i, name in enumerate(GROUP_COLUMNS)],
        cast(fold(rows.c.a), Integer).label("activity"),
    ).group_by(rows.c.member_id)


def refresh(conn: Any, member_ids: Iterable[int] | None = None) -> None:
    """Recompute the bits of these members (of every member when None), writing only
    the rows that change. ``conn``: a Session or a Connection."""
    dialect = bulk.connection_of(conn).dialect.name
    if member_ids is None:
        _refresh(conn, dialect, None)
        return
    ids = sorted(set(member_ids))
    for start in range(0, len(ids), _CHUNK):
        _refresh(conn, dialect, ids[start : start + _CHUNK])


def _refresh(conn: Any, dialect: str, ids: list[int] | None) -> None:
    f = _FACTS
    computed = _computed(dialect, ids).subquery("computed")
    conn.execute(
        update(f)
        .where(
            f.c.id == computed.c.member_id,
            or_(*[f.c[name] != computed.c[name] for name in _COLUMNS]),
        )
        .values({name: computed.c[name] for name in _COLUMNS})
    )
    # Members with no behaviour row at all (any more): no bits. NOT EXISTS per table
    # (anti-joins), not NOT IN over millions of ids, which PostgreSQL would rescan.
    where = [
        or_(*[f.c[name] != 0 for name in _COLUMNS]),
        *[~exists().where(table.c.member_id == f.c.id) for table in _BEHAVIOUR],
    ]
    if ids is not None:
        where.append(f.c.id.in_(ids))
    conn.execute(update(f).where(*where).values(dict.fromkeys(_COLUMNS, 0)))


def drift(conn: Any) -> list[int]:
    """Ids of members whose bits differ from their behaviour rows."""
    f = _FACTS
    computed = _computed(bulk.connection_of(conn).dialect.name, None).subquery("computed")
    differs = (
        select(f.c.id)
        .outerjoin(computed, computed.c.member_id == f.c.id)
        .where(or_(*[f.c[name] != func.coalesce(computed.c[name], 0) for name in _COLUMNS]))
    )
    return list(conn.execute(differs.order_by(f.c.id)).scalars())
