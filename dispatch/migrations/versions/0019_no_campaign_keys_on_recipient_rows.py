"""campaign_recipients and member_links: no foreign key to campaigns

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07 16:00:00

As 0017 for members: PostgreSQL checks a foreign key row by row, each check a query
that locks the campaign's row. A 300,000-letter snapshot on 3.7 million members
spent 1.4 of its 6 seconds checking that its own campaign exists, 300,000 times
(bench/HISTORY.md, 2026-12-07), and each e-mail's two link rows checked it twice
more. Recipients are written only by the campaign's own snapshot, in the transaction
that holds the campaign's row; links only for a campaign whose batch the worker holds
or for no campaign (NULL); and no campaign row is ever deleted. The other tables that
refer to campaigns (batches, report releases, consent events) keep their keys: a few
rows per campaign. See dispatch/campaigns/models.py.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KEYS = (
    ("campaign_recipients", "fk_campaign_recipients_campaign_id_campaigns"),
    ("member_links", "fk_member_links_campaign_id_campaigns"),
)


def upgrade() -> None:
    for table, name in KEYS:
        with op.batch_alter_table(table) as batch:
            batch.drop_constraint(name, type_="foreignkey")


def downgrade() -> None:
    for table, name in KEYS:
        with op.batch_alter_table(table) as batch:
            batch.create_foreign_key(name, "campaigns", ["campaign_id"], ["id"])
