"""受理 by a leader: a resident's request the bot let pass becomes a ticket all the same.

`/受理 [类别]` sent as a quoted reply (WeChat's 引用) to the resident's message, or
`/补录 @居民 [类别] 内容` for what a resident said elsewhere (on the phone, at the door).
The ticket is opened as the resident's own message would have opened it (handlers/tickets.py)
and the group hears the same reply, @mentioning the resident. Each is also kept, masked, as a
labelled example for the classifier to learn from (storage/examples.py): what it missed.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from bot.context import Context
from bot.events import Quote
from bot.routing import Role, Router, Scope, UserError
from bot.settings import GridSettings
from handlers.rooms import grid_here
from handlers.targets import resolve
from handlers.ticket_format import category_code, unknown_category
from handlers.tickets import REQUEST_MAX_CHARS, Report, open_for
from nlp.classifier import Classification
from storage import examples, inbox
from storage import grids as grid_store
from storage import tickets as ticket_store
from storage.models import ExampleSource, InboundMessage, MemberRole

log = logging.getLogger(__name__)

router = Router("ticket_filing")

ACCEPT_USAGE = "/受理 [类别]"
BACKFILL_USAGE = "/补录 @居民 [类别] 内容"
# How far back a quoted message is looked for: a request a week old is still worth taking,
# one older is better asked again.
QUOTE_WINDOW = timedelta(days=7)
NO_QUOTE = "请长按居民的那条消息，选「引用」，再发 /受理 [类别]，例如：/受理 设施报修"
NOT_FOUND = "没有找到被引用的消息：只能受理本群 7 天内居民发的文字消息。"
BACKFILL_EXAMPLE = "/补录 @张阿姨 设施报修 3栋路灯坏了"
BACKFILL_HOW = f"用法：{BACKFILL_USAGE}，例如：{BACKFILL_EXAMPLE}"


def _is_staff(ctx: Context, grid: GridSettings, contact_id: str) -> bool:
    """Whether ``contact_id`` speaks for the grid (whose words open no ticket there)."""
    if contact_id in {*grid.leaders, *grid.workers, *ctx.settings.admins}:
        return True
    role = grid_store.member_role(session=ctx.session, contact_id=contact_id, grid_code=grid.code)
    return role == MemberRole.LEADER


def _words(text: str) -> str:
    return " ".join(text.split())


def _quotes(quote: str, text: str) -> bool:
    """Whether a quote's text is ``text``: the same words, whatever the spacing; a quote cut
    short with an ellipsis (should a gateway cut long ones) names the message it starts."""
    quoted, said = _words(quote), _words(text)
    if quoted == said:
        return True
    for ellipsis in ("…", "..."):
        start = quoted.removesuffix(ellipsis)
        if start != quoted and len(start) >= 10 and said.startswith(start):
            return True
    return False


def _quoted_message(ctx: Context, grid: GridSettings, quote: Quote) -> InboundMessage | None:
    """The grid group's message the quote is of: the latest of the last week with its words,
    by its sender (named by id where the channel knows it, else by their name in the group:
    a WeChat quote gives only the display name)."""
    if quote.sender_id is not None:
        senders = [quote.sender_id]
    else:
        named = grid_store.members_named(session=ctx.session, grid_code=grid.code, name=quote.name)
        senders = [contact_id for contact_id, _role in named]
    candidates = inbox.recent_texts(
        session=ctx.session,
        grid_code=grid.code,
        sender_ids=senders,
        since=ctx.now - QUOTE_WINDOW,
    )
    return next(
        (m for m in candidates if m.id != ctx.message_id and _quotes(quote.text, m.text)), None
    )


def _category(ctx: Context, word: str) -> str | None:
    """The category a leader typed; None when none was."""
    if not word:
        return None
    code = category_code(ctx.settings, word)
    if code is None:
        raise UserError(unknown_category(ctx.settings, word))
    return code


def _file(
    ctx: Context, grid: GridSettings, report: Report, code: str | None, source: ExampleSource
) -> None:
    """Open the ticket for ``report`` and keep it as an example; the category the leader
    gave, else the classifier's reading of the words."""
    if len(report.text) > REQUEST_MAX_CHARS:
        raise UserError(
            f"诉求最长 {REQUEST_MAX_CHARS} 字，这条有 {len(report.text)} 字，没有登记，"
            "请精简后用 /补录 登记。"
        )
    read = ctx.services.classifier.classify(report.text)
    category = code or read.category
    if category is None:
        example = "/受理 设施报修" if source == ExampleSource.ACCEPT else BACKFILL_EXAMPLE
        raise UserError(f"请写上类别，例如：{example}")
    # Urgency stays the bot's to find: a leader filing a request files an ordinary one
    # (one who sees an emergency calls for help and can /上报 it).
    result = Classification(
        is_request=True,
        category=category,
        urgent=False,
        confidence=1.0 if code else read.confidence,
        keywords=read.keywords,
    )
    ticket = open_for(ctx, report, result)
    if ticket is None:
        return
    assert ticket.id is not None
    ticket_store.record(
        session=ctx.session,
        ticket=ticket,
        action="filed",
        at=ctx.now,
        actor_id=ctx.event.sender_id,
        note=source.value,
        message_id=ctx.message_id,
    )
    examples.add(
        session=ctx.session,
        text=report.text,
        is_request=True,
        category=category,
        source=source,
        grid_code=grid.code,
        contact_id=ctx.event.sender_id,
        at=ctx.now,
        ticket_id=ticket.id,
    )
    log.info(
        "ticket #%s filed by %s in %s (/%s) for %s",
        ticket.id,
        ctx.event.sender_id,
        grid.code,
        source.value,
        report.contact_id,
    )


@router.command(
    "受理",
    role=Role.LEADER,
    scope=Scope.GROUP,
    usage=ACCEPT_USAGE,
    summary="把机器人漏登的居民消息登记为工单（引用该消息发送）",
)
async def accept(ctx: Context) -> None:
    grid = grid_here(ctx)
    assert ctx.command is not None
    quote = ctx.event.quote
    if quote is None or not quote.text.strip():
        raise UserError(NO_QUOTE)
    code = _category(ctx, ctx.command.args)
    message = _quoted_message(ctx, grid, quote)
    if message is None or message.id is None:
        raise UserError(NOT_FOUND)
    if _is_staff(ctx, grid, message.sender_id):
        raise UserError("只能受理居民的消息。")
    number = ticket_store.ticket_of_message(session=ctx.session, message_id=message.id)
    if number is not None:
        raise UserError(f"这条消息已经登记在工单 #{number}，不再重复登记。")
    report = Report(message.sender_id, message.sender_name, message.text, message.id)
    _file(ctx, grid, report, code, ExampleSource.ACCEPT)


@router.command(
    "补录",
    role=Role.LEADER,
    scope=Scope.GROUP,
    usage=BACKFILL_USAGE,
    summary="替居民登记一件诉求",
)
async def backfill(ctx: Context) -> None:
    grid = grid_here(ctx)
    targets = resolve(ctx, usage=BACKFILL_USAGE)
    if len(targets.members) > 1:
        raise UserError("一次只能为一位居民补录。")
    [member] = targets.members
    if _is_staff(ctx, grid, member.contact_id):
        raise UserError("只能为居民补录。")
    word, _, rest = targets.rest.partition(" ")
    code = category_code(ctx.settings, word)
    text = rest.strip() if code is not None else targets.rest
    if not text:
        raise UserError(BACKFILL_HOW)
    report = Report(member.contact_id, member.display_name, text, ctx.message_id)
    _file(ctx, grid, report, code, ExampleSource.BACKFILL)
