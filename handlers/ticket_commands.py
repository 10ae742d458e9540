"""处置 → 反馈 → 上报: the grid leader's commands on tickets, the chat face of domain/tickets.py.

Each command reads its arguments, asks the domain (which checks rights and the ticket's
stage, writes the ticket and its audit trail, and says what to tell whom), then queues the
domain's messages and replies. Refusals are the domain's (handlers/acting.py maps them).
The chat's own words here are about what was typed: a missing number, mention or text.
"""

from __future__ import annotations

from bot.commands import long_number, parse_ticket_number
from bot.context import Context
from bot.events import Outbound
from bot.routing import Role, Router, Scope, UserError
from domain import tickets
from domain.tickets import Action, Outcome
from handlers.acting import actor_of, replies_to_refusals
from handlers.ticket_access import grid_code_here, rest_text, ticket_number, typed_text
from handlers.ticket_format import line
from storage import tickets as ticket_store

router = Router("ticket_commands")


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
@replies_to_refusals
async def assign(ctx: Context) -> None:
    number, _ = ticket_number(ctx, "/派单 12 @王师傅")
    actor = actor_of(ctx)
    here = grid_code_here(ctx)
    tickets.check(ctx.session, actor, number, Action.ASSIGN, in_grid=here)
    mentions = list(dict.fromkeys(ctx.event.mentions))
    if not mentions:
        raise UserError("请在命令里 @ 处理人（用微信的 @ 选人），例如：/派单 12 @王师傅")
    if len(mentions) > 1:
        raise UserError("一次只能派给一位处理人。")
    outcome = tickets.assign(
        ctx.session,
        ctx.settings,
        actor,
        number,
        mentions[0],
        now=ctx.now,
        assignee_name=_typed_name(rest_text(ctx)),
        message_id=ctx.message_id,
        in_grid=here,
    )
    _send(ctx, outcome)


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
@replies_to_refusals
async def resolve(ctx: Context) -> None:
    number, _ = ticket_number(ctx, "/办结 12 路灯已修好")
    actor = actor_of(ctx)
    here = grid_code_here(ctx)
    tickets.check(ctx.session, actor, number, Action.RESOLVE, in_grid=here)
    feedback = typed_text(ctx, "处理结果", "/办结 12 路灯已修好")
    outcome = tickets.resolve(
        ctx.session,
        ctx.settings,
        actor,
        number,
        feedback,
        now=ctx.now,
        message_id=ctx.message_id,
        in_grid=here,
    )
    _send(ctx, outcome)


@router.command(
    "上报",
    role=Role.LEADER,
    scope=Scope.GROUP,
    usage="/上报 <工单号> <原因>",
    summary="上报社区指挥中心",
)
@replies_to_refusals
async def escalate(ctx: Context) -> None:
    number, _ = ticket_number(ctx, "/上报 12 需要供电所处理")
    actor = actor_of(ctx)
    here = grid_code_here(ctx)
    tickets.check(ctx.session, actor, number, Action.ESCALATE, in_grid=here)
    reason = typed_text(ctx, "上报原因", "/上报 12 需要供电所处理")
    outcome = tickets.escalate(
        ctx.session,
        ctx.settings,
        actor,
        number,
        reason,
        now=ctx.now,
        # the escalation room reads the name the leader goes by where they wrote it
        actor_name=ctx.event.sender_name,
        message_id=ctx.message_id,
        in_grid=here,
    )
    _send(ctx, outcome)


@router.command(
    "驳回",
    role=Role.LEADER,
    scope=Scope.GROUP,
    usage="/驳回 <工单号> <原因>",
    summary="不予受理并说明原因",
)
@replies_to_refusals
async def dismiss(ctx: Context) -> None:
    number, _ = ticket_number(ctx, "/驳回 12 不属于本网格事务")
    actor = actor_of(ctx)
    here = grid_code_here(ctx)
    tickets.check(ctx.session, actor, number, Action.DISMISS, in_grid=here)
    reason = typed_text(ctx, "驳回原因", "/驳回 12 不属于本网格事务")
    outcome = tickets.dismiss(
        ctx.session,
        ctx.settings,
        actor,
        number,
        reason,
        now=ctx.now,
        message_id=ctx.message_id,
        in_grid=here,
    )
    _send(ctx, outcome)


@router.command(
    "改类",
    role=Role.LEADER,
    scope=Scope.GROUP,
    usage="/改类 <工单号> <类别>",
    summary="更正工单类别",
)
@replies_to_refusals
async def reclassify(ctx: Context) -> None:
    number, rest = ticket_number(ctx, "/改类 12 环境卫生")
    outcome = tickets.reclassify(
        ctx.session,
        ctx.settings,
        actor_of(ctx),
        number,
        " ".join(rest),
        now=ctx.now,
        message_id=ctx.message_id,
        in_grid=grid_code_here(ctx),
    )
    # nobody else is told: the leader's answer is the only word of it
    _send(ctx, outcome, confirm=True)


@router.command(
    "合并",
    role=Role.LEADER,
    scope=Scope.GROUP,
    usage="/合并 <工单号> <并入的工单号>",
    summary="把重复的工单并入另一件",
)
@replies_to_refusals
async def merge(ctx: Context) -> None:
    number, rest = ticket_number(ctx, "/合并 12 8")
    actor = actor_of(ctx)
    here = grid_code_here(ctx)
    tickets.find(ctx.session, actor, number, in_grid=here)
    if len(rest) != 1:
        raise UserError("用法：/合并 12 8（把 #12 并入 #8）")
    # parse_ticket_number bounds it: a 20-digit id overflows the database's integer.
    target = parse_ticket_number(rest[0])
    if target is None:
        too_long = long_number(rest[0])
        if too_long is None:
            raise UserError("用法：/合并 12 8（把 #12 并入 #8）")
        raise UserError(f"没有找到工单 #{too_long}。")
    outcome = tickets.merge(
        ctx.session,
        ctx.settings,
        actor,
        number,
        target,
        now=ctx.now,
        message_id=ctx.message_id,
        in_grid=here,
    )
    # The reporters' message is not the leader's answer: a merge done privately, or of a
    # ticket whose reporters the leader doesn't know, would go unconfirmed.
    _send(ctx, outcome, confirm=True)


def _send(ctx: Context, outcome: Outcome, *, confirm: bool = False) -> None:
    """Queue what the domain says to tell. ``confirm``: also answer the leader; the other
    commands' group message, which the leader sees, is their answer."""
    for message in outcome.messages:
        ctx.send(message)
    if confirm:
        ctx.reply(outcome.confirmation)
