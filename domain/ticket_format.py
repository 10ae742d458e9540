"""How tickets read wherever people read them (chat replies, group messages, the web console):
short, in Chinese, one line each where possible."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta, tzinfo
from typing import cast

from bot.settings import MAX_MESSAGE_CHARS, Settings
from nlp.privacy import mask_personal
from nlp.vocabulary import Category
from storage.models import Ticket, TicketStatus
from storage.tickets import ACTIVE

SNIPPET_CHARS = 16

RATINGS = {"satisfied": "满意", "basic": "基本满意", "unsatisfied": "不满意", "none": "未评价"}


def when(moment: datetime, tz: tzinfo) -> str:
    local = moment.astimezone(tz)
    return f"{local.month}月{local.day}日 {local:%H:%M}"


def category_of(settings: Settings, code: str) -> Category | None:
    categories = cast(Mapping[str, Category], settings.categories.categories)
    return categories.get(code)


def category_name(settings: Settings, code: str) -> str:
    category = category_of(settings, code)
    return category.name if category is not None else code


def category_code(settings: Settings, word: str) -> str | None:
    """The code of the category a leader typed, by its Chinese name or its code."""
    categories = cast(Mapping[str, Category], settings.categories.categories)
    if word in categories:
        return word
    return next((code for code, c in categories.items() if c.name == word), None)


def unknown_category(settings: Settings, word: str) -> str:
    """The reply to a category that is none: what there is to choose from."""
    categories = cast(Mapping[str, Category], settings.categories.categories)
    names = "、".join(c.name for c in categories.values())
    return f"没有「{word[:10]}」这个类别。可选：{names}" if word else f"请写上类别：{names}"


def time_limit(settings: Settings, code: str, *, urgent: bool) -> timedelta:
    """How long a ticket of category ``code`` may take (a removed category: a day)."""
    category = category_of(settings, code)
    if category is None:
        return timedelta(hours=24)
    hours = category.urgent_time_limit_hours if urgent else category.time_limit_hours
    return timedelta(hours=hours)


def masked_name(name: str) -> str:
    """A display name as the bot repeats it: people put their phone number in it
    ("3栋刘姐13612345678") for the group's sake, not to have the bot spread it further."""
    return mask_personal(name)


def quoted(text: str) -> str:
    """What someone wrote, as the bot repeats it into a group: masked, and no longer than
    any message the bot sends (MAX_MESSAGE_CHARS, the limit notices have)."""
    masked = mask_personal(text)
    return masked if len(masked) <= MAX_MESSAGE_CHARS else masked[: MAX_MESSAGE_CHARS - 1] + "…"


def snippet(text: str) -> str:
    """The start of a resident's message, masked, for lists and summaries."""
    flat = " ".join(mask_personal(text).split())
    return flat if len(flat) <= SNIPPET_CHARS else flat[:SNIPPET_CHARS] + "…"


def status_label(ticket: Ticket) -> str:
    status = ticket.status
    if status == TicketStatus.OPEN:
        return "待派单"
    if status == TicketStatus.ASSIGNED:
        return f"{masked_name(ticket.assignee_name or '已派单')}处理中"
    if status == TicketStatus.ESCALATED:
        return "已上报"
    if status == TicketStatus.RESOLVED:
        return "已办结，待评价"
    if status == TicketStatus.ARCHIVED:
        return f"已归档（{RATINGS.get(ticket.rating or 'none', '未评价')}）"
    if status == TicketStatus.DISMISSED:
        return "已驳回"
    return f"已合并到 #{ticket.merged_into_id}"


def is_overdue(ticket: Ticket, now: datetime) -> bool:
    return ticket.status in ACTIVE and ticket.due_at <= now


SAME_MATTER = "您反映的同类问题"


def line(
    ticket: Ticket, settings: Settings, now: datetime, *, reporter: bool = True, text: bool = True
) -> str:
    """`#12 设施报修｜待派单｜截止11月24日 09:00｜3栋路灯坏了（张阿姨）`

    ``text=False`` leaves out what the reporter wrote, for someone else who reported the same
    matter: their own words are theirs, the first reporter's are not theirs to read.
    """
    urgent = "⚠紧急 " if ticket.urgent else ""
    parts = [
        f"#{ticket.id} {urgent}{category_name(settings, ticket.category)}",
        status_label(ticket),
    ]
    if is_overdue(ticket, now):
        parts.append("已超期")
    elif ticket.status in ACTIVE:
        parts.append(f"截止{when(ticket.due_at, settings.tz)}")
    if ticket.same_count:
        parts.append(f"同类+{ticket.same_count}")
    about = snippet(ticket.text) if text else SAME_MATTER
    parts.append(f"{about}（{masked_name(ticket.reporter_name)}）" if reporter else about)
    return "｜".join(parts)


def summary(ticket: Ticket, settings: Settings, grid_name: str) -> str:
    """What the escalation room reads: where, what, who, when — phone numbers masked."""
    return (
        f"{grid_name} #{ticket.id} {category_name(settings, ticket.category)}："
        f"{quoted(ticket.text)}（{masked_name(ticket.reporter_name)}，"
        f"{when(ticket.created_at, settings.tz)} 反映）"
    )
