"""Segment criteria compiled to SQLAlchemy Core, and only ever used inside the policy.

:class:`CompiledSegment` holds the criteria expression privately and offers nothing
but statements that already carry the policy (:mod:`dispatch.privacy.policy`): the
recipients, the per-rule waterfall, and the trace of one member. There is no public
way to get the members a segment matches without the policy, which is what
invariant 2 of ``DESIGN.md`` asks for; :mod:`.services` runs these statements.

Shape of the SQL, chosen for PostgreSQL at 3.7M members and ~79M purchase rows
(docs/segments.md has the measurements):

- it reads ``member_facts``, the narrow copy of ``members`` (register.facts);
- a behaviour criterion ANDed at the top level is preceded by its activity bit
  (register.activity), a necessary condition tested in the scan, so that the members
  who cannot match are dropped before the join that probes every member row;
- product-group codes (with their descendants), chains and stores are resolved here,
  once, and written into the SQL as literal lists, so the database joins no catalogue
  table and the planner sees the real values (also after psycopg starts preparing a
  statement that runs often, when PostgreSQL could otherwise switch to a generic plan);
- a purchase criterion whose months the rollups hold (register.rollups) is a condition
  on the member's rollup row of the group, outer-joined once per group however many
  criteria read it (NULL-free: ``row.member_id IS NOT NULL AND ...``);
- any other behaviour criterion is ``id IN (SELECT member_id FROM <summary> WHERE
  <key> IN (...) AND month BETWEEN ... [GROUP BY member_id HAVING ...])``: a range
  scan of the covering index ``(key, month, member_id, measures)``, planned as a hash
  semi-join. That holds where the criterion is one of the top-level conjuncts.
- under ``any`` or ``none`` the same set, grouped to one row per member, is joined to
  ``member_facts`` with ``LEFT OUTER JOIN`` and the criterion becomes ``set.member_id IS
  NOT NULL``. The set is then computed once and hash-joined, however large it is;
  under ``none`` PostgreSQL turns the ``IS NULL`` into an anti-join. The other forms
  are worse at scale: a correlated ``EXISTS`` runs the subquery once per member
  (4.4 s against 3.3 s for abc-fuel-pensioners at 3.7M members, bench/RESULTS.md),
  and ``IN`` under ``OR`` becomes a row-by-row rescan of the whole subquery as soon
  as the set outgrows work_mem. Because every joined set has one row per member, the
  join neither drops nor repeats a member. (``why`` judges one member, so it keeps
  the correlated form: a probe of that member's rows.)
- every criterion is NULL-free, so ``none`` (NOT) excludes exactly what it names: a
  member of unknown age does not match ``age: {min: 65}``, and so is not excluded by
  ``none: [age: {min: 65}]``.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterator
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Date,
    FromClause,
    Integer,
    Numeric,
    Select,
    SmallInteger,
    String,
    and_,
    bindparam,
    exists,
    func,
    literal,
    or_,
    select,
)
from sqlalchemy.orm import Session

from dispatch.privacy.policy import Policy, negate
from dispatch.register import activity, rollups
from dispatch.register.models import MemberFacts, PurchaseSummary, RestaurantVisit, WebInterest
from dispatch.segmenting import tree
from dispatch.segmenting.references import RESTAURANT, Catalog, catalog_problems

#: A table outer-joined to member_facts, and the join condition.
Join = tuple[FromClause, ColumnElement[bool]]


def months_back(as_of: dt.date, months: int) -> dt.date:
    """First day of the month that contains ``as_of`` minus ``months`` months.

    Summaries are monthly, so "within N months" is rounded outwards to whole months:
    as of 2025-06-15, within 3 months means March to June 2025.
    """
    return rollups.month_start(as_of, months)


def _lit(value: Any, type_: Any) -> ColumnElement[Any]:
    # Rendered into the SQL text at execution, so plans see the value (see above).
    return literal(value, type_, literal_execute=True)


def _total(columns: list[ColumnElement[int]]) -> ColumnElement[int]:
    total = columns[0]
    for column in columns[1:]:
        total = total + column
    return total


def _ids(values: list[int]) -> Any:
    return bindparam(None, values, type_=Integer, expanding=True, literal_execute=True)


def _strs(values: list[str]) -> Any:
    return bindparam(None, values, type_=String, expanding=True, literal_execute=True)


class _Compiler:
    """Criteria to clauses; ``conjunct``: reached from the root through ``all`` only.

    With ``joined`` (a list), behaviour criteria that are not conjuncts are compiled
    as outer-joined per-member sets, and purchase criteria read from the rollups as
    conditions on the member's outer-joined rollup row of the group; each is appended
    there as (table, join condition) once. Without it, as correlated
    ``EXISTS`` probes, which is what judging one member wants.
    """

    def __init__(
        self, catalog: Catalog, as_of: dt.date, *, joined: list[Join] | None = None
    ) -> None:
        self.catalog = catalog
        self.as_of = as_of
        self.joined = joined
        self._rollup_rows: dict[int, FromClause] = {}
        #: Whether some criterion reads the rollups, whose slots stand for the months
        #: of ``catalog.rollup_months``: the SQL is then right only for that window.
        self.reads_rollups = False

    def node(self, node: tree.Node, *, conjunct: bool = True) -> ColumnElement[bool]:
        if isinstance(node, tree.Group):
            inner = conjunct and node.op == "all"
            items = [self.node(item, conjunct=inner) for item in node.items]
            if node.op == "all":
                return and_(*items)
            if node.op == "any":
                return or_(*items)
            return and_(*[negate(item) for item in items])
        return self.criterion(node, conjunct=conjunct)

    def _member_in(
        self,
        subquery: Select[Any],
        having: list[ColumnElement[bool]],
        *,
        conjunct: bool,
        one_per_member: bool = False,
    ) -> ColumnElement[bool]:
        """``subquery`` selects ``member_id`` rows; ``having``: conditions on their
        per-member sums (none: any row will do); ``one_per_member``: it selects each
        member at most once already."""
        member_id = subquery.selected_columns.member_id
        if having:
            subquery = subquery.group_by(member_id).having(and_(*having))
        if conjunct:
            return MemberFacts.id.in_(subquery)
        if self.joined is None:
            derived = subquery.subquery("behaviour")
            return exists().where(derived.c.member_id == MemberFacts.id)
        if not having and not one_per_member:  # so the outer join repeats no member
            subquery = subquery.group_by(member_id)
        derived = subquery.subquery(f"behaviour_{len(self.joined) + 1}")
        self.joined.append((derived, derived.c.member_id == MemberFacts.id))
        return derived.c.member_id.is_not(None)

    def _rollup_slots(self, start: dt.date) -> list[int]:
        """The rollup slots of the months from ``start`` to the as-of month, or none
        when the rollups do not hold all of them (then the summaries are read)."""
        window = self.catalog.rollup_months
        if not window or start < window[0]:
            return []
        end = months_back(self.as_of, 0)
        return [slot for slot, month in enumerate(window) if start <= month <= end]

    def _purchased_from_rollups(
        self, c: tree.Purchased, group: int, slots: list[int]
    ) -> ColumnElement[bool]:
        """The criterion on the member's rollup row of ``group`` (at most one)."""
        # One outer join per group, however many criteria read it: abc-fuel-pensioners
        # asks "any fuel" and "fuel for 100 euros" of the same row (it read the fuel
        # rows twice as two sets before). A probe reads the table itself.
        self.reads_rollups = True
        row = self._rollup_rows.get(group)
        if row is None:
            row = (
                rollups.ROLLUPS if self.joined is None else rollups.ROLLUPS.alias(f"rollup_{group}")
            )
        on = and_(
            row.c.member_id == MemberFacts.id,
            row.c.product_group_id == _lit(group, SmallInteger),
        )
        parts = [
            # Some row in the months: what "purchased" means without a minimum.
            row.c.months.op("&")(_lit(sum(1 << slot for slot in slots), Integer)) != 0
        ]
        if c.min_amount is not None:
            # Amounts are whole cents, so >= x euros is >= ceil(100 x) cents.
            cents = math.ceil(c.min_amount * 100)
            parts.append(_total(rollups.amount_columns(row, slots)) >= _lit(cents, BigInteger))
        if c.min_count is not None:
            count = _lit(c.min_count, BigInteger)
            parts.append(_total(rollups.count_columns(row, slots)) >= count)
        if self.joined is None:  # a probe of this member's row
            return exists().where(on, *parts)
        if group not in self._rollup_rows:
            self._rollup_rows[group] = row
            self.joined.append((row, on))
        # NULL-free: FALSE, not UNKNOWN, for a member without a row; and PostgreSQL
        # plans the outer join as an inner one where this is a top-level conjunct.
        return and_(row.c.member_id.is_not(None), *parts)

    def _after_bit(
        self, bit: ColumnElement[bool], clause: ColumnElement[bool], *, conjunct: bool
    ) -> ColumnElement[bool]:
        """``clause`` preceded by the activity bit it implies (register.activity): a
        necessary condition on the member's own row, tested in the scan, so that the
        members who cannot match never reach the join. Only for a top-level conjunct
        of a whole-segment statement; a probe of one member reads the criterion."""
        if not conjunct or self.joined is None:
            return clause
        return and_(bit, clause)

    def criterion(self, c: tree.Criterion, *, conjunct: bool) -> ColumnElement[bool]:
        as_of = self.as_of
        if isinstance(c, tree.Purchased):
            ids = self.catalog.group_ids(c.group)  # refuses special-category groups
            start = months_back(as_of, c.within_months)
            slots = self._rollup_slots(start)
            if slots:
                # Read from the rollups, a match has a rollup row of the group: its bit.
                group = self.catalog.groups[c.group.value].id
                clause = self._purchased_from_rollups(c, group, slots)
                return self._after_bit(activity.may_have_bought(group), clause, conjunct=conjunct)
            ps = PurchaseSummary
            sub = select(ps.member_id).where(
                ps.product_group_id.in_(_ids(ids)),
                ps.month >= _lit(start, Date),
                ps.month <= _lit(as_of, Date),
            )
            having = []
            if c.min_amount is not None:
                having.append(func.sum(ps.amount) >= _lit(c.min_amount, Numeric(12, 2)))
            if c.min_count is not None:
                having.append(func.sum(ps.count) >= _lit(c.min_count, Integer))
            return self._member_in(sub, having, conjunct=conjunct)
        if isinstance(c, tree.Visited):
            rv = RestaurantVisit
            stores = self.catalog.store_ids(c.chains, kind=RESTAURANT, municipality=c.municipality)
            sub = select(rv.member_id).where(
                rv.store_id.in_(_ids(stores)),
                rv.month >= _lit(months_back(as_of, c.within_months), Date),
                rv.month <= _lit(as_of, Date),
            )
            if c.min_visits > 1:
                clause = self._member_in(
                    sub, [func.sum(rv.visits) >= _lit(c.min_visits, Integer)], conjunct=conjunct
                )
            else:
                clause = self._member_in(
                    sub.where(rv.visits >= _lit(1, Integer)), [], conjunct=conjunct
                )
            return self._after_bit(activity.may_have_visited(), clause, conjunct=conjunct)
        if isinstance(c, tree.Browsed):
            wi = WebInterest
            sub = select(wi.member_id).where(
                wi.category == _lit(c.category.value, String),
                wi.last_seen >= _lit(as_of - dt.timedelta(days=c.within_days), Date),
                wi.last_seen <= _lit(as_of, Date),
            )
            clause = self._member_in(sub, [], conjunct=conjunct)
            return self._after_bit(
                activity.may_have_browsed(c.category.value), clause, conjunct=conjunct
            )
        return self.attribute(c)

    def attribute(self, c: tree.Criterion) -> ColumnElement[bool]:
        """A criterion on the member row itself (all of them NULL-free)."""
        year = self.as_of.year
        m = MemberFacts
        parts: list[ColumnElement[bool]]
        if isinstance(c, tree.Age):
            # Age is counted in whole years from the birth year to the as-of year.
            parts = [m.birth_year.is_not(None)]
            if c.min is not None:
                parts.append(m.birth_year <= _lit(year - c.min, Integer))
            if c.max is not None:
                parts.append(m.birth_year >= _lit(year - c.max, Integer))
            return and_(*parts)
        if isinstance(c, tree.LanguageIs):
            return m.language == _lit(c.language.value, String)
        if isinstance(c, tree.Region):
            values = [n.value for n in c.names]
            return and_(m.region.is_not(None), m.region.in_(_strs(values)))
        if isinstance(c, tree.Municipality):
            values = [n.value for n in c.names]
            return and_(m.municipality.is_not(None), m.municipality.in_(_strs(values)))
        if isinstance(c, tree.PostcodePrefix):
            # Prefixes are digits only (checked by the parser), so LIKE needs no escaping.
            matches = [
                m.postcode == _lit(p, String)
                if len(p) == 5
                else m.postcode.like(_lit(p + "%", String))
                for p in c.prefixes
            ]
            return and_(m.postcode.is_not(None), or_(*matches))
        if isinstance(c, tree.HomeStoreChain):
            stores = self.catalog.store_ids(c.chains)
            return and_(m.home_store_id.is_not(None), m.home_store_id.in_(_ids(stores)))
        if isinstance(c, tree.MemberSince):
            parts = [m.member_since.is_not(None)]
            if c.before is not None:
                parts.append(m.member_since < _lit(c.before, Date))
            if c.after is not None:
                parts.append(m.member_since > _lit(c.after, Date))
            return and_(*parts)
        raise TypeError(f"unknown criterion {c!r}")  # pragma: no cover - spec is closed


def _leaves(node: tree.Node) -> Iterator[tree.Criterion]:
    for item in tree.walk(node):
        if not isinstance(item, tree.Group):
            yield item


class Failure:
    """The node that keeps a member out of a segment, and how."""

    def __init__(self, node: tree.Node, verdict: str) -> None:
        self.node = node
        self.verdict = verdict

    @property
    def loc(self) -> tree.Loc:
        return self.node.loc


def _first_failure(node: tree.Node, values: dict[int, bool]) -> tuple[bool, Failure | None]:
    """Evaluate the tree over leaf results; return (matched, what failed first)."""
    if not isinstance(node, tree.Group):
        matched = values[id(node)]
        return matched, None if matched else Failure(node, "not matched")
    if node.op == "all":
        for item in node.items:
            matched, failure = _first_failure(item, values)
            if not matched:
                return False, failure
        return True, None
    results = [_first_failure(item, values)[0] for item in node.items]
    if node.op == "any":
        if any(results):
            return True, None
        return False, Failure(node, "none of its criteria matched")
    for item, matched in zip(node.items, results, strict=True):
        if matched:
            return False, Failure(item, "matched, and it is listed under none")
    return True, None


class CompiledSegment:
    """A segment compiled for one as-of date, usable only together with its policy."""

    def __init__(self, segment: tree.Segment, catalog: Catalog, as_of: dt.date) -> None:
        # Refuses unknown references and special-category product groups (Art. 9)
        # before any SQL exists.
        tree.raise_problems(catalog_problems(tree.walk(segment.where), catalog), segment.source)
        self.segment = segment
        self.as_of = as_of
        self.policy = Policy(segment.purpose, segment.channel, segment.unit, as_of)
        joined: list[Join] = []
        compiler = _Compiler(catalog, as_of, joined=joined)
        self._criteria = compiler.node(segment.where)
        #: The rollup window the SQL was compiled for (its slots are months of this
        #: list), or None when no criterion reads the rollups. See :meth:`window_moved`.
        self.window: list[dt.date] | None = (
            list(catalog.rollup_months) if compiler.reads_rollups else None
        )
        # member_facts, outer-joined with the per-member sets that criteria under any
        # or none test and with the rollup rows purchase criteria read (each has at
        # most one row per member, so every member appears once).
        self._source: FromClause = MemberFacts.__table__
        for table, on in joined:
            self._source = self._source.outerjoin(table, on)
        self._probe = _Compiler(catalog, as_of)

    def window_moved(self, session: Session) -> bool:
        """Whether the rollup window is no longer the one this SQL was compiled for.

        A purchase feed that brings a newer month rebuilds the rollups with the window
        one month on, in its own transaction. If that commits between the compilation
        (which read the window) and a statement run with this SQL, the statement reads
        each slot as the month before or after the one meant. Ask this after the
        statement, in the same session: the window ends at the newest purchase month,
        which only grows (erasing every member who bought in that month could move it
        back, at the next rebuild), so when it is unchanged now, the statement saw it
        unchanged too. :func:`dispatch.segmenting.services.run_compiled` compiles again
        when it moved.
        """
        if self.window is None:
            return False
        return rollups.window(session) != self.window

    def selection(self) -> Select[int]:
        """The ids of the recipients: criteria AND every policy rule passed."""
        return self.policy.select(self._criteria, source=self._source)

    def waterfall(self) -> Select[str | None, int]:
        """(first blocking rule or NULL for selected, count) over the matched members."""
        return self.policy.waterfall(self._criteria, source=self._source)

    def trace(self, session: Session, member_id: int) -> tuple[Failure | None, str | None]:
        """For one member: what in the criteria fails first, and the first rule blocking.

        One query evaluates every leaf criterion for the member, so the tree is judged
        on exactly the SQL that selects; the policy is then asked with the criteria,
        as the household rule depends on which other members the segment matches.
        """
        leaves = list(_leaves(self.segment.where))
        # Correlated (EXISTS) forms: probes of this member's rows, not whole sets.
        columns = [
            self._probe.node(leaf, conjunct=False).label(f"c{i}") for i, leaf in enumerate(leaves)
        ]
        row = session.execute(select(*columns).where(MemberFacts.id == member_id)).one()
        values = {id(leaf): bool(value) for leaf, value in zip(leaves, row, strict=True)}
        _, failure = _first_failure(self.segment.where, values)
        if failure is not None:
            # Not matched: the household rule (who else in the household matched)
            # does not apply to them.
            return failure, self.policy.member_rule(session, member_id)
        # The household check with the correlated criteria too: it only looks at the
        # member's household, so computing whole behaviour sets would be wasted.
        return None, self.policy.first_blocking_rule(
            session, member_id, self._probe.node(self.segment.where)
        )
