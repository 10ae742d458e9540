"""Finding the ticket a command names, and who hears about it."""

from __future__ import annotations

from sqlmodel import col, select

from bot.commands import long_number, parse_ticket_number
from bot.context import Context
from bot.events import Outbound
from bot.routing import UserError
from bot.settings import MAX_MESSAGE_CHARS
from handlers.rooms import to_escalation_room, to_grid
from handlers.ticket_format import masked_name
from storage import grids as grid_store
from storage import tickets as ticket_store
from storage.models import Member, Ticket


def ticket_from_args(ctx: Context, usage: str) -> tuple[Ticket, list[str]]:
    """The ticket named by the command's first argument, and the remaining arguments.

    In a grid's group only that grid's tickets can be named; administrators elsewhere may
    name any.
    """
    assert ctx.command is not None
    argv = ctx.command.argv
    number = parse_ticket_number(argv[0]) if argv else None
    if number is None:
        too_long = long_number(argv[0]) if argv else None
        if too_long is not None:
            raise UserError(f"没有找到工单 #{too_long}。")
        raise UserError(f"请写上工单号，例如：{usage}")
    ticket = ticket_store.get(session=ctx.session, ticket_id=number)
    if ticket is None:
        raise UserError(f"没有找到工单 #{number}。")
    if ctx.grid is not None and ticket.grid_code != ctx.grid.code:
        raise UserError(f"#{number} 不是本网格的工单。")
    return ticket, argv[1:]


def rest_text(ctx: Context) -> str:
    """The command's text after its first argument (a ticket number), as typed."""
    assert ctx.command is not None
    parts = ctx.command.args.split(maxsplit=1)
    return parts[1].strip() if len(parts) > 1 else ""


def typed_text(ctx: Context, what: str, example: str) -> str:
    """What the leader wrote after the ticket number, for the bot to repeat into a group.

    Over the limit every notice has, it is refused rather than cut: a result or reason cut
    short says something else. The caller masks it where it is repeated; the ticket keeps it
    as written.
    """
    text = rest_text(ctx)
    if not text:
        raise UserError(f"请写上{what}，例如：{example}")
    if len(text) > MAX_MESSAGE_CHARS:
        raise UserError(
            f"{what}最长 {MAX_MESSAGE_CHARS} 字，这条有 {len(text)} 字，工单没有改动，"
            "请精简后再发。"
        )
    return text


def grid_room(ctx: Context, grid_code: str, text: str, mentions: tuple[str, ...] = ()) -> Outbound:
    return to_grid(ctx.session, ctx.settings, grid_code, text, mentions)


def escalation_room(ctx: Context, text: str) -> Outbound | None:
    return to_escalation_room(ctx.settings, text)


def display_name(ctx: Context, contact_id: str, grid_code: str) -> str | None:
    return grid_store.display_name(session=ctx.session, contact_id=contact_id, grid_code=grid_code)


def leader_ids(ctx: Context, grid_code: str) -> tuple[str, ...]:
    grid = ctx.settings.grid(grid_code)
    return tuple(grid.leaders) if grid is not None else ()


def leader_title(ctx: Context, grid_code: str) -> str:
    """`网格长李网格长`, or `本网格网格长` when the leader hasn't spoken in the group yet."""
    for contact_id in leader_ids(ctx, grid_code):
        name = display_name(ctx, contact_id, grid_code)
        if name:
            return f"网格长{masked_name(name)}"
    return "本网格网格长"


def tell_reporters(ctx: Context, ticket: Ticket, text: str) -> None:
    """Send ``text`` to the ticket's grid group, @mentioning everyone who reported it."""
    ctx.send(grid_room(ctx, ticket.grid_code, text, reporter_ids(ctx, ticket)))


def reporter_ids(ctx: Context, ticket: Ticket) -> tuple[str, ...]:
    assert ticket.id is not None
    return tuple(
        r.contact_id for r in ticket_store.reporters(session=ctx.session, ticket_id=ticket.id)
    )


def names_of(ctx: Context, grid_code: str, contact_ids: list[str]) -> dict[str, str]:
    rows = ctx.session.exec(
        select(Member.contact_id, Member.display_name).where(
            Member.grid_code == grid_code, col(Member.contact_id).in_(contact_ids)
        )
    ).all()
    return dict(rows)
