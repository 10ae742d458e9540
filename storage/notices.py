"""Notices and their deliveries: one row per notice, occurrence and grid, written before the
message is queued, under a uniqueness constraint that makes sending it twice impossible."""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, Text, case, cast, or_
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, func, select

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


def next_send_at(*, session: Session) -> datetime | None:
    """The time of the earliest notice still scheduled (past ones included), None for none."""
    return session.exec(
        select(func.min(Notice.send_at)).where(Notice.status == NoticeStatus.SCHEDULED)
    ).one()


def _like(code: str) -> str:
    """A LIKE pattern that finds ``code`` in a ``grid_codes`` list read as its JSON text."""
    quoted = json.dumps(code)  # as the list is stored: "G03" in quotes, never G030
    return "%" + quoted.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _reaching(grid_codes: Collection[str]) -> ColumnElement[bool]:
    """Notices that go to any of ``grid_codes``: those that name one, and those to every
    grid (an empty list). The list is JSON; read as its text, the same on SQLite and
    PostgreSQL, it is matched with LIKE (the notices are few: no index is wanted)."""
    listed = cast(col(Notice.grid_codes), Text)
    return or_(listed == "[]", *(listed.like(_like(code), escape="\\") for code in grid_codes))


def listed(
    *,
    session: Session,
    reaching: Collection[str] | None,
    or_author: str | None = None,
    status: str | None = None,
    offset: int,
    limit: int,
) -> tuple[Sequence[Notice], int]:
    """A page of the notices that go to any of ``reaching`` (None: all notices), or were
    written by ``or_author``, and how many there are in all: those still to go first, the
    soonest first, then the others, the latest first."""
    conditions: list[ColumnElement[bool]] = []
    if reaching is not None:
        mine = [_reaching(reaching)]
        if or_author is not None:
            mine.append(col(Notice.author_id) == or_author)
        conditions.append(or_(*mine))
    if status is not None:
        conditions.append(col(Notice.status) == status)
    total = session.exec(select(func.count()).select_from(Notice).where(*conditions)).one()
    waiting = col(Notice.status) == NoticeStatus.SCHEDULED
    rows = session.exec(
        select(Notice)
        .where(*conditions)
        .order_by(
            case((waiting, 0), else_=1),
            case((waiting, col(Notice.send_at))),
            col(Notice.send_at).desc(),
            col(Notice.id).desc(),
        )
        .offset(offset)
        .limit(limit)
    ).all()
    return rows, total


def deliveries_with_messages(
    *, session: Session, notice_keys: Collection[str], occurrences: Collection[datetime] = ()
) -> Sequence[tuple[NoticeDelivery, OutboundMessage | None]]:
    """The deliveries of ``notice_keys`` (of ``occurrences`` only, when given), each with
    its message in the outbox (None for one recorded missed)."""
    if not notice_keys:
        return []
    query = (
        select(NoticeDelivery, OutboundMessage)
        .join(
            OutboundMessage,
            col(OutboundMessage.id) == col(NoticeDelivery.outbound_id),
            isouter=True,
        )
        .where(col(NoticeDelivery.notice_key).in_(list(notice_keys)))
        .order_by(col(NoticeDelivery.occurrence).desc(), col(NoticeDelivery.id))
    )
    if occurrences:
        query = query.where(col(NoticeDelivery.occurrence).in_(list(occurrences)))
    return [(delivery, message) for delivery, message in session.exec(query).all()]


def occurrences(
    *, session: Session, notice_key: str, offset: int, limit: int
) -> tuple[list[datetime], int]:
    """A page of the occurrences of ``notice_key`` recorded (planned or missed), the latest
    first, and how many there are in all."""
    recorded = select(NoticeDelivery.occurrence).where(NoticeDelivery.notice_key == notice_key)
    total = session.exec(select(func.count()).select_from(recorded.distinct().subquery())).one()
    page = session.exec(
        recorded.distinct()
        .order_by(col(NoticeDelivery.occurrence).desc())
        .offset(offset)
        .limit(limit)
    ).all()
    return list(page), total
