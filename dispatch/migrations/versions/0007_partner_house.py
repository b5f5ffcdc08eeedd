"""partners.house: which partner is the cooperative itself

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-25 02:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Existing partners start as partners, the safe side: a campaign of the
    # cooperative's own is refused until its partner row is marked (docs/campaigns.md).
    with op.batch_alter_table("partners") as batch:
        batch.add_column(
            sa.Column("house", sa.Boolean(), server_default=sa.false(), nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("partners") as batch:
        batch.drop_column("house")
