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
from itertools import chain
from operator import attrgetter
from typing import IO, Any

from sqlalchemy import Row

from bot.settings import Settings
from storage.models import Ticket, TicketStatus
from storage.tickets import ACTIVE
from web import workbook
from web.labels import RATINGS, STATUSES, categories
from web.workbook import ABOUT_SHEET, MEDIA_TYPE, Cells, Value

__all__ = ["ABOUT_SHEET", "COLUMNS", "FIELDS", "MEDIA_TYPE", "SHEET", "file_name", "write"]

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
# What a row is made of, in this order: the columns of the ticket table that
# storage.ticket_search.each(columns=FIELDS) reads (a ticket's keywords, a JSON list, and
# the times no column shows cost a fifth of the reading otherwise).
FIELDS = (
    "id", "grid_code", "category", "urgent", "status", "text", "reporter_name", "same_count",
    "created_at", "due_at", "assignee_name", "escalated_at", "resolved_at", "feedback",
    "rating", "reopen_count", "closed_at", "merged_into_id",
)  # fmt: skip
_fields = attrgetter(*FIELDS)
_DONE = frozenset((TicketStatus.RESOLVED, TicketStatus.ARCHIVED))
_ACTIVE = frozenset(ACTIVE)


def file_name(now: datetime, tz: tzinfo) -> str:
    return workbook.file_name(SHEET, now, tz)


class _Names:
    """Grids and categories by their names, looked up once for a whole 台账."""

    def __init__(self, settings: Settings) -> None:
        self.grids = {grid.code: grid.name for grid in settings.grids}
        self.categories = {code: c.name for code, c in categories(settings).items()}


def _values(fields: Sequence[Any], names: _Names, cells: Cells, now: datetime) -> list[Value]:
    """A row of the 台账 from a ticket's :data:`FIELDS`."""
    (
        number, grid_code, category, urgent, status, text, reporter_name, same_count,
        created_at, due_at, assignee_name, escalated_at, resolved_at, feedback, rating,
        reopen_count, closed_at, merged_into_id,
    ) = fields  # fmt: skip
    personal, time = cells.personal, cells.time
    resolved = resolved_at if status in _DONE else None
    if resolved is None:
        hours = on_time = None
    else:
        hours = round((resolved - created_at).total_seconds() / 3600, 1)
        on_time = "是" if resolved <= due_at else "否"
    return [
        number,
        names.grids.get(grid_code, grid_code),
        grid_code or None,
        names.categories.get(category, category) or None,
        "是" if urgent else None,
        STATUSES.get(status, status) or None,
        personal(text),
        personal(reporter_name),
        same_count,
        time(created_at),
        time(due_at),
        personal(assignee_name),
        time(escalated_at),
        time(resolved),
        hours,
        on_time,
        personal(feedback),
        RATINGS.get(rating, rating) if rating else None,
        reopen_count,
        time(closed_at),
        f"#{merged_into_id}" if merged_into_id is not None else None,
        "是" if status in _ACTIVE and due_at <= now else None,
    ]


def _each_fields(tickets: Iterable[Ticket | Row[Any]]) -> Iterable[Sequence[Any]]:
    """The :data:`FIELDS` of each ticket: rows read with those columns as they are, else
    (Tickets, rows of every column) by name."""
    found = iter(tickets)
    first = next(found, None)
    if first is None:
        return ()
    every: Iterable[Any] = chain([first], found)
    return every if isinstance(first, Row) and first._fields == FIELDS else map(_fields, every)


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
    :func:`storage.ticket_search.each` reads them, fastest with ``columns=FIELDS``) to
    ``out``; how many rows it has.
    ``masked``: phone and ID numbers masked (for anyone but an administrator). ``about``: what
    the file is (who exported it, which filters), on a second sheet with the export time."""

    names = _Names(settings)

    def rows(cells: Cells) -> Iterable[list[Value]]:
        return (_values(fields, names, cells, now) for fields in _each_fields(tickets))

    return workbook.write(out, LAYOUT, rows, tz=settings.tz, masked=masked, now=now, about=about)
