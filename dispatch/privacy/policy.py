"""The contact policy: which of the members a segment matched may actually be contacted.

The policy is an ordered list of named rules, each a SQL condition that is true when
the rule BLOCKS a member. One list serves three uses, so they cannot drift apart:

- :meth:`Policy.select`: the recipients, ``criteria AND NOT rule_1 AND NOT rule_2 ...``
  (each rule an anti-join PostgreSQL can plan as such);
- :meth:`Policy.waterfall`: one query that names, per matched member, the FIRST rule
  that blocks them (a ``CASE``), counted per rule;
- :meth:`Policy.first_blocking_rule`: the same ``CASE`` for one member.

The order (documented for people in ``docs/consent.md``):

1. ``status``: the member is not active (deceased or erased);
2. ``suppressed``: a suppression for the subject says erased or deceased, which also
   catches an erased member re-imported under a new member id;
3. ``minor``: younger than 18 in the as-of year, or birth year unknown;
4. the consent rules of :func:`dispatch.register.consent.blocking_clauses`
   (``objection``, ``consent_refused``, ``no_opt_in``, ``optout_register``);
5. the channel's reachability: ``address`` for post, ``email`` for e-mail,
   ``phone`` for SMS and phone;
6. ``household`` (unit household only): of the household's members that passed every
   rule above, only the one with the lowest member id is kept.

Every condition is written to be NULL-free (never SQL UNKNOWN), because ``NOT`` in a
WHERE clause and ``CASE WHEN`` treat UNKNOWN differently; a NULL-free rule blocks the
same members in both.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum
from typing import cast

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    FromClause,
    Select,
    and_,
    case,
    func,
    literal,
    not_,
    or_,
    select,
    union_all,
)
from sqlalchemy import (
    cast as sql_cast,
)
from sqlalchemy.exc import CompileError
from sqlalchemy.orm import Session
from sqlalchemy.sql import operators
from sqlalchemy.sql.elements import (
    BinaryExpression,
    BindParameter,
    BooleanClauseList,
    ColumnClause,
    Grouping,
    UnaryExpression,
)

from dispatch.db.types import Channel, Purpose, SuppressionReason
from dispatch.register import consent, flags
from dispatch.register.facts import Reach
from dispatch.register.models import MemberFacts

ADULT_AGE = 18


class Unit(StrEnum):
    """Who a segment addresses: every member, or one member per household."""

    MEMBER = "member"
    HOUSEHOLD = "household"


#: The name of the rule that keeps one member per household.
HOUSEHOLD = "household"

Rule = tuple[str, ColumnElement[bool]]

#: What a segment's criteria read: ``members``, or ``members`` LEFT OUTER JOINed with
#: derived tables that have at most one row per member, so that every member appears
#: exactly once and the policy judges each of them once.
MEMBERS: FromClause = MemberFacts.__table__


def negate(clause: ColumnElement[bool]) -> ColumnElement[bool]:
    """``NOT clause``, pushed through AND and OR (De Morgan) down to the leaves.

    PostgreSQL turns ``NOT EXISTS`` into an anti-join only when it is one of the
    WHERE clause's top-level ANDed conditions, and it pulls sublinks up before it
    would simplify ``NOT (a OR b)``; so write ``NOT a AND NOT b`` ourselves.
    Exact for the NULL-free conditions used here.
    """
    if isinstance(clause, Grouping):
        return negate(cast(ColumnElement[bool], clause.element))
    if isinstance(clause, UnaryExpression) and clause.operator is operators.inv:
        # NOT NOT x: PostgreSQL would keep a SubPlan instead of a semi-join.
        return cast(ColumnElement[bool], clause.element)
    if isinstance(clause, BooleanClauseList):
        parts = [negate(part) for part in clause.clauses]
        if clause.operator is operators.or_:
            return and_(*parts)
        if clause.operator is operators.and_:
            return or_(*parts)
    return not_(clause)


def _conjuncts(clause: ColumnElement[bool]) -> list[ColumnElement[bool]]:
    """The top-level ANDed conditions of ``clause``."""
    if isinstance(clause, Grouping):
        return _conjuncts(cast(ColumnElement[bool], clause.element))
    if isinstance(clause, BooleanClauseList) and clause.operator is operators.and_:
        return [part for sub in clause.clauses for part in _conjuncts(sub)]
    return [clause]


def _distinct(conditions: list[ColumnElement[bool]]) -> list[ColumnElement[bool]]:
    """``conditions`` without repeats, in order (PostgreSQL evaluates each repeat), and
    of several ``column <= n`` bounds on one column only the lowest, which implies the
    others.

    A segment's ``age`` criterion and the ``minor`` rule both say "birth year known and
    at most N": at 3.7M members, testing it twice in every row cost a few percent
    (and ``age: {min: 20}``'s bound, which implies the minor rule's, 4 % of
    nordic-air-travellers' selection, bench/RESULTS.md).
    """
    kept: list[ColumnElement[bool]] = []
    seen: set[str] = set()
    lowest: dict[str, tuple[int, int]] = {}  # column -> (bound, its place in kept)
    for condition in conditions:
        key = _sql_text(condition)
        if key in seen:
            continue
        seen.add(key)
        bound = _upper_bound(condition)
        if bound is None:
            kept.append(condition)
            continue
        column, value = bound
        if column not in lowest:
            lowest[column] = (value, len(kept))
            kept.append(condition)
        elif value < lowest[column][0]:
            # In the weaker bound's place, so that the order stays the criteria's.
            place = lowest[column][1]
            kept[place] = condition
            lowest[column] = (value, place)
    return kept


def _upper_bound(condition: ColumnElement[bool]) -> tuple[str, int] | None:
    """(column, n) when ``condition`` is ``column <= n`` with a whole number n."""
    if isinstance(condition, Grouping):
        return _upper_bound(cast(ColumnElement[bool], condition.element))
    if not (isinstance(condition, BinaryExpression) and condition.operator is operators.le):
        return None
    column, value = condition.left, condition.right
    if not isinstance(column, ColumnClause) or not isinstance(value, BindParameter):
        return None
    bound = value.effective_value
    if not isinstance(bound, int) or isinstance(bound, bool):
        return None
    return str(column), bound


def _sql_text(condition: ColumnElement[bool]) -> str:
    # With the values in the text: a criterion's values are rendered at execution
    # (literal_execute) and the policy's are bound, so the elements differ as objects.
    try:
        return str(condition.compile(compile_kwargs={"literal_binds": True}))
    except (CompileError, NotImplementedError):  # a value with no literal form: keep it
        return f"{id(condition)}"


def _unreachable(by: Reach) -> ColumnElement[bool]:
    # The contact details and the two statuses are folded into member_facts.reach
    # (register.facts).
    return flags.lacks(MemberFacts.reach, int(by))


def _suppressed(*reasons: SuppressionReason) -> ColumnElement[bool]:
    # The member row's projection of ``suppressions`` (dispatch.register.flags).
    return flags.has_any(MemberFacts.suppression_flags, flags.suppression_bits(reasons))


def _household_key() -> ColumnElement[int]:
    # A member without a household is a household of one; negative member ids
    # cannot collide with (positive) household ids.
    return func.coalesce(MemberFacts.household_id, -MemberFacts.id)


@dataclass(frozen=True)
class Policy:
    """The policy for one purpose and channel, evaluated as of one date."""

    purpose: Purpose
    channel: Channel
    unit: Unit = Unit.MEMBER
    as_of: dt.date | None = None

    @property
    def date(self) -> dt.date:
        return self.as_of or dt.date.today()

    def rules(self) -> list[Rule]:
        """The per-member rules, in order, as (name, condition true when it blocks).

        Household dedup is not in this list: it depends on the other members of the
        household, so :meth:`select` and :meth:`waterfall` apply it after these.
        """
        # Born after this year means under 18 at some point of the as-of year; the
        # register keeps the birth year only, so the year is the finest we can judge.
        youngest_adult_year = self.date.year - ADULT_AGE
        born = MemberFacts.birth_year
        rules: list[Rule] = [
            ("status", _unreachable(Reach.ACTIVE)),
            ("suppressed", _suppressed(SuppressionReason.ERASED, SuppressionReason.DECEASED)),
            ("minor", or_(born.is_(None), born > youngest_adult_year)),
        ]
        rules.extend(consent.blocking_clauses(MemberFacts, self.purpose, self.channel))
        rules.append(self._reachability())
        return rules

    def rule_names(self) -> list[str]:
        """Every name :meth:`waterfall` may report, in policy order."""
        names = [name for name, _ in self.rules()]
        if self.unit == Unit.HOUSEHOLD:
            names.append(HOUSEHOLD)
        return names

    def _reachability(self) -> Rule:
        if self.channel == Channel.POST:
            return (
                "address",
                or_(
                    _unreachable(Reach.DELIVERABLE),
                    _unreachable(Reach.ADDRESS),
                    _suppressed(SuppressionReason.RETURNED_MAIL),
                ),
            )
        if self.channel == Channel.EMAIL:
            return ("email", _unreachable(Reach.EMAIL))
        return ("phone", _unreachable(Reach.PHONE))

    def first_rule_case(self) -> ColumnElement[str | None]:
        """``CASE`` naming the first per-member rule that blocks, NULL if none does."""
        return case(*[(cond, literal(name)) for name, cond in self.rules()], else_=None)

    def select(self, criteria: ColumnElement[bool], *, source: FromClause = MEMBERS) -> Select[int]:
        """The ids of the members that match ``criteria`` and that no rule blocks.

        ``source``: what ``criteria`` reads, when more than ``members``: ``members``
        outer-joined with sets of at most one row per member (see :data:`MEMBERS`).
        """
        negated = [part for _, cond in self.rules() for part in _conjuncts(negate(cond))]
        passes = and_(*_distinct([*_conjuncts(criteria), *negated]))
        if self.unit == Unit.MEMBER:
            return select(MemberFacts.id).select_from(source).where(passes)
        # The lowest member id of each household among those that passed.
        return (
            select(func.min(MemberFacts.id).label("id"))
            .select_from(source)
            .where(passes)
            .group_by(_household_key())
        )

    def waterfall(
        self, criteria: ColumnElement[bool], *, source: FromClause = MEMBERS
    ) -> Select[str | None, int]:
        """One query: (first blocking rule or NULL for selected, number of members).

        Only members that match ``criteria`` are counted, so the counts add up to the
        number matched. ``source`` as for :meth:`select`.
        """
        matched = (
            select(
                MemberFacts.id.label("id"),
                _household_key().label("household"),
                self.first_rule_case().label("rule"),
            )
            .select_from(source)
            .where(criteria)
            .subquery("matched")
        )
        if self.unit == Unit.MEMBER:
            rule: ColumnElement[str | None] = matched.c.rule
            return select(rule, func.count()).group_by(rule)
        # Of the members that passed, each household keeps one; the others are removed
        # by the household rule. Counted per household with a hash aggregate (blocked
        # members fall into one group per rule), rather than ranked with a window
        # function, which sorts every matched member: at 3.7M members that sort
        # spilled to disk and cost more than the rest of the count.
        passed = matched.c.rule.is_(None)
        groups = (
            select(
                matched.c.rule.label("rule"),
                func.count().label("members"),
            )
            .group_by(matched.c.rule, case((passed, matched.c.household)))
            .subquery("households")
        )
        totals = (
            select(
                groups.c.rule,
                sql_cast(func.sum(groups.c.members), BigInteger).label("members"),
                func.count().label("households"),
            )
            .group_by(groups.c.rule)
            .cte("totals")
        )
        selected = totals.c.rule.is_(None)
        rows = union_all(
            select(totals.c.rule, totals.c.members).where(totals.c.rule.is_not(None)),
            select(totals.c.rule, totals.c.households).where(selected),
            # Like the other rules, only when it removed someone.
            select(literal(HOUSEHOLD), totals.c.members - totals.c.households).where(
                selected, totals.c.members > totals.c.households
            ),
        ).subquery("waterfall")
        return select(rows.c.rule, rows.c.members)

    def member_rule(self, session: Session, member_id: int) -> str | None:
        """The first per-member rule that blocks ``member_id`` (household not judged)."""
        return session.execute(
            select(self.first_rule_case()).where(MemberFacts.id == member_id)
        ).scalar_one()

    def first_blocking_rule(
        self,
        session: Session,
        member_id: int,
        criteria: ColumnElement[bool],
    ) -> str | None:
        """The name of the first rule that blocks ``member_id``, a member that matches
        ``criteria``, or None if no rule does.

        ``criteria`` is needed for the household rule: another member of the household
        takes this one's place only if it matches the segment too.
        """
        rule = self.member_rule(session, member_id)
        if rule is not None or self.unit == Unit.MEMBER:
            return rule
        household = session.execute(
            select(MemberFacts.household_id).where(MemberFacts.id == member_id)
        ).scalar_one()
        if household is None:
            return None  # a household of one
        earlier = self.select(criteria).where(
            MemberFacts.household_id == household, MemberFacts.id < member_id
        )
        if session.execute(earlier.limit(1)).first() is not None:
            return HOUSEHOLD
        return None
