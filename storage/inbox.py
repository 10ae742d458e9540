"""Inbound messages: stored once under their idempotency key, then marked handled or failed."""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import bindparam, update
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, func, select

from storage.db import insert_for
from storage.models import InboundMessage, Member, MessageStatus
from storage.prepared import Prepared

MAX_ERROR_CHARS = 4000


class Stored(NamedTuple):
    id: int
    inserted: bool  # False: a message with its key was stored before
    status: str


def store(*, session: Session, values: Mapping[str, Any]) -> Stored:
    """Insert a message (its column values) unless one with its key exists; commit, or roll
    back when it existed (nothing of a duplicate delivery sticks).

    The unique key, not a read-then-write, decides, so two processes receiving the same
    message store it once.
    """
    # One Core INSERT: the ORM's unit of work and model validation cost several times the
    # statement, for every message. The session's own pending writes go first, and the one
    # commit makes both, or neither, stick.
    session.flush()
    dialect = session.connection().dialect.name
    return _settle(session, values, _insert_new(dialect).scalar(session, values))


class SeenMember(NamedTuple):
    """The sender's member row as the caller last wrote or read it: their role, and a
    ``last_seen`` at or after ``seen_since`` (their name: the message's)."""

    role: str
    seen_since: datetime


def store_checking_member(
    *, session: Session, values: Mapping[str, Any], member: SeenMember
) -> Stored | None:
    """:func:`store`, for a message whose sender's member row (in the message's grid, with
    the message's ``sender_name``) the caller takes to be ``member`` and does not write: the
    insert checks it in the same statement. When the row is otherwise (another process or
    a command changed it), nothing is stored, the transaction is rolled back and None is
    returned: the caller decided how to store the message on a role it can't rely on."""
    session.flush()
    dialect = session.connection().dialect.name
    params = {
        **values,
        "p_contact_id": values["sender_id"],
        "p_grid_code": values["grid_code"],
        "p_name": values["sender_name"],
        "p_seen_since": member.seen_since,
    }
    row = _insert_checking_member(dialect).first(session, params)
    if row is not None and row[1] != member.role:
        session.rollback()
        return None
    return _settle(session, values, row[0] if row is not None else None)


def _settle(session: Session, values: Mapping[str, Any], inserted: int | None) -> Stored:
    """Commit a message just inserted as ``inserted``; for one met by its key (None), roll
    back and say what was stored before."""
    if inserted is not None:
        session.commit()
        return Stored(inserted, True, values.get("status", MessageStatus.PENDING))
    existing = _BY_KEY.first(session, {"p_key": values["key"]})
    assert existing is not None  # the insert met its key
    session.rollback()
    return Stored(existing[0], False, existing[1])


@functools.cache
def _insert_new(dialect: str) -> Prepared:
    insert = insert_for(dialect)
    return Prepared(
        insert(InboundMessage)
        .on_conflict_do_nothing(index_elements=["key"])
        .returning(col(InboundMessage.id))
    )


@functools.cache
def _insert_checking_member(dialect: str) -> Prepared:
    # The member's role comes back only if the row holds the message's name and was seen
    # since the given time: a sub-select in RETURNING, so checking it costs no statement.
    # Bound values, not a reference to the inserted row: SQLite's RETURNING takes no
    # qualified names, and SQLAlchemy does not correlate an INSERT's RETURNING.
    member_role = (
        sa_select(col(Member.role))
        .where(
            col(Member.contact_id) == bindparam("p_contact_id"),
            col(Member.grid_code) == bindparam("p_grid_code"),
            col(Member.display_name) == bindparam("p_name"),
            col(Member.last_seen) >= bindparam("p_seen_since"),
        )
        .scalar_subquery()
    )
    insert = insert_for(dialect)
    return Prepared(
        insert(InboundMessage)
        .on_conflict_do_nothing(index_elements=["key"])
        .returning(col(InboundMessage.id), member_role)
    )


_BY_KEY = Prepared(
    sa_select(col(InboundMessage.id), col(InboundMessage.status)).where(
        col(InboundMessage.key) == bindparam("p_key")
    )
)


def take_for_handling(*, session: Session, message_id: int) -> bool:
    """Lock a stored, unhandled message for the caller's transaction; False when it is
    handled already (by another process, perhaps while this one waited for the lock).

    Two bot accounts in one group both receive its messages; the one that stored a message
    may still be handling it when the other's copy arrives. On PostgreSQL the row lock (held
    until the handler's writes and the "handled" mark commit, released if that process dies)
    makes the second wait, find it handled and skip it. Waiting, not skipping at once, keeps
    the group's order: the second process goes on to the next message only once this one's
    effects are committed (a "积分" right after a "/加分" sees the points). SQLite serves one
    process, which handles one message at a time.
    """
    session.flush()  # the statement below goes past the ORM: it must see the session's writes
    return _TAKE.first(session, {"p_id": message_id}) is not None


def mark_handled(*, session: Session, message_id: int, at: datetime) -> None:
    # Past the ORM, in the session's transaction: an instance of the row the session holds
    # is expired, so it reads the new status.
    _HANDLED.rows(session, {"p_id": message_id, "p_at": at})
    held = session.identity_map.get(session.identity_key(InboundMessage, message_id))
    if held is not None:
        session.expire(held)


# Run for every message: compiled once (building and compiling cost more than running).
_TAKE = Prepared(
    select(col(InboundMessage.id))
    .where(InboundMessage.id == bindparam("p_id"), InboundMessage.status == MessageStatus.PENDING)
    .with_for_update()  # waits: see take_for_handling
)
_HANDLED = Prepared(
    update(InboundMessage)
    .where(col(InboundMessage.id) == bindparam("p_id"))
    .values(status=MessageStatus.HANDLED, handled_at=bindparam("p_at"), error=None)
)


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


def recent_texts(
    *, session: Session, grid_code: str, sender_ids: Sequence[str], since: datetime
) -> Sequence[InboundMessage]:
    """The text messages ``sender_ids`` wrote in ``grid_code``'s group, received since
    ``since``, newest first (by sender and time: the anti-flood index)."""
    if not sender_ids:
        return []
    return session.exec(
        select(InboundMessage)
        .where(
            col(InboundMessage.sender_id).in_(list(sender_ids)),
            col(InboundMessage.received_at) >= since,
            InboundMessage.grid_code == grid_code,
            InboundMessage.type == "text",  # bot.events.MessageType.TEXT
        )
        .order_by(col(InboundMessage.id).desc())
    ).all()


def latest_sent_at(*, session: Session) -> datetime | None:
    """The time of the latest message stored, None when there is none."""
    return session.exec(select(func.max(InboundMessage.sent_at))).one()


def keys_since(*, session: Session, since: datetime) -> set[str]:
    """The keys of the messages stored that were sent at or after ``since``."""
    return set(
        session.exec(select(InboundMessage.key).where(col(InboundMessage.sent_at) >= since)).all()
    )
