"""`/绑定 <网格编码>`: an administrator makes the group the command is sent in a grid's group.

Groups are normally bound by their topic, the first time the bot sees a message there. This is
for the group whose topic doesn't match the config (renamed before the bot joined, a typo), or
to move a grid to a new group: the grid's previous group, if any, stops being the grid's.
"""

from __future__ import annotations

import logging

from sqlmodel import select

from bot.context import Context
from bot.routing import Role, Router, Scope, UserError
from storage import grids as grid_store
from storage.models import Grid

log = logging.getLogger(__name__)

router = Router("room_binding")

USAGE = "/绑定 <网格编码>"


@router.command(
    "绑定",
    role=Role.ADMIN,
    scope=Scope.GROUP,
    usage=USAGE,
    summary="把本群设为某个网格的网格群",
    unbound_rooms=True,
)
async def bind_room(ctx: Context) -> None:
    event = ctx.event
    assert ctx.command is not None
    if event.room_id is None:
        raise UserError(f"请在要绑定的群里发送 {USAGE}，例如：/绑定 G03")
    argv = ctx.command.argv
    if not argv:
        raise UserError("请写上网格编码，例如：/绑定 G03（发送 /网格列表 查看编码）")
    code = argv[0].strip()
    grid = ctx.settings.grid(code) or next(
        (g for g in ctx.settings.grids if g.code.lower() == code.lower()), None
    )
    if grid is None:
        raise UserError(f"没有编码为 {code[:32]} 的网格，发送 /网格列表 查看。")
    session = ctx.session
    if ctx.grid is not None and ctx.grid.code == grid.code:
        ctx.reply(f"本群已是{grid.name}（{grid.code}）的网格群。")
        return
    # A room belongs to one grid at most (grid.room_id is unique, and a grid dropped from the
    # config keeps its room): free it first.
    for holder in session.exec(select(Grid).where(Grid.room_id == event.room_id)).all():
        holder.room_id = None
        session.add(holder)
    session.flush()
    row = session.get_one(Grid, grid.code)
    previous = row.room_id
    grid_store.bind_room(session=session, grid_code=grid.code, room_id=event.room_id)
    log.info(
        "room %r (%r) bound to grid %s by %s; before: %s",
        event.room_id,
        event.room_topic,
        grid.code,
        event.sender_id,
        previous or "no room",
    )
    moved = "，原来的群不再接收本网格消息" if previous else ""
    ctx.reply(f"已将本群绑定为{grid.name}（{grid.code}）的网格群{moved}。")
