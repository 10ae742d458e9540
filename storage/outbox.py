"""Outbound messages: queued in the transaction that decided to send them, marked sent after."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlmodel import Session, col, select

from storage.models import OutboundMessage, OutboundStatus


def enqueue(*, session: Session, message: OutboundMessage) -> OutboundMessage:
    session.add(message)
    return message


def due(*, session: Session, now: datetime, limit: int = 100) -> Sequence[OutboundMessage]:
    """Pending messages whose time has come, in the order they were queued."""
    return session.exec(
        select(OutboundMessage)
        .where(
            OutboundMessage.status == OutboundStatus.PENDING,
            col(OutboundMessage.not_before) <= now,
        )
        .order_by(col(OutboundMessage.id))
        .limit(limit)
    ).all()


def next_due_at(*, session: Session) -> datetime | None:
    """When the earliest pending message may go, or None when nothing is pending."""
    return session.exec(
        select(OutboundMessage.not_before)
        .where(OutboundMessage.status == OutboundStatus.PENDING)
        .order_by(col(OutboundMessage.not_before))
        .limit(1)
    ).first()


def mark_sent(*, session: Session, message_id: int, at: datetime) -> None:
    row = session.get_one(OutboundMessage, message_id)
    row.status = OutboundStatus.SENT
    row.sent_at = at
    row.attempts += 1
    session.add(row)


def mark_attempt_failed(
    *, session: Session, message_id: int, error: str, retry_at: datetime | None
) -> None:
    """Record a failed send: try again at ``retry_at``, or give up when it is None."""
    row = session.get_one(OutboundMessage, message_id)
    row.attempts += 1
    row.last_error = error[:4000]
    if retry_at is None:
        row.status = OutboundStatus.FAILED
    else:
        row.not_before = retry_at
    session.add(row)
