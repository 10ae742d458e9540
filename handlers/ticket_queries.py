"""What residents ask about their tickets, and their rating after 办结 (回访满意度)."""

from __future__ import annotations

import re

from bot.commands import command_text, long_number, parse_ticket_number
from bot.context import Context
from bot.events import MessageType, Outbound
from bot.routing import Role, Router, SkipHandler, UserError
from handlers.ticket_access import leader_ids
from handlers.ticket_format import category_name, line, quoted, status_label, time_limit, when
from nlp.normalize import normalize
from storage import tickets as ticket_store
from storage.models import TicketStatus

router = Router("ticket_queries")

RATING_PRIORITY = 30  # above the ticket intake: "不满意" is an answer, not a new complaint
RATING_WORDS = {"满意": "satisfied", "基本满意": "basic", "不满意": "unsatisfied"}
RATING_DIGITS = {"1": "satisfied", "2": "basic", "3": "unsatisfied"}
# A rating as people write it: 滿意, "满意 谢谢", "非常满意👍", "不太满意 灯还在闪" (normalised:
# simplified, emoji gone). The word comes first; what follows is thanks or the reason.
_RATING = re.compile(
    r"^(?:非常|很|十分|挺|比较|还算|都)?(基本满意|不太满意|不满意|满意)(?P<rest>.*)$"
)
_RATING_OF_WORD = {**RATING_WORDS, "不太满意": "unsatisfied"}
# Past this, a message that starts with 满意 is more than a rating: a ticket's words
RATING_MAX_CHARS = 60
MINE_LIMIT = 10


@router.command("我的工单", bare=True, summary="查看我反映的、还没办完的问题")
async def my_tickets(ctx: Context) -> None:
    grid_code = ctx.grid.code if ctx.grid is not None else None
    statuses = [*ticket_store.ACTIVE, TicketStatus.RESOLVED]
    tickets = ticket_store.of_reporter(
        session=ctx.session, contact_id=ctx.event.sender_id, grid_code=grid_code, statuses=statuses
    )
    if not tickets:
        ctx.reply("您目前没有未办结的工单。")
        return
    lines = [f"您有 {len(tickets)} 件工单在处理："]
    sender = ctx.event.sender_id
    lines += [
        line(t, ctx.settings, ctx.now, reporter=False, text=t.reporter_id == sender)
        for t in tickets[:MINE_LIMIT]
    ]
    ctx.reply("\n".join(lines))


@router.command("查询", bare=True, usage="查询 <工单号>", summary="查看一件工单的进度")
async def show_ticket(ctx: Context) -> None:
    assert ctx.command is not None
    argv = ctx.command.argv
    number = parse_ticket_number(argv[0]) if len(argv) == 1 else None
    if number is None:
        too_long = long_number(argv[0]) if len(argv) == 1 else None
        if too_long is not None:
            raise UserError(f"没有找到您能查看的工单 #{too_long}。")
        raise UserError("请写上工单号，例如：查询 12")
    ticket = ticket_store.get(session=ctx.session, ticket_id=number)
    # Whether a ticket exists is not told to those who may not see it either.
    if ticket is None or not _may_see(ctx, ticket.grid_code, ticket.id):
        raise UserError(f"没有找到您能查看的工单 #{number}。")
    settings = ctx.settings
    parts = [
        f"#{ticket.id} {category_name(settings, ticket.category)}｜{status_label(ticket)}",
        f"反映：{when(ticket.created_at, settings.tz)}",
    ]
    if ticket.status in ticket_store.ACTIVE:
        parts.append(f"截止：{when(ticket.due_at, settings.tz)}")
    if ticket.feedback and ticket.status in (TicketStatus.RESOLVED, TicketStatus.ARCHIVED):
        parts.append(f"处理结果：{quoted(ticket.feedback)}")
    ctx.reply("\n".join(parts))


def _may_see(ctx: Context, grid_code: str, ticket_id: int | None) -> bool:
    """Its reporters, the grid's leaders (in their group, or privately) and administrators."""
    if ctx.role == Role.ADMIN:
        return True
    if ctx.event.sender_id in leader_ids(ctx, grid_code) and (
        ctx.grid is None or ctx.grid.code == grid_code
    ):
        return True
    assert ticket_id is not None
    reporters = ticket_store.reporters(session=ctx.session, ticket_id=ticket_id)
    return any(r.contact_id == ctx.event.sender_id for r in reporters)


def _rating_of(ctx: Context) -> tuple[str, bool] | None:
    """(rating, said in words alone) when the message reads as a rating, else None. Only a
    bare rating word is answered when the sender has nothing to rate: "1" is how people say
    "me too", and "满意 这次修得快" may be about something else."""
    if ctx.event.type != MessageType.TEXT:
        return None
    text = command_text(ctx.event.text).rstrip("。!！~")
    if text in RATING_WORDS:
        return RATING_WORDS[text], True
    if text in RATING_DIGITS:
        return RATING_DIGITS[text], False
    if len(text) > RATING_MAX_CHARS:
        return None
    match = _RATING.match(normalize(text))
    if match is None:
        return None
    return _RATING_OF_WORD[match.group(1)], False


@router.message(lambda ctx: _rating_of(ctx) is not None, priority=RATING_PRIORITY)
async def rate(ctx: Context) -> None:
    found = _rating_of(ctx)
    assert found is not None
    rating, in_words = found
    grid_code = ctx.grid.code if ctx.grid is not None else None
    ticket = ticket_store.awaiting_rating(
        session=ctx.session, contact_id=ctx.event.sender_id, now=ctx.now, grid_code=grid_code
    )
    if ticket is None:
        if not in_words:
            raise SkipHandler  # "1" is how people say "me too" in a group: not for us
        raise UserError("您目前没有待评价的工单。")
    assert ticket.id is not None
    settings = ctx.settings
    ticket.rating = rating
    ticket_store.record(
        session=ctx.session,
        ticket=ticket,
        action="rated",
        at=ctx.now,
        actor_id=ctx.event.sender_id,
        note=rating,
        message_id=ctx.message_id,
    )
    if rating != "unsatisfied":
        ticket.closed_at = ctx.now
        ticket_store.record(
            session=ctx.session,
            ticket=ticket,
            action="archived",
            at=ctx.now,
            actor_id=None,
            to_status=TicketStatus.ARCHIVED,
        )
        ctx.reply(f"感谢您的评价！工单 #{ticket.id} 已归档。")
        return
    ticket.reopen_count += 1
    ticket.resolved_at = None
    ticket.rating_due_at = None
    ticket.reminded_at = None
    ticket.due_at = ctx.now + time_limit(settings, ticket.category, urgent=ticket.urgent)
    reopened = TicketStatus.ASSIGNED if ticket.assignee_id else TicketStatus.OPEN
    ticket_store.record(
        session=ctx.session,
        ticket=ticket,
        action="reopened",
        at=ctx.now,
        actor_id=ctx.event.sender_id,
        to_status=reopened,
        note="居民不满意",
    )
    ctx.reply(f"抱歉没让您满意，工单 #{ticket.id} 已重新打开，网格长会尽快跟进。")
    # A resident's rating is theirs (often given privately): the leaders hear who was
    # unhappy in private, the group never does.
    alert = (
        f"{ticket.reporter_name}对工单 #{ticket.id} 的处理不满意，已重新打开，"
        f"请于{when(ticket.due_at, settings.tz)}前跟进。"
    )
    for leader in leader_ids(ctx, ticket.grid_code):
        ctx.send(Outbound(text=alert, to=leader))
