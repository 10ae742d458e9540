"""督办: deadlines checked on a schedule — a reminder when a ticket is overdue, escalation when
it stays overdue, and archiving when the reporter never rated."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlmodel import Session

from bot.context import Services
from bot.cron import cron_trigger
from bot.events import Outbound
from bot.scheduler import JobSpec, TaskContext, idle_until, task
from bot.settings import Settings
from domain.grids import leader_ids
from handlers.ticket_format import category_name, summary, when
from storage import tickets as ticket_store
from storage.models import Ticket, TicketStatus

log = logging.getLogger(__name__)

SWEEP = "tickets.sweep"


def jobs(settings: Settings) -> list[JobSpec]:
    trigger = cron_trigger(settings.tickets.sweep_cron, settings.tz)
    # A sweep catches up on everything overdue, so missed sweeps need not run again.
    return [JobSpec(SWEEP, SWEEP, trigger, misfire_grace_time=300)]


def _handlers(ctx: TaskContext, ticket: Ticket) -> tuple[str, ...]:
    leaders = leader_ids(ctx.session, ctx.services.settings, ticket.grid_code)
    assignee = (ticket.assignee_id,) if ticket.assignee_id else ()
    return tuple(dict.fromkeys((*leaders, *assignee)))


@task(SWEEP)
async def sweep(ctx: TaskContext) -> None:
    """Reminds, escalates and archives what is due. What it looks for must match
    ``sweep_work_at`` below, or replays skip sweeps that had work."""
    settings = ctx.services.settings
    now = ctx.now
    for ticket in ticket_store.overdue_unreminded(session=ctx.session, now=now):
        ticket.reminded_at = now
        ticket_store.record(
            session=ctx.session,
            ticket=ticket,
            action="reminded",
            at=now,
            actor_id=None,
            note=f"截止 {ticket.due_at.isoformat()}",
        )
        _tell_handlers(
            ctx,
            ticket,
            f"【督办】工单 #{ticket.id}（{category_name(settings, ticket.category)}）"
            f"已超过处理时限（{when(ticket.due_at, settings.tz)}），请尽快处理。",
        )
    _escalate_overdue(ctx)
    for ticket in ticket_store.rating_expired(session=ctx.session, now=now):
        ticket.rating = "none"
        ticket.closed_at = now
        ticket_store.record(
            session=ctx.session,
            ticket=ticket,
            action="archived",
            at=now,
            actor_id=None,
            to_status=TicketStatus.ARCHIVED,
            note="未评价",
        )


@idle_until(SWEEP)
def sweep_work_at(services: Services, session: Session) -> datetime | None:
    """When a sweep next has work: until then a replay skips them (a tick a year ahead would
    otherwise run 100,000 sweeps that find nothing)."""
    hours = services.settings.tickets
    return ticket_store.next_deadline_work(
        session=session,
        escalate_after=timedelta(hours=hours.escalate_after_overdue_hours),
        urgent_escalate_after=timedelta(hours=hours.urgent_escalate_after_overdue_hours),
    )


def _escalate_overdue(ctx: TaskContext) -> None:
    settings = ctx.services.settings
    now = ctx.now
    late = timedelta(hours=settings.tickets.escalate_after_overdue_hours)
    urgent_late = timedelta(hours=settings.tickets.urgent_escalate_after_overdue_hours)
    room = settings.escalation.room
    for ticket in ticket_store.overdue_since(
        session=ctx.session, before=now - min(late, urgent_late)
    ):
        if ticket.due_at > now - (urgent_late if ticket.urgent else late):
            continue
        ticket.escalated_at = now
        ticket_store.record(
            session=ctx.session,
            ticket=ticket,
            action="auto_escalated",
            at=now,
            actor_id=None,
            to_status=TicketStatus.ESCALATED,
            note="超期未办结，自动上报",
        )
        grid = settings.grid(ticket.grid_code)
        grid_name = grid.name if grid is not None else ticket.grid_code
        if room:
            ctx.send(
                Outbound(
                    text=f"【超期上报】{summary(ticket, settings, grid_name)}。"
                    f"截止{when(ticket.due_at, settings.tz)}，至今未办结。",
                    room_id=room,
                    room_topic=room,
                )
            )
        else:
            log.warning("ticket #%s is overdue and there is no escalation room", ticket.id)
        where = f"上报{room}" if room else "标记为上报"
        _tell_handlers(ctx, ticket, f"工单 #{ticket.id} 超期未办结，已自动{where}。")


def _tell_handlers(ctx: TaskContext, ticket: Ticket, text: str) -> None:
    """Chasing goes to the people who must act, privately: said in the residents' group (at
    any hour) it is noise to everyone else and a public rebuke of the leader."""
    for contact_id in _handlers(ctx, ticket):
        ctx.send(Outbound(text=text, to=contact_id))
