"""Administrators and the people of a grid's group.

`/成员` lists everyone the bot has seen in a group, with their contact ids: what the config's
`leaders:` and `workers:` are written with. The list is always sent privately: contact ids
are nobody else's business. `/设网格长 @某人` and `/撤网格长 @某人` give and take the leader's
role in the database (member.role), effective at the next message, with no restart; the
leaders the config names stay the config's.

Rights go by contact id: the role goes to the id the @mention carries, never to a name.
"""

from __future__ import annotations

import logging

from bot.context import Context
from bot.events import Outbound
from bot.routing import Role, Router, Scope, UserError
from bot.settings import GridSettings
from domain.members import GroupMember, Standing, group_members
from domain.ticket_format import masked_name, when
from handlers.grid_status import pages_of
from handlers.rooms import grid_here
from handlers.targets import resolve
from storage import grids as grid_store
from storage.models import Member, MemberRole

audit = logging.getLogger("gridbot.audit")

router = Router("members")

MEMBERS_USAGE = "/成员 [网格编码] [页码]"
SET_USAGE = "/设网格长 @某人"
UNSET_USAGE = "/撤网格长 @某人"
HOW = "请在网格群里发送 /成员，名单会私信发给您；或私聊我发送 /成员 <网格编码>，例如：/成员 G03"
NAME_CHARS = 20  # of a display name in the list: one line stays readable on a phone
LABELS = {
    Standing.ADMIN: "街道管理员",
    Standing.LEADER: "网格长（配置）",
    Standing.LEADER_IN_DB: "网格长（/设网格长）",
    Standing.WORKER: "网格员",
    Standing.RESIDENT: "居民",
}


def _tell(ctx: Context, text: str) -> None:
    """Privately, wherever it was asked: the list names everyone's contact id."""
    ctx.send(Outbound(text=text, to=ctx.event.sender_id))


def _name(member: GroupMember) -> str:
    if member.display_name is None:
        return member.config_name or "（未发言）"
    name = " ".join(member.display_name.split()) or "（无昵称）"
    return name if len(name) <= NAME_CHARS else name[: NAME_CHARS - 1] + "…"


def _line(ctx: Context, member: GroupMember) -> str:
    seen = when(member.last_seen, ctx.settings.tz) if member.last_seen else "未在本群发过言"
    return f"{_name(member)}｜{member.contact_id}｜{LABELS[member.standing]}｜{seen}"


def _grid_and_page(ctx: Context) -> tuple[GridSettings | None, str]:
    """The grid asked about (named, else the group's) and the page number as typed."""
    assert ctx.command is not None
    grid, page = ctx.grid, ""
    named = False
    for word in ctx.command.argv:
        found = ctx.settings.grid(word) or next(
            (g for g in ctx.settings.grids if g.code.lower() == word.lower()), None
        )
        if found is not None and not named:
            grid, named = found, True
        elif word.isascii() and word.isdigit() and not page:
            page = word
        else:
            raise UserError(f"没有编码为 {word[:32]} 的网格，发送 /网格列表 查看。")
    return grid, page or "1"


@router.command(
    "成员",
    role=Role.ADMIN,
    usage=MEMBERS_USAGE,
    summary="群成员的昵称和联系人ID（私信发给您）",
)
async def members(ctx: Context) -> None:
    try:
        grid, wanted = _grid_and_page(ctx)
    except UserError as exc:
        _tell(ctx, exc.reply)
        return
    if grid is None:
        _tell(ctx, HOW)
        return
    people = group_members(ctx.session, ctx.settings, grid)
    if not people:
        _tell(ctx, f"{grid.name}（{grid.code}）的群里，我还没见过谁发言。")
        return
    pages = pages_of([_line(ctx, member) for member in people])
    page = int(wanted) if len(wanted) <= 6 else 0
    if not 1 <= page <= len(pages):
        shown = wanted if len(wanted) <= 6 else wanted[:6] + "…"
        _tell(ctx, f"{grid.name}的成员名单共 {len(pages)} 页，没有第 {shown} 页。")
        return
    seen = sum(member.last_seen is not None for member in people)
    head = f"{grid.name}（{grid.code}）：我见过 {seen} 人在群里发言"
    if seen < len(people):
        head += f"，配置里另有 {len(people) - seen} 人还没发过言"
    text = [f"{head}。", "昵称｜联系人ID｜身份｜最后发言", *pages[page - 1]]
    if len(pages) > 1:
        more = f"，发送 /成员 {grid.code} {page + 1} 看下一页" if page < len(pages) else ""
        text.append(f"第 {page}/{len(pages)} 页{more}")
    _tell(ctx, "\n".join(text))


def _said(member: Member) -> str:
    """A member's name as a group reply says it: on one line, numbers in it masked."""
    return masked_name(" ".join(member.display_name.split()))


def _role(ctx: Context, grid: GridSettings, member: Member) -> MemberRole:
    # read now, not from the row the mention was found by: a role is written past the ORM
    return grid_store.member_role(
        session=ctx.session, contact_id=member.contact_id, grid_code=grid.code
    )


@router.command(
    "设网格长",
    role=Role.ADMIN,
    scope=Scope.GROUP,
    usage=SET_USAGE,
    summary="把本群成员设为本网格的网格长（立即生效）",
)
async def make_leader(ctx: Context) -> None:
    grid = grid_here(ctx)
    made: list[str] = []
    said: list[str] = []
    for member in resolve(ctx, usage=SET_USAGE).members:
        contact_id, name = member.contact_id, _said(member)
        if contact_id in ctx.settings.admins:
            said.append(f"{name} 是街道管理员，不用设为网格长。")
        elif contact_id in grid.leaders:
            said.append(f"{name} 已是配置里登记的网格长。")
        elif _role(ctx, grid, member) == MemberRole.LEADER:
            said.append(f"{name} 已是本网格的网格长。")
        else:
            _set_role(ctx, grid.code, contact_id, MemberRole.LEADER, "given to")
            made.append(name)
    head = f"已将 {'、'.join(made)} 设为{grid.name}的网格长，立即生效。" if made else ""
    ctx.reply(head + "".join(said))


@router.command(
    "撤网格长",
    role=Role.ADMIN,
    scope=Scope.GROUP,
    usage=UNSET_USAGE,
    summary="撤销用 /设网格长 设的网格长（立即生效）",
)
async def unmake_leader(ctx: Context) -> None:
    grid = grid_here(ctx)
    taken: list[str] = []
    said: list[str] = []
    for member in resolve(ctx, usage=UNSET_USAGE).members:
        contact_id, name = member.contact_id, _said(member)
        if contact_id in grid.leaders:
            said.append(
                f"{name} 是配置文件里登记的网格长，不能用 /撤网格长 撤销，"
                "请联系信息化人员修改配置。"
            )
        elif _role(ctx, grid, member) != MemberRole.LEADER:
            said.append(f"{name} 不是本网格的网格长。")
        else:
            _set_role(ctx, grid.code, contact_id, MemberRole.RESIDENT, "taken from")
            taken.append(name)
    head = f"已撤销 {'、'.join(taken)} 的网格长身份，立即生效。" if taken else ""
    ctx.reply(head + "".join(said))


def _set_role(ctx: Context, grid_code: str, contact_id: str, role: MemberRole, how: str) -> None:
    """Write the member's role in the grid, and who did it to the audit log."""
    grid_store.set_role(session=ctx.session, contact_id=contact_id, grid_code=grid_code, role=role)
    audit.info(
        "grid leader role in %s %s %s by %s", grid_code, how, contact_id, ctx.event.sender_id
    )
