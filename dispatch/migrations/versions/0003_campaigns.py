"""campaigns, batches and recipients

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24 19:38:10.393866
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "campaigns",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("reference", sa.String(length=32), nullable=False),
        sa.Column("partner_id", sa.Integer(), nullable=False),
        sa.Column("creative_version_id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=8), nullable=False),
        sa.Column("purpose", sa.String(length=24), nullable=False),
        sa.Column("segment_name", sa.String(length=80), nullable=False),
        sa.Column("segment_path", sa.String(length=300), nullable=False),
        sa.Column("segment_source", sa.Text(), nullable=False),
        sa.Column("segment_sha256", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("send_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=80), nullable=False),
        sa.Column("approved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("approved_by", sa.String(length=80), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("snapshot_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancelled_by", sa.String(length=80), nullable=True),
        sa.Column("failure", sa.String(length=500), nullable=True),
        sa.Column("as_of", sa.Date(), nullable=True),
        sa.Column("snapshot_stats", sa.JSON(), nullable=True),
        sa.Column("batch_count", sa.Integer(), nullable=False),
        sa.Column("recipient_count", sa.Integer(), nullable=False),
        sa.CheckConstraint("channel IN ('post', 'email')", name=op.f("ck_campaigns_channel_valid")),
        sa.CheckConstraint(
            "status IN ('draft', 'approved', 'scheduled', 'snapshotting', 'dispatching', 'completed', 'cancelled', 'failed')",
            name=op.f("ck_campaigns_status_valid"),
        ),
        sa.ForeignKeyConstraint(
            ["creative_version_id"],
            ["creative_versions.id"],
            name=op.f("fk_campaigns_creative_version_id_creative_versions"),
        ),
        sa.ForeignKeyConstraint(
            ["partner_id"], ["partners.id"], name=op.f("fk_campaigns_partner_id_partners")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaigns")),
        sa.UniqueConstraint("reference", name=op.f("uq_campaigns_reference")),
    )
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_campaigns_status"), ["status"], unique=False)

    op.create_table(
        "campaign_batches",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("claim_token", sa.String(length=32), nullable=True),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("outbox_id", sa.String(length=64), nullable=True),
        sa.Column("letters", sa.Integer(), nullable=True),
        sa.Column("pages", sa.Integer(), nullable=True),
        sa.Column("handed_off_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'working', 'handing_off', 'done', 'failed')",
            name=op.f("ck_campaign_batches_status_valid"),
        ),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_campaign_batches_campaign_id_campaigns"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaign_batches")),
        sa.UniqueConstraint(
            "campaign_id", "number", name=op.f("uq_campaign_batches_campaign_id_number")
        ),
    )
    with op.batch_alter_table("campaign_batches", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_campaign_batches_campaign_id_status"),
            ["campaign_id", "status"],
            unique=False,
        )

    op.create_table(
        "campaign_recipients",
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column(
            "member_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=False,
            nullable=False,
        ),
        sa.Column("batch_no", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=True),
        sa.Column("sequence_no", sa.Integer(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'included', 'sending', 'delivered', 'suppressed', 'failed')",
            name=op.f("ck_campaign_recipients_status_valid"),
        ),
        sa.CheckConstraint(
            "status NOT IN ('suppressed', 'failed') OR reason IS NOT NULL",
            name=op.f("ck_campaign_recipients_outcome_reason"),
        ),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_campaign_recipients_campaign_id_campaigns"),
        ),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_campaign_recipients_member_id_members")
        ),
        sa.PrimaryKeyConstraint("campaign_id", "member_id", name=op.f("pk_campaign_recipients")),
    )
    with op.batch_alter_table("campaign_recipients", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_campaign_recipients_campaign_id_batch_no_status"),
            ["campaign_id", "batch_no", "status"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_campaign_recipients_member_id"), ["member_id"], unique=False
        )


def downgrade() -> None:

    with op.batch_alter_table("campaign_recipients", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_campaign_recipients_member_id"))
        batch_op.drop_index(batch_op.f("ix_campaign_recipients_campaign_id_batch_no_status"))

    op.drop_table("campaign_recipients")
    with op.batch_alter_table("campaign_batches", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_campaign_batches_campaign_id_status"))

    op.drop_table("campaign_batches")
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_campaigns_status"))

    op.drop_table("campaigns")
