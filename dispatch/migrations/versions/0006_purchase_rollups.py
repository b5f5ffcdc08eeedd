"""purchase_rollups: each member's purchases per product group and month in one row

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25 01:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from dispatch.register import rollups

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MONTHS = 13


def upgrade() -> None:
    op.create_table(
        "purchase_rollup_months",
        sa.Column("slot", sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint("slot", name=op.f("pk_purchase_rollup_months")),
        sa.UniqueConstraint("month", name=op.f("uq_purchase_rollup_months_month")),
    )
    op.create_table(
        "purchase_rollups",
        sa.Column(
            "member_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("product_group_id", sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column("months", sa.Integer(), nullable=False),
        *[sa.Column(f"amount_{i}", sa.BigInteger(), nullable=False) for i in range(MONTHS)],
        *[sa.Column(f"count_{i}", sa.Integer(), nullable=False) for i in range(MONTHS)],
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["members.id"],
            name=op.f("fk_purchase_rollups_member_id_members"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("member_id", "product_group_id", name=op.f("pk_purchase_rollups")),
    )
    op.create_index(
        op.f("ix_purchase_rollups_product_group_id"), "purchase_rollups", ["product_group_id"]
    )
    # Derived data: computed from purchase_summaries as they are now.
    # The activity bits it would refresh come with migration 0009, which fills them.
    rollups.rebuild(op.get_bind(), activity_bits=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_purchase_rollups_product_group_id"), table_name="purchase_rollups")
    op.drop_table("purchase_rollups")
    op.drop_table("purchase_rollup_months")
