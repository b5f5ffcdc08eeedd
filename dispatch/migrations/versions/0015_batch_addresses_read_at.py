"""campaign batches: when the batch's addresses were read for its letters

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-08 12:00:00

A letter returned by the post carries the address it was printed with: the one the
member had when the batch read its recipients, before rendering. A returns report
compared the member's address change with the hand-off instead, so a move between
the read and the end of the upload (minutes, for a large batch) marked the member's
new address as returned. Batches handed off before this column existed keep the
hand-off as their bound.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("campaign_batches") as batch:
        batch.add_column(sa.Column("addresses_read_at", sa.DateTime(timezone=True)))


def downgrade() -> None:
    with op.batch_alter_table("campaign_batches") as batch:
        batch.drop_column("addresses_read_at")
