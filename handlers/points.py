"""Residents' points questions: 积分 (and "我有多少分"), 积分明细, 积分排行, 积分规则.

Balance and history go where config says (``points.replies``): in the group with an
@mention, or privately. In a private chat they cover every grid the asker is a member of.
"""

from __future__ import annotations

import re

from bot.context import Context
from bot.events import MessageType, Outbound
from bot.routing import Router, Scope
from handlers.periods import month_start
from handlers.points_text import entry_line, month_change, rules_text
from handlers.rooms import grid_here
from storage import points, redemption
from storage.models import Member

router = Router("points")

HISTORY_LIMIT = 10
RANKING_LIMIT = 10
NO_RECORD = "您还没有积分记录。"

# Traditional characters some residents type, folded before matching.
_SIMPLIFY = str.maketrans("積幾還個問現總攢嗎麼", "积几还个问现总攒吗么")
_PARTICLES = re.compile(r"[\s,.!?;:~，。！？；：、～呢吗呀啊啦了哈嘛么]+")
_ADVERB = r"(?:现在|目前|一共|总共|还|已经|共|总){0,2}"
_VERB = r"(?:有|剩下|剩|攒|得|拿)?"  # 了 is gone with the particles
_ASKS_BALANCE = re.compile(
    "|".join(
        (
            # 我有多少分 / 我还剩几个积分 / 我现在多少积分
            rf"^我的?{_ADVERB}{_VERB}(?:多少|几)个?(?:积分|分)",
            # 我的积分是多少 / 我积分还有多少
            rf"^我的?积分{_ADVERB}(?:是|有|剩|剩下)?(?:多少|几)",
            # 还有多少积分 (the whole message)
            rf"^{_ADVERB}{_VERB}(?:多少|几)个?积分$",
            # 查一下我的积分 / 帮我看下积分
            r"^(?:请|麻烦|帮我|帮忙)?(?:查|看|问)(?:一?下|询)?(?:我的?)?积分$",
        )
    )
)
_POLITE_START = re.compile(r"^(?:你好|您好|请问|小助手|问一下|问下)+")


def asks_balance(ctx: Context) -> bool:
    """A short question about one's own points, in the words residents use."""
    if ctx.event.type != MessageType.TEXT or (ctx.command is not None and ctx.command.prefixed):
        return False
    text = (ctx.command.word + ctx.command.rest) if ctx.command else ""
    text = _PARTICLES.sub("", text.translate(_SIMPLIFY))
    text = _POLITE_START.sub("", text)
    return 0 < len(text) <= 20 and _ASKS_BALANCE.search(text) is not None


def answer(ctx: Context, text: str) -> None:
    if ctx.settings.points.replies == "private" and not ctx.event.is_private:
        ctx.send(Outbound(text=text, to=ctx.event.sender_id))
    else:
        ctx.reply(text)


def _asker(ctx: Context) -> list[Member]:
    """The asker's membership here, or in a private chat every grid's."""
    sender = ctx.event.sender_id
    if ctx.grid is not None:
        found = points.member(session=ctx.session, grid_code=ctx.grid.code, contact_id=sender)
        return [found] if found else []
    return points.memberships(session=ctx.session, contact_id=sender)


def _ids(members: list[Member]) -> list[int]:
    return [m.id for m in members if m.id is not None]


def balance_text(ctx: Context) -> str:
    members = _asker(ctx)
    if not members:
        return NO_RECORD
    since = month_start(ctx.now, ctx.settings.tz)
    lines = []
    for member in members:
        assert member.id is not None
        balance = points.totals(session=ctx.session, member_id=member.id).balance
        change = points.change_since(session=ctx.session, member_id=member.id, since=since)
        lines.append((member.grid_code, balance, change))
    if len(lines) == 1:
        _, balance, change = lines[0]
        text = f"您现有积分 {balance} 分，{month_change(change)}。"
    else:
        text = "您的积分：\n" + "\n".join(
            f"{_grid_name(ctx, code)} {balance} 分，{month_change(change)}"
            for code, balance, change in lines
        )
    pending = redemption.pending_orders(session=ctx.session, member_ids=_ids(members))
    if pending:
        orders = "、".join(f"{o.item_name}（单号 {o.id}）" for o in pending)
        text += f"\n待领取：{orders}，请到网格长处领取。"
    return text


def _grid_name(ctx: Context, code: str) -> str:
    grid = ctx.settings.grid(code)
    return grid.name if grid else code


@router.command("积分", "我的积分", "查积分", "积分查询", bare=True, summary="查我的积分和本月变动")
async def show_balance(ctx: Context) -> None:
    answer(ctx, balance_text(ctx))


# Above the ticket intake (priority 0), so "我有多少分" is answered, never filed.
@router.message(asks_balance, priority=20)
async def balance_question(ctx: Context) -> None:
    answer(ctx, balance_text(ctx))


@router.command("积分明细", bare=True, summary=f"我最近 {HISTORY_LIMIT} 条积分记录")
async def show_history(ctx: Context) -> None:
    members = _asker(ctx)
    entries = points.history(session=ctx.session, member_ids=_ids(members), limit=HISTORY_LIMIT)
    if not entries:
        answer(ctx, NO_RECORD)
        return
    settings = ctx.settings
    several = len(members) > 1
    lines = [
        entry_line(entry, settings.points, settings.tz)
        + (f"（{_grid_name(ctx, entry.grid_code)}）" if several else "")
        for entry in entries
    ]
    answer(ctx, f"最近 {len(entries)} 条积分记录：\n" + "\n".join(lines))


@router.command(
    "积分排行", bare=True, scope=Scope.GROUP, summary=f"本网格积分前 {RANKING_LIMIT} 名"
)
async def show_ranking(ctx: Context) -> None:
    grid = grid_here(ctx)
    ranked = points.ranking(session=ctx.session, grid_code=grid.code, limit=RANKING_LIMIT)
    if not ranked:
        ctx.reply("本网格还没有人获得积分。")
        return
    lines = [f"{r.rank}. {r.name} {r.points} 分" for r in ranked]
    ctx.reply(f"{grid.name}积分排行（累计获得）：\n" + "\n".join(lines))


@router.command("积分规则", bare=True, summary="怎样加分、扣分")
async def show_rules(ctx: Context) -> None:
    ctx.reply(rules_text(ctx.settings.points, _grid_tags(ctx)))


def _grid_tags(ctx: Context) -> set[str] | None:
    """The tags of the grid here; in a private chat, of every grid the asker is a member or
    a leader of; None (every rule) for an administrator or a stranger there."""
    if ctx.grid is not None:
        return set(ctx.grid.tags)
    sender = ctx.event.sender_id
    if sender in ctx.settings.admins:
        return None
    codes = {m.grid_code for m in points.memberships(session=ctx.session, contact_id=sender)}
    grids = [g for g in ctx.settings.grids if g.code in codes or sender in g.leaders]
    return {tag for grid in grids for tag in grid.tags} if grids else None
