"""How tickets read on the console's pages: statuses, categories, timeline entries and times
in Chinese, and what a viewer may read of residents' words."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, tzinfo
from typing import cast

from bot.settings import Settings
from domain.actor import Actor
from nlp.privacy import mask_personal
from nlp.vocabulary import Category
from storage.models import TicketStatus

__all__ = [
    "ACTIONS",
    "MEDIA",
    "RATINGS",
    "STATUSES",
    "action_label",
    "categories",
    "category_name",
    "local_time",
    "shown",
]

STATUSES: dict[str, str] = {
    TicketStatus.OPEN: "待派单",
    TicketStatus.ASSIGNED: "处置中",
    TicketStatus.ESCALATED: "已上报",
    TicketStatus.RESOLVED: "已办结，待评价",
    TicketStatus.ARCHIVED: "已归档",
    TicketStatus.DISMISSED: "已驳回",
    TicketStatus.MERGED: "已合并",
}

RATINGS = {"satisfied": "满意", "basic": "基本满意", "unsatisfied": "不满意", "none": "未评价"}

MEDIA = {"image": "图片", "voice": "语音", "video": "视频", "file": "文件"}

# A ticket_event's action as the timeline names it. Unknown ones (a newer bot's) are shown
# by their code rather than hidden.
ACTIONS: dict[str, str] = {
    "created": "居民反映，受理",
    "filed": "网格长代为登记",
    "repeated": "居民再次反映",
    "linked": "同类诉求 +1",
    "noted": "进展",
    "attached": "附件",
    "assigned": "派单",
    "resolved": "办结",
    "escalated": "上报",
    "auto_escalated": "超期自动上报",
    "dismissed": "驳回",
    "reclassified": "改类",
    "merged": "合并到其他工单",
    "merged_in": "合并进本工单",
    "reminded": "超期提醒",
    "rated": "居民评价",
    "archived": "归档",
    "reopened": "居民不满意，重新办理",
}


def action_label(action: str) -> str:
    return ACTIONS.get(action, action)


def categories(settings: Settings) -> Mapping[str, Category]:
    return cast(Mapping[str, Category], settings.categories.categories)


def category_name(settings: Settings, code: str) -> str:
    category = categories(settings).get(code)
    return category.name if category is not None else code


def local_time(moment: datetime | None, tz: tzinfo) -> str:
    """`2026-11-22 09:03`, in the configured timezone ("" for none)."""
    return "" if moment is None else f"{moment.astimezone(tz):%Y-%m-%d %H:%M}"


def shown(actor: Actor, text: str | None) -> str:
    """What ``actor`` may read of a resident's words or name: administrators all of it, a
    leader with phone and ID numbers masked (as the bot repeats them into a group)."""
    if text is None:
        return ""
    return text if actor.is_admin else mask_personal(text)
