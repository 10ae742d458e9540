"""Addressing a grid's group or the escalation room, from handlers and scheduled tasks alike."""

from __future__ import annotations

from bot.context import Context
from bot.routing import UserError
from bot.settings import GridSettings

# Addressing lives in the domain (the web sends what the chat sends); kept importable here
# for the handlers and scheduled tasks that address groups.
from domain.grids import grid_rooms, to_escalation_room, to_grid

__all__ = ["grid_here", "grid_rooms", "to_escalation_room", "to_grid"]


def grid_here(ctx: Context) -> GridSettings:
    """The grid whose group the command was sent in.

    Administrators may use group commands anywhere (the dispatcher lets them through in a
    private chat); those that act on one grid's members, orders or group need its group.
    """
    if ctx.grid is None:
        name = ctx.command.name if ctx.command is not None else ""
        raise UserError(f"/{name} 请在网格群里使用。")
    return ctx.grid
