"""campaign_recipients and member_links: no foreign key to members

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07 13:00:00

PostgreSQL checks a foreign key for each inserted row, and each check locks the
member's row (FOR KEY SHARE), which writes to the member's page. On 3.7 million
members that was 9 of the 17 seconds of a 300,000-letter snapshot, and more than half
of what a post batch's link rows cost (bench/HISTORY.md, 2026-12-07). Both tables are
only ever written from members read in the same statement, and no member row is ever
deleted (an erasure blanks it): see dispatch/campaigns/models.py. The indexes
on member_id stay (frequency cap, member export, erasure).
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KEYS = (
    ("campaign_recipients", "fk_campaign_recipients_member_id_members"),
    ("member_links", "fk_member_links_member_id_members"),
)


def upgrade() -> None:
    for table, name in KEYS:
        with op.batch_alter_table(table) as batch:
            batch.drop_constraint(name, type_="foreignkey")


def downgrade() -> None:
    for table, name in KEYS:
        with op.batch_alter_table(table) as batch:
            batch.create_foreign_key(name, "members", ["member_id"], ["id"])
