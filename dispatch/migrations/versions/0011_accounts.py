"""accounts for dispatch serve: users, sessions, tokens, invitations; public ids

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06 04:00:00

Creatives, creative versions and campaigns get a random public id (what URLs and
the API use, so that ids reveal no volume); existing rows get one each here. A
creative version records which account uploaded it (four eyes), and the audit log
where each action came from.
"""

import base64
import secrets
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
When = sa.DateTime(timezone=True)
# Frozen here (not imported): dispatch.accounts.roles lists the same roles.
ROLES = (
    "campaign_manager",
    "approver",
    "customer_service",
    "auditor",
    "admin",
    "partner_admin",
    "partner_editor",
    "partner_viewer",
)
PARTNER_ROLES = ("partner_admin", "partner_editor", "partner_viewer")
PUBLIC = {"creatives": "cr", "creative_versions": "cv", "campaigns": "cp"}


def _quoted(values: Sequence[str]) -> str:
    return ", ".join(f"'{v}'" for v in values)


def _public_id(prefix: str) -> str:
    return f"{prefix}_{base64.b32encode(secrets.token_bytes(10)).decode().lower()}"


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("public_id", sa.String(24), nullable=False),
        sa.Column("username", sa.String(80), nullable=False),
        sa.Column("display_name", sa.String(120), nullable=False),
        sa.Column("email", sa.String(254)),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("partner_id", sa.Integer(), sa.ForeignKey("partners.id")),
        sa.Column("password_hash", sa.String(200)),
        sa.Column("totp_secret", sa.String(300)),
        sa.Column("totp_last_step", BigId),
        sa.Column("failed_logins", sa.Integer(), nullable=False),
        sa.Column("locked_until", When),
        sa.Column("disabled_at", When),
        sa.Column("created_at", When, nullable=False),
        sa.Column("created_by", sa.String(80), nullable=False),
        sa.CheckConstraint(f"role IN ({_quoted(ROLES)})", name="role_valid"),
        sa.CheckConstraint(
            f"(role IN ({_quoted(sorted(PARTNER_ROLES))})) = (partner_id IS NOT NULL)",
            name="partner_role_has_partner",
        ),
        sa.UniqueConstraint("public_id"),
        sa.UniqueConstraint("username"),
    )
    op.create_index("ix_users_partner_id", "users", ["partner_id"])
    op.create_table(
        "web_sessions",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("verified", sa.Boolean(), nullable=False),
        sa.Column("created_at", When, nullable=False),
        sa.Column("last_seen_at", When, nullable=False),
        sa.Column("expires_at", When, nullable=False),
        sa.Column("revoked_at", When),
        sa.Column("origin", sa.String(64)),
    )
    op.create_index("ix_web_sessions_user_id", "web_sessions", ["user_id"])
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("public_id", sa.String(24), nullable=False),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("name", sa.String(80), nullable=False),
        sa.Column("scope", sa.String(8), nullable=False),
        sa.Column("created_at", When, nullable=False),
        sa.Column("expires_at", When, nullable=False),
        sa.Column("revoked_at", When),
        sa.Column("last_used_at", When),
        sa.CheckConstraint("scope IN ('read', 'write')", name="scope_valid"),
        sa.UniqueConstraint("public_id"),
        sa.UniqueConstraint("token_hash"),
    )
    op.create_index("ix_api_tokens_user_id", "api_tokens", ["user_id"])
    op.create_table(
        "invitations",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("created_at", When, nullable=False),
        sa.Column("created_by", sa.String(80), nullable=False),
        sa.Column("expires_at", When, nullable=False),
        sa.Column("used_at", When),
    )
    op.create_index("ix_invitations_user_id", "invitations", ["user_id"])
    op.create_table(
        "login_failures",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("origin", sa.String(64), nullable=False),
        sa.Column("at", When, nullable=False),
    )
    op.create_index("ix_login_failures_origin_at", "login_failures", ["origin", "at"])
    op.create_table(
        "idempotent_requests",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("key", sa.String(100), nullable=False),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=False),
        sa.Column("response", sa.JSON(), nullable=False),
        sa.Column("created_at", When, nullable=False),
        sa.UniqueConstraint("user_id", "key"),
    )

    conn = op.get_bind()
    for table, prefix in PUBLIC.items():
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("public_id", sa.String(24)))
        rows = sa.table(table, sa.column("id", sa.Integer()), sa.column("public_id", sa.String()))
        for (row_id,) in conn.execute(sa.select(rows.c.id)).all():
            conn.execute(
                rows.update().where(rows.c.id == row_id).values(public_id=_public_id(prefix))
            )
        with op.batch_alter_table(table) as batch:
            batch.alter_column("public_id", existing_type=sa.String(24), nullable=False)
            batch.create_unique_constraint(f"uq_{table}_public_id", ["public_id"])
    with op.batch_alter_table("creative_versions") as batch:
        batch.add_column(sa.Column("submitted_by", sa.String(80)))
    with op.batch_alter_table("audit_log") as batch:
        batch.add_column(sa.Column("origin", sa.String(64)))


def downgrade() -> None:
    with op.batch_alter_table("audit_log") as batch:
        batch.drop_column("origin")
    with op.batch_alter_table("creative_versions") as batch:
        batch.drop_column("submitted_by")
    for table in PUBLIC:
        with op.batch_alter_table(table) as batch:
            batch.drop_constraint(f"uq_{table}_public_id", type_="unique")
            batch.drop_column("public_id")
    for table in (
        "idempotent_requests",
        "login_failures",
        "invitations",
        "api_tokens",
        "web_sessions",
        "users",
    ):
        op.drop_table(table)
