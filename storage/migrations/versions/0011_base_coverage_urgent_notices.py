"""base_coverage: whom a period's base points counted; notice.urgent: a leader's override

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-08 12:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.types

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "base_coverage",
        sa.Column("grid_code", sa.String(length=32), nullable=False),
        sa.Column("period", sa.String(length=8), nullable=False),
        sa.Column("contact_id", sa.String(length=128), nullable=False),
        sa.Column("at", storage.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["grid_code"], ["grid.code"]),
        sa.PrimaryKeyConstraint("grid_code", "period", "contact_id"),
    )
    with op.batch_alter_table("notice") as batch:
        batch.add_column(
            sa.Column("urgent", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("notice") as batch:
        batch.drop_column("urgent")
    op.drop_table("base_coverage")
