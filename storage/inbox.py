"""Inbound messages: stored once under their idempotency key, then marked handled or failed."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, func, select

from storage.models import InboundMessage, MessageStatus

MAX_ERROR_CHARS = 4000


def store(*, session: Session, message: InboundMessage) -> tuple[InboundMessage, bool]:
    """Insert ``message`` unless one with its key exists; commit; return (row, inserted).

    The unique key, not a read-then-write, decides, so two processes receiving the same
    message store it once.
    """
    session.add(message)
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        existing = session.exec(
            select(InboundMessage).where(InboundMessage.key == message.key)
        ).one()
        return existing, False
    return message, True


def mark_handled(*, session: Session, message_id: int, at: datetime) -> None:
    row = session.get_one(InboundMessage, message_id)
    row.status = MessageStatus.HANDLED
    row.handled_at = at
    row.error = None
    session.add(row)


def mark_failed(*, session: Session, message_id: int, at: datetime, error: str) -> None:
    row = session.get_one(InboundMessage, message_id)
    row.status = MessageStatus.FAILED
    row.handled_at = at
    row.error = error[:MAX_ERROR_CHARS]
    session.add(row)


def pending(*, session: Session, limit: int = 1000) -> Sequence[InboundMessage]:
    """Messages stored but never handled (the process stopped in between), oldest first."""
    return session.exec(
        select(InboundMessage)
        .where(InboundMessage.status == MessageStatus.PENDING)
        .order_by(col(InboundMessage.id))
        .limit(limit)
    ).all()


def count_in_grid_since(*, session: Session, grid_code: str, since: datetime) -> int:
    return session.exec(
        select(func.count())
        .select_from(InboundMessage)
        .where(InboundMessage.grid_code == grid_code, col(InboundMessage.sent_at) >= since)
    ).one()
