"""register, consent ledger, suppressions and audit log

Revision ID: 0001
Revises:
Create Date: 2026-11-24 16:20:44.081590
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "households",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.CheckConstraint(
            "kind IN ('family', 'baby_family', 'couple', 'single', 'pensioner')",
            name=op.f("ck_households_kind_valid"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_households")),
    )
    op.create_table(
        "product_groups",
        sa.Column("id", sa.SmallInteger(), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("parent_id", sa.SmallInteger(), nullable=True),
        sa.Column("name_fi", sa.String(length=120), nullable=False),
        sa.Column("name_sv", sa.String(length=120), nullable=False),
        sa.Column("sensitive", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["parent_id"],
            ["product_groups.id"],
            name=op.f("fk_product_groups_parent_id_product_groups"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_product_groups")),
        sa.UniqueConstraint("code", name=op.f("uq_product_groups_code")),
    )
    op.create_table(
        "stores",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("chain", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("municipality", sa.String(length=60), nullable=False),
        sa.Column("region", sa.String(length=60), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stores")),
    )
    with op.batch_alter_table("stores", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_stores_chain"), ["chain"], unique=False)

    op.create_table(
        "suppressions",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("subject_hash", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.String(length=20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source", sa.String(length=40), nullable=False),
        sa.CheckConstraint(
            "reason IN ('optout_register', 'deceased', 'returned_mail', 'erased')",
            name=op.f("ck_suppressions_reason_valid"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_suppressions")),
        sa.UniqueConstraint(
            "subject_hash", "reason", name=op.f("uq_suppressions_subject_hash_reason")
        ),
    )
    op.create_table(
        "members",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("card_number", sa.String(length=20), nullable=True),
        sa.Column("subject_hash", sa.String(length=64), nullable=False),
        sa.Column("first_name", sa.String(length=80), nullable=True),
        sa.Column("last_name", sa.String(length=80), nullable=True),
        sa.Column("address_extra", sa.String(length=120), nullable=True),
        sa.Column("street", sa.String(length=120), nullable=True),
        sa.Column("postcode", sa.String(length=5), nullable=True),
        sa.Column("post_town", sa.String(length=60), nullable=True),
        sa.Column("municipality", sa.String(length=60), nullable=True),
        sa.Column("region", sa.String(length=60), nullable=True),
        sa.Column("language", sa.String(length=2), nullable=False),
        sa.Column("birth_year", sa.SmallInteger(), nullable=True),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column("phone", sa.String(length=32), nullable=True),
        sa.Column(
            "household_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("home_store_id", sa.Integer(), nullable=True),
        sa.Column("member_since", sa.Date(), nullable=True),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("address_status", sa.String(length=12), nullable=False),
        sa.Column("erased_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "address_status IN ('deliverable', 'returned')",
            name=op.f("ck_members_address_status_valid"),
        ),
        sa.CheckConstraint("language IN ('fi', 'sv')", name=op.f("ck_members_language_valid")),
        sa.CheckConstraint(
            "status IN ('active', 'deceased', 'erased')", name=op.f("ck_members_status_valid")
        ),
        sa.ForeignKeyConstraint(
            ["home_store_id"], ["stores.id"], name=op.f("fk_members_home_store_id_stores")
        ),
        sa.ForeignKeyConstraint(
            ["household_id"], ["households.id"], name=op.f("fk_members_household_id_households")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_members")),
        sa.UniqueConstraint("card_number", name=op.f("uq_members_card_number")),
    )
    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_members_household_id"), ["household_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_members_postcode"), ["postcode"], unique=False)
        batch_op.create_index(batch_op.f("ix_members_subject_hash"), ["subject_hash"], unique=False)

    op.create_table(
        "audit_log",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=80), nullable=False),
        sa.Column("action", sa.String(length=60), nullable=False),
        sa.Column("member_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("reason", sa.String(length=200), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_audit_log_member_id_members")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_audit_log_member_id_at"), ["member_id", "at"], unique=False
        )

    op.create_table(
        "consent_events",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "member_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("purpose", sa.String(length=20), nullable=False),
        sa.Column("channel", sa.String(length=8), nullable=False),
        sa.Column("decision", sa.String(length=10), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source", sa.String(length=40), nullable=False),
        sa.Column("actor", sa.String(length=80), nullable=True),
        sa.CheckConstraint(
            "channel IN ('post', 'email', 'sms', 'phone', 'any')",
            name=op.f("ck_consent_events_channel_valid"),
        ),
        sa.CheckConstraint(
            "decision IN ('granted', 'refused', 'objected')",
            name=op.f("ck_consent_events_decision_valid"),
        ),
        sa.CheckConstraint(
            "purpose IN ('own_marketing', 'partner_marketing', 'market_research', 'profiling', 'direct_marketing')",
            name=op.f("ck_consent_events_purpose_valid"),
        ),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_consent_events_member_id_members")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consent_events")),
    )
    with op.batch_alter_table("consent_events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_consent_events_member_id_recorded_at"),
            ["member_id", "recorded_at"],
            unique=False,
        )

    op.create_table(
        "consent_state",
        sa.Column(
            "member_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("purpose", sa.String(length=20), nullable=False),
        sa.Column("channel", sa.String(length=8), nullable=False),
        sa.Column("decision", sa.String(length=10), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("event_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.CheckConstraint(
            "channel IN ('post', 'email', 'sms', 'phone', 'any')",
            name=op.f("ck_consent_state_channel_valid"),
        ),
        sa.CheckConstraint(
            "decision IN ('granted', 'refused', 'objected')",
            name=op.f("ck_consent_state_decision_valid"),
        ),
        sa.CheckConstraint(
            "purpose IN ('own_marketing', 'partner_marketing', 'market_research', 'profiling', 'direct_marketing')",
            name=op.f("ck_consent_state_purpose_valid"),
        ),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_consent_state_member_id_members")
        ),
        sa.PrimaryKeyConstraint("member_id", "purpose", "channel", name=op.f("pk_consent_state")),
    )
    with op.batch_alter_table("consent_state", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_consent_state_purpose_channel_decision_member_id"),
            ["purpose", "channel", "decision", "member_id"],
            unique=False,
        )

    op.create_table(
        "purchase_summaries",
        sa.Column(
            "member_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("product_group_id", sa.SmallInteger(), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("amount", sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_purchase_summaries_member_id_members")
        ),
        sa.ForeignKeyConstraint(
            ["product_group_id"],
            ["product_groups.id"],
            name=op.f("fk_purchase_summaries_product_group_id_product_groups"),
        ),
        sa.PrimaryKeyConstraint(
            "member_id", "product_group_id", "month", name=op.f("pk_purchase_summaries")
        ),
    )
    with op.batch_alter_table("purchase_summaries", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_purchase_summaries_product_group_id_month_member_id_amount_count"),
            ["product_group_id", "month", "member_id", "amount", "count"],
            unique=False,
        )

    op.create_table(
        "restaurant_visits",
        sa.Column(
            "member_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("store_id", sa.Integer(), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("visits", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_restaurant_visits_member_id_members")
        ),
        sa.ForeignKeyConstraint(
            ["store_id"], ["stores.id"], name=op.f("fk_restaurant_visits_store_id_stores")
        ),
        sa.PrimaryKeyConstraint(
            "member_id", "store_id", "month", name=op.f("pk_restaurant_visits")
        ),
    )
    with op.batch_alter_table("restaurant_visits", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_restaurant_visits_store_id_month_member_id_visits"),
            ["store_id", "month", "member_id", "visits"],
            unique=False,
        )

    op.create_table(
        "web_interests",
        sa.Column(
            "member_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("category", sa.String(length=60), nullable=False),
        sa.Column("last_seen", sa.Date(), nullable=False),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_web_interests_member_id_members")
        ),
        sa.PrimaryKeyConstraint("member_id", "category", name=op.f("pk_web_interests")),
    )
    with op.batch_alter_table("web_interests", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_web_interests_category_last_seen_member_id"),
            ["category", "last_seen", "member_id"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("web_interests", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_web_interests_category_last_seen_member_id"))

    op.drop_table("web_interests")
    with op.batch_alter_table("restaurant_visits", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_restaurant_visits_store_id_month_member_id_visits"))

    op.drop_table("restaurant_visits")
    with op.batch_alter_table("purchase_summaries", schema=None) as batch_op:
        batch_op.drop_index(
            batch_op.f("ix_purchase_summaries_product_group_id_month_member_id_amount_count")
        )

    op.drop_table("purchase_summaries")
    with op.batch_alter_table("consent_state", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_consent_state_purpose_channel_decision_member_id"))

    op.drop_table("consent_state")
    with op.batch_alter_table("consent_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_consent_events_member_id_recorded_at"))

    op.drop_table("consent_events")
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_log_member_id_at"))

    op.drop_table("audit_log")
    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_members_subject_hash"))
        batch_op.drop_index(batch_op.f("ix_members_postcode"))
        batch_op.drop_index(batch_op.f("ix_members_household_id"))

    op.drop_table("members")
    op.drop_table("suppressions")
    with op.batch_alter_table("stores", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_stores_chain"))

    op.drop_table("stores")
    op.drop_table("product_groups")
    op.drop_table("households")
