"""campaigns: an index for a partner's campaigns, newest first

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-09 12:00:00

The partner portal's dashboard and the campaign lists ask for one partner's latest
campaigns on every view; without an index PostgreSQL read the whole table (with each
campaign's segment source) and sorted it, the largest cost of a dashboard view.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("campaigns") as batch:
        batch.create_index(
            batch.f("ix_campaigns_partner_id_created_at_id"),
            ["partner_id", "created_at", "id"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("campaigns") as batch:
        batch.drop_index(batch.f("ix_campaigns_partner_id_created_at_id"))
