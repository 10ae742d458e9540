"""What the bot does with a message. Each module holds one feature's router."""

from __future__ import annotations

from bot.routing import Router
from handlers import grid_status, help


def all_routers() -> list[Router]:
    return [help.router, grid_status.router]
