"""Addressing a grid's group or the escalation room, from handlers and scheduled tasks alike."""

from __future__ import annotations

from collections.abc import Sequence

from sqlmodel import Session, col, select

from bot.context import Context
from bot.events import Outbound
from bot.routing import UserError
from bot.settings import GridSettings, Settings
from storage.models import Grid


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
    room = settings.escalation.room
    return Outbound(text=text, room_id=room, room_topic=room) if room else None


def grid_here(ctx: Context) -> GridSettings:
    """The grid whose group the command was sent in.

    Administrators may use group commands anywhere (the dispatcher lets them through in a
    private chat); those that act on one grid's members, orders or group need its group.
    """
    if ctx.grid is None:
        name = ctx.command.name if ctx.command is not None else ""
        raise UserError(f"/{name} 请在网格群里使用。")
    return ctx.grid
