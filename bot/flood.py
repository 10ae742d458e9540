"""Anti-flood: per-resident limits on new tickets and on the bot's replies (``limits:``).

One resident must not be able to open a hundred tickets, nor make the bot talk a hundred
times in a row (a bot that talks too much gets muted by the group, and an account that sends
in bursts gets restricted by WeChat). Leaders and administrators are never limited.

Both limits are counted from the database, not in memory, so a restart or a second bot
process on the same database does not reset them:

- tickets: the sender's tickets created in the last 24 hours (``storage.limits``);
- replies: the sender's messages in the window that made the bot say something, read from
  the inbox and the outbox the dispatcher writes anyway. The count is one indexed query, run
  only when a reply to a resident is about to be queued (bench/flood.py measures it).

Over a limit, the resident is told once per window (a ``limit_hit`` row, written with the
refused message, remembers it) and hears nothing more until the window frees up.
"""

from __future__ import annotations

import logging
import math
from datetime import timedelta

from bot.context import Context
from bot.events import Outbound
from bot.routing import Role
from storage import limits as limit_store
from storage.models import LimitKind

audit = logging.getLogger("gridbot.audit")

TICKET_WINDOW = timedelta(hours=24)


def ticket_refusal(limit: int) -> str:
    return f"您24小时内已提交 {limit} 件诉求，这件暂不登记为工单。如有急事，请直接联系网格长。"


def replies_notice(minutes: int) -> str:
    return f"您操作太频繁了，请 {minutes} 分钟后再试。"


def may_open_ticket(ctx: Context, *, urgent: bool) -> bool:
    """Whether the sender may open one more ticket now.

    When not, the refusal is queued the first time in the window and nothing after it; the
    message itself stays in the inbox like every other.
    """
    # A fire or a fall must always get through: an urgent report is never refused. It is
    # still a ticket, so it counts against the ones that follow.
    if urgent or ctx.role >= Role.LEADER:
        return True
    limit = ctx.settings.limits.tickets_per_day
    sender = ctx.event.sender_id
    since = ctx.now - TICKET_WINDOW
    opened = limit_store.tickets_opened_since(session=ctx.session, contact_id=sender, since=since)
    if opened < limit:
        return True
    told = limit_store.last_hit(
        session=ctx.session, contact_id=sender, kind=LimitKind.TICKETS, since=since
    )
    if told is None:
        _hit(ctx, LimitKind.TICKETS, f"{opened} tickets in 24 h (limit {limit})")
        ctx.reply(ticket_refusal(limit))
    return False


def _to_sender(ctx: Context, message: Outbound) -> bool:
    """Whether ``message`` answers the sender where they spoke (what the limit counts);
    alerts to leaders or the escalation room are not answers and always go."""
    event = ctx.event
    if event.is_private:
        return message.to == event.sender_id
    return message.to == event.sender_id or (
        message.to is None and message.room_id == event.room_id
    )


def screen_replies(ctx: Context) -> None:
    """Hold back the replies to a resident who has had their share in the window.

    Called by the dispatcher, in the message's transaction, just before its outgoing
    messages are queued: the one place every reply passes through.
    """
    if ctx.urgent or ctx.role >= Role.LEADER or not ctx.outgoing:
        return
    if not any(_to_sender(ctx, message) for message in ctx.outgoing):
        return
    limits = ctx.settings.limits
    window = timedelta(minutes=limits.reply_window_minutes)
    since = ctx.now - window
    sender = ctx.event.sender_id
    answered = limit_store.answered_since(
        session=ctx.session, contact_id=sender, since=since, limit=limits.replies
    )
    if len(answered) < limits.replies:
        return
    ctx.outgoing = [message for message in ctx.outgoing if not _to_sender(ctx, message)]
    told = limit_store.last_hit(
        session=ctx.session, contact_id=sender, kind=LimitKind.REPLIES, since=since
    )
    if told is not None:
        return
    # The count drops below the limit when the oldest of the newest `replies` leaves it.
    frees_at = answered[-1] + window
    minutes = max(1, math.ceil((frees_at - ctx.now).total_seconds() / 60))
    _hit(ctx, LimitKind.REPLIES, f"{len(answered)} replies in {limits.reply_window_minutes} min")
    ctx.reply(replies_notice(minutes))


def _hit(ctx: Context, kind: LimitKind, what: str) -> None:
    limit_store.record_hit(
        session=ctx.session,
        contact_id=ctx.event.sender_id,
        kind=kind,
        at=ctx.now,
        message_id=ctx.message_id,
    )
    # Once per window (the hit row above says so), with the contact id and never the text.
    audit.warning(
        "anti-flood: %s over the %s limit (%s) in %s; held back until the window frees up",
        ctx.event.sender_id,
        kind.value,
        what,
        ctx.grid.code if ctx.grid else "private",
    )
