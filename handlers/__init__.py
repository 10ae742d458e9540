"""What the bot does with a message. Each module holds one feature's router."""

from __future__ import annotations

from sqlmodel import Session

from bot.routing import Router
from bot.scheduler import JobSpec
from bot.settings import Settings
from handlers import (
    broadcasts,
    grid_status,
    help,
    households,
    maintenance,
    members,
    points,
    points_awards,
    points_notice,
    redemption,
    room_binding,
    ticket_commands,
    ticket_deadlines,
    ticket_filing,
    ticket_queries,
    ticket_stats,
    tickets,
    web_login,
)


def all_routers() -> list[Router]:
    return [
        help.router,
        grid_status.router,
        room_binding.router,
        members.router,
        web_login.router,
        ticket_commands.router,
        ticket_filing.router,
        ticket_stats.router,
        ticket_queries.router,
        tickets.router,
        points.router,
        points_awards.router,
        redemption.router,
        households.router,
        broadcasts.router,
    ]


def all_jobs(settings: Settings, session: Session) -> list[JobSpec]:
    """The scheduled jobs the features want under ``settings`` and the stored state."""
    return [
        *ticket_deadlines.jobs(settings),
        *points_notice.jobs(settings),
        *broadcasts.jobs(settings),
        *broadcasts.leader_jobs(session),
        *maintenance.jobs(settings),
    ]
