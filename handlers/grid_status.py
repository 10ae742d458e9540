"""What a leader or an administrator checks first: is the bot in the right groups, and alive."""

from __future__ import annotations

from datetime import datetime, time

from bot.context import Context
from bot.routing import Role, Router, Scope
from handlers.rooms import grid_here
from storage import grids as grid_store
from storage import inbox

router = Router("grid_status")

LIST_LIMIT = 20  # one WeChat message, readable on a phone


def _start_of_day(now: datetime) -> datetime:
    return datetime.combine(now.date(), time.min, tzinfo=now.tzinfo)


@router.command("状态", role=Role.LEADER, scope=Scope.GROUP, summary="本网格群的登记情况")
async def grid_status(ctx: Context) -> None:
    grid = grid_here(ctx)
    members = grid_store.member_count(session=ctx.session, grid_code=grid.code)
    today = inbox.count_in_grid_since(
        session=ctx.session, grid_code=grid.code, since=_start_of_day(ctx.now)
    )
    ctx.reply(f"{grid.name}（{grid.code}）：已登记群成员 {members} 人，今日收到消息 {today} 条。")


@router.command("网格列表", role=Role.ADMIN, summary="所有网格及其群是否已接入")
async def grid_list(ctx: Context) -> None:
    bound = {g.code for g in grid_store.active_grids(session=ctx.session) if g.room_id}
    grids = ctx.settings.grids
    waiting = [g for g in grids if g.code not in bound]
    lines = [f"共 {len(grids)} 个网格，{len(grids) - len(waiting)} 个群已接入。"]
    if waiting:
        lines.append("尚未见到群消息：")
        lines += [f"{g.code} {g.name}（群名：{g.room}）" for g in waiting[:LIST_LIMIT]]
        if len(waiting) > LIST_LIMIT:
            lines.append(f"……另有 {len(waiting) - LIST_LIMIT} 个")
    ctx.reply("\n".join(lines))
