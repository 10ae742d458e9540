"""retention: ticket.purged_at and the purge's progress per table

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-20 12:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.types

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_UNPURGED = "closed_at IS NOT NULL AND purged_at IS NULL"


def upgrade() -> None:
    op.create_table(
        "retention_progress",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("last_id", sa.Integer(), nullable=False),
        sa.Column("updated_at", storage.types.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    # nullable, no default: on both backends a new column costs no rewrite of the table
    with op.batch_alter_table("ticket") as batch:
        batch.add_column(sa.Column("purged_at", storage.types.UTCDateTime(), nullable=True))
    with op.batch_alter_table("ticket") as batch:
        where = sa.text(_UNPURGED)
        batch.create_index(
            "ix_ticket_unpurged_closed",
            ["closed_at", "id"],
            unique=False,
            sqlite_where=where,
            postgresql_where=where,
        )


def downgrade() -> None:
    with op.batch_alter_table("ticket") as batch:
        batch.drop_index("ix_ticket_unpurged_closed")
    # in place, not batch's copy of the table: rows of other tables point at tickets, and
    # SQLite (3.35 on) drops a column itself
    op.drop_column("ticket", "purged_at")
    op.drop_table("retention_progress")
