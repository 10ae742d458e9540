"""Grids (mirrored from config) and the members seen in their groups."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, bindparam, or_, update
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, func, select

from storage.db import insert_for
from storage.models import Grid, InboundMessage, Member, MemberRole
from storage.prepared import Prepared

# A member's row is written when they first speak in a grid's group and when their name
# there changes; otherwise a message of theirs writes its last_seen only if the row's is
# older than this (bot/dispatcher.py): in a group's day, nine messages in ten come from
# someone who spoke there earlier that day (tests/data/groupdays). So a row's last_seen is
# the time of one of their messages, and every later one in that grid came within this step
# of it. What shows or orders by when someone last spoke (to the minute: /成员, `gridbot
# members`, the web console's 网格, the assignees offered) reads LAST_SEEN, which adds those
# later messages from the inbox: every message is stored with its sender, grid and time of
# receipt, and the anti-flood index finds a sender's messages since a time. The step bounds
# what that reads (at most a day of the group's messages) and how far the column itself may
# lag: it still orders a contact's names across grids (web/auth.py, web/notices.py), for
# which the day is enough.
LAST_SEEN_STEP = timedelta(days=1)


def _last_seen() -> ColumnElement[datetime]:
    newer = (
        sa_select(func.max(InboundMessage.received_at))
        .where(
            col(InboundMessage.sender_id) == col(Member.contact_id),
            col(InboundMessage.received_at) >= col(Member.last_seen),
            col(InboundMessage.grid_code) == col(Member.grid_code),
        )
        .correlate(Member)
        .scalar_subquery()
    )
    return func.coalesce(newer, col(Member.last_seen))


# When a member last spoke in the row's grid, exactly (see LAST_SEEN_STEP): for a query on
# the member table.
LAST_SEEN = _last_seen()


@dataclass(frozen=True, slots=True)
class GridSpec:
    """What config says about a grid: the fields mirrored into the ``grid`` table."""

    code: str
    name: str
    room_topic: str
    community: str | None = None


def sync_grids(*, session: Session, specs: Iterable[GridSpec]) -> None:
    """Make the ``grid`` table say what config says.

    Grids dropped from config are deactivated, not deleted: their tickets and ledger stay.
    A learned room id is kept across restarts.
    """
    wanted = {spec.code: spec for spec in specs}
    known = set(session.exec(select(Grid.code)).all())
    missing = [spec for code, spec in wanted.items() if code not in known]
    if missing:
        # ON CONFLICT: bot processes (several accounts) started together on one database
        # add the same grids at the same moment.
        dialect = session.get_bind().dialect.name
        insert = insert_for(dialect)
        rows = [
            {"code": spec.code, "name": spec.name, "room_topic": spec.room_topic,
             "room_id": None, "community": spec.community, "active": True}
            for spec in missing
        ]  # fmt: skip
        session.execute(insert(Grid).values(rows).on_conflict_do_nothing(index_elements=["code"]))
    existing = {grid.code: grid for grid in session.exec(select(Grid)).all()}
    for code, spec in wanted.items():
        grid = existing[code]
        grid.name = spec.name
        grid.room_topic = spec.room_topic
        grid.community = spec.community
        grid.active = True
        session.add(grid)
    for code, grid in existing.items():
        if code not in wanted and grid.active:
            grid.active = False
            session.add(grid)


def active_grids(*, session: Session) -> Sequence[Grid]:
    return session.exec(select(Grid).where(col(Grid.active)).order_by(col(Grid.code))).all()


# Every inbound message asks which grid its room is and records its sender: these statements
# are built once, with bind parameters, and the first two run on the session's connection
# (in its transaction) without the ORM, which costs several times the query itself.
_GRID_CODE_BY_ROOM = Prepared(
    select(Grid.code).where(Grid.room_id == bindparam("p_room_id"), col(Grid.active))
)


_SEEN_UPDATE = Prepared(
    update(Member)
    .where(
        col(Member.contact_id) == bindparam("p_contact_id"),
        col(Member.grid_code) == bindparam("p_grid_code"),
    )
    .values(display_name=bindparam("p_name"), last_seen=bindparam("p_at"))
    .returning(col(Member.role))
)


_ROLE_SELECT = Prepared(
    select(Member.role).where(
        Member.contact_id == bindparam("p_contact_id"),
        Member.grid_code == bindparam("p_grid_code"),
    )
)


_NAME_SELECT = Prepared(
    select(Member.display_name).where(
        Member.contact_id == bindparam("p_contact_id"),
        Member.grid_code == bindparam("p_grid_code"),
    )
)


def display_name(*, session: Session, contact_id: str, grid_code: str) -> str | None:
    """The name ``contact_id`` last had in ``grid_code``'s group, None if never seen there."""
    # Past the ORM (a new ticket's reply names the leader): members are written past it too.
    params = {"p_contact_id": contact_id, "p_grid_code": grid_code}
    name: str | None = _NAME_SELECT.scalar(session, params)
    return name


def grid_code_by_room_id(*, session: Session, room_id: str) -> str | None:
    """The code of the active grid bound to ``room_id``, None when there is none."""
    code: str | None = _GRID_CODE_BY_ROOM.scalar(session, {"p_room_id": room_id})
    return code


def member_seen(
    *, session: Session, contact_id: str, grid_code: str, display_name: str, at: datetime
) -> MemberRole:
    """Record that ``contact_id`` spoke in ``grid_code``'s group, keeping the latest name, and
    return their role there (the dispatcher needs it for the message: asked here, it costs no
    statement of its own). One UPDATE for a member seen before (an upsert for a new one:
    another process may be adding them too), past the ORM: the session must hold no
    unflushed ``Member`` of this contact and grid."""
    params = {"p_contact_id": contact_id, "p_grid_code": grid_code, "p_name": display_name,
              "p_at": at}  # fmt: skip
    role = _SEEN_UPDATE.scalar(session, params)
    if role is None:
        role = _seen_upsert(session.connection().dialect.name).scalar(session, params)
    return MemberRole(role)


@functools.cache
def _seen_upsert(dialect: str) -> Prepared:
    insert = insert_for(dialect)
    stmt = insert(Member).values(
        contact_id=bindparam("p_contact_id"),
        grid_code=bindparam("p_grid_code"),
        display_name=bindparam("p_name"),
        role=MemberRole.RESIDENT,
        first_seen=bindparam("p_at"),
        last_seen=bindparam("p_at"),
    )
    return Prepared(
        stmt.on_conflict_do_update(
            index_elements=["contact_id", "grid_code"],
            set_={"display_name": stmt.excluded.display_name, "last_seen": stmt.excluded.last_seen},
        ).returning(col(Member.role))
    )


def bind_room(*, session: Session, grid_code: str, room_id: str) -> None:
    grid = session.get_one(Grid, grid_code)
    grid.room_id = room_id
    session.add(grid)


def touch_member(
    *, session: Session, contact_id: str, grid_code: str, display_name: str, at: datetime
) -> Member:
    """Record that ``contact_id`` spoke in ``grid_code``'s group, keeping the latest name;
    return the member's row (:func:`member_seen`, for callers that want the row)."""
    session.flush()
    member_seen(
        session=session, contact_id=contact_id, grid_code=grid_code, display_name=display_name,
        at=at,
    )  # fmt: skip
    return session.exec(
        select(Member)
        .where(Member.contact_id == contact_id, Member.grid_code == grid_code)
        .execution_options(populate_existing=True)  # written past the ORM just now
    ).one()


def member_role(*, session: Session, contact_id: str, grid_code: str) -> MemberRole:
    # Asked for every message: past the ORM (after flushing the session's own writes).
    session.flush()
    params = {"p_contact_id": contact_id, "p_grid_code": grid_code}
    role = _ROLE_SELECT.scalar(session, params)
    return MemberRole(role) if role else MemberRole.RESIDENT


def grids_led_in_db(*, session: Session, contact_id: str) -> Sequence[str]:
    return session.exec(
        select(Member.grid_code).where(
            Member.contact_id == contact_id, Member.role == MemberRole.LEADER
        )
    ).all()


def leaders_in_db(*, session: Session, grid_code: str) -> Sequence[str]:
    """Contact ids given the leader's role in ``grid_code`` in the database (the config names
    the others), in the order they were first seen there."""
    return session.exec(
        select(Member.contact_id)
        .where(Member.grid_code == grid_code, Member.role == MemberRole.LEADER)
        .order_by(col(Member.id))
    ).all()


def set_role(*, session: Session, contact_id: str, grid_code: str, role: MemberRole) -> bool:
    """Give ``contact_id`` ``role`` in ``grid_code``; False when they have never been seen in
    its group (there is no member to give it to). Past the ORM, as members are written."""
    changed = session.execute(
        update(Member)
        .where(col(Member.contact_id) == contact_id, col(Member.grid_code) == grid_code)
        .values(role=role.value)
        .returning(col(Member.id))
    ).first()
    return changed is not None


def seen_members(*, session: Session, grid_code: str) -> Sequence[Member]:
    """Everyone the bot has seen speak in ``grid_code``'s group, last seen first (a row's own
    ``last_seen`` may lag: :func:`last_seen_in` has the exact times)."""
    session.flush()
    return session.exec(
        select(Member)
        .where(Member.grid_code == grid_code)
        .order_by(LAST_SEEN.desc(), col(Member.id))
        .execution_options(populate_existing=True)  # roles are written past the ORM
    ).all()


def last_seen_in(*, session: Session, grid_code: str) -> dict[str, datetime]:
    """Contact id -> when they last spoke in ``grid_code``'s group, for everyone seen there."""
    rows = session.exec(
        select(Member.contact_id, LAST_SEEN).where(Member.grid_code == grid_code)
    ).all()
    return dict(rows)


def member_count(*, session: Session, grid_code: str) -> int:
    return session.exec(
        select(func.count()).select_from(Member).where(Member.grid_code == grid_code)
    ).one()


def members_named(*, session: Session, grid_code: str, name: str) -> Sequence[tuple[str, str]]:
    """(contact id, database role) of the members of ``grid_code``'s group who go by ``name``
    now: to tell whom a quoted reply answers (WeChat's quote names only the display name).
    Never for rights: anyone can take anyone's name."""
    rows = session.exec(
        select(Member.contact_id, Member.role).where(
            Member.grid_code == grid_code, Member.display_name == name
        )
    ).all()
    return [(contact_id, role) for contact_id, role in rows]


def members(*, session: Session, grid_code: str, limit: int) -> Sequence[tuple[str, str, str]]:
    """(contact id, name, database role) of up to ``limit`` members of ``grid_code``'s group,
    who spoke there last first: the people a ticket can be assigned to from the console."""
    rows = session.exec(
        select(Member.contact_id, Member.display_name, Member.role)
        .where(Member.grid_code == grid_code)
        .order_by(LAST_SEEN.desc(), col(Member.id))
        .limit(limit)
    ).all()
    return [(contact_id, name, role) for contact_id, name, role in rows]


def last_seen_by_grid(*, session: Session, grid_codes: Sequence[str]) -> dict[str, datetime]:
    """When anyone last spoke in each of ``grid_codes``' groups (the time the bot received
    their last message there: LAST_SEEN); grids nobody spoke in are left out."""
    if not grid_codes:
        return {}
    rows = session.exec(
        select(Member.grid_code, func.max(Member.last_seen))
        .where(col(Member.grid_code).in_(list(grid_codes)))
        .group_by(col(Member.grid_code))
    ).all()
    latest = {code: seen for code, seen in rows if seen is not None}
    if not latest:
        return {}
    # Only someone whose row is within a step of the grid's latest row can have spoken after
    # it (LAST_SEEN_STEP): the inbox is asked about them alone, not the whole group.
    near = or_(
        *(
            and_(col(Member.grid_code) == code, col(Member.last_seen) >= seen - LAST_SEEN_STEP)
            for code, seen in latest.items()
        )
    )
    exact = session.exec(
        select(Member.grid_code, func.max(LAST_SEEN)).where(near).group_by(col(Member.grid_code))
    ).all()
    return {**latest, **{code: seen for code, seen in exact if seen is not None}}


def member_counts(*, session: Session, grid_codes: Sequence[str]) -> dict[str, int]:
    """How many people the bot has seen speak in each of ``grid_codes``' groups."""
    if not grid_codes:
        return {}
    rows = session.exec(
        select(Member.grid_code, func.count())
        .where(col(Member.grid_code).in_(list(grid_codes)))
        .group_by(col(Member.grid_code))
    ).all()
    return dict(rows)


def named_members(
    *, session: Session, grid_codes: Sequence[str], contact_ids: Sequence[str]
) -> dict[tuple[str, str], tuple[str, str]]:
    """(grid, contact id) → (name in the group, database role), for those of ``contact_ids``
    seen in ``grid_codes``' groups, and every leader by role there."""
    if not grid_codes:
        return {}
    wanted = col(Member.role) == MemberRole.LEADER
    if contact_ids:
        wanted = wanted | col(Member.contact_id).in_(list(contact_ids))
    rows = session.exec(
        select(Member.grid_code, Member.contact_id, Member.display_name, Member.role)
        .where(col(Member.grid_code).in_(list(grid_codes)), wanted)
        .order_by(col(Member.id))
    ).all()
    return {(grid, contact): (name, role) for grid, contact, name, role in rows}
