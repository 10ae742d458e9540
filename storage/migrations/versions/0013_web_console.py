"""web console: login links and sessions (hashed); ticket indexes for its list by date

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-12 12:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.types

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TICKET_INDEXES = (
    ("ix_ticket_grid_created", ["grid_code", "created_at"]),
    ("ix_ticket_created", ["created_at"]),
)


def upgrade() -> None:
    op.create_table(
        "web_login_token",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("contact_id", sa.String(length=128), nullable=False),
        sa.Column("created_at", storage.types.UTCDateTime(), nullable=False),
        sa.Column("expires_at", storage.types.UTCDateTime(), nullable=False),
        sa.Column("used_at", storage.types.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    op.create_table(
        "web_session",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_hash", sa.String(length=64), nullable=False),
        sa.Column("contact_id", sa.String(length=128), nullable=False),
        sa.Column("csrf_secret", sa.String(length=64), nullable=False),
        sa.Column("created_at", storage.types.UTCDateTime(), nullable=False),
        sa.Column("expires_at", storage.types.UTCDateTime(), nullable=False),
        sa.Column("ended_at", storage.types.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("session_hash"),
    )
    with op.batch_alter_table("ticket") as batch:
        for name, columns in _TICKET_INDEXES:
            batch.create_index(name, columns, unique=False)


def downgrade() -> None:
    with op.batch_alter_table("ticket") as batch:
        for name, _columns in reversed(_TICKET_INDEXES):
            batch.drop_index(name)
    op.drop_table("web_session")
    op.drop_table("web_login_token")
