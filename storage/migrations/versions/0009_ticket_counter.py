"""counter: ticket numbers without gaps

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04 16:15:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "counter",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("value", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    # numbering goes on from the highest ticket there is
    op.execute(
        "INSERT INTO counter (name, value) SELECT 'ticket', COALESCE(MAX(id), 0) FROM ticket"
    )


def downgrade() -> None:
    op.drop_table("counter")
