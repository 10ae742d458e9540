"""Addressing a grid's group, its leaders and the escalation room: the same for a chat
command, a scheduled task and a web action, so a message reaches the same place whoever
caused it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlmodel import Session, col, select

from bot.events import Outbound
from bot.settings import Settings
from domain.ticket_format import masked_name
from storage import grids as grid_store
from storage.models import Grid, MemberRole

__all__ = [
    "Leader",
    "grid_name",
    "grid_rooms",
    "leader_ids",
    "leader_title",
    "leaders_of",
    "name_in_grid",
    "to_escalation_room",
    "to_grid",
]


def to_grid(
    session: Session, settings: Settings, grid_code: str, text: str, mentions: tuple[str, ...] = ()
) -> Outbound:
    """A message to a grid's group: by the room id learned, else by the configured topic."""
    row = session.get(Grid, grid_code)
    grid = settings.grid(grid_code)
    topic = grid.room if grid is not None else (row.room_topic if row else grid_code)
    room_id = row.room_id if row is not None and row.room_id else topic
    return Outbound(text=text, room_id=room_id, room_topic=topic, mentions=mentions)


def grid_rooms(
    session: Session, settings: Settings, grid_codes: Sequence[str]
) -> dict[str, tuple[str, str]]:
    """(room id, topic) of many grids' groups at once, as :func:`to_grid` addresses one."""
    bound = dict(
        session.exec(
            select(Grid.code, Grid.room_id).where(
                col(Grid.code).in_(list(grid_codes)), col(Grid.room_id).is_not(None)
            )
        ).all()
    )
    topics = {grid.code: grid.room for grid in settings.grids}
    out = {}
    for code in grid_codes:
        topic = topics.get(code, code)
        out[code] = (bound.get(code) or topic, topic)
    return out


def to_escalation_room(settings: Settings, text: str) -> Outbound | None:
    """A message to the street office's room (config `escalation.room`); None without one."""
    room = settings.escalation.room
    return Outbound(text=text, room_id=room, room_topic=room) if room else None


def grid_name(settings: Settings, grid_code: str) -> str:
    grid = settings.grid(grid_code)
    return grid.name if grid is not None else grid_code


def leader_ids(session: Session, settings: Settings, grid_code: str) -> tuple[str, ...]:
    """Who leads ``grid_code``: the leaders the config names, then those an administrator
    made leaders in the database (/设网格长): alerts and rights reach both alike."""
    grid = settings.grid(grid_code)
    if grid is None:
        return ()
    in_db = grid_store.leaders_in_db(session=session, grid_code=grid_code)
    return tuple(dict.fromkeys([*grid.leaders, *in_db]))


def leader_title(session: Session, settings: Settings, grid_code: str) -> str:
    """`网格长李明`: the name the config gives a leader (what residents know them by), else
    the group name of a leader who has spoken there; `本网格网格长` when there is neither."""
    grid = settings.grid(grid_code)
    named = grid.leader_names if grid is not None else {}
    ids = leader_ids(session, settings, grid_code)
    name = next((named[c] for c in ids if named.get(c)), None) or next(
        (
            n
            for c in ids
            if (n := grid_store.display_name(session=session, contact_id=c, grid_code=grid_code))
        ),
        None,
    )
    return f"网格长{masked_name(name)}" if name else "本网格网格长"


def name_in_grid(session: Session, settings: Settings, contact_id: str, grid_code: str) -> str:
    """What people of ``grid_code`` know ``contact_id`` by (unmasked): the name the config
    gives a leader or a worker, else their name in the group; for someone never seen there, a
    title rather than a contact id, which is nobody's business."""
    grid = settings.grid(grid_code)
    configured = (
        grid.leader_names.get(contact_id) or grid.worker_names.get(contact_id)
        if grid is not None
        else None
    )
    if configured:
        return configured
    shown = grid_store.display_name(session=session, contact_id=contact_id, grid_code=grid_code)
    if shown:
        return shown
    if contact_id in settings.admins:
        return "街道管理员"
    return "网格长" if contact_id in leader_ids(session, settings, grid_code) else "工作人员"


@dataclass(frozen=True, slots=True)
class Leader:
    """A leader of a grid, as a page lists them."""

    contact_id: str
    # the name the config gives them, else the one they last had in the group; None for a
    # leader the config names without a name who has never spoken there
    name: str | None
    configured: bool  # named in the config's `leaders:` (else made one by /设网格长)
    seen: bool  # has spoken in the group (a config id never seen there may be mistyped)


def leaders_of(
    session: Session, settings: Settings, grid_codes: Sequence[str]
) -> dict[str, list[Leader]]:
    """The leaders of each of ``grid_codes``, as :func:`leader_ids` finds them (the config's,
    then those by role in the database), for many grids at once."""
    configured = {
        code: grid.leaders for code in grid_codes if (grid := settings.grid(code)) is not None
    }
    ids = sorted({c for leaders in configured.values() for c in leaders})
    members = grid_store.named_members(session=session, grid_codes=grid_codes, contact_ids=ids)
    out: dict[str, list[Leader]] = {}
    for code in grid_codes:
        grid = settings.grid(code)
        if grid is None:
            continue
        in_db = [
            c for (g, c), (_n, role) in members.items() if g == code and role == MemberRole.LEADER
        ]
        out[code] = [
            Leader(
                contact_id=c,
                name=grid.leader_names.get(c) or members.get((code, c), (None, ""))[0],
                configured=c in grid.leaders,
                seen=(code, c) in members,
            )
            for c in dict.fromkeys([*grid.leaders, *in_db])
        ]
    return out
