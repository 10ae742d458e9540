"""Anti-flood: per-person limits on new tickets and on the bot's replies (``limits:``).

One resident must not be able to open a hundred tickets, nor make the bot talk a hundred
times in a row (a bot that talks too much gets muted by the group, and an account that sends
in bursts gets restricted by WeChat). Yet a newcomer trying every command, one after the
other, is exploring, not flooding: distinct questions at human speed are always answered.
What a flood is made of is counted instead: repeats (the same question again) and bursts
(messages less than ``burst_seconds`` apart), with a ceiling on all replies far above what
anyone asking by hand reaches. Leaders and administrators have their own, higher limits, the
same in every grid (a leader speaking in another grid than his is a resident there).

Both limits are counted from the database, not in memory, so a restart or a second bot
process on the same database does not reset them:

- tickets: the sender's tickets created in the last 24 hours (``storage.limits``);
- replies: the sender's messages in the window that made the bot say something, read from
  the inbox and the outbox the dispatcher writes anyway, with their texts and the times of
  the sender's messages around them. That is one indexed query, run only when a reply is
  about to be queued (bench/flood.py measures it); whether the sender leads a grid is asked
  only of a resident over the residents' limits.

Over a limit, the person is told once per window (a ``limit_hit`` row, written with the
refused message, remembers it) and hears nothing more until the window frees up.
"""

from __future__ import annotations

import logging
import math
import unicodedata
from collections import Counter
from collections.abc import Sequence
from datetime import datetime, timedelta

from bot.context import Context, leads_a_grid
from bot.events import MessageType, Outbound
from bot.routing import Role
from bot.settings import ReplyLimits
from storage import limits as limit_store
from storage.limits import Answered
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
    # still a ticket, so it counts against the ones that follow. Where they have rights,
    # leaders and administrators open no tickets.
    if urgent or ctx.role >= Role.LEADER:
        return True
    limits = ctx.settings.limits
    limit = limits.tickets_per_day
    sender = ctx.event.sender_id
    since = ctx.now - TICKET_WINDOW
    opened = limit_store.tickets_opened_since(session=ctx.session, contact_id=sender, since=since)
    if opened < limit:
        return True
    if _leads_a_grid(ctx):  # asked only now: one query fewer for every resident under it
        limit = limits.leaders_tickets_per_day
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
    """Hold back the replies to someone who has had their share in the window.

    Called by the dispatcher, in the message's transaction, just before its outgoing
    messages are queued: the one place every reply passes through.
    """
    if ctx.urgent or not ctx.outgoing:
        return
    if not any(_to_sender(ctx, message) for message in ctx.outgoing):
        return
    limits = ctx.settings.limits
    if ctx.role >= Role.ADMIN:
        mine = limits.admins.at_least(limits.residents)
    elif ctx.role >= Role.LEADER:
        mine = limits.leaders.at_least(limits.residents)
    else:
        mine = limits.residents
    held = _held(ctx, mine)
    if held is not None and ctx.role < Role.LEADER and _leads_a_grid(ctx):
        # a leader in another grid than his: his own limits, the same everywhere
        held = _held(ctx, limits.leaders.at_least(limits.residents))
    if held is None:
        return
    frees_at, what = held
    ctx.outgoing = [message for message in ctx.outgoing if not _to_sender(ctx, message)]
    window = timedelta(minutes=limits.reply_window_minutes)
    sender = ctx.event.sender_id
    told = limit_store.last_hit(
        session=ctx.session, contact_id=sender, kind=LimitKind.REPLIES, since=ctx.now - window
    )
    if told is not None:
        return
    minutes = max(1, math.ceil((frees_at - ctx.now).total_seconds() / 60))
    _hit(ctx, LimitKind.REPLIES, what)
    ctx.reply(replies_notice(minutes))


def _held(ctx: Context, limits: ReplyLimits) -> tuple[datetime, str] | None:
    """Whether the message is over ``limits``: when the window frees up for it, and what it
    is over (for the log); None: it is answered."""
    shared = ctx.settings.limits  # the window and the burst, the same for everyone
    minutes = shared.reply_window_minutes
    window = timedelta(minutes=minutes)
    ceiling = limits.ceiling
    answered = limit_store.answered_since(
        session=ctx.session, contact_id=ctx.event.sender_id, since=ctx.now - window, limit=ceiling
    )
    if len(answered) >= ceiling:
        # the count drops below the ceiling when the oldest of the newest `ceiling` leaves it
        return answered[-1].at + window, f"{len(answered)} replies in {minutes} min"
    event = ctx.event
    key = repeat_key(event.text) if event.type == MessageType.TEXT else None
    burst = timedelta(seconds=shared.burst_seconds)
    counted = _floods(answered, also=key, burst=burst)
    if len(counted) < limits.replies:
        return None
    keys = {_key_of(message) for message in answered}
    if key is None or key not in keys:
        # a new question: held back only when it comes in a burst
        times = limit_store.received(session=ctx.session, message_id=ctx.message_id)
        if times is None or times[1] is None or times[0] - times[1] >= burst:
            return None
    what = f"{len(counted)} replies to repeats and bursts in {minutes} min"
    return counted[limits.replies - 1].at + window, what


def _floods(answered: Sequence[Answered], *, also: str | None, burst: timedelta) -> list[Answered]:
    """The answered messages that were repeats or bursts, newest first: a message is a
    repeat when another in the window (or the one being handled, ``also``) says the same,
    and in a burst when another message of the sender came less than ``burst`` from it."""
    said = Counter(_key_of(message) for message in answered)
    if also is not None:
        said[also] += 1

    def flood(message: Answered) -> bool:
        key = _key_of(message)
        if key is not None and said[key] > 1:
            return True
        before, after = message.before, message.after
        return (before is not None and message.at - before < burst) or (
            after is not None and after - message.at < burst
        )

    return [message for message in answered if flood(message)]


def _key_of(message: Answered) -> str | None:
    return repeat_key(message.text) if message.type == MessageType.TEXT else None


def repeat_key(text: str) -> str | None:
    """What a message asks, for telling a repeat: the same words, whatever the spacing,
    punctuation, width, command sign or emoji (`/积分`, `积分？`, `积 分` are one question).
    None: nothing to compare (only punctuation or emoji)."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    kept = "".join(c for c in folded if unicodedata.category(c)[0] not in "PZCS")
    return kept or None


def _leads_a_grid(ctx: Context) -> bool:
    return leads_a_grid(ctx.session, ctx.settings, ctx.event.sender_id)


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
