"""Reading the ticket number a command names and the text after it, and the chat's forms of
the domain's addressing (domain/grids.py) for handlers that have a Context."""

from __future__ import annotations

from bot.commands import long_number, parse_ticket_number
from bot.context import Context
from bot.events import Outbound
from bot.routing import UserError
from domain import grids as grid_addressing


def ticket_number(ctx: Context, usage: str) -> tuple[int, list[str]]:
    """The ticket number the command's first argument is, and the remaining arguments.
    Whether there is such a ticket, and whether the sender may name it here, is the
    domain's to say (domain.tickets.find)."""
    assert ctx.command is not None
    argv = ctx.command.argv
    number = parse_ticket_number(argv[0]) if argv else None
    if number is None:
        too_long = long_number(argv[0]) if argv else None
        if too_long is not None:
            raise UserError(f"没有找到工单 #{too_long}。")
        raise UserError(f"请写上工单号，例如：{usage}")
    return number, argv[1:]


def grid_code_here(ctx: Context) -> str | None:
    """The grid whose group the message is in (its tickets are the only ones named there),
    None in a private chat."""
    return ctx.grid.code if ctx.grid is not None else None


def rest_text(ctx: Context) -> str:
    """The command's text after its first argument (a ticket number), as typed."""
    assert ctx.command is not None
    parts = ctx.command.args.split(maxsplit=1)
    return parts[1].strip() if len(parts) > 1 else ""


def typed_text(ctx: Context, what: str, example: str) -> str:
    """What the leader wrote after the ticket number, for the bot to repeat into a group;
    asked for with an example when missing. (How long it may be is the domain's rule.)"""
    text = rest_text(ctx)
    if not text:
        raise UserError(f"请写上{what}，例如：{example}")
    return text


def escalation_room(ctx: Context, text: str) -> Outbound | None:
    return grid_addressing.to_escalation_room(ctx.settings, text)


def leader_ids(ctx: Context, grid_code: str) -> tuple[str, ...]:
    """The grid's leaders, the config's and the database's (domain.grids.leader_ids)."""
    return grid_addressing.leader_ids(ctx.session, ctx.settings, grid_code)


def leader_title(ctx: Context, grid_code: str) -> str:
    """`网格长李明` (domain.grids.leader_title)."""
    return grid_addressing.leader_title(ctx.session, ctx.settings, grid_code)
