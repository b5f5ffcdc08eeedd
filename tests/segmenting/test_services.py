"""count, selection, explain and why: one policy, the same answers, audited look-ups."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine, func, insert, select
from sqlalchemy.orm import Session

from dispatch.db.types import Channel, Decision, MemberStatus, Purpose, SuppressionReason
from dispatch.errors import InputError, OperationError
from dispatch.register import rollups
from dispatch.register.models import AuditEntry, Member, PurchaseSummary
from dispatch.segmenting import services
from dispatch.segmenting.compiler import CompiledSegment
from dispatch.segmenting.references import Catalog
from tests import factories
from tests.segmenting.conftest import AS_OF, Register, buy, segment, selected

MAY = dt.date(2025, 5, 1)
BABY = """
all:
  - purchased: {group: baby, within_months: 6}
  - age: {min: 18}
none:
  - region: Lappi
"""


def baby_buyers(session: Session, register: Register) -> dict[str, Member]:
    """Members who bought baby products, each meant to meet a different fate."""
    home = factories.household(session, kind="baby_family")
    members = {
        "mother": factories.member(session, household_id=home.id),
        "father": factories.member(session, household_id=home.id),
        "objector": factories.member(session),
        "deceased": factories.member(session, status=MemberStatus.DECEASED),
        "registered": factories.member(session),
        "returned": factories.member(session),
        "teen": factories.member(session, birth_year=AS_OF.year - 16),
        "lapland": factories.member(session, region="Lappi"),
        "single": factories.member(session),
    }
    for m in members.values():
        buy(session, m, register.groups["diapers"], MAY)
    factories.member(session)  # bought nothing
    factories.set_consent(
        session, members["objector"], Purpose.DIRECT_MARKETING, Channel.ANY, Decision.OBJECTED
    )
    factories.suppress(session, members["registered"], SuppressionReason.OPTOUT_REGISTER)
    factories.suppress(session, members["returned"], SuppressionReason.RETURNED_MAIL)
    return members


def test_count_reconciles_matched_with_selected_plus_removed(
    session: Session, register: Register
) -> None:
    people = baby_buyers(session, register)
    seg = segment(BABY, purpose="partner_marketing", unit="household")

    result = services.count(session, seg, as_of=AS_OF)

    assert result.matched == 7  # the teen is out by the criteria, as is Lapland
    assert result.selected == 2
    assert result.removed == {
        "status": 1,
        "suppressed": 0,
        "minor": 0,
        "objection": 1,
        "consent_refused": 0,
        "optout_register": 1,
        "address": 1,
        "household": 1,
    }
    assert result.matched == result.selected + sum(result.removed.values())
    assert selected(session, seg) == {people["mother"].id, people["single"].id}


@pytest.mark.parametrize("unit", ["member", "household"])
@pytest.mark.parametrize("purpose", ["own_marketing", "partner_marketing"])
def test_selection_holds_exactly_the_members_counted_as_selected(
    session: Session, register: Register, unit: str, purpose: str
) -> None:
    baby_buyers(session, register)
    seg = segment(BABY, purpose=purpose, unit=unit)

    counted = services.count(session, seg, as_of=AS_OF).selected
    statement = services.selection(session, seg, as_of=AS_OF).subquery()
    in_statement = session.execute(select(func.count()).select_from(statement)).scalar_one()

    assert counted == in_statement == len(selected(session, seg))


def test_explained_sql_runs_as_is_and_selects_the_same_members(
    session: Session, register: Register
) -> None:
    baby_buyers(session, register)
    seg = segment(
        BABY + "  - postcode_prefix: '99'\n", purpose="partner_marketing", unit="household"
    )

    sql = services.explain(session, seg, as_of=AS_OF)
    waterfall = services.explain(session, seg, as_of=AS_OF, query="count")

    assert sql.endswith(";") and "__[POSTCOMPILE" not in sql
    raw = session.connection().exec_driver_sql
    assert {row[0] for row in raw(sql.rstrip(";"))} == selected(session, seg)
    counted = {rule: n for rule, n in raw(waterfall.rstrip(";"))}
    result = services.count(session, seg, as_of=AS_OF)
    assert counted.pop(None) == result.selected
    assert counted == {rule: n for rule, n in result.removed.items() if n}


def test_why_names_the_first_failing_criterion_with_its_line(
    session: Session, register: Register
) -> None:
    people = baby_buyers(session, register)
    nothing = factories.member(session)
    seg = segment(BABY)

    teen = services.why(session, seg, people["teen"].id, actor="maija", as_of=AS_OF)
    lapland = services.why(session, seg, people["lapland"].id, actor="maija", as_of=AS_OF)
    other = services.why(session, seg, nothing.id, actor="maija", as_of=AS_OF)

    assert (teen.selected, teen.matched) == (False, False)
    assert (teen.criterion, teen.line, teen.verdict) == ("where.all[1].age", 8, "not matched")
    assert teen.rule == "minor"  # the policy would block the teen as well
    assert lapland.criterion == "where.none[0].region"
    assert lapland.verdict == "matched, and it is listed under none"
    assert other.criterion == "where.all[0].purchased"
    assert other.rule is None
    assert other.removed_by == "criterion where.all[0].purchased"


def test_why_names_the_policy_rule_including_household(
    session: Session, register: Register
) -> None:
    people = baby_buyers(session, register)
    seg = segment(BABY, purpose="partner_marketing", unit="household")

    def rule(name: str) -> str | None:
        return services.why(session, seg, people[name].id, actor="maija", as_of=AS_OF).rule

    assert rule("mother") is None
    assert rule("father") == "household"
    assert rule("objector") == "objection"
    assert rule("registered") == "optout_register"
    assert rule("returned") == "address"
    assert rule("deceased") == "status"
    assert services.why(session, seg, people["mother"].id, actor="maija", as_of=AS_OF).selected


def test_why_writes_an_audit_entry_for_the_member(session: Session, register: Register) -> None:
    people = baby_buyers(session, register)

    services.why(
        session,
        segment(BABY),
        people["objector"].id,
        actor="maija.staff",
        reason="member asked why they got mail",
        as_of=AS_OF,
    )

    [entry] = session.execute(select(AuditEntry)).scalars()
    assert entry.actor == "maija.staff"
    assert entry.action == "segment.why"
    assert entry.member_id == people["objector"].id
    assert entry.reason == "member asked why they got mail"
    assert entry.detail["segment"] == "test-segment"
    assert entry.detail["removed_by"] == "rule objection"


def test_why_refuses_without_an_actor_and_leaves_no_trace(
    session: Session, register: Register
) -> None:
    people = baby_buyers(session, register)

    with pytest.raises(InputError):
        services.why(session, segment(BABY), people["mother"].id, actor=" ", as_of=AS_OF)

    assert session.execute(select(func.count()).select_from(AuditEntry)).scalar_one() == 0


def test_why_for_an_unknown_member_fails_naming_it(session: Session, register: Register) -> None:
    with pytest.raises(InputError, match="no member with id 424242"):
        services.why(session, segment(BABY), 424242, actor="maija", as_of=AS_OF)


def test_compiled_segment_offers_no_statement_without_the_policy(
    session: Session, register: Register
) -> None:
    compiled = CompiledSegment(segment(BABY), Catalog.load(session), AS_OF)
    public = {name for name in dir(compiled) if not name.startswith("_")}

    # The rollup window (months, no members) and whether it moved are public too.
    assert public == {
        "segment",
        "as_of",
        "policy",
        "selection",
        "waterfall",
        "trace",
        "window",
        "window_moved",
    }
    for statement in (compiled.selection(), compiled.waterfall()):
        sql = str(statement.compile(compile_kwargs={"literal_binds": True}))
        for rule in ("member_facts.reach", "suppression_flags", "consent_flags", "birth_year"):
            assert rule in sql


def test_count_leaves_the_callers_session_settings_as_it_found_them(
    session: Session, register: Register
) -> None:
    baby_buyers(session, register)
    if session.get_bind().dialect.name != "postgresql":
        return  # JIT and work_mem are PostgreSQL settings; SQLite has nothing to restore

    def settings() -> dict[str, str]:
        return {
            name: session.execute(select(func.current_setting(name))).scalar_one()
            for name in services.SEGMENT_SETTINGS
        }

    before = settings()
    seen: list[dict[str, str]] = []
    real_execute = session.execute

    def execute(statement: Any, *args: Any, **kwargs: Any) -> Any:
        if "rule" in str(statement):  # the waterfall: note the settings it runs with
            current = [func.current_setting(name) for name in before]
            seen.append(dict(zip(before, real_execute(select(*current)).one(), strict=True)))
        return real_execute(statement, *args, **kwargs)

    session.execute = execute  # type: ignore[method-assign]
    try:
        services.count(session, segment(BABY), as_of=AS_OF)
    finally:
        del session.execute

    buffers = session.execute(select(func.current_setting("shared_buffers"))).scalar_one()
    assert seen == [{"jit": "off", "work_mem": "32MB", "effective_cache_size": buffers}]
    assert settings() == before
    assert before != seen[0]


def test_selection_tests_a_condition_once_when_criteria_and_policy_repeat_it(
    session: Session, register: Register
) -> None:
    """BABY's age criterion and the minor rule say the same of adults: one test in the SQL,
    and the members selected are those the count says."""
    people = baby_buyers(session, register)
    seg = segment(BABY)
    sql = services.explain(session, seg, as_of=AS_OF)
    adult = f"member_facts.birth_year <= {AS_OF.year - 18}"

    assert sql.count("member_facts.birth_year IS NOT NULL") == 1
    assert sql.count(adult) == 1
    chosen = selected(session, seg)
    assert people["teen"].id not in chosen and people["mother"].id in chosen
    assert len(chosen) == services.count(session, seg, as_of=AS_OF).selected


@pytest.mark.parametrize(("min_age", "bound"), [(16, 18), (30, 30)])
def test_selection_keeps_only_the_strictest_birth_year_bound(
    session: Session, register: Register, min_age: int, bound: int
) -> None:
    """An age criterion and the minor rule are two upper bounds on the birth year: the
    stricter one implies the other, so only it is tested, and the members selected are
    the same as the count's."""
    born = {age: factories.member(session, birth_year=AS_OF.year - age) for age in (16, 18, 30)}
    for m in born.values():
        buy(session, m, register.groups["diapers"], MAY)
    seg = segment(BABY.replace("{min: 18}", f"{{min: {min_age}}}"))

    sql = services.explain(session, seg, as_of=AS_OF)

    bounds = re.findall(r"member_facts\.birth_year <= (\d+)", sql)
    assert bounds == [str(AS_OF.year - bound)]
    chosen = selected(session, seg)
    assert chosen == {m.id for age, m in born.items() if age >= bound}
    assert len(chosen) == services.count(session, seg, as_of=AS_OF).selected


JUNE = dt.date(2025, 6, 1)
JULY = dt.date(2025, 7, 1)
FUEL_IN_JUNE = """
all:
  - purchased: {group: fuel, within_months: 1}
"""


class WindowMover:
    """Wraps ``services.compile_segment``: right after the first compilation, another
    connection commits a purchase feed's month past the rollup window (July), which
    moves the window one month on; ``compiled`` keeps every compilation."""

    def __init__(self, engine: Engine, member: Member, fuel: int) -> None:
        self.original = services.compile_segment
        self.engine = engine
        self.member_id, self.fuel = member.id, fuel
        self.compiled: list[CompiledSegment] = []

    def __call__(self, session: Session, seg: Any, *, as_of: dt.date | None = None) -> Any:
        compiled = self.original(session, seg, as_of=as_of)
        self.compiled.append(compiled)
        if len(self.compiled) == 1:
            with self.engine.begin() as conn:
                conn.execute(
                    insert(PurchaseSummary).values(
                        member_id=self.member_id,
                        product_group_id=self.fuel,
                        month=JULY,
                        amount=Decimal("30.00"),
                        count=1,
                    )
                )
                rollups.after_purchases(conn, [self.member_id], [JULY])
        return compiled


@pytest.fixture
def window_race(
    engine: Engine, session: Session, register: Register, monkeypatch: pytest.MonkeyPatch
) -> tuple[WindowMover, dict[str, Member]]:
    """As of 15 June: ``june`` bought fuel in June, ``july`` buys some in July (in the
    mover's transaction); "fuel within 1 month" is May and June, so only ``june``."""
    people = {"june": factories.member(session), "july": factories.member(session)}
    buy(session, people["june"], register.groups["petrol"], JUNE)
    session.commit()  # so that the other connection may write (SQLite has one writer)
    mover = WindowMover(engine, people["july"], register.groups["diesel"].id)
    monkeypatch.setattr(services, "compile_segment", mover)
    return mover, people


def test_count_compiles_again_when_a_feed_moves_the_rollup_window_meanwhile(
    session: Session, register: Register, window_race: tuple[WindowMover, dict[str, Member]]
) -> None:
    mover, people = window_race
    seg = segment(FUEL_IN_JUNE)
    result = services.count(session, seg, as_of=AS_OF)
    assert result.selected == 1
    assert selected(session, seg) == {people["june"].id}
    if not session.info["rollups"]:
        # Read from the summaries, the SQL does not depend on the window.
        assert len(mover.compiled) == 2  # the count's, then the selection's
        return
    first = mover.compiled[0]
    assert len(mover.compiled) == 3 and first.window_moved(session)
    # The race is real: the first compilation, run on the moved window, reads
    # slot 12 (June when compiled) as July, and counts the July buyer too.
    stale = session.execute(select(func.count()).select_from(first.selection().subquery()))
    assert stale.scalar_one() == 2


def test_why_judges_with_the_window_it_was_compiled_for(
    session: Session, register: Register, window_race: tuple[WindowMover, dict[str, Member]]
) -> None:
    mover, people = window_race
    july = people["july"].id
    result = services.why(session, segment(FUEL_IN_JUNE), july, actor="ops", as_of=AS_OF)
    assert not result.matched and result.criterion == "where.all[0].purchased"
    assert len(mover.compiled) == (2 if session.info["rollups"] else 1)


def test_count_gives_up_with_a_clear_error_when_the_window_keeps_moving(
    session: Session, register: Register, monkeypatch: pytest.MonkeyPatch
) -> None:
    buy(session, factories.member(session), register.groups["petrol"], JUNE)
    seg = segment(FUEL_IN_JUNE)
    monkeypatch.setattr(CompiledSegment, "window_moved", lambda self, session: True)
    with pytest.raises(OperationError, match="rebuilt 3 times") as error:
        services.count(session, seg, as_of=AS_OF)
    assert error.value.where == "segments/test.yaml"
