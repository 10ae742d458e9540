"""Notices and their deliveries: one row per notice, occurrence and grid, written before the
message is queued, under a uniqueness constraint that makes sending it twice impossible."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from storage import outbox
from storage.models import (
    DeliveryStatus,
    Notice,
    NoticeDelivery,
    NoticeStatus,
    OutboundMessage,
    OutboundStatus,
)


def claim_delivery(
    *,
    session: Session,
    notice_key: str,
    occurrence: datetime,
    grid_code: str,
    now: datetime,
    status: str = DeliveryStatus.PLANNED,
) -> NoticeDelivery | None:
    """Record that this occurrence goes to this grid; None when it already was (by this
    process before a restart, or by another process)."""
    delivery = NoticeDelivery(
        notice_key=notice_key,
        occurrence=occurrence,
        grid_code=grid_code,
        status=status,
        created_at=now,
    )
    try:
        with session.begin_nested():
            session.add(delivery)
    except IntegrityError:
        return None
    return delivery


def planned_grids(*, session: Session, notice_key: str, occurrence: datetime) -> set[str]:
    return set(
        session.exec(
            select(NoticeDelivery.grid_code).where(
                NoticeDelivery.notice_key == notice_key, NoticeDelivery.occurrence == occurrence
            )
        ).all()
    )


def deliveries(*, session: Session, notice_key: str) -> Sequence[NoticeDelivery]:
    return session.exec(
        select(NoticeDelivery)
        .where(NoticeDelivery.notice_key == notice_key)
        .order_by(col(NoticeDelivery.id))
    ).all()


def create(*, session: Session, notice: Notice) -> Notice:
    session.add(notice)
    session.flush()
    return notice


def due(*, session: Session, now: datetime) -> Sequence[Notice]:
    return session.exec(
        select(Notice)
        .where(Notice.status == NoticeStatus.SCHEDULED, col(Notice.send_at) <= now)
        .order_by(col(Notice.send_at), col(Notice.id))
    ).all()


def scheduled(*, session: Session, grid_code: str | None) -> list[Notice]:
    """Notices still to go: all of them, or those reaching ``grid_code``."""
    rows = session.exec(
        select(Notice)
        .where(Notice.status == NoticeStatus.SCHEDULED)
        .order_by(col(Notice.send_at), col(Notice.id))
    ).all()
    if grid_code is None:
        return list(rows)
    return [n for n in rows if not n.grid_codes or grid_code in n.grid_codes]


def cancel(*, session: Session, notice: Notice, by: str, at: datetime) -> int | None:
    """Cancel a notice. None: it was still scheduled, nothing had been queued. Otherwise the
    number of groups whose copy was still waiting in the outbox and is now withdrawn."""
    assert notice.id is not None
    was_scheduled = notice.status == NoticeStatus.SCHEDULED
    notice.status = NoticeStatus.CANCELLED
    notice.cancelled_at = at
    notice.cancelled_by = by
    session.add(notice)
    if was_scheduled:
        return None
    rows = deliveries(session=session, notice_key=f"db:{notice.id}")
    waiting = {row.outbound_id: row for row in rows if row.outbound_id is not None}
    withdrawn = outbox.cancel(session=session, message_ids=list(waiting))
    if withdrawn:
        still = {
            row.id
            for row in session.exec(
                select(OutboundMessage).where(
                    col(OutboundMessage.id).in_(list(waiting)),
                    OutboundMessage.status == OutboundStatus.CANCELLED,
                )
            )
        }
        for outbound_id, delivery in waiting.items():
            if outbound_id in still:
                delivery.status = DeliveryStatus.CANCELLED
                session.add(delivery)
    return withdrawn
