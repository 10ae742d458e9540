"""处置 → 反馈 → 上报: the grid leader's commands on tickets.

Every change writes an event row (who, from, to, note, when): the ticket's audit trail.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import cast

from bot.commands import long_number, parse_ticket_number
from bot.context import Context
from bot.events import Outbound
from bot.routing import Role, Router, Scope, UserError
from handlers.ticket_access import (
    display_name,
    escalation_room,
    grid_room,
    reporter_ids,
    rest_text,
    tell_reporters,
    ticket_from_args,
    typed_text,
)
from handlers.ticket_format import (
    category_name,
    line,
    masked_name,
    quoted,
    summary,
    time_limit,
    when,
)
from nlp.vocabulary import Category
from storage import tickets as ticket_store
from storage.models import Ticket, TicketStatus

router = Router("ticket_commands")

WORKING = (TicketStatus.OPEN, TicketStatus.ASSIGNED, TicketStatus.ESCALATED)


def _must_be_working(ticket: Ticket, doing: str) -> None:
    """Refuse an action on a ticket that is past the stage it applies to."""
    if ticket.status in WORKING:
        return
    if ticket.status in (TicketStatus.RESOLVED, TicketStatus.ARCHIVED):
        raise UserError(f"#{ticket.id} 已办结，不能再{doing}。")
    if ticket.status == TicketStatus.DISMISSED:
        raise UserError(f"#{ticket.id} 已驳回，不能再{doing}。")
    raise UserError(
        f"#{ticket.id} 已合并到 #{ticket.merged_into_id}，请对 #{ticket.merged_into_id} 操作。"
    )


def _grid_name(ctx: Context, ticket: Ticket) -> str:
    grid = ctx.settings.grid(ticket.grid_code)
    return grid.name if grid is not None else ticket.grid_code


@router.command(
    "工单",
    role=Role.LEADER,
    scope=Scope.GROUP,
    usage="/工单 [超期|全部]",
    summary="本网格未办结的工单",
)
async def list_tickets(ctx: Context) -> None:
    assert ctx.command is not None
    option = ctx.command.args
    if option not in ("", "超期", "全部"):
        raise UserError("用法：/工单、/工单 超期 或 /工单 全部")
    grid_code = ctx.grid.code if ctx.grid is not None else None
    month_start = ctx.now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    limit = ctx.settings.tickets.list_limit
    # Counted, and only the shown ones loaded: a busy grid may have hundreds waiting.
    closed_since = month_start if option == "全部" else None
    overdue_at = ctx.now if option == "超期" else None
    total = ticket_store.count_listing(
        session=ctx.session, grid_code=grid_code, closed_since=closed_since, overdue_at=overdue_at
    )
    rows = ticket_store.listing(
        session=ctx.session,
        grid_code=grid_code,
        closed_since=closed_since,
        overdue_at=overdue_at,
        limit=limit,
    )
    where = "本网格" if grid_code else "全部网格"
    if not rows:
        empty = {"": "未办结的工单", "超期": "超期的工单", "全部": "本月的工单"}[option]
        ctx.reply(f"{where}目前没有{empty}。")
        return
    title = {"": "未办结工单", "超期": "超期工单", "全部": "本月工单"}[option]
    lines = [f"{where}{title} {total} 件："]
    lines += [line(t, ctx.settings, ctx.now) for t in rows]
    if total > limit:
        lines.append(f"……另有 {total - limit} 件，请用 /工单 超期 先看超期的")
    if ctx.event.is_private or ctx.settings.tickets.list_in_group:
        ctx.reply("\n".join(lines))
        return
    # The list names every reporter and what they wrote, complaints about neighbours
    # included: the residents in the group are not its readers.
    ctx.send(Outbound(text="\n".join(lines), to=ctx.event.sender_id))
    ctx.reply(f"{where}{title} {total} 件，已私信发给您。")


@router.command(
    "派单",
    role=Role.LEADER,
    scope=Scope.GROUP,
    usage="/派单 <工单号> @处理人",
    summary="指派处理人",
)
async def assign(ctx: Context) -> None:
    ticket, _ = ticket_from_args(ctx, "/派单 12 @王师傅")
    _must_be_working(ticket, "派单")
    mentions = list(dict.fromkeys(ctx.event.mentions))
    if not mentions:
        raise UserError("请在命令里 @ 处理人（用微信的 @ 选人），例如：/派单 12 @王师傅")
    if len(mentions) > 1:
        raise UserError("一次只能派给一位处理人。")
    assignee = mentions[0]
    name = display_name(ctx, assignee, ticket.grid_code) or _typed_name(rest_text(ctx)) or assignee
    previous = ticket.assignee_name
    ticket.assignee_id = assignee
    ticket.assignee_name = name[:100]
    to_status = (
        TicketStatus.ESCALATED if ticket.status == TicketStatus.ESCALATED else TicketStatus.ASSIGNED
    )
    note = f"{previous} → {name}" if previous else name
    ticket_store.record(
        session=ctx.session,
        ticket=ticket,
        action="assigned",
        at=ctx.now,
        actor_id=ctx.event.sender_id,
        to_status=to_status,
        note=note,
        message_id=ctx.message_id,
    )
    deadline = when(ticket.due_at, ctx.settings.tz)
    text = (
        f"工单 #{ticket.id}（{category_name(ctx.settings, ticket.category)}）"
        f"已派给{masked_name(name)}，"
        f"请于{deadline}前处理。反映人会收到处理结果。"
    )
    ctx.send(grid_room(ctx, ticket.grid_code, text, (assignee, *reporter_ids(ctx, ticket))))


def _typed_name(text: str) -> str | None:
    """The name typed after @ (display only: who is assigned comes from the mention id)."""
    for word in text.split():
        if word.startswith("@") and len(word) > 1:
            return word[1:]
    return None


@router.command(
    "办结",
    role=Role.LEADER,
    scope=Scope.GROUP,
    usage="/办结 <工单号> <处理结果>",
    summary="办结并反馈居民",
)
async def resolve(ctx: Context) -> None:
    ticket, _ = ticket_from_args(ctx, "/办结 12 路灯已修好")
    if ticket.status == TicketStatus.RESOLVED:
        raise UserError(f"#{ticket.id} 已经办结过了，正在等居民评价。")
    _must_be_working(ticket, "办结")
    feedback = typed_text(ctx, "处理结果", "/办结 12 路灯已修好")
    window = timedelta(hours=ctx.settings.tickets.rating_window_hours)
    ticket.feedback = feedback
    ticket.resolved_at = ctx.now
    ticket.rating = None
    ticket.rating_due_at = ctx.now + window
    ticket_store.record(
        session=ctx.session,
        ticket=ticket,
        action="resolved",
        at=ctx.now,
        actor_id=ctx.event.sender_id,
        to_status=TicketStatus.RESOLVED,
        note=feedback,
        message_id=ctx.message_id,
    )
    # Everyone who reported it hears the result; the first reporter, whose ticket it is, is
    # the one asked to rate (a ticket has one rating): others were told "nothing to rate".
    tell_reporters(
        ctx,
        ticket,
        f"您反映的问题（#{ticket.id}）已办结：{quoted(feedback)}\n"
        f"请{masked_name(ticket.reporter_name)[:20]}回复“满意”“基本满意”或“不满意”"
        "（也可回复 1、2、3）评价。",
    )


@router.command(
    "上报",
    role=Role.LEADER,
    scope=Scope.GROUP,
    usage="/上报 <工单号> <原因>",
    summary="上报社区指挥中心",
)
async def escalate(ctx: Context) -> None:
    ticket, _ = ticket_from_args(ctx, "/上报 12 需要供电所处理")
    if ticket.status == TicketStatus.ESCALATED:
        raise UserError(f"#{ticket.id} 已经上报过了。")
    _must_be_working(ticket, "上报")
    reason = typed_text(ctx, "上报原因", "/上报 12 需要供电所处理")
    room = escalation_room(
        ctx,
        f"【上报】{summary(ticket, ctx.settings, _grid_name(ctx, ticket))}。"
        f"原因：{quoted(reason)}。上报人：{masked_name(ctx.event.sender_name)}。",
    )
    if room is None:
        raise UserError("还没有配置上报的群（escalation.room），请联系街道管理员。")
    ticket.escalated_at = ctx.now
    ticket_store.record(
        session=ctx.session,
        ticket=ticket,
        action="escalated",
        at=ctx.now,
        actor_id=ctx.event.sender_id,
        to_status=TicketStatus.ESCALATED,
        note=reason,
        message_id=ctx.message_id,
    )
    ctx.send(room)
    tell_reporters(
        ctx,
        ticket,
        f"您反映的问题（#{ticket.id}）已上报{room.room_topic}协调处理，有进展会告诉您。",
    )


@router.command(
    "驳回",
    role=Role.LEADER,
    scope=Scope.GROUP,
    usage="/驳回 <工单号> <原因>",
    summary="不予受理并说明原因",
)
async def dismiss(ctx: Context) -> None:
    ticket, _ = ticket_from_args(ctx, "/驳回 12 不属于本网格事务")
    _must_be_working(ticket, "驳回")
    reason = typed_text(ctx, "驳回原因", "/驳回 12 不属于本网格事务")
    ticket.closed_at = ctx.now
    ticket_store.record(
        session=ctx.session,
        ticket=ticket,
        action="dismissed",
        at=ctx.now,
        actor_id=ctx.event.sender_id,
        to_status=TicketStatus.DISMISSED,
        note=reason,
        message_id=ctx.message_id,
    )
    tell_reporters(
        ctx,
        ticket,
        f"您反映的问题（#{ticket.id}）未予受理：{quoted(reason)}。如有疑问请联系网格长。",
    )


@router.command(
    "改类",
    role=Role.LEADER,
    scope=Scope.GROUP,
    usage="/改类 <工单号> <类别>",
    summary="更正工单类别",
)
async def reclassify(ctx: Context) -> None:
    ticket, rest = ticket_from_args(ctx, "/改类 12 环境卫生")
    if ticket.status == TicketStatus.MERGED:
        _must_be_working(ticket, "改类")
    wanted = " ".join(rest)
    categories = cast(Mapping[str, Category], ctx.settings.categories.categories)
    by_name = {c.name: code for code, c in categories.items()}
    code = wanted if wanted in categories else by_name.get(wanted)
    if code is None:
        names = "、".join(c.name for c in categories.values())
        raise UserError(
            f"没有「{wanted[:10]}」这个类别。可选：{names}" if wanted else f"请写上类别：{names}"
        )
    if code == ticket.category:
        raise UserError(f"#{ticket.id} 已经是「{categories[code].name}」。")
    old = ticket.category
    ticket_store.correct_category(
        session=ctx.session,
        ticket=ticket,
        to_category=code,
        actor_id=ctx.event.sender_id,
        at=ctx.now,
    )
    category = categories[code]
    if ticket.status in WORKING:
        ticket.due_at = ticket.created_at + time_limit(ctx.settings, code, urgent=ticket.urgent)
    ticket_store.record(
        session=ctx.session,
        ticket=ticket,
        action="reclassified",
        at=ctx.now,
        actor_id=ctx.event.sender_id,
        note=f"{old} → {code}",
        message_id=ctx.message_id,
    )
    deadline = when(ticket.due_at, ctx.settings.tz)
    ctx.reply(f"已将 #{ticket.id} 改为「{category.name}」，处理时限改为{deadline}。")


@router.command(
    "合并",
    role=Role.LEADER,
    scope=Scope.GROUP,
    usage="/合并 <工单号> <并入的工单号>",
    summary="把重复的工单并入另一件",
)
async def merge(ctx: Context) -> None:
    ticket, rest = ticket_from_args(ctx, "/合并 12 8")
    if len(rest) != 1:
        raise UserError("用法：/合并 12 8（把 #12 并入 #8）")
    # parse_ticket_number bounds it: a 20-digit id overflows the database's integer.
    target_number = parse_ticket_number(rest[0])
    if target_number is None:
        too_long = long_number(rest[0])
        if too_long is None:
            raise UserError("用法：/合并 12 8（把 #12 并入 #8）")
        raise UserError(f"没有找到工单 #{too_long}。")
    target = ticket_store.get(session=ctx.session, ticket_id=target_number)
    if target is None or target.id is None:
        raise UserError(f"没有找到工单 #{target_number}。")
    if target.id == ticket.id:
        raise UserError("不能把工单并入它自己。")
    if target.grid_code != ticket.grid_code:
        raise UserError(f"#{target.id} 不是同一个网格的工单，不能合并。")
    _must_be_working(ticket, "合并")
    _must_be_working(target, "并入")
    assert ticket.id is not None
    for reporter in ticket_store.reporters(session=ctx.session, ticket_id=ticket.id):
        if ticket_store.add_reporter(
            session=ctx.session,
            ticket_id=target.id,
            contact_id=reporter.contact_id,
            name=reporter.name,
            at=ctx.now,
        ):
            target.same_count += 1
    ticket.merged_into_id = target.id
    ticket.closed_at = ctx.now
    ticket_store.record(
        session=ctx.session,
        ticket=ticket,
        action="merged",
        at=ctx.now,
        actor_id=ctx.event.sender_id,
        to_status=TicketStatus.MERGED,
        note=f"→ #{target.id}",
        message_id=ctx.message_id,
    )
    ticket_store.record(
        session=ctx.session,
        ticket=target,
        action="merged_in",
        at=ctx.now,
        actor_id=ctx.event.sender_id,
        note=f"#{ticket.id} →",
        message_id=ctx.message_id,
    )
    tell_reporters(
        ctx,
        ticket,
        f"工单 #{ticket.id} 已并入 #{target.id} 一并处理，结果会一起告诉您。",
    )
