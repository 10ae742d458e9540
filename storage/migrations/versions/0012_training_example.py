"""training_example: leaders' corrections kept, masked, as labelled examples

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-10 12:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.types

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "training_example",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("is_request", sa.Boolean(), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=True),
        sa.Column("source", sa.String(length=8), nullable=False),
        sa.Column("grid_code", sa.String(length=32), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=True),
        sa.Column("contact_id", sa.String(length=128), nullable=False),
        sa.Column("created_at", storage.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["grid_code"], ["grid.code"]),
        sa.ForeignKeyConstraint(["ticket_id"], ["ticket.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("training_example") as batch:
        batch.create_index(batch.f("ix_training_example_created_at"), ["created_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("training_example") as batch:
        batch.drop_index(batch.f("ix_training_example_created_at"))
    op.drop_table("training_example")
