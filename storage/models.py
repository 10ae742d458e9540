"""The tables. One module, so Alembic's autogenerate and every reader see the same metadata.

Every timestamp is an aware UTC datetime (see :class:`storage.types.UTCDateTime`).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    JSON,
    Column,
    Float,
    Index,
    LargeBinary,
    Table,
    Text,
    Unicode,
    UniqueConstraint,
)
from sqlmodel import Field, SQLModel

from storage.types import UTCDateTime


class MessageStatus(StrEnum):
    PENDING = "pending"
    HANDLED = "handled"
    FAILED = "failed"


class OutboundStatus(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"


class MemberRole(StrEnum):
    """A role granted in the database. Leaders named in config are leaders whatever this says;
    config is not copied here, so removing a leader from config takes the power away."""

    RESIDENT = "resident"
    LEADER = "leader"


class Grid(SQLModel, table=True):
    __tablename__ = "grid"

    code: str = Field(primary_key=True, max_length=32)
    name: str = Field(max_length=100)
    room_topic: str = Field(max_length=200, index=True)
    # Learned from the first message whose room topic matched; topics can change later.
    room_id: str | None = Field(default=None, max_length=200, unique=True)
    community: str | None = Field(default=None, max_length=100)
    active: bool = True


class Member(SQLModel, table=True):
    __tablename__ = "member"
    __table_args__ = (UniqueConstraint("contact_id", "grid_code"),)

    id: int | None = Field(default=None, primary_key=True)
    contact_id: str = Field(max_length=128, index=True)
    grid_code: str = Field(foreign_key="grid.code", max_length=32, index=True)
    display_name: str = Field(max_length=100)
    role: str = Field(default=MemberRole.RESIDENT, max_length=16)
    first_seen: datetime = Field(sa_type=UTCDateTime)
    last_seen: datetime = Field(sa_type=UTCDateTime)


class InboundMessage(SQLModel, table=True):
    """Every message the bot received, stored before it is handled."""

    __tablename__ = "inbound_message"
    __table_args__ = (Index("ix_inbound_message_status_id", "status", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=64, unique=True)
    platform_id: str | None = Field(default=None, max_length=128)
    room_id: str | None = Field(default=None, max_length=200)
    room_topic: str | None = Field(default=None, max_length=200)
    grid_code: str | None = Field(default=None, foreign_key="grid.code", max_length=32)
    sender_id: str = Field(max_length=128, index=True)
    sender_name: str = Field(max_length=100)
    type: str = Field(max_length=16)
    text: str = Field(sa_type=Text)
    mentions: list[str] = Field(default_factory=list, sa_type=JSON)
    sent_at: datetime = Field(sa_type=UTCDateTime)
    received_at: datetime = Field(sa_type=UTCDateTime)
    status: str = Field(default=MessageStatus.PENDING, max_length=16)
    handled_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    error: str | None = Field(default=None, sa_type=Text)


class OutboundMessage(SQLModel, table=True):
    """Every message the bot is to send: written in the transaction that decided to send it,
    marked sent once the channel took it."""

    __tablename__ = "outbound_message"
    __table_args__ = (Index("ix_outbound_message_status_due", "status", "not_before", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    inbound_id: int | None = Field(default=None, foreign_key="inbound_message.id", index=True)
    room_id: str | None = Field(default=None, max_length=200)
    room_topic: str | None = Field(default=None, max_length=200)
    to_id: str | None = Field(default=None, max_length=128)
    text: str = Field(sa_type=Text)
    mentions: list[str] = Field(default_factory=list, sa_type=JSON)
    created_at: datetime = Field(sa_type=UTCDateTime)
    not_before: datetime = Field(sa_type=UTCDateTime)
    status: str = Field(default=OutboundStatus.PENDING, max_length=16)
    attempts: int = 0
    sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_error: str | None = Field(default=None, sa_type=Text)


# APScheduler's job store (bot/scheduler.py) keeps jobs in this table. It is declared here,
# exactly as APScheduler's SQLAlchemyJobStore defines it, so migrations create it and the
# schema has one owner.
scheduler_jobs = Table(
    "apscheduler_jobs",
    SQLModel.metadata,
    Column("id", Unicode(191), primary_key=True),
    Column("next_run_time", Float(25), index=True),
    Column("job_state", LargeBinary, nullable=False),
)
