"""积分兑换: residents see the catalogue and place orders; leaders 核销 (hand over) or 退回
(refund) them, through domain/points.py (the web console's 核销 button is the same code).

An order holds its points at once, so a balance never counts points already promised; the
debit is conditional in the database, so two orders racing can't overdraw. Stock is per grid
and month (the monthly exchange of the seeds).
"""

from __future__ import annotations

import logging
import re

from bot.commands import long_number
from bot.context import Context
from bot.routing import Role, Router, Scope, UserError
from domain import points as domain_points
from handlers.acting import actor_of, replies_to_refusals
from handlers.periods import month_key
from handlers.rooms import grid_here
from storage import points, redemption

log = logging.getLogger(__name__)

router = Router("redemption")

_ORDER_NUMBER = re.compile(r"^#?(\d{1,9})$")
LIST_HINT = "发送「兑换列表」查看可兑换的物品。"


def _order_number(ctx: Context, usage: str) -> int:
    assert ctx.command is not None
    argv = ctx.command.argv
    if not argv:
        raise UserError(f"请写明单号，用法：{usage}")
    match = _ORDER_NUMBER.match(argv[0])
    if match is None:
        too_long = long_number(argv[0])
        if too_long is not None:
            raise UserError(f"没有单号 {too_long} 的兑换单。")
        raise UserError(f"单号要是数字，例如：/{ctx.command.name} 12。")
    return int(match.group(1))


@router.command("兑换列表", bare=True, summary="可以用积分兑换的物品")
async def catalogue(ctx: Context) -> None:
    items = ctx.settings.points.catalogue
    if not items:
        ctx.reply("本地还没有设置兑换物品。")
        return
    taken: dict[str, int] = {}
    if ctx.grid is not None:
        period = month_key(ctx.now, ctx.settings.tz)
        taken = redemption.taken(session=ctx.session, grid_code=ctx.grid.code, period=period)
    lines = []
    for code, item in items.items():
        if item.stock is None:
            left = ""
        elif ctx.grid is None:
            left = f"（每月 {item.stock} 件）"
        else:
            remaining = max(item.stock - taken.get(code, 0), 0)
            left = f"（本月剩 {remaining} 件）" if remaining else "（本月已兑完）"
        lines.append(f"{item.name} {item.points} 分{left}")
    lines.append("发送「兑换 物品名」兑换，到网格长处领取。")
    ctx.reply("可兑换物品：\n" + "\n".join(lines))


@router.command("兑换", bare=True, scope=Scope.GROUP, usage="兑换 <物品>", summary="用积分兑换物品")
async def place(ctx: Context) -> None:
    grid = grid_here(ctx)
    assert ctx.command is not None
    word = ctx.command.args.strip()
    if not word:
        raise UserError(f"请写要兑换的物品，例如：兑换 肥皂。{LIST_HINT}")
    found = ctx.settings.points.item(word)
    if found is None:
        shown = word if len(word) <= 20 else word[:20] + "…"
        raise UserError(f"没有「{shown}」这个兑换物品，{LIST_HINT}")
    code, item = found
    member = points.member(session=ctx.session, grid_code=grid.code, contact_id=ctx.event.sender_id)
    assert member is not None  # the dispatcher records everyone who speaks in a grid's group
    assert member.id is not None
    try:
        order, balance = redemption.place_order(
            session=ctx.session,
            grid_code=grid.code,
            member_id=member.id,
            item_code=code,
            item_name=item.name,
            points_needed=item.points,
            stock=item.stock,
            period=month_key(ctx.now, ctx.settings.tz),
            at=ctx.now,
            message_id=ctx.message_id,
        )
    except points.Overdrawn as exc:
        has = _balance(ctx, exc.balance, "您现有")
        raise UserError(f"积分不够：兑换「{item.name}」需要 {item.points} 分{has}。") from None
    except redemption.OutOfStock:
        raise UserError(f"「{item.name}」本月已兑完，下月再来。") from None
    log.info(
        "order %s: %s in %s redeems %s for %d points",
        order.id,
        member.contact_id,
        grid.code,
        code,
        item.points,
    )
    ctx.reply(
        f"已为您预留「{item.name}」，扣除 {item.points} 分{_balance(ctx, balance)}。"
        f"单号 {order.id}，请到网格长处领取。"
    )


def _balance(ctx: Context, balance: int, lead: str = "现有") -> str:
    """ "，现有 N 分", unless config keeps balances out of the group (``points.replies``)."""
    if ctx.settings.points.replies == "private" and not ctx.event.is_private:
        return ""
    return f"，{lead} {balance} 分"


@router.command(
    "核销",
    role=Role.LEADER,
    scope=Scope.GROUP,
    usage="/核销 <单号>",
    summary="居民领走兑换物品后核销",
)
@replies_to_refusals
async def confirm(ctx: Context) -> None:
    grid = grid_here(ctx)
    number = _order_number(ctx, "/核销 <单号>")
    closed = domain_points.redeem(
        ctx.session, ctx.settings, actor_of(ctx), number, now=ctx.now, in_grid=grid.code
    )
    log.info("order %d confirmed in %s by %s", number, grid.code, ctx.event.sender_id)
    for message in closed.messages:
        ctx.send(message)


@router.command(
    "退回",
    role=Role.LEADER,
    scope=Scope.GROUP,
    usage="/退回 <单号> [理由]",
    summary="取消兑换，积分退还居民",
)
@replies_to_refusals
async def refund(ctx: Context) -> None:
    grid = grid_here(ctx)
    assert ctx.command is not None
    number = _order_number(ctx, "/退回 <单号> [理由]")
    closed = domain_points.refund(
        ctx.session,
        ctx.settings,
        actor_of(ctx),
        number,
        reason=" ".join(ctx.command.argv[1:]),
        now=ctx.now,
        message_id=ctx.message_id,
        in_grid=grid.code,
    )
    log.info(
        "order %d refunded in %s by %s: %d points back to %s (balance %d)",
        number,
        grid.code,
        ctx.event.sender_id,
        closed.order.points,
        closed.owner.contact_id,
        closed.balance,
    )
    for message in closed.messages:
        ctx.send(message)
