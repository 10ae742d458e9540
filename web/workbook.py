"""A 台账 as an Excel workbook, as street offices hand them in: what every ledger shares.

One sheet of rows under bold Chinese headers (frozen, with Excel's filter buttons), and a
second sheet, 说明, saying what the file is: who exported it, when, which filters, how many
rows, the time zone, whether residents' numbers are masked. Times are local (Excel has no
time zones: the grids' own clock, as every page shows it). What residents wrote is written
as text, never as a formula: a report that starts with "=" must not compute anything in the
office's Excel.

Used by web/ticket_ledger.py and web/points_ledger.py (and through them by `gridbot
export`); it imports neither FastAPI nor the pages.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import IO, Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

from nlp.privacy import mask_personal

__all__ = ["ABOUT_SHEET", "MEDIA_TYPE", "Cells", "Layout", "file_name", "write"]

ABOUT_SHEET = "说明"
MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_CELL_CHARS = 32_767  # Excel's most in a cell


def file_name(title: str, now: datetime, tz: tzinfo) -> str:
    return f"{title}-{now.astimezone(tz):%Y%m%d-%H%M}.xlsx"


class Cells:
    """Cells of one sheet: times local, texts kept as text, residents' words masked when
    the file is not an administrator's."""

    def __init__(self, sheet: WriteOnlyWorksheet, tz: tzinfo, *, masked: bool = False) -> None:
        self.sheet = sheet
        self.tz = tz
        self.masked = masked

    def time(self, moment: datetime | None) -> Any:
        # a date cell of openpyxl's own format (yyyy-mm-dd h:mm:ss): a format of one's own
        # costs a cell object and a style per time, a third of a large 台账's writing
        return None if moment is None else moment.astimezone(self.tz).replace(tzinfo=None)

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

    def personal(self, words: str | None) -> Any:
        """A resident's words or name: phone and ID numbers masked unless the file is an
        administrator's."""
        return self.text(mask_personal(words) if self.masked and words else words)


@dataclass(frozen=True)
class Layout:
    """A 台账's sheet: its title, its columns (header, width in characters), and what its
    rows are counted as on the 说明 sheet."""

    title: str
    columns: Sequence[tuple[str, int]]
    count_label: str = "件数"


def write(
    out: IO[bytes],
    layout: Layout,
    rows: Callable[[Cells], Iterable[Sequence[Any]]],
    *,
    tz: tzinfo,
    masked: bool,
    now: datetime,
    about: Sequence[tuple[str, str]] = (),
) -> int:
    """Write the workbook of ``layout`` to ``out``: the ``rows`` made with the sheet's
    cells; how many rows it has. ``masked``: phone and ID numbers masked (for anyone but an
    administrator). ``about``: what the file is, on the 说明 sheet with the export time and
    the count."""
    title, columns = layout.title, layout.columns
    book = Workbook(write_only=True)
    sheet = book.create_sheet(title)
    cells = Cells(sheet, tz, masked=masked)
    for index, (_header, width) in enumerate(columns, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width
    sheet.freeze_panes = "A2"
    sheet.auto_filter.ref = f"A1:{get_column_letter(len(columns))}1"
    bold = Font(bold=True)
    header = []
    for heading, _width in columns:
        cell = WriteOnlyCell(sheet, value=heading)
        cell.font = bold
        cell.alignment = Alignment(wrap_text=True, vertical="center")
        header.append(cell)
    sheet.append(header)
    count = 0
    for values in rows(cells):
        sheet.append(values)
        count += 1
    notes = book.create_sheet(ABOUT_SHEET)
    notes.column_dimensions["A"].width = 14
    notes.column_dimensions["B"].width = 60
    privacy = (
        "居民的手机号、身份证号已打码。"
        if masked
        else "含居民未打码的手机号、身份证号，请妥善保管，勿外传。"
    )
    about_cells = Cells(notes, tz)
    for key, value in (
        ("台账", title),
        ("导出时间", f"{now.astimezone(tz):%Y-%m-%d %H:%M}"),
        *about,
        (layout.count_label, str(count)),
        (
            "时间",
            "均为本地时间（北京时间）" if str(tz) == "Asia/Shanghai" else f"均为本地时间（{tz}）",
        ),
        ("隐私", privacy),
    ):
        notes.append([about_cells.text(key), about_cells.text(value)])
    book.save(out)
    return count
