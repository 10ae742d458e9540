"""积分台账: the points ledger as an Excel workbook, one row per entry, oldest first.

Each entry says when, whose, how many points and the balance it left, by which rule and
why, and who gave it by name and role (never a contact id). Chinese headers, local times;
residents' phone and ID numbers masked unless the file is an administrator's (web/workbook.py,
which the 工单台账 shares).

Used by the console's 积分 pages (their filters) and by `gridbot export points`; it imports
neither FastAPI nor the pages.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, tzinfo
from typing import IO, Any

from bot.settings import Settings
from domain.points import Givers, kind_name
from web import workbook
from web.workbook import Cells

__all__ = ["COLUMNS", "SHEET", "file_name", "write"]

SHEET = "积分台账"
# (header, width in characters), as a ledger's columns read left to right
COLUMNS: tuple[tuple[str, int], ...] = (
    ("记账时间", 17), ("网格", 18), ("网格编码", 9), ("居民", 14), ("类型", 7), ("积分", 7),
    ("变动后余额", 9), ("规则", 12), ("理由", 36), ("经办人", 12), ("经办人身份", 10),
    ("兑换单号", 8),
)  # fmt: skip


LAYOUT = workbook.Layout(SHEET, COLUMNS, count_label="笔数")


def file_name(now: datetime, tz: tzinfo) -> str:
    return workbook.file_name(SHEET, now, tz)


def _values(entry: Any, settings: Settings, givers: Givers, cells: Cells) -> list[Any]:
    grid = settings.grid(entry.grid_code)
    rule = settings.points.rules.get(entry.rule_code) if entry.rule_code else None
    name, role = givers.of(entry.actor_id, entry.grid_code, entry.kind)
    return [
        cells.time(entry.at),
        cells.text(grid.name if grid is not None else entry.grid_code),
        cells.text(entry.grid_code),
        cells.personal(entry.member_name),
        cells.text(kind_name(entry.kind)),
        entry.delta,
        entry.balance_after,
        # a rule removed from the config since still shows its code
        cells.text(rule.name if rule is not None else entry.rule_code),
        cells.personal(entry.reason),
        cells.personal(name),
        cells.text(role),
        entry.order_id,
    ]


def write(
    out: IO[bytes],
    entries: Iterable[Any],
    *,
    settings: Settings,
    givers: Givers,
    masked: bool,
    now: datetime,
    about: Sequence[tuple[str, str]] = (),
) -> int:
    """Write the workbook of ``entries`` (rows as :func:`storage.points.each_entry` reads
    them) to ``out``; how many rows it has. ``givers`` names who gave each entry's points.
    ``masked``: phone and ID numbers masked (for anyone but an administrator). ``about``:
    what the file is (who exported it, which filters), on a second sheet."""

    def rows(cells: Cells) -> Iterable[list[Any]]:
        return (_values(entry, settings, givers, cells) for entry in entries)

    return workbook.write(out, LAYOUT, rows, tz=settings.tz, masked=masked, now=now, about=about)
