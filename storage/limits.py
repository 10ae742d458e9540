"""What the anti-flood limits (bot/flood.py) count: a resident's new tickets, the messages of
theirs the bot answered, and the times they were told they were over a limit.

Nothing here is written on the hot path: replies are counted from the inbox and the outbox
the dispatcher writes anyway; a row of ``limit_hit`` is written only when a limit is hit.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import bindparam, exists
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


# Built once: this runs for every reply to a resident, and building the statement costs
# more than running it (bench/flood.py).
_ANSWERED_SINCE = Prepared(
    sa_select(col(InboundMessage.received_at))
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
) -> Sequence[datetime]:
    """When the newest (at most ``limit``) of ``contact_id``'s messages received since
    ``since`` that made the bot say something were received, newest first.

    A message answered only with the "too many" notice is left out: the notice is not one of
    the replies the limit counts.
    """
    # On the session's connection (its transaction), past the ORM layer the count doesn't need.
    params = {"contact_id": contact_id, "since": since, "limit": limit}
    return [row[0] for row in _ANSWERED_SINCE.rows(session, params)]


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
