"""Outbound messages: queued in the transaction that decided to send them, claimed by the one
process that sends each, marked sent after."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, and_, or_, update
from sqlmodel import Session, col, func, select

from storage.models import OutboundMessage, OutboundStatus


def enqueue(*, session: Session, message: OutboundMessage) -> OutboundMessage:
    session.add(message)
    return message


def _due(now: datetime) -> ColumnElement[bool]:
    # A claim that ran out belongs to a process that stopped between claiming and sending:
    # the message is due again (at least once beats never).
    return or_(
        and_(
            col(OutboundMessage.status) == OutboundStatus.PENDING,
            col(OutboundMessage.not_before) <= now,
        ),
        and_(
            col(OutboundMessage.status) == OutboundStatus.SENDING,
            col(OutboundMessage.claimed_until) <= now,
        ),
    )


def due(*, session: Session, now: datetime, limit: int = 100) -> Sequence[OutboundMessage]:
    """Messages whose time has come: replies before notices, then in the order queued."""
    return session.exec(
        select(OutboundMessage)
        .where(_due(now))
        .order_by(
            col(OutboundMessage.priority),
            col(OutboundMessage.not_before),
            col(OutboundMessage.id),
        )
        .limit(limit)
    ).all()


def next_due_at(*, session: Session) -> datetime | None:
    """When the earliest waiting message may go, or None when nothing waits."""
    pending = session.exec(
        select(func.min(OutboundMessage.not_before)).where(
            OutboundMessage.status == OutboundStatus.PENDING
        )
    ).one()
    claimed = session.exec(
        select(func.min(OutboundMessage.claimed_until)).where(
            OutboundMessage.status == OutboundStatus.SENDING
        )
    ).one()
    times = [t for t in (pending, claimed) if t is not None]
    return min(times) if times else None


def claim(*, session: Session, message_id: int, now: datetime, until: datetime) -> bool:
    """Take a due message for sending; False when another process has it or it is done.

    One conditional UPDATE decides, so two processes never both send it.
    """
    result = session.execute(
        update(OutboundMessage)
        .where(col(OutboundMessage.id) == message_id, _due(now))
        .values(status=OutboundStatus.SENDING, claimed_until=until)
    )
    session.commit()
    claimed: int = result.rowcount  # type: ignore[attr-defined]
    return claimed == 1


def mark_sent(*, session: Session, message_id: int, at: datetime) -> None:
    row = session.get_one(OutboundMessage, message_id)
    row.status = OutboundStatus.SENT
    row.sent_at = at
    row.claimed_until = None
    row.attempts += 1
    session.add(row)


def mark_attempt_failed(
    *, session: Session, message_id: int, error: str, retry_at: datetime | None
) -> None:
    """Record a failed send: try again at ``retry_at``, or give up when it is None."""
    row = session.get_one(OutboundMessage, message_id)
    row.attempts += 1
    row.last_error = error[:4000]
    row.claimed_until = None
    if retry_at is None:
        row.status = OutboundStatus.FAILED
    else:
        row.status = OutboundStatus.PENDING
        row.not_before = retry_at
    session.add(row)


def cancel(*, session: Session, message_ids: Iterable[int]) -> int:
    """Cancel messages not sent yet; return how many were."""
    ids = list(message_ids)
    if not ids:
        return 0
    result = session.execute(
        update(OutboundMessage)
        .where(
            col(OutboundMessage.id).in_(ids),
            col(OutboundMessage.status) == OutboundStatus.PENDING,
        )
        .values(status=OutboundStatus.CANCELLED)
    )
    cancelled: int = result.rowcount  # type: ignore[attr-defined]
    return cancelled


def pending_count(*, session: Session) -> int:
    """How many messages wait to be sent (due or not), including any being sent now."""
    waiting = (OutboundStatus.PENDING, OutboundStatus.SENDING)
    return session.exec(
        select(func.count())
        .select_from(OutboundMessage)
        .where(col(OutboundMessage.status).in_(waiting))
    ).one()
