"""member_facts: the narrow copy of members that segments read, kept by triggers

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25 01:20:00
"""

# Trigger DDL is SQL text by nature; every name in it is a constant of this file.
# ruff: noqa: S608

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen here (not imported) so that this migration keeps meaning what it meant;
# dispatch.register.facts describes the same columns and bits for the application.
COPIED = (
    "household_id",
    "home_store_id",
    "birth_year",
    "member_since",
    "language",
    "status",
    "address_status",
    "region",
    "municipality",
    "postcode",
    "consent_flags",
    "suppression_flags",
)
COLUMNS = ("id", *COPIED, "reach")


def _values(row: str) -> str:
    """The member_facts values of the members row ``row`` (an alias or NEW)."""

    def present(column: str) -> str:
        return f"COALESCE({row}.{column}, '') <> ''"

    address = " AND ".join(present(c) for c in ("street", "postcode", "post_town"))
    reach = (
        f"(CASE WHEN {address} THEN 1 ELSE 0 END)"
        f" + (CASE WHEN {present('email')} THEN 2 ELSE 0 END)"
        f" + (CASE WHEN {present('phone')} THEN 4 ELSE 0 END)"
    )
    return ", ".join([f"{row}.id", *(f"{row}.{c}" for c in COPIED), reach])


_INSERT = f"INSERT INTO member_facts ({', '.join(COLUMNS)})"


def _postgresql_triggers() -> list[str]:
    # Statement-level with transition tables: a COPY of 10,000 members is one
    # INSERT ... SELECT here, not 10,000 trigger calls.
    assignments = ", ".join(f"{c} = n.{c}" for c in COLUMNS[1:])
    values = _values("n")
    return [
        f"""
        CREATE FUNCTION member_facts_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            {_INSERT} SELECT {values} FROM inserted_members AS n;
            RETURN NULL;
        END $$""",
        """
        CREATE TRIGGER member_facts_insert AFTER INSERT ON members
        REFERENCING NEW TABLE AS inserted_members
        FOR EACH STATEMENT EXECUTE FUNCTION member_facts_inserted()""",
        f"""
        CREATE FUNCTION member_facts_updated() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            UPDATE member_facts AS f SET {assignments}
            FROM (SELECT {values} FROM updated_members AS n) AS n ({", ".join(COLUMNS)})
            WHERE f.id = n.id;
            RETURN NULL;
        END $$""",
        """
        CREATE TRIGGER member_facts_update AFTER UPDATE ON members
        REFERENCING NEW TABLE AS updated_members
        FOR EACH STATEMENT EXECUTE FUNCTION member_facts_updated()""",
    ]


def _sqlite_triggers() -> list[str]:
    # Row-level (SQLite has no other kind); REPLACE keeps one row per member.
    values = _values("NEW")
    return [
        f"""
        CREATE TRIGGER member_facts_insert AFTER INSERT ON members
        BEGIN {_INSERT} VALUES ({values}); END""",
        f"""
        CREATE TRIGGER member_facts_update AFTER UPDATE ON members
        BEGIN {_INSERT.replace("INSERT", "INSERT OR REPLACE", 1)} VALUES ({values}); END""",
        # Foreign keys cascade only where they are enforced; say it here as well.
        """
        CREATE TRIGGER member_facts_delete AFTER DELETE ON members
        BEGIN DELETE FROM member_facts WHERE id = OLD.id; END""",
    ]


def upgrade() -> None:
    op.create_table(
        "member_facts",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "household_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("home_store_id", sa.Integer(), nullable=True),
        sa.Column("birth_year", sa.SmallInteger(), nullable=True),
        sa.Column("member_since", sa.Date(), nullable=True),
        sa.Column("language", sa.String(length=2), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("address_status", sa.String(length=12), nullable=False),
        sa.Column("region", sa.String(length=60), nullable=True),
        sa.Column("municipality", sa.String(length=60), nullable=True),
        sa.Column("postcode", sa.String(length=5), nullable=True),
        sa.Column("consent_flags", sa.BigInteger(), nullable=False),
        sa.Column("suppression_flags", sa.Integer(), nullable=False),
        sa.Column("reach", sa.SmallInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["id"],
            ["members.id"],
            name=op.f("fk_member_facts_id_members"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_member_facts")),
    )
    op.execute(f"{_INSERT} SELECT {_values('m')} FROM members AS m ORDER BY m.id")
    dialect = op.get_bind().dialect.name
    for statement in _postgresql_triggers() if dialect == "postgresql" else _sqlite_triggers():
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER member_facts_update ON members")
        op.execute("DROP TRIGGER member_facts_insert ON members")
        op.execute("DROP FUNCTION member_facts_updated()")
        op.execute("DROP FUNCTION member_facts_inserted()")
    else:
        for name in ("delete", "update", "insert"):
            op.execute(f"DROP TRIGGER member_facts_{name}")
    op.drop_table("member_facts")
