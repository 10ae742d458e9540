"""受理: a resident's request in the group becomes a ticket, answered once.

Runs below every command and query. Chatter (anything the classifier doesn't call a request)
is not taken and gets no reply.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from bot import flood
from bot.context import Context
from bot.events import MessageType, Outbound
from bot.routing import Router, SkipHandler
from handlers.ticket_access import escalation_room, leader_ids, leader_title
from handlers.ticket_format import category_name, summary, time_limit, when
from nlp.classifier import Classification
from nlp.privacy import mask_personal
from nlp.similarity import same_matter
from storage import tickets as ticket_store
from storage.models import Ticket

log = logging.getLogger(__name__)

router = Router("tickets")

INTAKE_PRIORITY = 0
# A request is a sentence or a few (the classifier's data sets top out under 100 characters).
# Past this a message is taken for chatter: a ticket holding 100,000 characters helps nobody,
# and the classifier's time grows with the text.
REQUEST_MAX_CHARS = 2000
ATTACH_PRIORITY = 10
MEDIA = {
    MessageType.IMAGE: "图片",
    MessageType.VOICE: "语音",
    MessageType.VIDEO: "视频",
    MessageType.FILE: "文件",
}


def _request_in_a_grid(ctx: Context) -> bool:
    """Plain text in a grid's group that the classifier reads as a request."""
    call = ctx.command
    is_command = call is not None and (call.prefixed or bool(call.name))
    if ctx.grid is None or ctx.event.type != MessageType.TEXT or is_command:
        return False
    if len(ctx.event.text) > REQUEST_MAX_CHARS:
        return False  # a pasted article or a flood, not a resident's request
    result = ctx.classified()
    return result.is_request and result.category is not None


def _media_in_a_grid(ctx: Context) -> bool:
    return ctx.grid is not None and ctx.event.type in MEDIA


def _emergency_line(result: Classification) -> str:
    number = result.emergency_number
    return f"情况紧急，请立即拨打 {number}！" if number else "情况紧急，请立即拨打 110 或 120！"


@router.message(_request_in_a_grid, priority=INTAKE_PRIORITY)
async def intake(ctx: Context) -> None:
    result = ctx.classified()
    assert result.category is not None
    grid = ctx.grid
    assert grid is not None
    settings = ctx.settings.tickets
    sender = ctx.event.sender_id
    since = ctx.now - timedelta(
        hours=max(settings.duplicate_window_hours, settings.same_matter_window_hours)
    )
    candidates = ticket_store.active_in_grid(
        session=ctx.session, grid_code=grid.code, since=since, category=result.category
    )
    urgent_prefix = _emergency_line(result) if result.urgent else ""
    ctx.urgent = result.urgent
    vocabulary = ctx.settings.categories
    for candidate in reversed(candidates):
        if not same_matter(
            candidate.text, ctx.event.text, vocabulary, result.category, settings.similarity
        ):
            continue
        ticket = ticket_store.get(session=ctx.session, ticket_id=candidate.id)
        assert ticket is not None
        assert ticket.id is not None
        reporters = {
            r.contact_id for r in ticket_store.reporters(session=ctx.session, ticket_id=ticket.id)
        }
        repeat_window = ctx.now - timedelta(hours=settings.duplicate_window_hours)
        if sender in reporters and ticket.created_at >= repeat_window:
            ticket_store.record(
                session=ctx.session,
                ticket=ticket,
                action="repeated",
                at=ctx.now,
                actor_id=sender,
                note=ctx.event.text,
                message_id=ctx.message_id,
            )
            ctx.reply(f"{urgent_prefix}已合并到 #{ticket.id}，我们正在跟进，不用重复反映。")
            return
        if sender not in reporters:
            _link(ctx, ticket)
            ctx.reply(
                f"{urgent_prefix}已有居民反映过这个问题（#{ticket.id}），已记为同类诉求"
                f" +1，处理结果会一并告诉您。"
            )
            return
    _open(ctx, result)


def _link(ctx: Context, ticket: Ticket) -> None:
    assert ticket.id is not None
    ticket_store.add_reporter(
        session=ctx.session,
        ticket_id=ticket.id,
        contact_id=ctx.event.sender_id,
        name=ctx.event.sender_name,
        at=ctx.now,
    )
    ticket.same_count += 1
    ctx.session.add(ticket)
    ticket_store.record(
        session=ctx.session,
        ticket=ticket,
        action="linked",
        at=ctx.now,
        actor_id=ctx.event.sender_id,
        note=ctx.event.text,
        message_id=ctx.message_id,
    )


def _open(ctx: Context, result: Classification) -> None:
    grid = ctx.grid
    assert grid is not None
    assert result.category is not None
    if not flood.may_open_ticket(ctx, urgent=result.urgent):
        return
    ticket = ticket_store.create(
        session=ctx.session,
        ticket=Ticket(
            grid_code=grid.code,
            reporter_id=ctx.event.sender_id,
            reporter_name=ctx.event.sender_name[:100],
            text=ctx.event.text,
            category=result.category,
            urgent=result.urgent,
            keywords=list(result.keywords),
            confidence=result.confidence,
            source_message_id=ctx.message_id,
            created_at=ctx.now,
            due_at=ctx.now + time_limit(ctx.settings, result.category, urgent=result.urgent),
        ),
    )
    log.info(
        "ticket #%s opened in %s (%s, urgent=%s, keywords=%s)",
        ticket.id,
        grid.code,
        result.category,
        result.urgent,
        ",".join(result.keywords),
    )
    name = category_name(ctx.settings, result.category)
    deadline = when(ticket.due_at, ctx.settings.tz)
    if not result.urgent:
        ctx.reply(
            f"已受理，工单 #{ticket.id}（{name}），由{leader_title(ctx, grid.code)}负责，"
            f"{deadline}前处理。"
        )
        return
    escalation = escalation_room(
        ctx,
        f"【紧急】{summary(ticket, ctx.settings, grid.name)}。"
        f"已提示居民拨打 {result.emergency_number or '110/120'}。",
    )
    told = "网格长和指挥中心" if escalation else "网格长"
    ctx.reply(f"{_emergency_line(result)}已登记紧急工单 #{ticket.id}（{name}），已通知{told}。")
    alert = (
        f"【紧急】{grid.name} #{ticket.id} {name}：{mask_personal(ticket.text)}"
        f"（{ticket.reporter_name}，{when(ticket.created_at, ctx.settings.tz)}）。请立即处置。"
    )
    for leader in leader_ids(ctx, grid.code):
        ctx.send(Outbound(text=alert, to=leader))
    if escalation is not None:
        ctx.send(escalation)


@router.message(_media_in_a_grid, priority=ATTACH_PRIORITY)
async def attach(ctx: Context) -> None:
    """A photo or voice message right after a resident's request belongs to that ticket."""
    grid = ctx.grid
    assert grid is not None
    window = timedelta(minutes=ctx.settings.tickets.attach_window_minutes)
    ticket = ticket_store.latest_reported_by(
        session=ctx.session,
        contact_id=ctx.event.sender_id,
        grid_code=grid.code,
        since=ctx.now - window,
    )
    if ticket is None or ticket.id is None:
        raise SkipHandler
    kind = MEDIA[ctx.event.type]
    ticket_store.attach(
        session=ctx.session,
        ticket_id=ticket.id,
        message_id=ctx.message_id,
        type=ctx.event.type,
        at=ctx.now,
    )
    ticket_store.record(
        session=ctx.session,
        ticket=ticket,
        action="attached",
        at=ctx.now,
        actor_id=ctx.event.sender_id,
        note=kind,
        message_id=ctx.message_id,
    )
    ctx.reply(f"{kind}已补充到工单 #{ticket.id}。")
