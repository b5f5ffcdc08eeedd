"""the member's side: links, erasure requests, failed link look-ups; campaign on consent

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06 12:00:00

Member links (one-click unsubscribe, the preference centre's links and letter codes,
sessions, double opt-in confirmations) are stored as SHA-256 digests only. A consent
ledger entry names the campaign whose e-mail or letter the member acted from.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
When = sa.DateTime(timezone=True)
# Frozen here (not imported): dispatch.register.tokens.LinkPurpose lists the same.
PURPOSES = "'unsubscribe', 'centre', 'letter', 'session', 'confirm'"


def upgrade() -> None:
    op.create_table(
        "member_links",
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("purpose", sa.String(12), nullable=False),
        sa.Column("member_id", BigId, nullable=False),
        sa.Column("campaign_id", sa.Integer()),
        sa.Column("created_at", When, nullable=False),
        sa.Column("expires_at", When, nullable=False),
        sa.Column("revoked_at", When),
        sa.Column("used_at", When),
        sa.Column("payload", sa.JSON()),
        sa.CheckConstraint(f"purpose IN ({PURPOSES})", name=op.f("ck_member_links_purpose_valid")),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_member_links_member_id_members")
        ),
        sa.ForeignKeyConstraint(
            ["campaign_id"], ["campaigns.id"], name=op.f("fk_member_links_campaign_id_campaigns")
        ),
        sa.PrimaryKeyConstraint("digest", name=op.f("pk_member_links")),
    )
    op.create_index("ix_member_links_member_id", "member_links", ["member_id"])
    op.create_index("ix_member_links_expires_at", "member_links", ["expires_at"])
    op.create_table(
        "erasure_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_id", sa.String(24), nullable=False),
        sa.Column("member_id", BigId, nullable=False),
        sa.Column("requested_at", When, nullable=False),
        sa.Column("source", sa.String(40), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("handled_at", When),
        sa.Column("handled_by", sa.String(80)),
        sa.Column("note", sa.String(200)),
        sa.CheckConstraint(
            "status IN ('open', 'erased', 'declined')",
            name=op.f("ck_erasure_requests_status_valid"),
        ),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_erasure_requests_member_id_members")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_erasure_requests")),
        sa.UniqueConstraint("public_id", name=op.f("uq_erasure_requests_public_id")),
    )
    op.create_index("ix_erasure_requests_member_id", "erasure_requests", ["member_id"])
    op.create_index(
        "ix_erasure_requests_status_requested_at", "erasure_requests", ["status", "requested_at"]
    )
    op.create_table(
        "member_link_failures",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("origin", sa.String(64), nullable=False),
        sa.Column("at", When, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_member_link_failures")),
    )
    op.create_index("ix_member_link_failures_origin_at", "member_link_failures", ["origin", "at"])
    with op.batch_alter_table("consent_events") as batch:
        batch.add_column(sa.Column("campaign_id", sa.Integer()))
        batch.create_foreign_key(
            "fk_consent_events_campaign_id_campaigns", "campaigns", ["campaign_id"], ["id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("consent_events") as batch:
        batch.drop_constraint("fk_consent_events_campaign_id_campaigns", type_="foreignkey")
        batch.drop_column("campaign_id")
    for table in ("member_link_failures", "erasure_requests", "member_links"):
        op.drop_table(table)
