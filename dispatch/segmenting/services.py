"""What the rest of the system may do with a segment: check, count, explain, why, select.

These functions are the only public way to get members out of a segment, and every
one of them goes through :class:`dispatch.privacy.policy.Policy` (the compiled
criteria never leave :mod:`.compiler` on their own). ``why`` shows one member's data
and writes an audit entry in the caller's transaction.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from dispatch.errors import DispatchError, InputError, OperationError
from dispatch.register import audit
from dispatch.register.services import get_member
from dispatch.segmenting import recovery, spec, tree
from dispatch.segmenting.compiler import CompiledSegment
from dispatch.segmenting.references import Catalog, catalog_problems, data_problems

Segment = tree.Segment
load = spec.load

log = logging.getLogger(__name__)
T = TypeVar("T")

#: How many times :func:`run_compiled` compiles a segment when the rollup window
#: keeps moving under it (a window move is a monthly event; twice in a row is not).
WINDOW_ATTEMPTS = 3


def compile_segment(
    session: Session, segment: Segment, *, as_of: dt.date | None = None
) -> CompiledSegment:
    """Resolve the segment's references and compile it with its policy.

    Raises :class:`InputError` for unknown product groups or chains and for any
    special-category (GDPR Art. 9) product group.
    """
    return CompiledSegment(segment, Catalog.load(session), as_of or dt.date.today())


def run_compiled(
    session: Session,
    segment: Segment,
    run: Callable[[CompiledSegment], T],
    *,
    as_of: dt.date | None = None,
) -> T:
    """Compile the segment and return ``run(compiled)``, whose statements must all use
    that compilation; when the purchase rollup window moved meanwhile (a purchase
    feed's rebuild committed in between, :meth:`CompiledSegment.window_moved`), its
    result may mix up months: compile and run again, in the same session.

    ``run`` must be safe to repeat in the caller's transaction (a snapshot deletes
    what an earlier attempt wrote before it writes).
    """
    for _ in range(WINDOW_ATTEMPTS):
        compiled = compile_segment(session, segment, as_of=as_of)
        result = run(compiled)
        if not compiled.window_moved(session):
            return result
        log.info("purchase rollup window moved while running %s; compiling again", segment.name)
    raise OperationError(
        f"the purchase rollups were rebuilt {WINDOW_ATTEMPTS} times while this ran; "
        "run it again when the purchase feed is done",
        where=segment.source,
    )


def check(session: Session | None, path: Path | str) -> list[DispatchError]:
    """Every problem of one segment file: syntax and types, then (given a session) the
    product groups, chains, categories and places it names.

    The names are checked even when another part of the file has problems, so that
    one run lists everything to fix, also beside a YAML syntax error (the names of what
    parses without the broken lines, :mod:`recovery`). Without a session only the file
    itself is checked.
    """
    found = spec.read(path)
    if session is None:
        return found.problems
    criteria = found.criteria or (recovery.criteria(path) if found.segment is None else ())
    problems = catalog_problems(criteria, Catalog.load(session))
    return found.problems + problems + data_problems(session, criteria)


@dataclass(frozen=True)
class SegmentCount:
    """How many members the criteria matched, and what the policy made of them.

    ``removed`` has every rule of the policy in order, zeros included, so that
    ``matched == selected + sum(removed.values())`` always holds.
    """

    segment: str
    purpose: str
    channel: str
    unit: str
    as_of: dt.date
    matched: int
    selected: int
    removed: dict[str, int] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {
            "segment": self.segment,
            "purpose": self.purpose,
            "channel": self.channel,
            "unit": self.unit,
            "as_of": self.as_of.isoformat(),
            "matched": self.matched,
            "selected": self.selected,
            "removed": dict(self.removed),
        }


#: PostgreSQL settings for the queries that read a whole segment (a count's waterfall,
#: a snapshot's selection), transaction-local (see :func:`segment_settings`). A value of
#: ``None`` is taken from the server: ``effective_cache_size`` is set to the server's
#: ``shared_buffers``.
SEGMENT_SETTINGS: dict[str, str | None] = {
    "jit": "off",
    "work_mem": "32MB",
    "effective_cache_size": None,
}


def current_settings(session: Session, names: list[str]) -> dict[str, str]:
    """The current values of PostgreSQL settings, in one query."""
    row = session.execute(select(*[func.current_setting(n) for n in names])).one()
    return dict(zip(names, row, strict=True))


def _set(session: Session, values: dict[str, str]) -> None:
    """Set PostgreSQL settings transaction-locally, in one query."""
    session.execute(select(*[func.set_config(n, v, True) for n, v in values.items()]))


def _filled(shared_buffers: str) -> dict[str, str]:
    """:data:`SEGMENT_SETTINGS` with the server's ``shared_buffers`` for each None."""
    return {name: value or shared_buffers for name, value in SEGMENT_SETTINGS.items()}


def segment_setting_values(session: Session) -> dict[str, str]:
    """:data:`SEGMENT_SETTINGS` with the server's values filled in (PostgreSQL only)."""
    return _filled(current_settings(session, ["shared_buffers"])["shared_buffers"])


@contextmanager
def segment_settings(session: Session) -> Iterator[None]:
    """Run PostgreSQL statements with :data:`SEGMENT_SETTINGS`, then restore them.

    - ``jit`` off: the planner's cost estimates for these queries (many subplans) pass
      ``jit_above_cost`` easily, and compiling them then takes longer than running
      them: measured on 1M members, 2.5 s of JIT for a 0.3 s count.
    - ``work_mem`` 32 MB instead of the default 4 MB: at 3.7M members the hash of the
      pensioners of abc-fuel-pensioners spilled to 16 batches on disk, and the
      household rule sorted on disk; 5-10 % of a count (bench/RESULTS.md).
    - ``effective_cache_size`` the size of ``shared_buffers``: the planner then prices
      an index probe of ``member_facts`` as what it is when the table is larger than
      the buffers, a read from the OS cache (about 7 µs). With the default 4 GB it
      took 296,571 probes, one per bicycle browser, to be cheaper than one scan of
      the 3.7M members: 0.71 s against 0.27 s (bench/RESULTS.md, 2026-12-03).

    The settings are transaction-local and put back afterwards, so the caller's session
    is unchanged. (After an error the transaction is rolled back, which undoes them.)
    """
    if session.get_bind().dialect.name != "postgresql":
        yield
        return
    previous = current_settings(session, [*SEGMENT_SETTINGS, "shared_buffers"])
    _set(session, _filled(previous.pop("shared_buffers")))
    yield
    _set(session, previous)


def count(session: Session, segment: Segment, *, as_of: dt.date | None = None) -> SegmentCount:
    """Count the segment in one query: selected, and removed per policy rule."""
    return run_compiled(session, segment, lambda c: count_compiled(session, c), as_of=as_of)


def count_compiled(session: Session, compiled: CompiledSegment) -> SegmentCount:
    """:func:`count` for a compiled segment (inside :func:`run_compiled`)."""
    segment = compiled.segment
    with segment_settings(session):
        rows = session.execute(compiled.waterfall()).all()
    by_rule: dict[str | None, int] = dict(rows)
    removed = {name: by_rule.pop(name, 0) for name in compiled.policy.rule_names()}
    selected = by_rule.pop(None, 0)
    if by_rule:  # pragma: no cover - the CASE only yields the names listed above
        raise AssertionError(f"policy produced unknown rules {sorted(map(str, by_rule))}")
    return SegmentCount(
        segment=segment.name,
        purpose=segment.purpose.value,
        channel=segment.channel.value,
        unit=segment.unit.value,
        as_of=compiled.as_of,
        matched=selected + sum(removed.values()),
        selected=selected,
        removed=removed,
    )


def selection(session: Session, segment: Segment, *, as_of: dt.date | None = None) -> Select[int]:
    """The statement selecting the recipients' member ids, policy included.

    For campaign snapshots (``INSERT ... SELECT``) that must not pull millions of ids
    into Python; run them under :func:`segment_settings`, and inside
    :func:`run_compiled` (``compiled.selection()``) where the rollup window may move.
    """
    return compile_segment(session, segment, as_of=as_of).selection()


def member_ids(
    session: Session,
    segment: Segment,
    *,
    as_of: dt.date | None = None,
    batch_size: int = 10_000,
) -> Iterator[int]:
    """The recipients' member ids in ascending order, streamed in batches.

    The ids cannot be taken back once yielded: if the rollup window moved while they
    were read, :class:`OperationError` is raised at the end (see :func:`run_compiled`).
    """
    compiled = compile_segment(session, segment, as_of=as_of)
    stmt = compiled.selection().subquery("recipients")
    ordered = select(stmt.c.id).order_by(stmt.c.id).execution_options(yield_per=batch_size)
    yield from session.execute(ordered).scalars()
    if compiled.window_moved(session):
        raise OperationError(
            "the purchase rollups were rebuilt while the recipients were read; run it again",
            where=segment.source,
        )


Query = Literal["select", "count"]


def explain(
    session: Session,
    segment: Segment,
    *,
    as_of: dt.date | None = None,
    query: Query = "select",
) -> str:
    """The SQL for this database's dialect with the values inlined, ready for psql.

    ``select`` is the recipients query, ``count`` the waterfall that ``count`` runs.
    """
    compiled = compile_segment(session, segment, as_of=as_of)
    stmt = compiled.selection() if query == "select" else compiled.waterfall()
    dialect = session.get_bind().dialect
    sql = stmt.compile(dialect=dialect, compile_kwargs={"literal_binds": True})
    return f"{str(sql).strip()};"


@dataclass(frozen=True)
class Why:
    """Whether one member is in a segment, and if not, what keeps them out first."""

    member_id: int
    segment: str
    as_of: dt.date
    selected: bool
    matched: bool
    #: The criterion (or group) that fails first, when the criteria do not match.
    criterion: str | None
    line: int | None
    verdict: str | None
    #: The first policy rule that blocks the member, whether or not they matched.
    rule: str | None

    @property
    def removed_by(self) -> str | None:
        """What removes the member first: the criteria, then the policy."""
        if not self.matched:
            return f"criterion {self.criterion}"
        return f"rule {self.rule}" if self.rule else None

    def as_json(self) -> dict[str, Any]:
        return {
            "member_id": self.member_id,
            "segment": self.segment,
            "as_of": self.as_of.isoformat(),
            "selected": self.selected,
            "matched": self.matched,
            "criterion": (
                None
                if self.criterion is None
                else {"path": self.criterion, "line": self.line, "verdict": self.verdict}
            ),
            "rule": self.rule,
            "removed_by": self.removed_by,
        }


def why(
    session: Session,
    segment: Segment,
    member_id: int,
    *,
    actor: str,
    reason: str | None = None,
    as_of: dt.date | None = None,
) -> Why:
    """Explain one member's place in the segment; audited as ``segment.why``."""
    if not actor.strip():
        raise InputError("an actor is required to look at one member", where="--as")
    get_member(session, member_id)  # exit 2 naming the id when there is none
    compiled, (failure, rule) = run_compiled(
        session, segment, lambda c: (c, c.trace(session, member_id)), as_of=as_of
    )
    result = Why(
        member_id=member_id,
        segment=segment.name,
        as_of=compiled.as_of,
        selected=failure is None and rule is None,
        matched=failure is None,
        criterion=failure.loc.path if failure else None,
        line=failure.loc.line if failure else None,
        verdict=failure.verdict if failure else None,
        rule=rule,
    )
    audit.record(
        session,
        actor=actor,
        action="segment.why",
        member_id=member_id,
        reason=reason,
        detail={
            "segment": segment.name,
            "file": segment.source,
            "as_of": compiled.as_of.isoformat(),
            "selected": result.selected,
            "removed_by": result.removed_by,
        },
    )
    return result
