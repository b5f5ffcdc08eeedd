"""member_facts anew, with activity bits first: which behaviour a member has rows of

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-25 04:40:00

``member_facts`` is derived (from ``members`` by migration 0005's triggers, and now
from the behaviour tables by dispatch.register.activity), so it is dropped and made
again rather than altered: the new bit columns go first with the other fixed-width
NOT NULL columns, where PostgreSQL reads them at a fixed offset (appended after the
text columns they cost a 3.7M-member count 0.1 s), and the table comes out packed,
where updating every row in place would leave it twice its size until a VACUUM FULL.
"""

# The DDL, copy and backfill are SQL text; every name in them is a constant of this file.
# ruff: noqa: S608

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen here (not imported): dispatch.register.activity describes the same bits.
GROUP_BITS = 63
GROUP_COLUMNS = ("purchased_groups_0", "purchased_groups_1")
WEB_CATEGORIES = (
    "bicycles",
    "baby",
    "electronics",
    "home",
    "garden",
    "travel",
    "sports",
    "fashion",
)
OTHER_WEB = 1 << 14
VISITED = 1 << 15

# The columns migration 0005's triggers copy from members, and what it computes.
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
BITS = (*GROUP_COLUMNS, "activity")


def _big_id() -> sa.types.TypeEngine[int]:
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _create_table() -> None:
    op.create_table(
        "member_facts",
        sa.Column("id", _big_id(), nullable=False),
        *[sa.Column(c, sa.BigInteger(), server_default="0", nullable=False) for c in GROUP_COLUMNS],
        sa.Column("consent_flags", sa.BigInteger(), nullable=False),
        sa.Column("suppression_flags", sa.Integer(), nullable=False),
        sa.Column("activity", sa.Integer(), server_default="0", nullable=False),
        sa.Column("reach", sa.SmallInteger(), nullable=False),
        sa.Column("birth_year", sa.SmallInteger(), nullable=True),
        sa.Column("home_store_id", sa.Integer(), nullable=True),
        sa.Column("household_id", _big_id(), nullable=True),
        sa.Column("member_since", sa.Date(), nullable=True),
        sa.Column("language", sa.String(length=2), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("address_status", sa.String(length=12), nullable=False),
        sa.Column("region", sa.String(length=60), nullable=True),
        sa.Column("municipality", sa.String(length=60), nullable=True),
        sa.Column("postcode", sa.String(length=5), nullable=True),
        sa.ForeignKeyConstraint(
            ["id"], ["members.id"], name=op.f("fk_member_facts_id_members"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_member_facts")),
    )


def _copied_values(row: str) -> str:
    """Migration 0005's values of ``member_facts`` for the members row ``row``."""

    def present(column: str) -> str:
        return f"COALESCE({row}.{column}, '') <> ''"

    address = " AND ".join(present(c) for c in ("street", "postcode", "post_town"))
    reach = (
        f"(CASE WHEN {address} THEN 1 ELSE 0 END)"
        f" + (CASE WHEN {present('email')} THEN 2 ELSE 0 END)"
        f" + (CASE WHEN {present('phone')} THEN 4 ELSE 0 END)"
    )
    return ", ".join([f"{row}.id", *(f"{row}.{c}" for c in COPIED), reach])


_COPIED_COLUMNS = ", ".join(("id", *COPIED, "reach"))


def _backfill(dialect: str) -> str:
    web = " ".join(f"WHEN '{c}' THEN {1 << i}" for i, c in enumerate(WEB_CATEGORIES))
    bit = f"CAST(1 AS BIGINT) << (product_group_id % {GROUP_BITS})"
    span = GROUP_BITS * len(GROUP_COLUMNS)
    groups = ", ".join(
        f"CASE WHEN product_group_id % {span} / {GROUP_BITS} = {i} THEN {bit} ELSE 0 END AS g{i}"
        for i in range(len(GROUP_COLUMNS))
    )
    zeros = ", ".join("0" for _ in GROUP_COLUMNS)
    rows = f"""
        SELECT member_id, {groups}, CAST(0 AS BIGINT) AS a FROM purchase_rollups
        UNION ALL
        SELECT member_id, {zeros}, CASE category {web} ELSE {OTHER_WEB} END FROM web_interests
        UNION ALL
        SELECT member_id, {zeros}, {VISITED} FROM restaurant_visits GROUP BY member_id"""
    # SQLite has no bit_or: the sum of the distinct single bits is the same number.
    fold = "bit_or({})" if dialect == "postgresql" else "sum(DISTINCT {})"
    folded = [fold.format(f"g{i}") for i in range(len(GROUP_COLUMNS))]
    folded.append(f"CAST({fold.format('a')} AS INTEGER)")
    # One INSERT of every member, its bits outer-joined: no row is written twice.
    return f"""
        INSERT INTO member_facts ({_COPIED_COLUMNS}, {", ".join(BITS)})
        SELECT {_copied_values("m")}, {", ".join(f"COALESCE(c.b{i}, 0)" for i in range(len(BITS)))}
        FROM members AS m LEFT JOIN (
            SELECT member_id, {", ".join(f"{e} AS b{i}" for i, e in enumerate(folded))}
            FROM ({rows}) AS r GROUP BY member_id
        ) AS c ON c.member_id = m.id
        ORDER BY m.id"""


def _sqlite_update_trigger(carry: tuple[str, ...]) -> str:
    # Migration 0005's trigger, REPLACE-ing the whole row, with the columns ``carry``
    # taken over from the row it replaces (they are not copied from members).
    kept = [f"COALESCE((SELECT {c} FROM member_facts WHERE id = NEW.id), 0)" for c in carry]
    columns = ", ".join((_COPIED_COLUMNS, *carry))
    return f"""
        CREATE TRIGGER member_facts_update AFTER UPDATE ON members
        BEGIN INSERT OR REPLACE INTO member_facts ({columns})
        VALUES ({", ".join([_copied_values("NEW"), *kept])}); END"""


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    # The triggers on members (migration 0005) name member_facts' columns, not their
    # places, so they go on writing to the new table.
    op.drop_table("member_facts")
    _create_table()
    op.execute(_backfill(dialect))
    if dialect == "sqlite":
        op.execute("DROP TRIGGER member_facts_update")
        op.execute(_sqlite_update_trigger(BITS))


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER member_facts_update")
        op.execute(_sqlite_update_trigger(()))
        with op.batch_alter_table("member_facts") as batch:
            for name in BITS:
                batch.drop_column(name)
        return
    for name in BITS:
        op.drop_column("member_facts", name)
