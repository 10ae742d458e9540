"""`/帮助`: what the sender may do here; and the pointer to it for a mistyped command."""

from __future__ import annotations

from bot.context import Context
from bot.routing import CommandSpec, Role, Router, Scope

router = Router("help")

# What residents most need to know, and no command says: a problem is just told in the group.
REPORT_HINT = "反映问题不用命令：直接在群里说清楚在哪、什么事，我会登记并跟进。"

_SECTIONS = {
    Role.RESIDENT: "可用命令：",
    Role.LEADER: "网格长命令：",
    Role.ADMIN: "管理员命令：",
}


def _usable_here(spec: CommandSpec, ctx: Context) -> bool:
    if spec.role > ctx.role:
        return False
    if spec.scope == Scope.GROUP:
        return ctx.grid is not None or ctx.role == Role.ADMIN
    if spec.scope == Scope.PRIVATE:
        return ctx.event.is_private
    return True


def help_text(ctx: Context) -> str:
    lines: list[str] = []
    for role, title in _SECTIONS.items():
        specs = [s for s in ctx.commands if s.role == role and _usable_here(s, ctx)]
        if not specs:
            continue
        lines.append(title)
        lines += [f"{spec.usage}　{spec.summary}" for spec in specs]
    if ctx.role >= Role.LEADER and ctx.grid is None:
        lines.append("（网格长命令请在本网格群里使用）")
    if ctx.role == Role.RESIDENT:
        lines.append(REPORT_HINT)
    return "\n".join(lines)


@router.command("帮助", bare=True, summary="查看我能做什么")
async def show_help(ctx: Context) -> None:
    ctx.reply(help_text(ctx))


def _unknown_command(ctx: Context) -> bool:
    call = ctx.command
    return call is not None and call.prefixed and call.slash and not call.name


# Above the natural-language handlers, so a mistyped command is never taken for a request.
@router.message(_unknown_command, priority=50)
async def unknown_command(ctx: Context) -> None:
    assert ctx.command is not None
    ctx.reply(f"没有「/{ctx.command.word[:20]}」这个命令，发送 /帮助 查看可用命令。")
