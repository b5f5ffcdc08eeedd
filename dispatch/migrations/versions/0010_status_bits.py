"""member_facts: status and address status as bits of ``reach``, not text columns

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03 07:00:00

The policy tests "active" and "address deliverable" for every member a segment
matches. As text columns after the other text columns they made PostgreSQL deform
every such row up to ``address_status`` and compare strings, and they widened the
rows that a count hashes; as two more bits of ``reach`` (``Reach.ACTIVE``,
``Reach.DELIVERABLE``) they are read at a fixed offset. At 3.7M members this took
0.08 s (14 %) off abc-fuel-pensioners' count and 0.06 s off bicycle-browsers'
(bench/RESULTS.md, 2026-12-03). ``members`` keeps both columns as they are.

Like 0009, the derived table is made anew, packed, rather than altered in place:
its rows are copied from the old table (the activity bits included), and the
triggers of migration 0005 are replaced by ones that compute the new ``reach``.
"""

# The DDL and trigger bodies are SQL text; every name in them is a constant of this file.
# ruff: noqa: S608

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen here (not imported): dispatch.register.facts describes the same columns and bits.
BITS = ("purchased_groups_0", "purchased_groups_1", "activity")
TEXT = ("language", "region", "municipality", "postcode")
COPIED = (
    "household_id",
    "home_store_id",
    "birth_year",
    "member_since",
    "consent_flags",
    "suppression_flags",
    *TEXT,
)
# Before this migration: the same, with the two status columns.
STATUS = ("status", "address_status")
OLD_COPIED = (*COPIED[:6], "language", *STATUS, *TEXT[1:])
ACTIVE = 8
DELIVERABLE = 16


def _big_id() -> sa.types.TypeEngine[int]:
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _create_table(name: str, *, with_status: bool) -> None:
    """``member_facts`` (under ``name``), fixed-width NOT NULL columns first (0009)."""
    status = [
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("address_status", sa.String(length=12), nullable=False),
    ]
    op.create_table(
        name,
        sa.Column("id", _big_id(), nullable=False),
        *[sa.Column(c, sa.BigInteger(), server_default="0", nullable=False) for c in BITS[:2]],
        sa.Column("consent_flags", sa.BigInteger(), nullable=False),
        sa.Column("suppression_flags", sa.Integer(), nullable=False),
        sa.Column("activity", sa.Integer(), server_default="0", nullable=False),
        sa.Column("reach", sa.SmallInteger(), nullable=False),
        sa.Column("birth_year", sa.SmallInteger(), nullable=True),
        sa.Column("home_store_id", sa.Integer(), nullable=True),
        sa.Column("household_id", _big_id(), nullable=True),
        sa.Column("member_since", sa.Date(), nullable=True),
        sa.Column("language", sa.String(length=2), nullable=False),
        *(status if with_status else []),
        sa.Column("region", sa.String(length=60), nullable=True),
        sa.Column("municipality", sa.String(length=60), nullable=True),
        sa.Column("postcode", sa.String(length=5), nullable=True),
        sa.ForeignKeyConstraint(
            ["id"], ["members.id"], name="fk_member_facts_id_members", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_member_facts"),
    )


def _reach(row: str, *, bits: bool) -> str:
    """``reach`` of the ``members`` row ``row`` (an alias or NEW); ``bits``: with the status bits."""

    def present(column: str) -> str:
        return f"COALESCE({row}.{column}, '') <> ''"

    address = " AND ".join(present(c) for c in ("street", "postcode", "post_town"))
    terms = [
        f"(CASE WHEN {address} THEN 1 ELSE 0 END)",
        f"(CASE WHEN {present('email')} THEN 2 ELSE 0 END)",
        f"(CASE WHEN {present('phone')} THEN 4 ELSE 0 END)",
    ]
    if bits:
        terms += [
            f"(CASE WHEN {row}.status = 'active' THEN {ACTIVE} ELSE 0 END)",
            f"(CASE WHEN {row}.address_status = 'deliverable' THEN {DELIVERABLE} ELSE 0 END)",
        ]
    return " + ".join(terms)


def _columns(*, bits: bool) -> tuple[str, ...]:
    """The columns the triggers write: with the status bits (this shape) or columns (0009's)."""
    return ("id", *(COPIED if bits else OLD_COPIED), "reach")


def _values(row: str, *, bits: bool) -> str:
    copied = _columns(bits=bits)[1:-1]
    return ", ".join([f"{row}.id", *(f"{row}.{c}" for c in copied), _reach(row, bits=bits)])


def _postgresql_functions(*, bits: bool) -> list[str]:
    """Migration 0005's trigger functions, for the columns of this shape."""
    columns = _columns(bits=bits)
    values = _values("n", bits=bits)
    assignments = ", ".join(f"{c} = n.{c}" for c in columns[1:])
    return [
        f"""
        CREATE OR REPLACE FUNCTION member_facts_inserted() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            INSERT INTO member_facts ({", ".join(columns)})
            SELECT {values} FROM inserted_members AS n;
            RETURN NULL;
        END $$""",
        f"""
        CREATE OR REPLACE FUNCTION member_facts_updated() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            UPDATE member_facts AS f SET {assignments}
            FROM (SELECT {values} FROM updated_members AS n) AS n ({", ".join(columns)})
            WHERE f.id = n.id;
            RETURN NULL;
        END $$""",
    ]


def _sqlite_triggers(*, bits: bool) -> list[str]:
    """Migration 0005's insert and delete triggers and 0009's update trigger, for this shape."""
    columns = ", ".join(_columns(bits=bits))
    values = _values("NEW", bits=bits)
    # The update REPLACEs the whole row: the bits are carried over from the row it replaces.
    kept = [f"COALESCE((SELECT {c} FROM member_facts WHERE id = NEW.id), 0)" for c in BITS]
    return [
        "DROP TRIGGER member_facts_insert",
        "DROP TRIGGER member_facts_update",
        "DROP TRIGGER member_facts_delete",
        f"""
        CREATE TRIGGER member_facts_insert AFTER INSERT ON members
        BEGIN INSERT INTO member_facts ({columns}) VALUES ({values}); END""",
        f"""
        CREATE TRIGGER member_facts_update AFTER UPDATE ON members
        BEGIN INSERT OR REPLACE INTO member_facts ({columns}, {", ".join(BITS)})
        VALUES ({", ".join([values, *kept])}); END""",
        """
        CREATE TRIGGER member_facts_delete AFTER DELETE ON members
        BEGIN DELETE FROM member_facts WHERE id = OLD.id; END""",
    ]


def _rebuild(*, bits: bool) -> None:
    """Make ``member_facts`` anew in the shape ``bits`` names, from the old table.

    ``bits``: the status as bits of ``reach`` (upgrade) or as columns (downgrade). The
    copied columns and ``reach`` are computed from ``members`` as the triggers do; the
    activity bits are taken over from the old table.
    """
    dialect = op.get_bind().dialect.name
    op.rename_table("member_facts", "member_facts_old")
    if dialect == "postgresql":
        # The primary key's index name is the schema's, not the table's.
        op.execute("ALTER TABLE member_facts_old RENAME CONSTRAINT pk_member_facts TO pk_mf_old")
    _create_table("member_facts", with_status=not bits)
    columns = ", ".join((*_columns(bits=bits), *BITS))
    values = ", ".join((_values("m", bits=bits), *(f"o.{c}" for c in BITS)))
    op.execute(f"""
        INSERT INTO member_facts ({columns})
        SELECT {values} FROM members AS m JOIN member_facts_old AS o ON o.id = m.id
        ORDER BY m.id""")
    op.drop_table("member_facts_old")
    if dialect == "postgresql":
        for statement in _postgresql_functions(bits=bits):
            op.execute(statement)
    else:
        # SQLite's RENAME rewrote the triggers to name member_facts_old: make them anew.
        for statement in _sqlite_triggers(bits=bits):
            op.execute(statement)


def upgrade() -> None:
    _rebuild(bits=True)


def downgrade() -> None:
    _rebuild(bits=False)
