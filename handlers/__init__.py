"""What the bot does with a message. Each module holds one feature's router."""

from __future__ import annotations

from bot.routing import Router
from bot.scheduler import JobSpec
from bot.settings import Settings
from handlers import grid_status, help


def all_routers() -> list[Router]:
    return [help.router, grid_status.router]


def all_jobs(settings: Settings) -> list[JobSpec]:
    """The scheduled jobs the features want under ``settings``."""
    del settings  # no feature schedules anything yet
    return []
