"""Outbound messages: queued in the transaction that decided to send them, claimed by the one
process that sends each, marked sent after."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Connection,
    and_,
    bindparam,
    case,
    exists,
    insert,
    not_,
    or_,
    update,
)
from sqlmodel import Session, col, func, select
from sqlmodel.sql.expression import SelectOfScalar

from storage.accounts import DEFAULT_ACCOUNT
from storage.models import ContactAccount, OutboundMessage, OutboundStatus, RoomAccount
from storage.prepared import Prepared


def enqueue(*, session: Session, message: OutboundMessage) -> OutboundMessage:
    session.add(message)
    return message


def enqueue_values(*, session: Session, rows: Sequence[Mapping[str, Any]]) -> None:
    """Queue messages given as column values, in the caller's transaction: one Core INSERT
    (a reply is queued for most requests and commands; the ORM's flush costs several times
    the statement)."""
    if rows:
        _INSERT.many(session, rows)


_INSERT = Prepared(insert(OutboundMessage))


def _reachable_by(account: str | BindParameter[Any]) -> ColumnElement[bool]:
    """Messages ``account`` can deliver: to a group it is in, to a contact it can write to,
    or to a group or contact no account is known to reach (one process on a database, or a
    grid whose group has not spoken yet: the channel finds out, as it always did)."""
    out = OutboundMessage
    # A message names its group by id, or by topic alone (then its room_id is the topic).
    same_room = or_(
        col(RoomAccount.room_id) == col(out.room_id),
        and_(
            col(out.room_id) == col(out.room_topic), col(RoomAccount.topic) == col(out.room_topic)
        ),
    )
    in_room = exists().where(same_room, col(RoomAccount.account) == account)
    room_known = exists().where(same_room)
    same_contact = col(ContactAccount.contact_id) == col(out.to_id)
    has_contact = exists().where(same_contact, col(ContactAccount.account) == account)
    contact_known = exists().where(same_contact)
    return or_(
        and_(col(out.to_id).is_(None), or_(in_room, not_(room_known))),
        and_(col(out.to_id).is_not(None), or_(has_contact, not_(contact_known))),
    )


def _mine(account: str | BindParameter[Any]) -> ColumnElement[bool]:
    return or_(col(OutboundMessage.account).is_(None), col(OutboundMessage.account) == account)


def _due(now: Any, account: Any, handed_over: Any) -> ColumnElement[bool]:
    # A claim that ran out belongs to a process that stopped between claiming and sending:
    # the message is due again (at least once beats never). A message meant for another
    # account is due here only ``handover`` after its time (``handed_over`` is now - handover):
    # that account's process is down. The arguments are values or bind parameters.
    return and_(
        _reachable_by(account),
        or_(
            and_(
                col(OutboundMessage.status) == OutboundStatus.PENDING,
                or_(
                    and_(_mine(account), col(OutboundMessage.not_before) <= now),
                    col(OutboundMessage.not_before) <= handed_over,
                ),
            ),
            and_(
                col(OutboundMessage.status) == OutboundStatus.SENDING,
                col(OutboundMessage.claimed_until) <= now,
            ),
        ),
    )


def due(
    *,
    session: Session,
    now: datetime,
    limit: int = 100,
    account: str = DEFAULT_ACCOUNT,
    handover: timedelta = timedelta(0),
) -> Sequence[OutboundMessage]:
    """Messages whose time has come that ``account`` can deliver: replies before notices,
    then in the order queued."""
    params = {"p_now": now, "p_account": account, "p_handed_over": now - handover}
    return session.exec(_due_select(limit), params=params).all()


# The outbox is asked at every step of a replay and after every send; building these
# statements costs more than running them, so they are built once, with bind parameters.
_NOW: BindParameter[Any] = bindparam("p_now")
_ACCOUNT: BindParameter[Any] = bindparam("p_account")
_HANDED_OVER: BindParameter[Any] = bindparam("p_handed_over")


@functools.cache
def _due_select(limit: int) -> SelectOfScalar[OutboundMessage]:
    return (
        select(OutboundMessage)
        .where(_due(_NOW, _ACCOUNT, _HANDED_OVER))
        .order_by(
            col(OutboundMessage.priority),
            col(OutboundMessage.not_before),
            col(OutboundMessage.id),
        )
        .limit(limit)
    )


@functools.cache
def _next_due_select() -> Prepared:
    """(earliest pending for the account, earliest pending for another account, earliest
    claim to run out), among what the account can reach: one statement, asked often."""
    reachable = _reachable_by(_ACCOUNT)
    claimed = select(func.min(OutboundMessage.claimed_until)).where(
        OutboundMessage.status == OutboundStatus.SENDING, reachable
    )
    return Prepared(
        select(
            func.min(case((_mine(_ACCOUNT), col(OutboundMessage.not_before)))),
            func.min(case((not_(_mine(_ACCOUNT)), col(OutboundMessage.not_before)))),
            claimed.scalar_subquery(),
        ).where(OutboundMessage.status == OutboundStatus.PENDING, reachable)
    )


def next_due_at(
    *,
    connection: Connection,
    account: str = DEFAULT_ACCOUNT,
    handover: timedelta = timedelta(0),
) -> datetime | None:
    """When the earliest message ``account`` can deliver may go, or None when none waits.

    Read on a connection of its own (a read: nothing to share a transaction with), which on
    a server database may be in autocommit.
    """
    (mine, others, claimed), *_ = _next_due_select().rows_on(connection, {"p_account": account})
    times = [t for t in (mine, others and others + handover, claimed) if t is not None]
    return min(times) if times else None


def stranded(
    *, session: Session, now: datetime, account: str = DEFAULT_ACCOUNT
) -> Sequence[OutboundMessage]:
    """Messages due that ``account`` can't deliver: they wait for a process whose account
    is in the group (or has the contact)."""
    return session.exec(
        select(OutboundMessage)
        .where(
            col(OutboundMessage.status) == OutboundStatus.PENDING,
            col(OutboundMessage.not_before) <= now,
            not_(_reachable_by(account)),
        )
        .order_by(col(OutboundMessage.id))
    ).all()


@dataclass(frozen=True, slots=True)
class Claimed:
    """A message taken for sending: what the channel needs, and its attempts so far."""

    id: int
    room_id: str | None
    room_topic: str | None
    to_id: str | None
    text: str
    mentions: list[str]
    attempts: int


def claim_next(
    *,
    session: Session,
    now: datetime,
    until: datetime,
    account: str = DEFAULT_ACCOUNT,
    handover: timedelta = timedelta(0),
) -> Claimed | None:
    """Take the first message due for ``account`` (see :func:`due`) until ``until``, and
    commit; None when nothing is due for it.

    One conditional UPDATE picks and takes it, so two processes never both send a message: on
    PostgreSQL the pick skips rows another process is taking (``SKIP LOCKED``) and the outer
    condition is checked again on the row it locked.
    """
    params = {
        "p_until": until,
        "p_now": now,
        "p_account": account,
        "p_handed_over": now - handover,
    }
    row = _claim_next_update().first(session, params)
    session.commit()
    if row is None:
        return None
    return Claimed(*row)  # RETURNING names Claimed's fields, in order


@functools.cache
def _claim_next_update() -> Prepared:
    out = OutboundMessage
    first_due = (
        select(col(out.id))
        .where(_due(_NOW, _ACCOUNT, _HANDED_OVER))
        .order_by(col(out.priority), col(out.not_before), col(out.id))
        .limit(1)
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    return Prepared(
        update(out)
        .where(col(out.id) == first_due, _due(_NOW, _ACCOUNT, _HANDED_OVER))
        .values(status=OutboundStatus.SENDING, claimed_until=bindparam("p_until"))
        .returning(*(col(getattr(out, field.name)) for field in fields(Claimed)))
    )


def mark_sent(*, session: Session, message_id: int, at: datetime) -> None:
    # One UPDATE, not a load and a flush: it runs after every message sent.
    _SENT_UPDATE.rows(session, {"p_message_id": message_id, "p_at": at})


_SENT_UPDATE = Prepared(
    update(OutboundMessage)
    .where(col(OutboundMessage.id) == bindparam("p_message_id"))
    .values(
        status=OutboundStatus.SENT,
        sent_at=bindparam("p_at"),
        claimed_until=None,
        attempts=col(OutboundMessage.attempts) + 1,
    )
)


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
