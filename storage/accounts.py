"""Bot accounts and what each can reach: the groups it is in, the contacts it can write to.

Several bot processes, each logged in as its own account, may share one database. The outbox
uses these tables so that a process only takes messages its account can deliver.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Table, delete, update
from sqlmodel import Session, col, func, select

from storage.db import insert_for
from storage.models import ContactAccount, RoomAccount

# The account of a process that was given none: one process on a database, as before.
DEFAULT_ACCOUNT = "gridbot"


def _upsert(
    session: Session,
    table: Any,
    values: dict[str, object],
    key: Sequence[str],
    update: Sequence[str],
) -> None:
    # INSERT ... ON CONFLICT DO UPDATE: a process records its own account only, but two
    # processes started by mistake under one name must not fail on each other's rows.
    dialect = session.get_bind().dialect.name
    insert = insert_for(dialect)
    target: Table = table.__table__
    stmt = insert(target).values(**values)
    stmt = stmt.on_conflict_do_update(
        index_elements=list(key), set_={name: stmt.excluded[name] for name in update}
    )
    session.execute(stmt)


def saw_room(
    *, session: Session, account: str, room_id: str, topic: str | None, at: datetime
) -> None:
    """``account`` is in the group ``room_id`` (it received a message there)."""
    _upsert(
        session,
        RoomAccount,
        {"room_id": room_id, "account": account, "topic": topic, "seen_at": at},
        key=("room_id", "account"),
        update=("topic", "seen_at"),
    )


def saw_contact(*, session: Session, account: str, contact_id: str, at: datetime) -> None:
    """``account`` can write to ``contact_id`` privately (it received a private message)."""
    _upsert(
        session,
        ContactAccount,
        {"contact_id": contact_id, "account": account, "seen_at": at},
        key=("contact_id", "account"),
        update=("seen_at",),
    )


def set_rooms(
    *, session: Session, account: str, rooms: Mapping[str, str | None], at: datetime
) -> None:
    """``account`` is in exactly these groups (room id → topic): its group list at login.
    Groups it has left are forgotten, so their messages go to an account still in them."""
    session.execute(
        delete(RoomAccount).where(
            col(RoomAccount.account) == account, col(RoomAccount.room_id).not_in(list(rooms))
        )
    )
    for room_id, topic in rooms.items():
        saw_room(session=session, account=account, room_id=room_id, topic=topic, at=at)


def accounts_in_room(*, session: Session, room_id: str) -> list[str]:
    return list(
        session.exec(
            select(RoomAccount.account)
            .where(RoomAccount.room_id == room_id)
            .order_by(col(RoomAccount.account))
        ).all()
    )


def accounts(*, session: Session) -> list[str]:
    """Every account known to be in a group."""
    return list(
        session.exec(select(RoomAccount.account).distinct().order_by(col(RoomAccount.account)))
    )


def heartbeat(*, session: Session, account: str, at: datetime) -> None:
    """``account`` is logged in and serving at ``at``: its groups' rows say so (``seen_at``,
    as a message received there does), and `gridbot status` reads them as its heartbeat."""
    session.execute(
        update(RoomAccount).where(col(RoomAccount.account) == account).values(seen_at=at)
    )


def last_seen(*, session: Session) -> dict[str, datetime]:
    """Each account known to be in a group → when its process last said it was serving."""
    rows = session.exec(
        select(RoomAccount.account, func.max(RoomAccount.seen_at)).group_by(
            col(RoomAccount.account)
        )
    ).all()
    return {account: seen for account, seen in rows if seen is not None}


def room_accounts(*, session: Session, room_ids: Sequence[str]) -> dict[str, list[RoomAccount]]:
    """The accounts known to be in each of ``room_ids`` (by account), with the topic each
    last saw and when it last said it was serving there."""
    if not room_ids:
        return {}
    found: dict[str, list[RoomAccount]] = {}
    for row in session.exec(
        select(RoomAccount)
        .where(col(RoomAccount.room_id).in_(list(room_ids)))
        .order_by(col(RoomAccount.account))
    ).all():
        found.setdefault(row.room_id, []).append(row)
    return found
