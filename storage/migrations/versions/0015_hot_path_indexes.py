"""hot path indexes: a reporter's recent tickets, and the replay's resume by sent time

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-21 12:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("ticket") as batch:
        batch.create_index(
            "ix_ticket_reporter_grid_created", ["reporter_id", "grid_code", "created_at"]
        )
    with op.batch_alter_table("inbound_message") as batch:
        batch.create_index("ix_inbound_message_sent_at", ["sent_at"])


def downgrade() -> None:
    with op.batch_alter_table("inbound_message") as batch:
        batch.drop_index("ix_inbound_message_sent_at")
    with op.batch_alter_table("ticket") as batch:
        batch.drop_index("ix_ticket_reporter_grid_created")
