"""members.address_changed_at: a late returned letter must not mark a new address

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-25 02:55:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from dispatch.db.types import UTCDateTime

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Not batch mode: on SQLite that copies the table and would drop the triggers of
    # migration 0005; a plain ADD COLUMN is native there.
    op.add_column("members", sa.Column("address_changed_at", UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("members") as batch:
        batch.drop_column("address_changed_at")
