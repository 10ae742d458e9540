"""工单台账: tickets as an Excel workbook, one row per ticket, as street offices hand them in.

Chinese headers, local times (Excel has no time zones: the grids' own clock, as every page
shows it), statuses and categories in words. Residents' phone and ID numbers are masked
unless the file is an administrator's. What residents wrote is written as text, never as a
formula: a report that starts with "=" must not compute anything in the office's Excel.

Used by the console's list (its filters) and by `gridbot export tickets`; it imports neither
FastAPI nor the pages.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, tzinfo
from typing import IO, Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._write_only import WriteOnlyWorksheet
from sqlalchemy import Row

from bot.settings import Settings
from nlp.privacy import mask_personal
from storage.models import Ticket, TicketStatus
from storage.tickets import ACTIVE
from web.labels import RATINGS, STATUSES, category_name

__all__ = ["COLUMNS", "SHEET", "file_name", "write"]

SHEET = "工单台账"
ABOUT_SHEET = "说明"
MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_CELL_CHARS = 32_767  # Excel's most in a cell

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


def file_name(now: datetime, tz: tzinfo) -> str:
    return f"{SHEET}-{now.astimezone(tz):%Y%m%d-%H%M}.xlsx"


def _local(moment: datetime | None, tz: tzinfo) -> datetime | None:
    return None if moment is None else moment.astimezone(tz).replace(tzinfo=None)


def _yes(value: bool) -> str:
    return "是" if value else ""


class _Row:
    """Cells of one sheet: times formatted, texts kept as text."""

    def __init__(self, sheet: WriteOnlyWorksheet, tz: tzinfo) -> None:
        self.sheet = sheet
        self.tz = tz

    def time(self, moment: datetime | None) -> Any:
        # a date cell of openpyxl's own format (yyyy-mm-dd h:mm:ss): a format of one's own
        # costs a cell object and a style per time, a third of a large 台账's writing
        return _local(moment, self.tz)

    def text(self, words: str | None) -> Any:
        if not words:
            return None
        # characters XML can't hold (a resident's stray control character) are dropped
        clean = ILLEGAL_CHARACTERS_RE.sub("", words)[:_CELL_CHARS]
        if not clean.startswith("="):
            return clean
        cell = WriteOnlyCell(self.sheet, value=clean)
        cell.data_type = "s"  # text as written, not a formula
        return cell


def _values(
    ticket: Ticket | Row[Any], settings: Settings, cells: _Row, masked: bool, now: datetime
) -> list[Any]:
    def personal(words: str | None) -> Any:
        return cells.text(mask_personal(words) if masked and words else words)

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
    book = Workbook(write_only=True)
    sheet = book.create_sheet(SHEET)
    tz = settings.tz
    cells = _Row(sheet, tz)
    for index, (_header, width) in enumerate(COLUMNS, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width
    sheet.freeze_panes = "A2"
    sheet.auto_filter.ref = f"A1:{get_column_letter(len(COLUMNS))}1"
    bold = Font(bold=True)
    header = []
    for title, _width in COLUMNS:
        cell = WriteOnlyCell(sheet, value=title)
        cell.font = bold
        cell.alignment = Alignment(wrap_text=True, vertical="center")
        header.append(cell)
    sheet.append(header)
    count = 0
    for ticket in tickets:
        sheet.append(_values(ticket, settings, cells, masked, now))
        count += 1
    notes = book.create_sheet(ABOUT_SHEET)
    notes.column_dimensions["A"].width = 14
    notes.column_dimensions["B"].width = 60
    privacy = (
        "居民的手机号、身份证号已打码。"
        if masked
        else "含居民未打码的手机号、身份证号，请妥善保管，勿外传。"
    )
    about_cells = _Row(notes, tz)
    for key, value in (
        ("台账", SHEET),
        ("导出时间", f"{now.astimezone(tz):%Y-%m-%d %H:%M}"),
        *about,
        ("件数", str(count)),
        (
            "时间",
            "均为本地时间（北京时间）" if str(tz) == "Asia/Shanghai" else f"均为本地时间（{tz}）",
        ),
        ("隐私", privacy),
    ):
        notes.append([about_cells.text(key), about_cells.text(value)])
    book.save(out)
    return count
