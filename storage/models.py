"""The tables. One module, so Alembic's autogenerate and every reader see the same metadata.

Every timestamp is an aware UTC datetime (see :class:`storage.types.UTCDateTime`).
"""

from __future__ import annotations

from datetime import datetime
from enum import IntEnum, StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Column,
    Float,
    Index,
    LargeBinary,
    Table,
    Text,
    Unicode,
    UniqueConstraint,
    false,
    text,
)
from sqlmodel import Field, SQLModel

from storage.types import UTCDateTime


class MessageStatus(StrEnum):
    PENDING = "pending"
    HANDLED = "handled"
    FAILED = "failed"


class OutboundStatus(StrEnum):
    PENDING = "pending"
    SENDING = "sending"  # claimed by one process; back to due if it never says "sent"
    SENT = "sent"
    FAILED = "failed"
    CANCELLED = "cancelled"


class OutboundPriority(IntEnum):
    """Who goes first when the throttle makes messages wait."""

    REPLY = 0  # answers to people: a resident waiting for one is waiting now
    NOTICE = 1  # broadcasts: a fan-out to many groups must not hold replies back


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
    __table_args__ = (
        Index("ix_inbound_message_status_id", "status", "id"),
        # a sender's recent messages: the anti-flood count (bot/flood.py) runs per reply
        Index("ix_inbound_message_sender_received", "sender_id", "received_at"),
        # the replay's resume (max(sent_at), the keys sent since): whole-table scans without it
        Index("ix_inbound_message_sent_at", "sent_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=64, unique=True)
    platform_id: str | None = Field(default=None, max_length=128)
    room_id: str | None = Field(default=None, max_length=200)
    room_topic: str | None = Field(default=None, max_length=200)
    grid_code: str | None = Field(default=None, foreign_key="grid.code", max_length=32)
    sender_id: str = Field(max_length=128)
    sender_name: str = Field(max_length=100)
    type: str = Field(max_length=16)
    text: str = Field(sa_type=Text)
    mentions: list[str] = Field(default_factory=list, sa_type=JSON)
    # the message it replies to (WeChat's 引用): {"name", "text", "sender_id"}; text is the reply
    quote: dict[str, str | None] | None = Field(default=None, sa_type=JSON)
    sent_at: datetime = Field(sa_type=UTCDateTime)
    received_at: datetime = Field(sa_type=UTCDateTime)
    status: str = Field(default=MessageStatus.PENDING, max_length=16)
    handled_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    error: str | None = Field(default=None, sa_type=Text)
    # The bot account that stored it (when several receive one group message, the first).
    account: str | None = Field(default=None, max_length=128)


class OutboundMessage(SQLModel, table=True):
    """Every message the bot is to send: written in the transaction that decided to send it,
    marked sent once the channel took it."""

    __tablename__ = "outbound_message"
    __table_args__ = (Index("ix_outbound_message_due", "status", "priority", "not_before", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    inbound_id: int | None = Field(default=None, foreign_key="inbound_message.id", index=True)
    room_id: str | None = Field(default=None, max_length=200)
    room_topic: str | None = Field(default=None, max_length=200)
    to_id: str | None = Field(default=None, max_length=128)
    text: str = Field(sa_type=Text)
    mentions: list[str] = Field(default_factory=list, sa_type=JSON)
    created_at: datetime = Field(sa_type=UTCDateTime)
    not_before: datetime = Field(sa_type=UTCDateTime)
    priority: int = OutboundPriority.REPLY
    status: str = Field(default=OutboundStatus.PENDING, max_length=16)
    claimed_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    attempts: int = 0
    sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_error: str | None = Field(default=None, sa_type=Text)
    # The account that should send it (a reply: the one that received the message); other
    # accounts that can reach the room or contact take it only if that one doesn't, in time.
    # None: any account that can reach it.
    account: str | None = Field(default=None, max_length=128)


class RoomAccount(SQLModel, table=True):
    """Which bot account is in which group, learned from the messages it receives there and,
    on WeChat, from its group list at login. The outbox gives a group's messages only to
    processes whose account is in it."""

    __tablename__ = "room_account"

    room_id: str = Field(primary_key=True, max_length=200)
    account: str = Field(primary_key=True, max_length=128)
    # For messages addressed by topic alone (the escalation room from config).
    topic: str | None = Field(default=None, max_length=200, index=True)
    seen_at: datetime = Field(sa_type=UTCDateTime)


class ContactAccount(SQLModel, table=True):
    """Which bot account can write to whom privately: learned from the private messages it
    received. A contact no account is known to reach gets its messages from any account."""

    __tablename__ = "contact_account"

    contact_id: str = Field(primary_key=True, max_length=128)
    account: str = Field(primary_key=True, max_length=128)
    seen_at: datetime = Field(sa_type=UTCDateTime)


class LimitKind(StrEnum):
    TICKETS = "tickets"  # too many new tickets in a day: the request was not filed
    REPLIES = "replies"  # too many replies in the window: told to wait, then silence


class LimitHit(SQLModel, table=True):
    """A resident over an anti-flood limit was told so (bot/flood.py): written with the
    message that was refused, so the notice goes once per window, across restarts and
    processes."""

    __tablename__ = "limit_hit"
    __table_args__ = (
        UniqueConstraint("message_id", "kind"),
        Index("ix_limit_hit_contact_kind_at", "contact_id", "kind", "at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    contact_id: str = Field(max_length=128)
    kind: str = Field(max_length=16)
    at: datetime = Field(sa_type=UTCDateTime)
    message_id: int = Field(foreign_key="inbound_message.id")


class TicketStatus(StrEnum):
    """The closed loop: 受理 → 处置 → (上报) → 反馈 → 归档."""

    OPEN = "open"  # 受理: accepted, nobody assigned yet
    ASSIGNED = "assigned"  # 处置: a handler is on it
    ESCALATED = "escalated"  # 上报: sent up; stays so until resolved
    RESOLVED = "resolved"  # 反馈: resolved with feedback, waiting for the reporter's rating
    ARCHIVED = "archived"  # 归档: rated, or the rating window passed
    DISMISSED = "dismissed"  # 驳回
    MERGED = "merged"  # folded into another ticket


def _where(column: str) -> dict[str, Any]:
    """A partial index's condition: rows where ``column`` is set, on both backends."""
    return _where_both(f"{column} IS NOT NULL")


def _where_both(condition: str) -> dict[str, Any]:
    """A partial index's condition, on both backends."""
    clause = text(condition)
    return {"sqlite_where": clause, "postgresql_where": clause}


class Counter(SQLModel, table=True):
    """Numbers handed out in order and without gaps, under a name ("ticket").

    Residents and leaders are told a ticket's number and type it in commands; a number skipped
    would read as a deleted ticket. A server's sequence skips the numbers of transactions that
    rolled back (a process killed while opening a ticket): this row, taken in the opening
    transaction, does not, and serialises the processes opening tickets at the same moment.
    """

    __tablename__ = "counter"
    name: str = Field(primary_key=True, max_length=32)
    value: int = 0


class Ticket(SQLModel, table=True):
    __tablename__ = "ticket"
    __table_args__ = (
        Index("ix_ticket_grid_status", "grid_code", "status"),
        Index("ix_ticket_reporter_status", "reporter_id", "status"),
        # a reporter's recent tickets, read for each photo or voice message (latest_reported_by)
        Index("ix_ticket_reporter_grid_created", "reporter_id", "grid_code", "created_at"),
        Index("ix_ticket_status_due", "status", "due_at"),
        # `/工单 全部` lists what a grid closed or resolved this month: without these it read
        # the grid's whole history. Partial: a new ticket (neither yet) costs them nothing.
        Index("ix_ticket_grid_closed", "grid_code", "closed_at", **_where("closed_at")),
        Index("ix_ticket_grid_resolved", "grid_code", "resolved_at", **_where("resolved_at")),
        # The web console's list, newest first or by date, of one grid or of all: without
        # these it sorted a city's 100,000 tickets for every page (storage/ticket_search.py).
        Index("ix_ticket_grid_created", "grid_code", "created_at"),
        Index("ix_ticket_created", "created_at"),
        # The retention purge's queue: closed tickets whose free text is still there, oldest
        # closed first. Partial: the purged ones, most of a city's history, cost it nothing.
        Index(
            "ix_ticket_unpurged_closed",
            "closed_at",
            "id",
            **_where_both("closed_at IS NOT NULL AND purged_at IS NULL"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    grid_code: str = Field(foreign_key="grid.code", max_length=32)
    reporter_id: str = Field(max_length=128)
    reporter_name: str = Field(max_length=100)
    text: str = Field(sa_type=Text)
    category: str = Field(max_length=32)
    urgent: bool = False
    keywords: list[str] = Field(default_factory=list, sa_type=JSON)
    confidence: float = 0.0
    # One message makes at most one ticket, also when it is handled again after a crash.
    source_message_id: int | None = Field(
        default=None, foreign_key="inbound_message.id", unique=True
    )
    status: str = Field(default=TicketStatus.OPEN, max_length=16)
    assignee_id: str | None = Field(default=None, max_length=128)
    assignee_name: str | None = Field(default=None, max_length=100)
    created_at: datetime = Field(sa_type=UTCDateTime)
    due_at: datetime = Field(sa_type=UTCDateTime)
    reminded_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    escalated_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    resolved_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    feedback: str | None = Field(default=None, sa_type=Text)
    rating: str | None = Field(default=None, max_length=16)
    rating_due_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    closed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    merged_into_id: int | None = Field(default=None, foreign_key="ticket.id")
    same_count: int = 0  # other residents who reported the same matter (同类诉求)
    reopen_count: int = 0
    # when its free text (and its messages') was replaced under the retention policy
    # (storage/retention.py); None: still as written
    purged_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class TicketEvent(SQLModel, table=True):
    """Every change of a ticket: its audit trail (归档留痕)."""

    __tablename__ = "ticket_event"

    id: int | None = Field(default=None, primary_key=True)
    ticket_id: int = Field(foreign_key="ticket.id", index=True)
    at: datetime = Field(sa_type=UTCDateTime)
    actor_id: str | None = Field(default=None, max_length=128)  # None: the bot itself
    action: str = Field(max_length=32)
    from_status: str | None = Field(default=None, max_length=16)
    to_status: str | None = Field(default=None, max_length=16)
    note: str | None = Field(default=None, sa_type=Text)
    message_id: int | None = Field(default=None, foreign_key="inbound_message.id")


class TicketReporter(SQLModel, table=True):
    """Everyone who reported a ticket's matter: the first reporter, residents whose reports
    were linked (同类诉求 +1) and reporters of merged tickets. All hear the outcome."""

    __tablename__ = "ticket_reporter"
    __table_args__ = (UniqueConstraint("ticket_id", "contact_id"),)

    id: int | None = Field(default=None, primary_key=True)
    ticket_id: int = Field(foreign_key="ticket.id", index=True)
    contact_id: str = Field(max_length=128)
    name: str = Field(max_length=100)
    at: datetime = Field(sa_type=UTCDateTime)


class TicketAttachment(SQLModel, table=True):
    __tablename__ = "ticket_attachment"

    id: int | None = Field(default=None, primary_key=True)
    ticket_id: int = Field(foreign_key="ticket.id", index=True)
    message_id: int = Field(foreign_key="inbound_message.id", unique=True)
    type: str = Field(max_length=16)
    at: datetime = Field(sa_type=UTCDateTime)


class CategoryCorrection(SQLModel, table=True):
    """A leader's /改类: what the classifier said and what was right, kept as training data."""

    __tablename__ = "category_correction"

    id: int | None = Field(default=None, primary_key=True)
    ticket_id: int = Field(foreign_key="ticket.id", index=True)
    text: str = Field(sa_type=Text)
    from_category: str = Field(max_length=32)
    to_category: str = Field(max_length=32)
    keywords: list[str] = Field(default_factory=list, sa_type=JSON)
    actor_id: str = Field(max_length=128)
    at: datetime = Field(sa_type=UTCDateTime)


class ExampleSource(StrEnum):
    """The leader's command a training example comes from."""

    RECLASSIFY = "改类"  # the category was wrong
    DISMISS = "驳回"  # not a request at all (/驳回 N 不是诉求)
    ACCEPT = "受理"  # a request the bot let pass, quoted
    BACKFILL = "补录"  # a request the bot let pass, written down for the resident


class TrainingExample(SQLModel, table=True):
    """A message labelled by a leader's correction, for training the classifier (`gridbot
    examples export`). The text is masked as what the bot repeats into a group is, and
    deletable (`gridbot examples delete`): it is kept to teach the bot, not as a record."""

    __tablename__ = "training_example"

    id: int | None = Field(default=None, primary_key=True)
    text: str = Field(sa_type=Text)
    is_request: bool
    category: str | None = Field(default=None, max_length=32)  # None: not a request
    source: str = Field(max_length=8)
    grid_code: str = Field(foreign_key="grid.code", max_length=32)
    ticket_id: int | None = Field(default=None, foreign_key="ticket.id")
    contact_id: str = Field(max_length=128)  # the leader who corrected
    created_at: datetime = Field(sa_type=UTCDateTime, index=True)


class RetentionProgress(SQLModel, table=True):
    """How far the retention purge (storage/retention.py) has gone through a table, by id:
    rows up to ``last_id`` are done, so a daily run reads only what aged since the last."""

    __tablename__ = "retention_progress"

    name: str = Field(primary_key=True, max_length=64)  # "mask:inbound_message", …
    last_id: int = 0
    updated_at: datetime = Field(sa_type=UTCDateTime)


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


# --- Points (积分制) ---------------------------------------------------------------------------
# An append-only ledger (points_entry) and, per member, its running totals (points_balance),
# updated in the transaction that appends, so a balance is one row read however long the
# ledger grows. Corrections and refunds are new entries, never edits.


class EntryKind(StrEnum):
    BASE = "base"  # 基础分: per household and period
    AWARD = "award"  # 奖励分
    PENALTY = "penalty"  # 处罚分
    REDEEM = "redeem"  # points held by a redemption order
    REFUND = "refund"  # a refused order's points given back
    ADJUST = "adjust"  # a leader's correction (/更正)


class OrderStatus(StrEnum):
    PENDING = "pending"  # points held, the item not yet handed over
    CONFIRMED = "confirmed"  # 核销: handed over
    REFUNDED = "refunded"  # 退回: points given back


class Household(SQLModel, table=True):
    __tablename__ = "household"

    id: int | None = Field(default=None, primary_key=True)
    grid_code: str = Field(foreign_key="grid.code", max_length=32, index=True)
    created_at: datetime = Field(sa_type=UTCDateTime)
    created_by: str = Field(max_length=128)


class HouseholdMember(SQLModel, table=True):
    """A member belongs to at most one household (per grid, as a member row is per grid)."""

    __tablename__ = "household_member"

    member_id: int = Field(primary_key=True, foreign_key="member.id")
    household_id: int = Field(foreign_key="household.id", index=True)
    position: int = 0  # 0: the representative (户代表), who receives the base points


class BaseCoverage(SQLModel, table=True):
    """Who a period's base points (基础分) counted: each person once per grid and period, so
    moving someone into another household pays nothing more. By contact id, as a configured
    household's members need not have spoken in the group."""

    __tablename__ = "base_coverage"

    grid_code: str = Field(primary_key=True, foreign_key="grid.code", max_length=32)
    period: str = Field(primary_key=True, max_length=8)  # as in the ledger's keys: 2026, 2026Q1
    contact_id: str = Field(primary_key=True, max_length=128)
    at: datetime = Field(sa_type=UTCDateTime)


class PointsOrder(SQLModel, table=True):
    """A redemption (积分兑换): placed by a resident, 核销 or 退回 by a leader of its grid."""

    __tablename__ = "points_order"
    __table_args__ = (Index("ix_points_order_member_status", "member_id", "status"),)

    id: int | None = Field(default=None, primary_key=True)  # the 单号 residents are told
    grid_code: str = Field(foreign_key="grid.code", max_length=32)
    member_id: int = Field(foreign_key="member.id")
    item_code: str = Field(max_length=32)
    item_name: str = Field(max_length=50)
    points: int
    period: str = Field(max_length=7)  # YYYY-MM: the month whose stock it took
    status: str = Field(default=OrderStatus.PENDING, max_length=16)
    # One message places at most one order, also when it is handled again after a crash.
    message_id: int | None = Field(default=None, foreign_key="inbound_message.id", unique=True)
    created_at: datetime = Field(sa_type=UTCDateTime)
    closed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    closed_by: str | None = Field(default=None, max_length=128)


class PointsEntry(SQLModel, table=True):
    """One line of the ledger: who got how many points, by which rule, from whom, why."""

    __tablename__ = "points_entry"
    __table_args__ = (
        # a member's history and this month's change; the id makes the order total
        Index("ix_points_entry_member_at", "member_id", "at", "id"),
        # a grid's month, for the 公示
        Index("ix_points_entry_grid_at", "grid_code", "at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    # Derived from what caused the entry (the inbound message and the target, an order, a
    # household's period), so the same cause never makes two entries.
    key: str = Field(max_length=96, unique=True)
    member_id: int = Field(foreign_key="member.id")
    grid_code: str = Field(foreign_key="grid.code", max_length=32)
    delta: int
    kind: str = Field(max_length=16)
    rule_code: str | None = Field(default=None, max_length=32)
    reason: str | None = Field(default=None, max_length=200)
    actor_id: str | None = Field(default=None, max_length=128)  # None: the bot itself
    at: datetime = Field(sa_type=UTCDateTime)
    message_id: int | None = Field(default=None, foreign_key="inbound_message.id")
    order_id: int | None = Field(default=None, foreign_key="points_order.id")


class PointsBalance(SQLModel, table=True):
    """A member's totals over the ledger; `gridbot points verify` checks they agree."""

    __tablename__ = "points_balance"
    __table_args__ = (
        CheckConstraint("balance >= 0", name="ck_points_balance_not_negative"),
        Index("ix_points_balance_grid_earned", "grid_code", "earned"),
    )

    member_id: int = Field(primary_key=True, foreign_key="member.id")
    grid_code: str = Field(foreign_key="grid.code", max_length=32)
    balance: int = 0  # what may be redeemed: the sum of every entry
    earned: int = 0  # merit, what the ranking shows: every entry but redeem and refund
    entries: int = 0
    updated_at: datetime = Field(sa_type=UTCDateTime)


class PointsStock(SQLModel, table=True):
    """How many of an item a grid has handed out (or holds for pending orders) in a month."""

    __tablename__ = "points_stock"

    grid_code: str = Field(primary_key=True, foreign_key="grid.code", max_length=32)
    item_code: str = Field(primary_key=True, max_length=32)
    period: str = Field(primary_key=True, max_length=7)
    taken: int = 0


class PointsNotice(SQLModel, table=True):
    """A monthly 公示 sent: at most once per grid and month, however often the job runs."""

    __tablename__ = "points_notice"

    grid_code: str = Field(primary_key=True, foreign_key="grid.code", max_length=32)
    period: str = Field(primary_key=True, max_length=7)
    sent_at: datetime = Field(sa_type=UTCDateTime)


# --- Broadcasts -------------------------------------------------------------------------


class NoticeStatus(StrEnum):
    SCHEDULED = "scheduled"
    SENT = "sent"  # its deliveries are planned; the outbox sends them
    MISSED = "missed"  # the bot was down past the grace time: not sent late
    CANCELLED = "cancelled"


class Notice(SQLModel, table=True):
    """A notice a leader or an administrator wrote in a group (config notices live in config)."""

    __tablename__ = "notice"
    __table_args__ = (Index("ix_notice_status_send_at", "status", "send_at"),)

    id: int | None = Field(default=None, primary_key=True)
    text: str = Field(sa_type=Text)
    grid_codes: list[str] = Field(default_factory=list, sa_type=JSON)  # empty: every grid
    author_id: str = Field(max_length=128)
    author_grid: str | None = Field(default=None, max_length=32)  # where it was written
    created_at: datetime = Field(sa_type=UTCDateTime)
    send_at: datetime = Field(sa_type=UTCDateTime)
    status: str = Field(default=NoticeStatus.SCHEDULED, max_length=16)
    cancelled_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    cancelled_by: str | None = Field(default=None, max_length=128)
    # sent in quiet hours too: the leader's override (/公告 紧急) for news that can't wait
    urgent: bool = Field(default=False, sa_column_kwargs={"server_default": false()})


class DeliveryStatus(StrEnum):
    PLANNED = "planned"  # its message is in the outbox
    MISSED = "missed"  # the bot was down past the grace time: recorded, not sent late
    CANCELLED = "cancelled"


class NoticeDelivery(SQLModel, table=True):
    """One notice, one occurrence, one grid's group: written before sending, and unique, so a
    restart, a retry or a second bot process never sends it twice."""

    __tablename__ = "notice_delivery"
    __table_args__ = (UniqueConstraint("notice_key", "occurrence", "grid_code"),)

    id: int | None = Field(default=None, primary_key=True)
    notice_key: str = Field(max_length=80)  # "config:<id>" or "db:<notice id>"
    occurrence: datetime = Field(sa_type=UTCDateTime)
    grid_code: str = Field(foreign_key="grid.code", max_length=32)
    status: str = Field(default=DeliveryStatus.PLANNED, max_length=16)
    outbound_id: int | None = Field(default=None, foreign_key="outbound_message.id")
    created_at: datetime = Field(sa_type=UTCDateTime)


# --- The web console (指挥中心后台) ---------------------------------------------------------
# No passwords: a leader or an administrator asks the bot for a one-time link (/后台), which
# opens a session. Both are kept by the SHA-256 of their secret only: a copy of the database
# opens no session.


class WebLoginToken(SQLModel, table=True):
    """A one-time login link: used once, within minutes of being made."""

    __tablename__ = "web_login_token"

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True)
    contact_id: str = Field(max_length=128)
    created_at: datetime = Field(sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime)
    used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class WebSession(SQLModel, table=True):
    """A browser logged in to the console: its cookie's secret, hashed, and the CSRF secret
    its forms carry."""

    __tablename__ = "web_session"

    id: int | None = Field(default=None, primary_key=True)
    session_hash: str = Field(max_length=64, unique=True)
    contact_id: str = Field(max_length=128)
    csrf_secret: str = Field(max_length=64)
    created_at: datetime = Field(sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime)
    ended_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


# --- The API for the city's platform (/api/v1/, Open311) --------------------------------------
# A key is said once, when it is made (`gridbot api-key create`); only the SHA-256 of it is
# kept, beside a prefix short enough to show in a list and to find the row by.


class ApiKey(SQLModel, table=True):
    """A key a platform (12345, 平安) reads the grids' tickets with; revoked, never deleted,
    so the audit log's names and prefixes keep meaning something."""

    __tablename__ = "api_key"
    __table_args__ = (
        # one live key per name: `gridbot api-key revoke NAME` names one key
        Index("ux_api_key_live_name", "name", unique=True, **_where_both("revoked_at IS NULL")),
    )

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=64)
    prefix: str = Field(max_length=16, unique=True)  # the key's first characters, shown
    key_hash: str = Field(max_length=64)
    # what residents' pseudonymous ids are made with, for this key's readers: never shown,
    # handed on to a new key of a revoked key's name so that the platform's ids stay
    pseudonym_secret: str = Field(max_length=64)
    grids: list[str] = Field(default_factory=list, sa_type=JSON)  # empty: every grid
    created_at: datetime = Field(sa_type=UTCDateTime)
    created_by: str = Field(max_length=128)
    last_used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    revoked_by: str | None = Field(default=None, max_length=128)
