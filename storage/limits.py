"""What the anti-flood limits (bot/flood.py) count: a person's new tickets, the messages of
theirs the bot answered (with what they said and when their neighbouring messages came, to
tell repeats and bursts from distinct questions), and the times they were told they were over
a limit.

Nothing here is written on the hot path: replies are counted from the inbox and the outbox
the dispatcher writes anyway; a row of ``limit_hit`` is written only when a limit is hit.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import ScalarSelect, bindparam, exists
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, func, select

from storage.models import InboundMessage, LimitHit, LimitKind, OutboundMessage, Ticket
from storage.prepared import Prepared
from storage.types import UTCDateTime


def tickets_opened_since(*, session: Session, contact_id: str, since: datetime) -> int:
    """Tickets ``contact_id`` opened since ``since``, in any grid and whatever became of them
    (reports linked to someone else's ticket are not tickets of theirs)."""
    session.flush()  # read past the ORM (asked for every new ticket): the session's writes first
    params = {"contact_id": contact_id, "since": since}
    opened: int = _TICKETS_SINCE.scalar(session, params)
    return opened


_TICKETS_SINCE = Prepared(
    sa_select(func.count())
    .select_from(Ticket)
    .where(
        col(Ticket.reporter_id) == bindparam("contact_id"),
        col(Ticket.created_at) >= bindparam("since", type_=UTCDateTime()),
    )
)


class Answered(NamedTuple):
    """One of a person's messages the bot answered."""

    at: datetime  # received
    type: str  # bot.events.MessageType
    text: str
    before: datetime | None  # when the sender's message just before it was received
    after: datetime | None  # and the one just after it (the message being handled included)


def _neighbour(*, before: bool) -> ScalarSelect[datetime]:
    """When the sender's message next to the outer query's message was received, in any
    room: an index seek on (sender_id, received_at), not a scan of their history."""
    other = InboundMessage.__table__.alias("before" if before else "after")  # type: ignore[attr-defined]
    at = other.c.received_at
    me = col(InboundMessage.received_at)
    return (
        sa_select(at)
        .where(
            other.c.sender_id == col(InboundMessage.sender_id),
            other.c.id != col(InboundMessage.id),
            at <= me if before else at >= me,
        )
        .order_by(at.desc() if before else at.asc())
        .limit(1)
        .scalar_subquery()
    )


_BEFORE = _neighbour(before=True)

# Built once: this runs for every reply to a resident, and building the statement costs
# more than running it (bench/flood.py).
_ANSWERED_SINCE = Prepared(
    sa_select(
        col(InboundMessage.received_at),
        col(InboundMessage.type),
        col(InboundMessage.text),
        _BEFORE,
        _neighbour(before=False),
    )
    .where(
        col(InboundMessage.sender_id) == bindparam("contact_id"),
        col(InboundMessage.received_at) >= bindparam("since", type_=UTCDateTime()),
        exists().where(col(OutboundMessage.inbound_id) == col(InboundMessage.id)),
        # a message answered only with the "too many" notice: not one of the counted replies
        ~exists().where(
            col(LimitHit.message_id) == col(InboundMessage.id),
            col(LimitHit.kind) == LimitKind.REPLIES.value,
        ),
    )
    .order_by(col(InboundMessage.received_at).desc())
    .limit(bindparam("limit"))
)


def answered_since(
    *, session: Session, contact_id: str, since: datetime, limit: int
) -> Sequence[Answered]:
    """The newest (at most ``limit``) of ``contact_id``'s messages received since ``since``
    that made the bot say something, newest first.

    A message answered only with the "too many" notice is left out: the notice is not one of
    the replies the limits count.
    """
    # On the session's connection (its transaction), past the ORM layer the count doesn't need.
    params = {"contact_id": contact_id, "since": since, "limit": limit}
    return [Answered(*row) for row in _ANSWERED_SINCE.rows(session, params)]


_RECEIVED = Prepared(
    sa_select(col(InboundMessage.received_at), _BEFORE).where(
        col(InboundMessage.id) == bindparam("message_id")
    )
)


def received(*, session: Session, message_id: int) -> tuple[datetime, datetime | None] | None:
    """When message ``message_id`` was received, and when its sender's message just before it
    was (None: it is their first); None when there is no such message."""
    row = _RECEIVED.first(session, {"message_id": message_id})
    return None if row is None else (row[0], row[1])


def last_hit(
    *, session: Session, contact_id: str, kind: LimitKind, since: datetime
) -> LimitHit | None:
    """The latest time since ``since`` that ``contact_id`` was told they were over ``kind``."""
    return session.exec(
        select(LimitHit)
        .where(
            LimitHit.contact_id == contact_id,
            LimitHit.kind == kind,
            col(LimitHit.at) >= since,
        )
        .order_by(col(LimitHit.at).desc())
    ).first()


def record_hit(
    *, session: Session, contact_id: str, kind: LimitKind, at: datetime, message_id: int
) -> LimitHit:
    hit = LimitHit(contact_id=contact_id, kind=kind, at=at, message_id=message_id)
    session.add(hit)
    return hit
