"""工单台账: tickets as an Excel workbook, one row per ticket, as street offices hand them in.

Chinese headers, local times, statuses and categories in words, residents' phone and ID
numbers masked unless the file is an administrator's, their words never read as a formula
(web/workbook.py, which the 积分台账 shares).

Used by the console's list (its filters) and by `gridbot export tickets`; it imports neither
FastAPI nor the pages.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, tzinfo
from typing import IO, Any

from sqlalchemy import Row

from bot.settings import Settings
from storage.models import Ticket, TicketStatus
from storage.tickets import ACTIVE
from web import workbook
from web.labels import RATINGS, STATUSES, category_name
from web.workbook import ABOUT_SHEET, MEDIA_TYPE, Cells

__all__ = ["ABOUT_SHEET", "COLUMNS", "MEDIA_TYPE", "SHEET", "file_name", "write"]

SHEET = "工单台账"
# (header, width in characters)
COLUMNS: tuple[tuple[str, int], ...] = (
    ("工单编号", 9),
    ("网格", 18),
    ("网格编码", 9),
    ("类别", 10),
    ("紧急", 6),
    ("状态", 14),
    ("反映内容", 48),
    ("反映人", 12),
    ("同类诉求（人）", 8),
    ("受理时间", 17),
    ("办理期限", 17),
    ("处理人", 12),
    ("上报时间", 17),
    ("办结时间", 17),
    ("办结用时（小时）", 9),
    ("按时办结", 8),
    ("办理结果", 36),
    ("居民评价", 9),
    ("重新办理（次）", 8),
    ("关闭时间", 17),
    ("合并到", 8),
    ("超期未办结", 8),
)


LAYOUT = workbook.Layout(SHEET, COLUMNS)


def file_name(now: datetime, tz: tzinfo) -> str:
    return workbook.file_name(SHEET, now, tz)


def _yes(value: bool) -> str:
    return "是" if value else ""


def _values(
    ticket: Ticket | Row[Any], settings: Settings, cells: Cells, now: datetime
) -> list[Any]:
    personal = cells.personal
    grid = settings.grid(ticket.grid_code)
    resolved = (
        ticket.resolved_at
        if ticket.status in (TicketStatus.RESOLVED, TicketStatus.ARCHIVED)
        else None
    )
    hours = (
        round((resolved - ticket.created_at).total_seconds() / 3600, 1)
        if resolved is not None
        else None
    )
    on_time = "" if resolved is None else ("是" if resolved <= ticket.due_at else "否")
    active = ticket.status in ACTIVE
    return [
        ticket.id,
        cells.text(grid.name if grid is not None else ticket.grid_code),
        cells.text(ticket.grid_code),
        cells.text(category_name(settings, ticket.category)),
        _yes(ticket.urgent) or None,
        cells.text(STATUSES.get(ticket.status, ticket.status)),
        personal(ticket.text),
        personal(ticket.reporter_name),
        ticket.same_count,
        cells.time(ticket.created_at),
        cells.time(ticket.due_at),
        personal(ticket.assignee_name),
        cells.time(ticket.escalated_at),
        cells.time(resolved),
        hours,
        on_time or None,
        personal(ticket.feedback),
        cells.text(RATINGS.get(ticket.rating, ticket.rating) if ticket.rating else None),
        ticket.reopen_count,
        cells.time(ticket.closed_at),
        f"#{ticket.merged_into_id}" if ticket.merged_into_id is not None else None,
        _yes(active and ticket.due_at <= now) or None,
    ]


def write(
    out: IO[bytes],
    tickets: Iterable[Ticket | Row[Any]],
    *,
    settings: Settings,
    masked: bool,
    now: datetime,
    about: Sequence[tuple[str, str]] = (),
) -> int:
    """Write the workbook of ``tickets`` (Tickets, or rows of the ticket table as
    :func:`storage.ticket_search.each` reads them) to ``out``; how many rows it has.
    ``masked``: phone and ID numbers masked (for anyone but an administrator). ``about``: what
    the file is (who exported it, which filters), on a second sheet with the export time."""

    def rows(cells: Cells) -> Iterable[list[Any]]:
        return (_values(ticket, settings, cells, now) for ticket in tickets)

    return workbook.write(out, LAYOUT, rows, tz=settings.tz, masked=masked, now=now, about=about)
