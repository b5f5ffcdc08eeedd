"""Contact flags: a member's consent state and suppressions folded into two integers.

The policy needs, for each member a segment matches, the current consent decisions
that touch one (purpose, channel) and whether the member's subject hash is
suppressed. Read from ``consent_state`` and ``suppressions`` that is about eight index
probes per member, and at 3.7 million members a large segment matches hundreds of
thousands. So the member row carries both as bits, and the policy's rules
(:func:`dispatch.register.consent.blocking_clauses`, :mod:`dispatch.privacy.policy`)
test bits of the row they already read:

- ``members.consent_flags``: one bit per (purpose, channel, decision) that is the
  member's current decision in ``consent_state`` (a pair has at most one decision);
- ``members.suppression_flags``: one bit per suppression reason recorded for the
  member's subject hash.

The two tables stay the truth; the flags are a projection of them, kept in step in
the same transaction as every write:

- ORM writes (:func:`dispatch.register.consent.record`, erasure's suppression, a new
  ``Member``) are caught by the session hook at the end of this module;
- Core writes call :func:`refresh_members` or :func:`refresh_subjects` themselves (the
  feed's member and suppression files, erasure's deletes);
- the seed computes them in Python with :func:`consent_bits` and
  :func:`suppression_bits` from the rows it writes.

:func:`drift` counts members whose flags disagree with the tables; the tests run it
after every kind of write.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from types import MappingProxyType

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Connection,
    Integer,
    SQLColumnExpression,
    Table,
    Update,
    bindparam,
    case,
    cast,
    event,
    func,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Session, UOWTransaction

from dispatch.db.engine import SESSIONS
from dispatch.register.models import ConsentState, Member, Suppression

_MEMBERS: Table = Member.__table__  # type: ignore[assignment]


#: (purpose, channel, decision) -> the position of its bit in ``consent_flags``.
#:
#: A literal table, not one derived from the enums' order: these positions are stored in
#: every member row, so inserting an enum member in the middle must not renumber them.
#: A new (purpose, channel, decision) takes the next free position at the end (below 62,
#: to fit a signed BIGINT), and a position is never reused; tests/register/test_flags.py
#: pins the table and checks that it names every pair ``consent.record`` may store (only
#: objections may name an umbrella: direct marketing as a purpose, or any channel).
CONSENT_POSITIONS: Mapping[tuple[str, str, str], int] = MappingProxyType(
    {
        ("own_marketing", "post", "granted"): 0,
        ("own_marketing", "email", "granted"): 1,
        ("own_marketing", "sms", "granted"): 2,
        ("own_marketing", "phone", "granted"): 3,
        ("partner_marketing", "post", "granted"): 4,
        ("partner_marketing", "email", "granted"): 5,
        ("partner_marketing", "sms", "granted"): 6,
        ("partner_marketing", "phone", "granted"): 7,
        ("market_research", "post", "granted"): 8,
        ("market_research", "email", "granted"): 9,
        ("market_research", "sms", "granted"): 10,
        ("market_research", "phone", "granted"): 11,
        ("profiling", "post", "granted"): 12,
        ("profiling", "email", "granted"): 13,
        ("profiling", "sms", "granted"): 14,
        ("profiling", "phone", "granted"): 15,
        ("own_marketing", "post", "refused"): 16,
        ("own_marketing", "email", "refused"): 17,
        ("own_marketing", "sms", "refused"): 18,
        ("own_marketing", "phone", "refused"): 19,
        ("partner_marketing", "post", "refused"): 20,
        ("partner_marketing", "email", "refused"): 21,
        ("partner_marketing", "sms", "refused"): 22,
        ("partner_marketing", "phone", "refused"): 23,
        ("market_research", "post", "refused"): 24,
        ("market_research", "email", "refused"): 25,
        ("market_research", "sms", "refused"): 26,
        ("market_research", "phone", "refused"): 27,
        ("profiling", "post", "refused"): 28,
        ("profiling", "email", "refused"): 29,
        ("profiling", "sms", "refused"): 30,
        ("profiling", "phone", "refused"): 31,
        ("own_marketing", "post", "objected"): 32,
        ("own_marketing", "email", "objected"): 33,
        ("own_marketing", "sms", "objected"): 34,
        ("own_marketing", "phone", "objected"): 35,
        ("own_marketing", "any", "objected"): 36,
        ("partner_marketing", "post", "objected"): 37,
        ("partner_marketing", "email", "objected"): 38,
        ("partner_marketing", "sms", "objected"): 39,
        ("partner_marketing", "phone", "objected"): 40,
        ("partner_marketing", "any", "objected"): 41,
        ("market_research", "post", "objected"): 42,
        ("market_research", "email", "objected"): 43,
        ("market_research", "sms", "objected"): 44,
        ("market_research", "phone", "objected"): 45,
        ("market_research", "any", "objected"): 46,
        ("profiling", "post", "objected"): 47,
        ("profiling", "email", "objected"): 48,
        ("profiling", "sms", "objected"): 49,
        ("profiling", "phone", "objected"): 50,
        ("profiling", "any", "objected"): 51,
        ("direct_marketing", "post", "objected"): 52,
        ("direct_marketing", "email", "objected"): 53,
        ("direct_marketing", "sms", "objected"): 54,
        ("direct_marketing", "phone", "objected"): 55,
        ("direct_marketing", "any", "objected"): 56,
    }
)
#: suppression reason -> the position of its bit in ``suppression_flags`` (as above).
SUPPRESSION_POSITIONS: Mapping[str, int] = MappingProxyType(
    {
        "optout_register": 0,
        "deceased": 1,
        "returned_mail": 2,
        "erased": 3,
    }
)
#: (purpose, channel, decision) -> its bit in ``consent_flags``.
CONSENT_BITS: Mapping[tuple[str, str, str], int] = MappingProxyType(
    {key: 1 << position for key, position in CONSENT_POSITIONS.items()}
)
#: suppression reason -> its bit in ``suppression_flags``.
SUPPRESSION_BITS: Mapping[str, int] = MappingProxyType(
    {reason: 1 << position for reason, position in SUPPRESSION_POSITIONS.items()}
)


def consent_bit(purpose: object, channel: object, decision: object) -> int:
    return CONSENT_BITS[(str(purpose), str(channel), str(decision))]


def consent_bits(states: Iterable[tuple[object, object, object]]) -> int:
    """The flags of a member whose current decisions are ``(purpose, channel, decision)``."""
    bits = 0
    for purpose, channel, decision in states:
        bits |= consent_bit(purpose, channel, decision)
    return bits


def suppression_bits(reasons: Iterable[object]) -> int:
    bits = 0
    for reason in reasons:
        bits |= SUPPRESSION_BITS[str(reason)]
    return bits


def _masked(column: SQLColumnExpression[int], bit: int) -> ColumnElement[int]:
    return column.op("&")(literal(bit, BigInteger, literal_execute=True))


def has_any(column: SQLColumnExpression[int], mask: int) -> ColumnElement[bool]:
    """NULL-free: true when any bit of ``mask`` is set in the (NOT NULL) column.

    Written as ``(column & bit) = bit`` per bit, ORed, for the planner's sake: the
    policy uses its negation, ``(column & bit) <> bit`` ANDed, which PostgreSQL
    estimates as passing most rows (it has no statistics on the expression). The
    obvious ``(column & mask) = 0`` is estimated to pass 1 row in 200 per rule, and
    with four rules the planner expected one member where 2 million came, and chose a
    nested loop that never finished.
    """
    bits = [1 << i for i in range(mask.bit_length()) if mask >> i & 1]
    return or_(*[_masked(column, bit) == literal(bit, BigInteger, literal_execute=True)
                 for bit in bits])  # fmt: skip


def lacks(column: SQLColumnExpression[int], bit: int) -> ColumnElement[bool]:
    """NULL-free: true when ``bit`` is not set; its negation is estimated to pass most."""
    return _masked(column, bit) == 0


def _bit_sum(bits: ColumnElement[int]) -> ColumnElement[int]:
    # Each row contributes a distinct bit, so the sum is the bitwise OR (SQLite has no
    # bit_or); PostgreSQL's sum(bigint) is numeric, hence the cast.
    return cast(func.coalesce(func.sum(bits), 0), BigInteger)


def _consent_bit() -> ColumnElement[int]:
    cs = ConsentState
    return case(
        *[
            ((cs.purpose == p) & (cs.channel == c) & (cs.decision == d), literal(b, BigInteger))
            for (p, c, d), b in CONSENT_BITS.items()
        ],
        else_=literal(0, BigInteger),
    )


def _suppression_bit() -> ColumnElement[int]:
    s = Suppression
    return case(
        *[(s.reason == reason, literal(b, BigInteger)) for reason, b in SUPPRESSION_BITS.items()],
        else_=literal(0, BigInteger),
    )


def consent_flags_of(member_id: SQLColumnExpression[int]) -> ColumnElement[int]:
    """``consent_flags`` recomputed from ``consent_state`` for ``member_id``."""
    cs = ConsentState
    return (
        select(_bit_sum(_consent_bit()))
        .where(cs.member_id == member_id)
        .correlate_except(cs)
        .scalar_subquery()
    )


def suppression_flags_of(subject_hash: SQLColumnExpression[str]) -> ColumnElement[int]:
    """``suppression_flags`` recomputed from ``suppressions`` for ``subject_hash``."""
    s = Suppression
    return cast(
        select(_bit_sum(_suppression_bit()))
        .where(s.subject_hash == subject_hash)
        .correlate_except(s)
        .scalar_subquery(),
        Integer,
    )


def _refresh(key: ColumnElement[int] | ColumnElement[str]) -> Update:
    """Recompute the flags of the members whose ``key`` is in ``:keys`` (a list)."""
    table = _MEMBERS
    return (
        update(table)
        .where(key.in_(bindparam("keys", expanding=True)))
        .values(
            consent_flags=consent_flags_of(table.c.id),
            suppression_flags=suppression_flags_of(table.c.subject_hash),
        )
    )


#: Built once: the expression has a branch per consent bit, and building it took more
#: time than the UPDATE on every flush that touched a member's consent.
_REFRESH_BY_ID = _refresh(_MEMBERS.c.id)
_REFRESH_BY_SUBJECT = _refresh(_MEMBERS.c.subject_hash)
_CHUNK = 1000


def refresh_members(session: Session | Connection, member_ids: Iterable[int]) -> None:
    """Recompute the flags of these members (``session`` may be a Connection)."""
    _refresh_chunks(session, _REFRESH_BY_ID, sorted(set(member_ids)))


def refresh_subjects(session: Session | Connection, subject_hashes: Iterable[str]) -> None:
    """Recompute the flags of the members with these subject hashes."""
    _refresh_chunks(session, _REFRESH_BY_SUBJECT, sorted(set(subject_hashes)))


def _refresh_chunks(session: Session | Connection, stmt: Update, keys: Sequence[object]) -> None:
    for start in range(0, len(keys), _CHUNK):
        session.execute(stmt, {"keys": keys[start : start + _CHUNK]})


def refresh_recorded(session: Session | Connection) -> None:
    """Set the flags of every member with consent or suppression rows, in bulk.

    For filling the flags of an existing register (migration 0004): two UPDATE ... FROM
    joins to the tables aggregated once, not a per-member lookup; the other members'
    flags are 0 by default.
    """
    cs, s = ConsentState, Suppression
    consents = (
        select(cs.member_id, _bit_sum(_consent_bit()).label("bits"))
        .group_by(cs.member_id)
        .subquery("c")
    )
    session.execute(
        update(_MEMBERS)
        .where(_MEMBERS.c.id == consents.c.member_id)
        .values(consent_flags=consents.c.bits)
    )
    suppressed = (
        select(s.subject_hash, _bit_sum(_suppression_bit()).label("bits"))
        .group_by(s.subject_hash)
        .subquery("s")
    )
    session.execute(
        update(_MEMBERS)
        .where(_MEMBERS.c.subject_hash == suppressed.c.subject_hash)
        .values(suppression_flags=cast(suppressed.c.bits, Integer))
    )


def drift(session: Session) -> int:
    """How many members' flags disagree with ``consent_state`` and ``suppressions``."""
    return session.execute(
        select(func.count()).where(
            (Member.consent_flags != consent_flags_of(Member.id))
            | (Member.suppression_flags != suppression_flags_of(Member.subject_hash))
        )
    ).scalar_one()


@event.listens_for(SESSIONS, "after_flush")
def _keep_in_step(session: Session, _flush: UOWTransaction) -> None:
    """Refresh the flags touched by ORM writes, inside the same flush."""
    members: set[int] = set()
    subjects: set[str] = set()
    for obj in (*session.new, *session.dirty, *session.deleted):
        if isinstance(obj, ConsentState):
            members.add(obj.member_id)
        elif isinstance(obj, Suppression):
            subjects.add(obj.subject_hash)
        elif isinstance(obj, Member) and obj in session.new:
            members.add(obj.id)
    if members:
        refresh_members(session.connection(), members)
    if subjects:
        refresh_subjects(session.connection(), subjects)
