"""A 台账 as an Excel workbook, as street offices hand them in: what every ledger shares.

One sheet of rows under bold Chinese headers (frozen, with Excel's filter buttons), and a
second sheet, 说明, saying what the file is: who exported it, when, which filters, how many
rows, the time zone, whether residents' numbers are masked. Times are local (Excel has no
time zones: the grids' own clock, as every page shows it). What residents wrote is written
as text, never as a formula: a report that starts with "=" must not compute anything in the
office's Excel.

Used by web/ticket_ledger.py and web/points_ledger.py (and through them by `gridbot
export`); it imports neither FastAPI nor the pages. The file is written by web/xlsx.py, as
its rows come: a 台账 of a year's tickets is not held in memory.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import IO

from nlp.privacy import mask_personal
from web import xlsx
from web.xlsx import Value

__all__ = ["ABOUT_SHEET", "MEDIA_TYPE", "Cells", "Layout", "Value", "file_name", "write"]

ABOUT_SHEET = "说明"
MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def file_name(title: str, now: datetime, tz: tzinfo) -> str:
    return f"{title}-{now.astimezone(tz):%Y%m%d-%H%M}.xlsx"


class Cells:
    """Cells of one sheet: times local, texts kept as text, residents' words masked when
    the file is not an administrator's. (Texts are always written as text, never as a
    formula, and what XML can't hold is dropped from them: web/xlsx.py.)"""

    def __init__(self, tz: tzinfo, *, masked: bool = False) -> None:
        self.tz = tz
        self.masked = masked

    def time(self, moment: datetime | None) -> Value:
        """A local time, a date cell of the format yyyy-mm-dd h:mm:ss (Excel has no zones)."""
        return None if moment is None else moment.astimezone(self.tz).replace(tzinfo=None)

    @staticmethod
    def text(words: str | None) -> Value:
        return words or None

    def personal(self, words: str | None) -> Value:
        """A resident's words or name: phone and ID numbers masked unless the file is an
        administrator's."""
        if self.masked and words:
            return mask_personal(words)
        return words or None


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
    rows: Callable[[Cells], Iterable[Sequence[Value]]],
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
    book = xlsx.Writer(out, created=now)
    sheet = xlsx.Sheet(
        title, [width for _header, width in columns], [header for header, _width in columns]
    )
    count = book.add(sheet, rows(Cells(tz, masked=masked)))
    privacy = (
        "居民的手机号、身份证号已打码。"
        if masked
        else "含居民未打码的手机号、身份证号，请妥善保管，勿外传。"
    )
    notes = (
        ("台账", title),
        ("导出时间", f"{now.astimezone(tz):%Y-%m-%d %H:%M}"),
        *about,
        (layout.count_label, str(count)),
        (
            "时间",
            "均为本地时间（北京时间）" if str(tz) == "Asia/Shanghai" else f"均为本地时间（{tz}）",
        ),
        ("隐私", privacy),
    )
    book.add(xlsx.Sheet(ABOUT_SHEET, (14, 60)), notes)
    book.close()
    return count
