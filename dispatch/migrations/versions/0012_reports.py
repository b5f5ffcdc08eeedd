"""partner reports: holdout, returned letters, bonus purchases, the privacy budget ledger

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06 12:30:00

Campaigns get a holdout share (basis points, default 10 %), the seed that chose the
holdout and a response window; recipients a ``held_out`` status and the time their
letter came back. Partners get their code in the bonus-purchase feed, whose rows go
to ``bonus_purchases``. ``report_releases`` is the append-only privacy budget ledger
(triggers refuse UPDATE and DELETE on both backends); ``report_audience_members``
keeps the members of each audience estimate for the differencing guard.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
When = sa.DateTime(timezone=True)
OLD_STATUSES = "status IN ('pending', 'included', 'sending', 'delivered', 'suppressed', 'failed')"
NEW_STATUSES = (
    "status IN ('pending', 'included', 'sending', 'delivered', 'suppressed', 'failed', 'held_out')"
)
APPEND_ONLY = "report_releases is append-only: the privacy budget ledger is never changed"


def _ledger_triggers(dialect: str) -> list[str]:
    if dialect == "postgresql":
        return [
            f"""
            CREATE FUNCTION report_releases_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN RAISE EXCEPTION '{APPEND_ONLY}'; END $$
            """,
            """
            CREATE TRIGGER report_releases_append_only BEFORE UPDATE OR DELETE
            ON report_releases FOR EACH ROW EXECUTE FUNCTION report_releases_append_only()
            """,
        ]
    return [
        f"""
        CREATE TRIGGER report_releases_no_update BEFORE UPDATE ON report_releases
        BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY}'); END
        """,
        f"""
        CREATE TRIGGER report_releases_no_delete BEFORE DELETE ON report_releases
        BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY}'); END
        """,
    ]


def upgrade() -> None:
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("holdout_bp", sa.Integer(), server_default="1000", nullable=False)
        )
        batch_op.add_column(sa.Column("holdout_seed", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("response_days", sa.Integer(), server_default="30", nullable=False)
        )
        batch_op.create_check_constraint(
            batch_op.f("ck_campaigns_holdout_bp_range"), "holdout_bp BETWEEN 0 AND 5000"
        )
        batch_op.create_check_constraint(
            batch_op.f("ck_campaigns_response_days_range"), "response_days BETWEEN 1 AND 365"
        )
    with op.batch_alter_table("campaign_recipients", schema=None) as batch_op:
        batch_op.add_column(sa.Column("returned_at", When, nullable=True))
        batch_op.drop_constraint(batch_op.f("ck_campaign_recipients_status_valid"), type_="check")
        batch_op.create_check_constraint(
            batch_op.f("ck_campaign_recipients_status_valid"), NEW_STATUSES
        )
    with op.batch_alter_table("partners", schema=None) as batch_op:
        batch_op.add_column(sa.Column("bonus_code", sa.String(length=40), nullable=True))
        batch_op.create_unique_constraint(batch_op.f("uq_partners_bonus_code"), ["bonus_code"])
    op.create_table(
        "bonus_purchases",
        sa.Column("member_id", BigId, nullable=False),
        sa.Column("partner_code", sa.String(length=40), nullable=False),
        sa.Column("purchased_on", sa.Date(), nullable=False),
        sa.Column("amount", sa.Numeric(precision=12, scale=2), nullable=False),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_bonus_purchases_member_id_members")
        ),
        sa.PrimaryKeyConstraint(
            "member_id", "partner_code", "purchased_on", name=op.f("pk_bonus_purchases")
        ),
    )
    op.create_index(
        op.f("ix_bonus_purchases_partner_code_purchased_on_member_id_amount"),
        "bonus_purchases",
        ["partner_code", "purchased_on", "member_id", "amount"],
        unique=False,
    )
    op.create_table(
        "report_releases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("partner_id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("edition", sa.String(length=10), nullable=False),
        sa.Column("period", sa.Date(), nullable=False),
        sa.Column("mechanism", sa.String(length=20), nullable=False),
        sa.Column("epsilon", sa.Float(), nullable=False),
        sa.Column("delta", sa.Float(), nullable=False),
        sa.Column("released_at", When, nullable=False),
        sa.Column("released_by", sa.String(length=80), nullable=False),
        sa.Column("answer", sa.JSON(), nullable=False),
        sa.CheckConstraint(
            "kind IN ('estimate', 'report', 'lift')", name=op.f("ck_report_releases_kind_valid")
        ),
        sa.ForeignKeyConstraint(
            ["campaign_id"], ["campaigns.id"], name=op.f("fk_report_releases_campaign_id_campaigns")
        ),
        sa.ForeignKeyConstraint(
            ["partner_id"], ["partners.id"], name=op.f("fk_report_releases_partner_id_partners")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_releases")),
        sa.UniqueConstraint(
            "campaign_id",
            "kind",
            "edition",
            name=op.f("uq_report_releases_campaign_id_kind_edition"),
        ),
    )
    op.create_index(
        op.f("ix_report_releases_partner_id_period"),
        "report_releases",
        ["partner_id", "period"],
        unique=False,
    )
    op.create_table(
        "report_audience_members",
        sa.Column("release_id", sa.Integer(), nullable=False),
        sa.Column("member_id", BigId, autoincrement=False, nullable=False),
        sa.ForeignKeyConstraint(
            ["release_id"],
            ["report_releases.id"],
            name=op.f("fk_report_audience_members_release_id_report_releases"),
        ),
        sa.PrimaryKeyConstraint("release_id", "member_id", name=op.f("pk_report_audience_members")),
    )
    for statement in _ledger_triggers(op.get_bind().dialect.name):
        op.execute(statement)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute("DROP TRIGGER report_releases_append_only ON report_releases")
        op.execute("DROP FUNCTION report_releases_append_only()")
    else:
        op.execute("DROP TRIGGER report_releases_no_update")
        op.execute("DROP TRIGGER report_releases_no_delete")
    op.drop_table("report_audience_members")
    op.drop_index(op.f("ix_report_releases_partner_id_period"), table_name="report_releases")
    op.drop_table("report_releases")
    op.drop_index(
        op.f("ix_bonus_purchases_partner_code_purchased_on_member_id_amount"),
        table_name="bonus_purchases",
    )
    op.drop_table("bonus_purchases")
    with op.batch_alter_table("partners", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_partners_bonus_code"), type_="unique")
        batch_op.drop_column("bonus_code")
    # Held-out recipients have no place in the old schema: they were never contacted.
    op.execute("DELETE FROM campaign_recipients WHERE status = 'held_out'")
    with op.batch_alter_table("campaign_recipients", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_campaign_recipients_status_valid"), type_="check")
        batch_op.create_check_constraint(
            batch_op.f("ck_campaign_recipients_status_valid"), OLD_STATUSES
        )
        batch_op.drop_column("returned_at")
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_campaigns_response_days_range"), type_="check")
        batch_op.drop_constraint(batch_op.f("ck_campaigns_holdout_bp_range"), type_="check")
        batch_op.drop_column("response_days")
        batch_op.drop_column("holdout_seed")
        batch_op.drop_column("holdout_bp")
