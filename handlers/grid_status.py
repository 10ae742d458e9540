"""What a leader or an administrator checks first: is the bot in the right groups, and alive."""

from __future__ import annotations

from datetime import datetime, time

from bot.context import Context
from bot.routing import Role, Router, Scope, UserError
from bot.settings import MAX_MESSAGE_CHARS, GridSettings
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


@router.command(
    "网格列表",
    role=Role.ADMIN,
    usage="/网格列表 [页码]",
    summary="所有网格及其群是否已接入",
)
async def grid_list(ctx: Context) -> None:
    assert ctx.command is not None
    bound = {g.code for g in grid_store.active_grids(session=ctx.session) if g.room_id}
    grids = ctx.settings.grids
    # the groups still to be connected first: they are what an administrator acts on
    waiting = [g for g in grids if g.code not in bound]
    lines = [_waiting_line(g) for g in waiting]
    lines += [f"{g.code} {_cut(g.name)}：已接入" for g in grids if g.code in bound]
    pages = pages_of(lines)
    # a number is a page; other words are ignored (`/网格列表 全部` is page 1, as it was)
    wanted = next((a for a in ctx.command.argv if a.isascii() and a.isdigit()), "1")
    page = int(wanted) if len(wanted) <= 6 else 0
    if not 1 <= page <= len(pages):
        shown = wanted if len(wanted) <= 6 else wanted[:6] + "…"
        raise UserError(f"网格列表共 {len(pages)} 页，没有第 {shown} 页。")
    head = f"共 {len(grids)} 个网格，{len(grids) - len(waiting)} 个群已接入"
    head += "。" if not waiting else f"，{len(waiting)} 个群机器人还没见到消息（未接入）。"
    text = [head, *pages[page - 1]]
    if len(pages) > 1:
        more = f"，发送 /网格列表 {page + 1} 看下一页" if page < len(pages) else ""
        text.append(f"第 {page}/{len(pages)} 页{more}")
    ctx.reply("\n".join(text))


NAME_CHARS = 30  # of a grid's name or group topic in the list: a city's list stays readable
PAGE_CHARS = MAX_MESSAGE_CHARS - 150  # the rest of the message: its first and last line


def _cut(text: str) -> str:
    return text if len(text) <= NAME_CHARS else text[: NAME_CHARS - 1] + "…"


def _waiting_line(grid: GridSettings) -> str:
    # the group's topic is what to check: the bot knows a group by it the first time
    room = "" if grid.room == grid.name else f"（群名：{_cut(grid.room)}）"
    return f"{grid.code} {_cut(grid.name)}：未接入{room}"


def pages_of(lines: list[str]) -> list[list[str]]:
    """``lines`` in pages of at most LIST_LIMIT lines, each one message long."""
    pages: list[list[str]] = [[]]
    size = 0
    for line in lines:
        if len(pages[-1]) == LIST_LIMIT or size + len(line) + 1 > PAGE_CHARS:
            pages.append([])
            size = 0
        pages[-1].append(line)
        size += len(line) + 1
    return pages
