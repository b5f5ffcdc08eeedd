"""``dispatch register seed``: deterministic, realistic, and careful with existing data."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, inspect, select, text
from sqlalchemy.orm import Session

from dispatch.db.engine import make_engine
from dispatch.db.types import Channel, Decision, Purpose, utcnow
from dispatch.register import catalog, consent
from dispatch.register import seed as seed_module
from dispatch.register.habits import Habits
from dispatch.register.models import (
    AuditEntry,
    BonusPurchase,
    ConsentEvent,
    ConsentState,
    Household,
    Member,
    PurchaseSummary,
    RestaurantVisit,
    Suppression,
    WebInterest,
)
from dispatch.register.seed import SeedOptions, seed_register
from tests.conftest import CliResult, empty_database
from tests.factories import TEST_SECRET
from tests.register.conftest import AS_OF

Cli = Callable[..., CliResult]


def _seed(engine: Engine, members: int = 300, seed: int = 1, replace: bool = False) -> None:
    options = SeedOptions(members=members, seed=seed, as_of=AS_OF)
    seed_register(engine, options, secret_key=TEST_SECRET, replace=replace)


def _plain(value: Any) -> Any:
    """A value as both backends agree on it (SQLite gives floats for NUMERIC)."""
    if isinstance(value, float | Decimal):
        return str(Decimal(str(value)).quantize(Decimal("0.01")))
    return value


def _dump(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    dumps = {}
    with engine.connect() as conn:
        for model in (Member, Household, PurchaseSummary, BonusPurchase, RestaurantVisit,
                      WebInterest, ConsentEvent, ConsentState, Suppression):  # fmt: skip
            table = model.__table__
            columns = [c for c in table.c if c.name != "id" or model is not Suppression]
            rows = conn.execute(select(*columns).order_by(*table.primary_key.columns))
            dumps[table.name] = [tuple(_plain(v) for v in row) for row in rows]
    return dumps


def test_same_arguments_give_the_same_register_and_another_seed_another(engine: Engine) -> None:
    _seed(engine, seed=7)
    first = _dump(engine)
    _seed(engine, seed=7, replace=True)
    again = _dump(engine)
    _seed(engine, seed=8, replace=True)
    other = _dump(engine)

    assert len(first["members"]) == 300
    assert again == first
    assert other["members"] != first["members"]
    assert other["purchase_summaries"] != first["purchase_summaries"]
    assert first["bonus_purchases"] and other["bonus_purchases"] != first["bonus_purchases"]


def test_bonus_purchases_are_adults_at_the_catalog_partners_in_the_last_year(
    engine: Engine,
) -> None:
    _seed(engine, seed=3)
    with engine.connect() as conn:
        rows = conn.execute(
            select(BonusPurchase.partner_code, BonusPurchase.purchased_on, Member.birth_year).join(
                Member, Member.id == BonusPurchase.member_id
            )
        ).all()
        buyers = conn.execute(select(func.count(func.distinct(BonusPurchase.member_id)))).scalar()
    codes = {p.code for p in catalog.BONUS_PARTNERS}
    assert rows and {code for code, _, _ in rows} <= codes
    assert all(AS_OF - dt.timedelta(days=365) < day <= AS_OF for _, day, _ in rows)
    assert all(AS_OF.year - born >= 18 for _, _, born in rows)
    assert 0.1 * 300 < (buyers or 0) < 0.5 * 300  # about a quarter buy from Nordic Air


def test_seed_writes_the_same_rows_on_either_database(
    engine: Engine, sqlite_template: Path, tmp_path: Path
) -> None:
    shutil.copyfile(sqlite_template, tmp_path / "reference.db")
    reference = make_engine(f"sqlite:///{tmp_path / 'reference.db'}")
    try:
        _seed(reference, seed=3)
        _seed(engine, seed=3)

        assert _dump(engine) == _dump(reference)
    finally:
        reference.dispose()


def test_normal_writes_after_a_seed_get_fresh_ids(engine: Engine) -> None:
    _seed(engine, members=300)
    with Session(engine) as s, s.begin():
        before = s.scalar(select(func.max(ConsentEvent.id)))
        households = s.scalar(select(func.max(Household.id)))
        event = consent.record(
            s, 1, Purpose.OWN_MARKETING, Channel.EMAIL, Decision.REFUSED,
            source="test", actor="tester",
        )  # fmt: skip
        member = Member(subject_hash="x" * 64, language="fi", card_number="1" * 16)
        household = Household(kind="single")
        s.add_all([member, household])
        s.flush()

        assert event.id == before + 1
        assert member.id == 301
        assert household.id == households + 1


def test_second_seed_is_refused_without_replace(cli: Cli) -> None:
    first = cli("register", "seed", "--members", "300", "--as-of", "2025-05-15", "--json")
    again = cli("register", "seed", "--members", "300", "--as-of", "2025-05-15")

    assert first.code == 0, first.err
    assert again.code == 1
    [line] = again.err.strip().splitlines()
    assert "--replace" in line
    assert json.loads(cli("register", "stats", "--json").out)["counts"]["members"] == 300


def test_replace_empties_the_register_and_what_refers_to_it(cli: Cli, engine: Engine) -> None:
    assert cli("register", "seed", "--members", "300", "--as-of", "2025-05-15").code == 0
    with Session(engine) as s, s.begin():
        s.add(AuditEntry(at=utcnow(), actor="tester", action="member.show", member_id=5))

    result = cli("register", "seed", "--members", "200", "--seed", "2", "--replace", "--json")

    assert result.code == 0, result.err
    doc = json.loads(result.out)
    assert doc["counts"]["members"] == 200
    assert "audit_log" in doc["emptied"]
    with engine.connect() as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM members")).scalar() == 200
        assert conn.execute(text("SELECT COUNT(*) FROM audit_log")).scalar() == 0


def test_seed_json_is_one_document_with_counts_and_time(cli: Cli) -> None:
    result = cli("register", "seed", "--members", "250", "--seed", "5", "--as-of", "2025-01-31",
                 "--json")  # fmt: skip

    assert result.code == 0, result.err
    doc = json.loads(result.out)
    assert doc["members"] == 250
    assert doc["as_of"] == "2025-01-31"
    assert doc["counts"]["members"] == 250
    assert doc["counts"]["product_groups"] >= 90
    assert doc["counts"]["purchase_summaries"] > 250 * 10
    assert doc["elapsed_seconds"] >= 0
    assert result.err == ""


@pytest.mark.parametrize(
    "args",
    [["--members", "0"], ["--as-of", "15.5.2025"], ["--seed", "x"]],
    ids=" ".join,
)
def test_bad_seed_arguments_are_bad_input(cli: Cli, args: list[str]) -> None:
    result = cli("register", "seed", *args)

    assert result.code == 2
    assert len(result.err.strip().splitlines()) == 1


def _schema(engine: Engine) -> dict[str, Any]:
    """Indexes and foreign keys of every table, as the database reports them."""
    insp = inspect(engine)
    return {
        table: (
            sorted((i["name"], tuple(i["column_names"])) for i in insp.get_indexes(table)),
            sorted(
                (fk["name"], tuple(fk["constrained_columns"]), fk["referred_table"])
                for fk in insp.get_foreign_keys(table)
            ),
        )
        for table in insp.get_table_names()
    }


def test_seed_puts_back_every_index_and_foreign_key(engine: Engine) -> None:
    before = _schema(engine)

    _seed(engine, members=100)

    assert _schema(engine) == before


def test_a_seed_failing_part_way_leaves_register_and_schema_as_they_were(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = _schema(engine)
    monkeypatch.setattr(seed_module, "CHUNK_MEMBERS", 50)
    real_add = Habits.add

    def add_until_150(self: Habits, person: Any, rows: Any) -> None:
        if person.id > 150:  # three chunks are written by now
            raise RuntimeError("generator crashed")
        real_add(self, person, rows)

    monkeypatch.setattr(Habits, "add", add_until_150)

    with pytest.raises(RuntimeError, match="generator crashed"):
        _seed(engine, members=300)

    assert _schema(engine) == before
    with engine.connect() as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM members")).scalar() == 0
        assert conn.execute(text("SELECT COUNT(*) FROM stores")).scalar() == 0


@pytest.mark.postgres
def test_seed_vacuums_on_postgresql_so_index_only_scans_are_possible(pg_url: str) -> None:
    # PostgreSQL only: SQLite has no visibility map.
    empty_database(pg_url)
    engine = make_engine(pg_url)
    try:
        seed_register(engine, SeedOptions(members=200, seed=3, as_of=AS_OF), secret_key=TEST_SECRET)
        with engine.connect() as conn:
            all_visible, pages = conn.execute(
                text(
                    "SELECT relallvisible, relpages FROM pg_class"
                    " WHERE relname = 'purchase_summaries'"
                )
            ).one()
    finally:
        engine.dispose()
        empty_database(pg_url)
    assert pages > 0
    assert all_visible == pages
