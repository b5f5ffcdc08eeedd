"""partners, creatives and creative versions

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 16:41:29.849113
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "partners",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_partners")),
        sa.UniqueConstraint("name", name=op.f("uq_partners_name")),
    )
    op.create_table(
        "creatives",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("partner_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=63), nullable=False),
        sa.ForeignKeyConstraint(
            ["partner_id"], ["partners.id"], name=op.f("fk_creatives_partner_id_partners")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_creatives")),
        sa.UniqueConstraint("partner_id", "name", name=op.f("uq_creatives_partner_id_name")),
    )
    op.create_table(
        "creative_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("creative_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("bundle", sa.LargeBinary(), nullable=False),
        sa.Column("manifest", sa.JSON(), nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_by", sa.String(length=80), nullable=True),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.CheckConstraint(
            "(status = 'submitted' AND decided_at IS NULL AND decided_by IS NULL) OR (status <> 'submitted' AND decided_at IS NOT NULL AND decided_by IS NOT NULL)",
            name=op.f("ck_creative_versions_decision_recorded"),
        ),
        sa.CheckConstraint(
            "status <> 'rejected' OR reason IS NOT NULL",
            name=op.f("ck_creative_versions_rejection_reason"),
        ),
        sa.CheckConstraint(
            "status IN ('submitted', 'approved', 'rejected')",
            name=op.f("ck_creative_versions_status_valid"),
        ),
        sa.ForeignKeyConstraint(
            ["creative_id"],
            ["creatives.id"],
            name=op.f("fk_creative_versions_creative_id_creatives"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_creative_versions")),
        sa.UniqueConstraint(
            "creative_id", "version", name=op.f("uq_creative_versions_creative_id_version")
        ),
    )
    with op.batch_alter_table("creative_versions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_creative_versions_status"), ["status"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("creative_versions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_creative_versions_status"))

    op.drop_table("creative_versions")
    op.drop_table("creatives")
    op.drop_table("partners")
