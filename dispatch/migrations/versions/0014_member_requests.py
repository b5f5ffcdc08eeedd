"""members' requests: erasure requests and postal exports in one queue table

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 12:00:00

A member without a (deliverable) e-mail address asks for their data in the preference
centre; customer service post it, so it waits in a queue beside the erasure requests.
Both kinds live in ``member_requests`` (column ``kind``); the erasure requests move
there with their public ids. Downgrading moves them back and drops the postal
export requests, which the older schema has no place for.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
When = sa.DateTime(timezone=True)
# The rows move with every column both tables have; the integer ids are internal
# (nothing refers to them) and each table numbers its own.


def upgrade() -> None:
    op.create_table(
        "member_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_id", sa.String(24), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("member_id", BigId, nullable=False),
        sa.Column("requested_at", When, nullable=False),
        sa.Column("source", sa.String(40), nullable=False),
        sa.Column("language", sa.String(2)),
        sa.Column("cause", sa.String(20)),
        sa.Column("downloads", sa.Integer(), server_default="0", nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("handled_at", When),
        sa.Column("handled_by", sa.String(80)),
        sa.Column("note", sa.String(200)),
        sa.CheckConstraint(
            "kind IN ('erasure', 'postal_export')", name=op.f("ck_member_requests_kind_valid")
        ),
        sa.CheckConstraint(
            "status IN ('open', 'erased', 'posted', 'declined')",
            name=op.f("ck_member_requests_status_valid"),
        ),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_member_requests_member_id_members")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_member_requests")),
        sa.UniqueConstraint("public_id", name=op.f("uq_member_requests_public_id")),
    )
    op.create_index("ix_member_requests_member_id", "member_requests", ["member_id"])
    op.create_index(
        "ix_member_requests_kind_status_requested_at",
        "member_requests",
        ["kind", "status", "requested_at"],
    )
    op.execute(
        "INSERT INTO member_requests (kind, downloads, public_id, member_id, requested_at,"
        " source, status, handled_at, handled_by, note)"
        " SELECT 'erasure', 0, public_id, member_id, requested_at, source, status,"
        " handled_at, handled_by, note FROM erasure_requests ORDER BY id"
    )
    op.drop_table("erasure_requests")


def downgrade() -> None:
    op.create_table(
        "erasure_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_id", sa.String(24), nullable=False),
        sa.Column("member_id", BigId, nullable=False),
        sa.Column("requested_at", When, nullable=False),
        sa.Column("source", sa.String(40), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("handled_at", When),
        sa.Column("handled_by", sa.String(80)),
        sa.Column("note", sa.String(200)),
        sa.CheckConstraint(
            "status IN ('open', 'erased', 'declined')",
            name=op.f("ck_erasure_requests_status_valid"),
        ),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_erasure_requests_member_id_members")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_erasure_requests")),
        sa.UniqueConstraint("public_id", name=op.f("uq_erasure_requests_public_id")),
    )
    op.create_index("ix_erasure_requests_member_id", "erasure_requests", ["member_id"])
    op.create_index(
        "ix_erasure_requests_status_requested_at", "erasure_requests", ["status", "requested_at"]
    )
    op.execute(
        "INSERT INTO erasure_requests (public_id, member_id, requested_at, source, status,"
        " handled_at, handled_by, note)"
        " SELECT public_id, member_id, requested_at, source, status, handled_at, handled_by,"
        " note FROM member_requests WHERE kind = 'erasure' ORDER BY id"
    )
    op.drop_table("member_requests")
