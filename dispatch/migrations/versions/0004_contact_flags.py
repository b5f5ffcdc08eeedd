"""members' contact flags: consent_state and suppressions as bits for the policy

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24 22:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from dispatch.register import flags

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("members") as batch:
        batch.add_column(
            sa.Column("consent_flags", sa.BigInteger(), server_default="0", nullable=False)
        )
        batch.add_column(
            sa.Column("suppression_flags", sa.Integer(), server_default="0", nullable=False)
        )
    # Fill them from the tables they project, for the members that have rows there.
    flags.refresh_recorded(op.get_bind())


def downgrade() -> None:
    with op.batch_alter_table("members") as batch:
        batch.drop_column("suppression_flags")
        batch.drop_column("consent_flags")
