"""Purchase rollups: each member's purchases per product group, by month, in one row.

A segment criterion such as "bought baby products, at least twice in the last six
months" over ``purchase_summaries`` reads one index entry per member, leaf group and
month: at 3.7 million members that is 5.8 million entries for the baby groups alone
and 1.4 s before any member is looked at. ``purchase_rollups`` holds, per member and
product group, the group's purchases *with its descendants* for each of the 13 months
of ``purchase_rollup_months``, as fixed columns ``amount_<slot>`` (cents) and
``count_<slot>``, plus ``months``, a bit per month in which the member has any row.
The same criterion then reads one row per baby buyer: 0.04 s (bench/RESULTS.md).

``purchase_summaries`` stays the truth. The rollups are derived from it and kept in
step in the same transaction as every write:

- :func:`rebuild` recomputes everything, with the window ending at the newest month
  in the summaries: the seed calls it, and so does the purchase feed when it brings a
  month past the window, and the catalogue feed, since re-parenting a product group
  moves its purchases to other ancestors;
- :func:`after_purchases` recomputes only the rows of the members a purchase feed
  wrote, when their months are in the window; erasure deletes the member's rows.

Both also refresh the members' ``purchased_groups_<n>`` bits (:mod:`.activity`).

The segment compiler reads a criterion from the rollups only when its months lie in
the window (:func:`dispatch.segmenting.compiler`); otherwise, e.g. "within 24 months",
from the summaries. :func:`drift` compares the two; the tests run it after each kind
of write.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    FromClause,
    Integer,
    Select,
    case,
    cast,
    column,
    delete,
    except_,
    func,
    insert,
    literal,
    select,
    values,
)

from dispatch.register import activity, bulk
from dispatch.register.models import (
    ROLLUP_MONTHS,
    ProductGroup,
    PurchaseSummary,
    purchase_rollup_months,
    purchase_rollups,
)

log = logging.getLogger(__name__)

MONTHS = purchase_rollup_months
ROLLUPS = purchase_rollups
_CHUNK = 5000


def month_start(day: dt.date, back: int = 0) -> dt.date:
    """The first day of the month ``back`` months before ``day``'s month."""
    index = day.year * 12 + day.month - 1 - back
    return dt.date(index // 12, index % 12 + 1, 1)


def window(conn: Any) -> list[dt.date]:
    """The months of the slots, oldest (slot 0) first; empty before the first rebuild."""
    return list(conn.execute(select(MONTHS.c.month).order_by(MONTHS.c.slot)).scalars())


def amount_columns(row: FromClause, slots: Iterable[int]) -> list[ColumnElement[int]]:
    """The cents columns of ``slots`` of ``row`` (``ROLLUPS`` or an alias of it)."""
    return [row.c[f"amount_{i}"] for i in slots]


def count_columns(row: FromClause, slots: Iterable[int]) -> list[ColumnElement[int]]:
    # Counts are 32-bit per month; their sum over months is taken in 64 bits.
    return [cast(row.c[f"count_{i}"], BigInteger) for i in slots]


def _closure(conn: Any) -> Any:
    """(group_id, ancestor_id) for every product group and each of its ancestors, itself
    included, as a VALUES list (a hundred groups, a couple of hundred pairs)."""
    parents = dict(conn.execute(select(ProductGroup.id, ProductGroup.parent_id)).all())
    pairs = []
    for group in parents:
        seen: set[int] = set()
        current: int | None = group
        while current is not None and current not in seen:  # a cycle ends the walk
            seen.add(current)
            pairs.append((group, current))
            current = parents.get(current)
    return (
        values(column("group_id", Integer), column("ancestor_id", Integer), name="closure")
        .data(pairs or [(0, 0)])
        .cte("closure")
    )


def _aggregate(conn: Any) -> Select[Any]:
    """The rollup rows computed from purchase_summaries, in ROLLUPS' column order."""
    ps = PurchaseSummary
    closure = _closure(conn)
    slot = MONTHS.c.slot

    def in_slot(value: Any, i: int) -> ColumnElement[int]:
        return func.coalesce(func.sum(case((slot == i, value))), 0)

    # amount has two decimals (numeric(12,2)); round() guards SQLite's floats.
    cents = cast(func.round(ps.amount * 100), BigInteger)
    # Bit i when the slot has any row (SQLite has no bit_or to fold bits with).
    months = sum(
        (
            case((func.count(case((slot == i, 1))) > 0, literal(1 << i, Integer)), else_=0)
            for i in range(ROLLUP_MONTHS)
        ),
        start=literal(0, Integer),
    )
    return (
        select(
            ps.member_id,
            closure.c.ancestor_id,
            months,
            *[in_slot(cents, i) for i in range(ROLLUP_MONTHS)],
            *[cast(in_slot(ps.count, i), Integer) for i in range(ROLLUP_MONTHS)],
        )
        .join(closure, closure.c.group_id == ps.product_group_id)
        .join(MONTHS, MONTHS.c.month == ps.month)
        .group_by(closure.c.ancestor_id, ps.member_id)
    )


def _insert(conn: Any, rows: Select[Any]) -> None:
    conn.execute(insert(ROLLUPS).from_select(list(ROLLUPS.c.keys()), rows))


def rebuild(conn: Any, *, activity_bits: bool = True) -> list[dt.date]:
    """Recompute every rollup row, for the 13 months ending with the newest purchase
    month (or the current month when there are no purchases). Returns the window.

    ``activity_bits``: refresh the ``member_facts.purchased_groups_<n>`` bits too (False
    for migration 0006 only, which runs before those columns exist)."""
    newest: dt.date | None = conn.execute(select(func.max(PurchaseSummary.month))).scalar()
    end = newest or month_start(dt.date.today())
    months = [month_start(end, ROLLUP_MONTHS - 1 - i) for i in range(ROLLUP_MONTHS)]
    # Minutes at millions of members (4.4 min at 3.7M): say so in the log.
    log.info("rebuilding purchase rollups for %s to %s", months[0], months[-1])
    started = time.perf_counter()
    conn.execute(delete(ROLLUPS))
    conn.execute(delete(MONTHS))
    conn.execute(insert(MONTHS), [{"slot": i, "month": m} for i, m in enumerate(months)])
    rows = _aggregate(conn)
    # In product-group order, so that a group's rows lie together on disk and a
    # criterion reads a few pages per thousand buyers (see the models' index note).
    rows = rows.order_by(rows.selected_columns[1], rows.selected_columns[0])
    with bulk.constraints_deferred(bulk.connection_of(conn), [ROLLUPS], primary_keys=True):
        _insert(conn, rows)
    if activity_bits:
        activity.refresh(conn)
    log.info("rebuilt purchase rollups in %.1f s", time.perf_counter() - started)
    return months


def _refresh_members(conn: Any, member_ids: Iterable[int]) -> None:
    """Recompute the rollup rows of these members from their purchase summaries."""
    ids = sorted(set(member_ids))
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        conn.execute(delete(ROLLUPS).where(ROLLUPS.c.member_id.in_(chunk)))
        _insert(conn, _aggregate(conn).where(PurchaseSummary.member_id.in_(chunk)))
        activity.refresh(conn, chunk)


def after_purchases(conn: Any, member_ids: Iterable[int], months: Sequence[dt.date]) -> None:
    """Bring the rollups in step after purchase summaries of these members were written
    for these months: a month past the window moves the window (a rebuild)."""
    current = window(conn)
    empty = conn.execute(select(ROLLUPS.c.member_id).limit(1)).first() is None
    # Empty rollups mean a window not yet anchored to data: anchor it now.
    if not current or empty or (months and max(months) > current[-1]):
        rebuild(conn)
    else:
        _refresh_members(conn, member_ids)


def drift(conn: Any) -> int:
    """How many rollup rows are missing, extra or different from the summaries."""
    # Rows are unique per (member, group), so EXCEPT (SQLite has no EXCEPT ALL) will do.
    computed = _aggregate(conn)
    missing = except_(computed, select(*ROLLUPS.c)).subquery()
    extra = except_(select(*ROLLUPS.c), computed).subquery()
    return int(
        conn.execute(select(func.count()).select_from(missing)).scalar_one()
        + conn.execute(select(func.count()).select_from(extra)).scalar_one()
    )
