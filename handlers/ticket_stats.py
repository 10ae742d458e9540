"""/统计: the figures the street office reads — 办结率, on time, satisfaction — in a group or
privately. The figures and their definitions are domain/ticket_stats.py's, the same as the web
console's 统计 page: here they are only asked for and worded.
"""

from __future__ import annotations

from datetime import timedelta

from bot.context import Context
from bot.routing import Role, Router, Scope, UserError
from domain.ticket_stats import Figures, percent, period_start, report
from handlers.acting import actor_of, replies_to_refusals
from handlers.ticket_format import category_name

router = Router("ticket_stats")

GRID_LINES = 20


@router.command(
    "统计",
    role=Role.LEADER,
    scope=Scope.GROUP,
    usage="/统计 [本周|本月]",
    summary="工单统计：办结率、按时率、满意率",
)
@replies_to_refusals
async def statistics(ctx: Context) -> None:
    assert ctx.command is not None
    option = ctx.command.args
    if option not in ("", "本周", "本月"):
        raise UserError("用法：/统计、/统计 本周 或 /统计 本月")
    start, label = period_start(ctx.now, option)
    found = report(
        ctx.session,
        ctx.settings,
        actor_of(ctx),
        start,
        ctx.now + timedelta(microseconds=1),
        grid=ctx.grid.code if ctx.grid is not None else None,
    )
    span = f"{start:%m-%d} 至 {ctx.now:%m-%d}"
    if ctx.grid is not None:
        title = f"{ctx.grid.name}{label}工单统计（{span}）："
        ctx.reply("\n".join([title, *_report(ctx, found.total)]))
        return
    lines = [f"全部网格{label}工单统计（{span}）：", *_report(ctx, found.total)]
    ranked = sorted(found.grids.items(), key=lambda item: -item[1].accepted)
    for code, f in ranked[:GRID_LINES]:
        rates = f"办结率 {percent(f.done_rate)}，满意率 {percent(f.satisfaction)}"
        lines.append(f"{code}：受理 {f.accepted}，{rates}")
    if len(ranked) > GRID_LINES:
        lines.append(f"……另有 {len(ranked) - GRID_LINES} 个网格")
    ctx.reply("\n".join(lines))


def _report(ctx: Context, f: Figures) -> list[str]:
    if not f.accepted:
        return ["这段时间没有受理工单。"]
    hours = "—" if f.hours_to_resolve is None else f"{f.hours_to_resolve:.1f} 小时"
    kinds = "、".join(
        f"{category_name(ctx.settings, code)} {n}" for code, n in f.by_category.most_common()
    )
    return [
        f"受理 {f.accepted} 件：已办结 {f.done}，处理中 {f.working}，已驳回 {f.dismissed}",
        f"办结率 {percent(f.done_rate)}，按时办结率 {percent(f.on_time_rate)}，"
        f"平均办结用时 {hours}",
        f"满意率 {percent(f.satisfaction)}（已评价 {f.rated} 件）",
        f"分类：{kinds}",
    ]
