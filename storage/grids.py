"""Grids (mirrored from config) and the members seen in their groups."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, func, select

from storage.models import Grid, Member, MemberRole


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
    existing = {grid.code: grid for grid in session.exec(select(Grid)).all()}
    for code, spec in wanted.items():
        grid = existing.get(code) or Grid(code=code, name=spec.name, room_topic=spec.room_topic)
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


def grid_by_room_id(*, session: Session, room_id: str) -> Grid | None:
    return session.exec(select(Grid).where(Grid.room_id == room_id, col(Grid.active))).first()


def bind_room(*, session: Session, grid_code: str, room_id: str) -> None:
    grid = session.get_one(Grid, grid_code)
    grid.room_id = room_id
    session.add(grid)


def touch_member(
    *, session: Session, contact_id: str, grid_code: str, display_name: str, at: datetime
) -> Member:
    """Record that ``contact_id`` spoke in ``grid_code``'s group, keeping the latest name."""
    member = session.exec(
        select(Member).where(Member.contact_id == contact_id, Member.grid_code == grid_code)
    ).first()
    if member is None:
        member = Member(
            contact_id=contact_id,
            grid_code=grid_code,
            display_name=display_name,
            first_seen=at,
            last_seen=at,
        )
    else:
        member.display_name = display_name
        member.last_seen = at
    session.add(member)
    return member


def member_role(*, session: Session, contact_id: str, grid_code: str) -> MemberRole:
    role = session.exec(
        select(Member.role).where(Member.contact_id == contact_id, Member.grid_code == grid_code)
    ).first()
    return MemberRole(role) if role else MemberRole.RESIDENT


def grids_led_in_db(*, session: Session, contact_id: str) -> Sequence[str]:
    return session.exec(
        select(Member.grid_code).where(
            Member.contact_id == contact_id, Member.role == MemberRole.LEADER
        )
    ).all()


def member_count(*, session: Session, grid_code: str) -> int:
    return session.exec(
        select(func.count()).select_from(Member).where(Member.grid_code == grid_code)
    ).one()
