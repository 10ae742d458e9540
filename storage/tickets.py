"""Tickets: creating them, moving them through the loop, and every change as an event."""

from __future__ import annotations

import functools
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NamedTuple

from sqlalchemy import ColumnElement, bindparam, case, func, insert, or_, union
from sqlalchemy import select as sa_select
from sqlalchemy.orm import make_transient_to_detached
from sqlmodel import Session, col, select

from storage.db import insert_for
from storage.models import (
    CategoryCorrection,
    Counter,
    Ticket,
    TicketAttachment,
    TicketEvent,
    TicketReporter,
    TicketStatus,
)
from storage.prepared import Prepared
from storage.types import UTCDateTime

TICKET_COUNTER = "ticket"  # the Counter row that numbers tickets
# Being worked on: counted as "open" in lists, candidates for duplicates and deadlines, the
# stages the leaders' actions apply to (domain/tickets.py). The one list of them: import it.
ACTIVE = (TicketStatus.OPEN, TicketStatus.ASSIGNED, TicketStatus.ESCALATED)
# Done with: nothing more happens to them.
FINAL = (TicketStatus.ARCHIVED, TicketStatus.DISMISSED, TicketStatus.MERGED)


def record(
    *,
    session: Session,
    ticket: Ticket,
    action: str,
    at: datetime,
    actor_id: str | None,
    to_status: str | None = None,
    note: str | None = None,
    message_id: int | None = None,
) -> TicketEvent:
    """Change ``ticket``'s status (when ``to_status`` is given) and write the event row."""
    assert ticket.id is not None
    from_status = ticket.status
    if to_status is not None:
        ticket.status = to_status
        session.add(ticket)
    event = TicketEvent(
        ticket_id=ticket.id,
        at=at,
        actor_id=actor_id,
        action=action,
        from_status=from_status,
        to_status=to_status or from_status,
        note=note,
        message_id=message_id,
    )
    session.add(event)
    return event


def create(*, session: Session, ticket: Ticket) -> Ticket:
    """Write a new ticket, its first reporter and its "created" event; return it numbered and
    in the session (changes to it are written at the next flush, as for a loaded one)."""
    # Prepared statements past the ORM: a request that opens a ticket is the commonest write
    # the bot makes, and the ORM's unit of work costs several times the statements.
    dialect = session.connection().dialect.name
    ticket_id = _next_number(dialect).scalar(session, {})
    values = {c.key: getattr(ticket, c.key) for c in _TICKET_COLUMNS}
    _TICKET_INSERT.rows(session, {"id": ticket_id, **values})
    ticket.id = ticket_id
    make_transient_to_detached(ticket)
    session.add(ticket)
    at, reporter = ticket.created_at, ticket.reporter_id
    _REPORTER_INSERT.rows(
        session,
        {"ticket_id": ticket_id, "contact_id": reporter, "name": ticket.reporter_name, "at": at},
    )
    _EVENT_INSERT.rows(
        session,
        {"ticket_id": ticket_id, "at": at, "actor_id": reporter, "action": "created",
         "from_status": ticket.status, "to_status": ticket.status, "note": ticket.text,
         "message_id": ticket.source_message_id},
    )  # fmt: skip
    return ticket


_TICKET_COLUMNS = [c for c in Ticket.__table__.columns if c.key != "id"]  # type: ignore[attr-defined]


_TICKET_INSERT = Prepared(insert(Ticket))


@functools.cache
def _next_number(dialect: str) -> Prepared:
    """The next ticket number, taken in the caller's transaction (see :class:`Counter`): one
    past the counter, or past the highest ticket if rows were written without it."""
    insert_ = insert_for(dialect)
    highest = sa_select(func.coalesce(func.max(col(Ticket.id)), 0)).scalar_subquery()
    counted = col(Counter.value)
    statement = insert_(Counter).values(name=TICKET_COUNTER, value=highest + 1)
    return Prepared(
        statement.on_conflict_do_update(
            index_elements=["name"],
            set_={"value": case((counted > highest, counted), else_=highest) + 1},
        ).returning(counted)
    )


_REPORTER_INSERT = Prepared(insert(TicketReporter))
_EVENT_INSERT = Prepared(insert(TicketEvent))


def get(*, session: Session, ticket_id: int) -> Ticket | None:
    return session.get(Ticket, ticket_id)


def by_source_message(*, session: Session, message_id: int) -> Ticket | None:
    return session.exec(select(Ticket).where(Ticket.source_message_id == message_id)).first()


def ticket_of_message(*, session: Session, message_id: int) -> int | None:
    """The number of the ticket a message opened or went on (a repeat, a +1, a photo),
    None when it is on none."""
    opened = session.exec(select(Ticket.id).where(Ticket.source_message_id == message_id)).first()
    if opened is not None:
        return opened
    # Unindexed, and asked only by a leader's /受理: not worth an index every event pays for.
    return session.exec(
        select(TicketEvent.ticket_id)
        .where(TicketEvent.message_id == message_id)
        .order_by(col(TicketEvent.id))
    ).first()


class Candidate(NamedTuple):
    """An active ticket as the duplicate search reads it: what tells whether a message is
    its matter, without loading every candidate whole."""

    id: int
    text: str
    created_at: datetime
    category: str
    urgent: bool
    due_at: datetime
    reporter_id: str


def active_in_grid(
    *, session: Session, grid_code: str, since: datetime | None = None, category: str | None = None
) -> list[Candidate]:
    """The grid's active tickets (created since ``since``, of ``category``), oldest first."""
    session.flush()  # read past the ORM: the session's own writes first
    params = {"p_grid": grid_code, "p_since": since, "p_category": category}
    rows = _active_select(since is not None, category is not None).rows(session, params)
    return [Candidate._make(row) for row in rows]


@functools.cache
def _active_select(since: bool, category: bool) -> Prepared:
    # OR of equalities, not IN: IN's list is expanded at each execution, which a prepared
    # statement does without
    active = or_(*(col(Ticket.status) == status for status in ACTIVE))
    query = sa_select(*(getattr(Ticket, name) for name in Candidate._fields)).where(
        col(Ticket.grid_code) == bindparam("p_grid"), active
    )
    if since:
        query = query.where(col(Ticket.created_at) >= bindparam("p_since", type_=UTCDateTime()))
    if category:
        query = query.where(col(Ticket.category) == bindparam("p_category"))
    return Prepared(query.order_by(col(Ticket.id)))


def _listed(
    grid_code: str | None, closed_since: datetime | None, overdue_at: datetime | None
) -> list[ColumnElement[bool]]:
    if overdue_at is not None:  # active and past their deadline
        conditions = [col(Ticket.status).in_(ACTIVE), col(Ticket.due_at) <= overdue_at]
    elif closed_since is not None:
        # A union of three index searches, not one OR: with the grid's condition beside it, an
        # OR is read by scanning the grid's whole history (bench/tickets.py: 10.6 -> 3.3 ms
        # for `/工单 全部` in a grid with 10,000 closed tickets).
        parts = [
            col(Ticket.status).in_(_LISTED),
            col(Ticket.closed_at) >= closed_since,
            col(Ticket.resolved_at) >= closed_since,
        ]
        in_grid = [col(Ticket.grid_code) == grid_code] if grid_code is not None else []
        ids = union(*(sa_select(col(Ticket.id)).where(*in_grid, part) for part in parts))
        return [col(Ticket.id).in_(ids)]
    else:  # 未办结: a resolved ticket waiting for its rating is 已办结, as /统计 counts it
        conditions = [col(Ticket.status).in_(ACTIVE)]
    if grid_code is not None:
        conditions.append(col(Ticket.grid_code) == grid_code)
    return conditions


# what a listing of the month shows besides the tickets closed lately
_LISTED = (*ACTIVE, TicketStatus.RESOLVED)


def listing(
    *,
    session: Session,
    grid_code: str | None,
    closed_since: datetime | None,
    limit: int,
    overdue_at: datetime | None = None,
) -> Sequence[Ticket]:
    """Active tickets (of one grid, or all); with ``closed_since`` also those resolved and
    awaiting a rating and those closed since then; with ``overdue_at`` only the active ones
    overdue then. Overdue and urgent ones first."""
    query = select(Ticket).where(*_listed(grid_code, closed_since, overdue_at))
    return session.exec(query.order_by(col(Ticket.due_at), col(Ticket.id)).limit(limit)).all()


def count_listing(
    *,
    session: Session,
    grid_code: str | None,
    closed_since: datetime | None = None,
    overdue_at: datetime | None = None,
) -> int:
    """How many tickets :func:`listing` would give without a limit."""
    query = (
        select(func.count())
        .select_from(Ticket)
        .where(*_listed(grid_code, closed_since, overdue_at))
    )
    return session.exec(query).one()


def of_reporter(
    *, session: Session, contact_id: str, grid_code: str | None, statuses: Sequence[str]
) -> Sequence[Ticket]:
    """Tickets ``contact_id`` reported, first-hand or linked, newest first."""
    query = (
        select(Ticket)
        .join(TicketReporter, col(TicketReporter.ticket_id) == col(Ticket.id))
        .where(TicketReporter.contact_id == contact_id, col(Ticket.status).in_(statuses))
    )
    if grid_code is not None:
        query = query.where(Ticket.grid_code == grid_code)
    return session.exec(query.order_by(col(Ticket.id).desc())).all()


def latest_reported_by(
    *, session: Session, contact_id: str, grid_code: str, since: datetime
) -> Ticket | None:
    """The newest ticket ``contact_id`` opened in the grid since ``since`` (for attachments)."""
    return session.exec(
        select(Ticket)
        .where(
            Ticket.reporter_id == contact_id,
            Ticket.grid_code == grid_code,
            col(Ticket.created_at) >= since,
            col(Ticket.status).not_in(FINAL),
        )
        .order_by(col(Ticket.id).desc())
    ).first()


def awaiting_rating(
    *, session: Session, contact_id: str, now: datetime, grid_code: str | None = None
) -> Ticket | None:
    """The reporter's most recently resolved ticket still open for a rating (of
    ``grid_code``, when the rating is given in a grid's group: another grid's group is not
    where a ticket of this one is rated)."""
    query = select(Ticket).where(
        Ticket.reporter_id == contact_id,
        Ticket.status == TicketStatus.RESOLVED,
        col(Ticket.rating_due_at) > now,
    )
    if grid_code is not None:
        query = query.where(Ticket.grid_code == grid_code)
    return session.exec(
        query.order_by(col(Ticket.resolved_at).desc(), col(Ticket.id).desc())
    ).first()


def reporters(*, session: Session, ticket_id: int) -> Sequence[TicketReporter]:
    return session.exec(
        select(TicketReporter)
        .where(TicketReporter.ticket_id == ticket_id)
        .order_by(col(TicketReporter.id))
    ).all()


def add_reporter(
    *, session: Session, ticket_id: int, contact_id: str, name: str, at: datetime
) -> bool:
    """Add a reporter unless already one; return whether added."""
    exists = session.exec(
        select(TicketReporter.id).where(
            TicketReporter.ticket_id == ticket_id, TicketReporter.contact_id == contact_id
        )
    ).first()
    if exists is not None:
        return False
    session.add(TicketReporter(ticket_id=ticket_id, contact_id=contact_id, name=name, at=at))
    return True


def is_assignee_in_grid(*, session: Session, contact_id: str, grid_code: str) -> bool:
    """Whether ``contact_id`` handles an active ticket of the grid (assigned with /派单)."""
    found = session.exec(
        select(Ticket.id)
        .where(
            Ticket.grid_code == grid_code,
            Ticket.assignee_id == contact_id,
            col(Ticket.status).in_(ACTIVE),
        )
        .limit(1)
    ).first()
    return found is not None


def has_attachments(*, session: Session, ticket_id: int) -> bool:
    found = session.exec(
        select(TicketAttachment.id).where(TicketAttachment.ticket_id == ticket_id).limit(1)
    ).first()
    return found is not None


def attach(
    *, session: Session, ticket_id: int, message_id: int, type: str, at: datetime
) -> TicketAttachment:
    attachment = TicketAttachment(ticket_id=ticket_id, message_id=message_id, type=type, at=at)
    session.add(attachment)
    return attachment


def correct_category(
    *, session: Session, ticket: Ticket, to_category: str, actor_id: str, at: datetime
) -> CategoryCorrection:
    assert ticket.id is not None
    correction = CategoryCorrection(
        ticket_id=ticket.id,
        text=ticket.text,
        from_category=ticket.category,
        to_category=to_category,
        keywords=list(ticket.keywords),
        actor_id=actor_id,
        at=at,
    )
    session.add(correction)
    ticket.category = to_category
    session.add(ticket)
    return correction


def events(*, session: Session, ticket_id: int) -> Sequence[TicketEvent]:
    return session.exec(
        select(TicketEvent).where(TicketEvent.ticket_id == ticket_id).order_by(col(TicketEvent.id))
    ).all()


def overdue_unreminded(*, session: Session, now: datetime, limit: int = 500) -> Sequence[Ticket]:
    return session.exec(
        select(Ticket)
        .where(
            col(Ticket.status).in_((TicketStatus.OPEN, TicketStatus.ASSIGNED)),
            col(Ticket.due_at) <= now,
            col(Ticket.reminded_at).is_(None),
        )
        .order_by(col(Ticket.due_at))
        .limit(limit)
    ).all()


def overdue_since(*, session: Session, before: datetime, limit: int = 500) -> Sequence[Ticket]:
    """Not yet escalated tickets whose deadline passed before ``before``."""
    return session.exec(
        select(Ticket)
        .where(
            col(Ticket.status).in_((TicketStatus.OPEN, TicketStatus.ASSIGNED)),
            col(Ticket.due_at) <= before,
        )
        .order_by(col(Ticket.due_at))
        .limit(limit)
    ).all()


def rating_expired(*, session: Session, now: datetime, limit: int = 500) -> Sequence[Ticket]:
    return session.exec(
        select(Ticket)
        .where(Ticket.status == TicketStatus.RESOLVED, col(Ticket.rating_due_at) <= now)
        .order_by(col(Ticket.rating_due_at))
        .limit(limit)
    ).all()


def next_deadline_work(
    *, session: Session, escalate_after: timedelta, urgent_escalate_after: timedelta
) -> datetime | None:
    """The earliest time one of the three queries above finds a ticket: a deadline not yet
    reminded, an open ticket overdue by its escalation delay (``urgent_escalate_after`` for
    an urgent one), a rating no one gave in time. None when no ticket waits for any."""
    waiting = col(Ticket.status).in_((TicketStatus.OPEN, TicketStatus.ASSIGNED))
    earliest_due = func.min(Ticket.due_at)
    unreminded = session.exec(
        select(earliest_due).where(waiting, col(Ticket.reminded_at).is_(None))
    ).one()
    urgent = session.exec(select(earliest_due).where(waiting, col(Ticket.urgent))).one()
    other = session.exec(select(earliest_due).where(waiting, ~col(Ticket.urgent))).one()
    rating = session.exec(
        select(func.min(Ticket.rating_due_at)).where(Ticket.status == TicketStatus.RESOLVED)
    ).one()
    times = [
        unreminded,
        urgent + urgent_escalate_after if urgent is not None else None,
        other + escalate_after if other is not None else None,
        rating,
    ]
    return min((t for t in times if t is not None), default=None)


@dataclass(frozen=True, slots=True)
class TicketFacts:
    """What statistics need of one ticket."""

    grid_code: str
    category: str
    status: str
    created_at: datetime
    due_at: datetime
    resolved_at: datetime | None
    rating: str | None
    reopened: int = 0  # times a resident's 不满意 sent it back to be handled again


def created_between(
    *,
    session: Session,
    start: datetime,
    end: datetime,
    grid_code: str | None,
    grids: Collection[str] | None = None,
) -> list[TicketFacts]:
    """What the statistics need of the tickets opened in [``start``, ``end``) of
    ``grid_code`` (None: every grid), and of those only ``grids`` when given (a leader's)."""
    query = sa_select(
        col(Ticket.grid_code),
        col(Ticket.category),
        col(Ticket.status),
        col(Ticket.created_at),
        col(Ticket.due_at),
        col(Ticket.resolved_at),
        col(Ticket.rating),
        col(Ticket.reopen_count),
    ).where(
        col(Ticket.created_at) >= start,
        col(Ticket.created_at) < end,
        col(Ticket.status) != TicketStatus.MERGED,
    )
    if grid_code is not None:
        query = query.where(col(Ticket.grid_code) == grid_code)
    if grids is not None:
        query = query.where(col(Ticket.grid_code).in_(sorted(grids)))
    return [TicketFacts(*row) for row in session.execute(query).all()]


def recent_assignees(
    *, session: Session, grid_code: str, limit: int
) -> Sequence[tuple[str, str | None]]:
    """(contact id, name) of up to ``limit`` people given tickets of ``grid_code`` before,
    the latest first."""
    latest = func.max(col(Ticket.created_at))
    rows = session.execute(
        sa_select(col(Ticket.assignee_id), func.max(col(Ticket.assignee_name)))
        .where(col(Ticket.grid_code) == grid_code, col(Ticket.assignee_id).is_not(None))
        .group_by(col(Ticket.assignee_id))
        .order_by(latest.desc())
        .limit(limit)
    ).all()
    return [(contact_id, name) for contact_id, name in rows if contact_id]


def was_assigned_in_grid(*, session: Session, contact_id: str, grid_code: str) -> bool:
    """Whether ``contact_id`` was ever given a ticket of ``grid_code``."""
    found = session.exec(
        select(Ticket.id)
        .where(Ticket.grid_code == grid_code, Ticket.assignee_id == contact_id)
        .limit(1)
    ).first()
    return found is not None
