"""``dispatch db upgrade`` builds, on each backend, exactly the schema the models say."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect, select, text
from sqlalchemy.orm import Session

from dispatch.cli import run
from dispatch.db import migrate
from dispatch.db.engine import make_engine
from dispatch.migrations.all_models import metadata
from dispatch.register import activity, facts, flags
from dispatch.register.models import Member
from tests.conftest import PG_SERVER, need_service
from tests.factories import TEST_SECRET


@pytest.fixture
def fresh_sqlite(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'fresh' / 'dispatch.db'}"


@pytest.fixture
def fresh_postgresql() -> Iterator[str]:
    """An empty database of our own on the local server, dropped afterwards."""
    admin = create_engine(f"{PG_SERVER}/postgres", isolation_level="AUTOCOMMIT")
    name = f"dispatch_migrate_{uuid.uuid4().hex[:12]}"
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        admin.dispose()
        need_service("PostgreSQL", str(exc).splitlines()[0])
    try:
        yield f"{PG_SERVER}/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def fresh_url(request: pytest.FixtureRequest) -> str:
    """A database with nothing in it, not even the Alembic version table."""
    url: str = request.getfixturevalue(f"fresh_{request.param}")
    return url


@pytest.fixture
def dispatch(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Callable[..., tuple[int, str]]:
    """``dispatch(url, *args)``: run the CLI on database ``url``; give (code, stdout)."""
    for key in list(os.environ):
        if key.startswith("DISPATCH_") and not key.startswith("DISPATCH_TEST_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("DISPATCH_SECRET_KEY", TEST_SECRET)
    monkeypatch.setenv("DISPATCH_VAR_DIR", str(tmp_path / "var"))

    def invoke(url: str, *args: str) -> tuple[int, str]:
        monkeypatch.setenv("DISPATCH_DATABASE_URL", url)
        out = io.StringIO()
        with redirect_stdout(out), redirect_stderr(io.StringIO()):
            code = run(list(args))
        return code, out.getvalue()

    return invoke


Dispatch = Callable[..., tuple[int, str]]


def schema_differences(url: str) -> list[object]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            return list(compare_metadata(context, metadata))
    finally:
        engine.dispose()


def test_upgrade_creates_every_table_of_the_models(dispatch: Dispatch, fresh_url: str) -> None:
    code, out = dispatch(fresh_url, "db", "upgrade")

    assert code == 0
    assert out.startswith("database at revision ")
    engine = make_engine(fresh_url)
    try:
        tables = set(inspect(engine).get_table_names())
    finally:
        engine.dispose()
    assert set(metadata.tables) <= tables
    assert "alembic_version" in tables


def test_migrated_schema_matches_the_models(dispatch: Dispatch, fresh_url: str) -> None:
    assert schema_differences(fresh_url), "the comparison must see an empty database"

    assert dispatch(fresh_url, "db", "upgrade")[0] == 0

    assert schema_differences(fresh_url) == []


def test_status_says_up_to_date_only_after_upgrade(dispatch: Dispatch, fresh_url: str) -> None:
    code, before = dispatch(fresh_url, "db", "status", "--json")
    assert code == 0
    assert json.loads(before)["up_to_date"] is False

    dispatch(fresh_url, "db", "upgrade")

    code, after = dispatch(fresh_url, "db", "status", "--json")
    assert code == 0
    status = json.loads(after)
    assert status["up_to_date"] is True
    assert status["current"] == status["head"] is not None


def test_upgrade_twice_is_harmless(dispatch: Dispatch, fresh_url: str) -> None:
    assert dispatch(fresh_url, "db", "upgrade")[0] == 0
    assert dispatch(fresh_url, "db", "upgrade")[0] == 0

    assert schema_differences(fresh_url) == []


def test_all_models_imports_every_models_module() -> None:
    """A models module missing from all_models would escape the comparison above."""
    package = Path(migrate.__file__).parents[1]
    modules = [
        ".".join(("dispatch", *path.relative_to(package).with_suffix("").parts))
        for path in package.rglob("models.py")
    ]
    probe = (
        "import importlib, sys\n"
        "from dispatch.migrations.all_models import metadata\n"
        "known = set(metadata.tables)\n"
        f"for name in {modules!r}: importlib.import_module(name)\n"
        "print(sorted(set(metadata.tables) - known))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )

    assert result.stdout.strip() == "[]", f"tables missing from all_models: {result.stdout}"


def test_upgrade_to_0004_fills_the_contact_flags_of_an_existing_register(fresh_url: str) -> None:
    """A register written before members had contact flags gets them from its tables."""
    migrate.upgrade(fresh_url, "0003")
    engine = make_engine(fresh_url)
    now = "2025-01-01 00:00:00+00:00"
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO households (id, kind) VALUES (1, 'single')"))
        for n in (1, 2, 3):
            conn.execute(
                text(
                    "INSERT INTO members (id, subject_hash, language, household_id, status,"
                    " address_status) VALUES (:n, :h, 'fi', 1, 'active', 'deliverable')"
                ),
                {"n": n, "h": f"subject-{n}"},
            )
        for member_id, purpose, channel, decision in (
            (1, "own_marketing", "email", "granted"),
            (1, "direct_marketing", "any", "objected"),
            (2, "partner_marketing", "post", "refused"),
        ):
            conn.execute(
                text(
                    "INSERT INTO consent_state (member_id, purpose, channel, decision,"
                    " updated_at, event_id) VALUES (:m, :p, :c, :d, :at, 0)"
                ),
                {"m": member_id, "p": purpose, "c": channel, "d": decision, "at": now},
            )
        conn.execute(
            text(
                "INSERT INTO suppressions (subject_hash, reason, created_at, source)"
                " VALUES ('subject-2', 'optout_register', :at, 'test'),"
                " ('subject-2', 'deceased', :at, 'test')"
            ),
            {"at": now},
        )
    engine.dispose()

    migrate.upgrade(fresh_url)

    engine = make_engine(fresh_url)
    with Session(engine) as s:
        got = dict(
            (i, (c, sup))
            for i, c, sup in s.execute(
                select(Member.id, Member.consent_flags, Member.suppression_flags)
            )
        )
        assert flags.drift(s) == 0
    engine.dispose()
    bit, sup = flags.consent_bit, flags.SUPPRESSION_BITS
    assert got == {
        1: (
            bit("own_marketing", "email", "granted") | bit("direct_marketing", "any", "objected"),
            0,
        ),
        2: (bit("partner_marketing", "post", "refused"), sup["optout_register"] | sup["deceased"]),
        3: (0, 0),
    }


def test_upgrade_to_0005_copies_existing_members_into_member_facts(fresh_url: str) -> None:
    """A register written before member_facts existed gets its copy, then triggers."""
    migrate.upgrade(fresh_url, "0004")
    engine = make_engine(fresh_url)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO households (id, kind) VALUES (1, 'single')"))
        conn.execute(
            text(
                "INSERT INTO members (id, subject_hash, language, household_id, status,"
                " address_status, street, postcode, post_town, email, consent_flags)"
                " VALUES (1, 's-1', 'sv', 1, 'active', 'deliverable', 'Gatan 1', '65100',"
                " 'VASA', NULL, 6), (2, 's-2', 'fi', 1, 'deceased', 'returned', NULL, NULL,"
                " NULL, 'a@example.test', 0)"
            )
        )
    engine.dispose()

    migrate.upgrade(fresh_url)

    engine = make_engine(fresh_url)
    with Session(engine) as s:
        got = s.execute(
            text("SELECT id, language, consent_flags, reach FROM member_facts ORDER BY id")
        ).all()
        # reach: address 1, e-mail 2, active 8, deliverable 16 (0010 folded the statuses in)
        assert [tuple(r) for r in got] == [(1, "sv", 6, 1 + 8 + 16), (2, "fi", 0, 2)]
        s.execute(text("UPDATE members SET email = 'b@example.test' WHERE id = 1"))
        assert s.execute(text("SELECT reach FROM member_facts WHERE id = 1")).scalar() == 27
        assert facts.drift(s) == []
    engine.dispose()


def test_upgrade_to_0009_fills_the_activity_bits_of_existing_members(fresh_url: str) -> None:
    """A register with behaviour rows gets its bits; a member update then keeps them."""
    migrate.upgrade(fresh_url, "0008")
    engine = make_engine(fresh_url)
    with engine.begin() as conn:
        for statement in (
            "INSERT INTO members (id, subject_hash, language, status, address_status,"
            " consent_flags) VALUES (1, 's-1', 'fi', 'active', 'deliverable', 0),"
            " (2, 's-2', 'fi', 'active', 'deliverable', 0), (3, 's-3', 'sv', 'active',"
            " 'deliverable', 0)",
            "INSERT INTO stores (id, name, chain, kind, municipality, region) VALUES (7,"
            " 'Rosso Kamppi', 'Rosso',"
            " 'restaurant', 'Helsinki', 'Uusimaa')",
            "INSERT INTO product_groups (id, code, name_fi, name_sv, sensitive)"
            " VALUES (70, 'fuel', 'Polttoaine', 'Bränsle', false)",
            "INSERT INTO purchase_rollups (member_id, product_group_id, months, "
            + ", ".join(f"amount_{i}, count_{i}" for i in range(13))
            + ") VALUES (1, 70, 1, "
            + ", ".join("0, 0" for _ in range(13))
            + ")",
            "INSERT INTO web_interests (member_id, category, last_seen) VALUES"
            " (1, 'travel', '2025-01-02'), (2, 'bicycles', '2025-01-02')",
            "INSERT INTO restaurant_visits (member_id, store_id, month, visits) VALUES"
            " (2, 7, '2025-01-01', 1), (2, 7, '2025-02-01', 3)",
        ):
            conn.execute(text(statement))
    engine.dispose()

    migrate.upgrade(fresh_url)

    engine = make_engine(fresh_url)
    with Session(engine) as s:
        got = s.execute(
            text(
                "SELECT id, purchased_groups_0, purchased_groups_1, activity FROM member_facts"
                " ORDER BY id"
            )
        ).all()
        assert activity.group_bit(70) == ("purchased_groups_1", 1 << 7)
        assert [tuple(r) for r in got] == [
            (1, 0, 1 << 7, activity.WEB_BITS["travel"]),
            (2, 0, 0, activity.WEB_BITS["bicycles"] | activity.VISITED),
            (3, 0, 0, 0),
        ]
        assert activity.drift(s) == []
        s.execute(text("UPDATE members SET language = 'sv' WHERE id = 2"))
        assert s.execute(text("SELECT activity FROM member_facts WHERE id = 2")).scalar() == (
            activity.WEB_BITS["bicycles"] | activity.VISITED
        )
    engine.dispose()


def test_0010_folds_the_statuses_into_reach_and_its_downgrade_puts_them_back(
    fresh_url: str,
) -> None:
    """Both ways keep every member, its activity bits, and working triggers."""
    migrate.upgrade(fresh_url, "0009")
    engine = make_engine(fresh_url)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO members (id, subject_hash, language, status, address_status,"
                " street, postcode, post_town, consent_flags) VALUES"
                " (1, 's-1', 'fi', 'active', 'deliverable', 'Tie 1', '00100', 'HELSINKI', 0),"
                " (2, 's-2', 'sv', 'deceased', 'returned', 'Gatan 2', '65100', 'VASA', 0)"
            )
        )
        conn.execute(text("UPDATE member_facts SET activity = 5 WHERE id = 2"))
    engine.dispose()

    def rows(url: str, columns: str) -> list[tuple[object, ...]]:
        engine = make_engine(url)
        with engine.connect() as conn:
            got = conn.execute(text(f"SELECT {columns} FROM member_facts ORDER BY id")).all()
        engine.dispose()
        return [tuple(r) for r in got]

    migrate.upgrade(fresh_url, "0010")
    assert rows(fresh_url, "id, reach, activity") == [(1, 1 + 8 + 16, 0), (2, 1, 5)]

    command.downgrade(migrate.alembic_config(fresh_url), "0009")
    assert rows(fresh_url, "id, status, address_status, reach, activity") == [
        (1, "active", "deliverable", 1, 0),
        (2, "deceased", "returned", 1, 5),
    ]

    migrate.upgrade(fresh_url)
    engine = make_engine(fresh_url)
    with Session(engine) as s, s.begin():
        s.execute(text("UPDATE members SET status = 'active', address_status = 'deliverable'"
                       " WHERE id = 2"))  # fmt: skip
        s.execute(
            text(
                "INSERT INTO members (id, subject_hash, language, status, address_status,"
                " consent_flags) VALUES (3, 's-3', 'fi', 'active', 'returned', 0)"
            )
        )
        assert facts.drift(s) == []
    engine.dispose()
    assert rows(fresh_url, "id, reach, activity") == [(1, 25, 0), (2, 25, 5), (3, 8, 0)]


def test_0014_moves_erasure_requests_into_member_requests_and_back(fresh_url: str) -> None:
    """The queue keeps every erasure request, its public id and its state, both ways;
    postal exports have no place in the older schema and go on the way down."""
    migrate.upgrade(fresh_url, "0013")
    engine = make_engine(fresh_url)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO members (id, subject_hash, language, status, address_status,"
                " consent_flags) VALUES (1, 's-1', 'fi', 'active', 'deliverable', 0)"
            )
        )
        conn.execute(
            text(
                "INSERT INTO erasure_requests (public_id, member_id, requested_at, source,"
                " status, handled_at, handled_by, note) VALUES"
                " ('er_open', 1, '2026-01-02 10:00:00+00:00', 'centre:letter', 'open',"
                " NULL, NULL, NULL), ('er_done', 1, '2026-01-01 10:00:00+00:00',"
                " 'centre:email', 'declined', '2026-01-03 10:00:00+00:00', 'maija', 'no')"
            )
        )
    engine.dispose()

    def rows(table: str, columns: str) -> list[tuple[object, ...]]:
        engine = make_engine(fresh_url)
        with engine.connect() as conn:
            got = conn.execute(text(f"SELECT {columns} FROM {table} ORDER BY public_id")).all()
        engine.dispose()
        return [tuple(r) for r in got]

    migrate.upgrade(fresh_url)
    assert rows("member_requests", "public_id, kind, status, source, handled_by, downloads") == [
        ("er_done", "erasure", "declined", "centre:email", "maija", 0),
        ("er_open", "erasure", "open", "centre:letter", None, 0),
    ]
    engine = make_engine(fresh_url)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO member_requests (public_id, kind, member_id, requested_at, source,"
                " status) VALUES ('pe_x', 'postal_export', 1, '2026-01-04 10:00:00+00:00',"
                " 'centre:letter', 'open')"
            )
        )
    engine.dispose()

    command.downgrade(migrate.alembic_config(fresh_url), "0013")
    assert rows("erasure_requests", "public_id, status, source, note") == [
        ("er_done", "declined", "centre:email", "no"),
        ("er_open", "open", "centre:letter", None),
    ]
