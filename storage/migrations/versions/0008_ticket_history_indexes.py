"""tickets: partial indexes for what a grid closed or resolved lately

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04 15:49:32.631721
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_INDEXES = (("ix_ticket_grid_closed", "closed_at"), ("ix_ticket_grid_resolved", "resolved_at"))


def upgrade() -> None:
    with op.batch_alter_table("ticket", schema=None) as batch_op:
        for name, column in _INDEXES:
            where = sa.text(f"{column} IS NOT NULL")
            batch_op.create_index(
                name, ["grid_code", column], sqlite_where=where, postgresql_where=where
            )


def downgrade() -> None:
    with op.batch_alter_table("ticket", schema=None) as batch_op:
        for name, _column in reversed(_INDEXES):
            batch_op.drop_index(name)
