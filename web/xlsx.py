"""A small streaming writer of .xlsx files: sheets of values under an optional bold header,
written row by row into the zip file as the sheet's XML, and nothing else.

What a 台账 needs and no more: texts (inline strings, so a resident's words are never read as
a formula), whole and decimal numbers, true/false, and local times (a date cell of the
format ``yyyy-mm-dd h:mm:ss``); column widths; a header row in bold, wrapped, frozen, with
Excel's filter buttons. Characters XML can't hold (a stray control character in a message)
are dropped and a text longer than a cell holds is cut, never a failed file.

Why not openpyxl, which wrote these files before: even in its write-only mode it makes an
object and an XML element per cell, and a 台账 of 100,000 tickets (1.75 million cells) took
it about 15 s of a 22-26 s export, against a target of 10 s for the whole command
(docs/performance.md, section 8). Here a cell is an f-string. The files read the same: the
same cells, types, formats, widths and header (tests/web/test_xlsx.py reads them back with
openpyxl).
"""

from __future__ import annotations

import math
import re
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import IO, Final
from xml.sax.saxutils import quoteattr

__all__ = ["MAX_CHARS", "MAX_ROWS", "Sheet", "Value", "Writer", "column_letter"]

# A cell's value: None (and "") leave the cell empty.
Value = str | int | float | bool | datetime | None

MAX_CHARS: Final = 32_767  # the most a cell holds, in UTF-16 code units as Excel counts
MAX_ROWS: Final = 1_048_576  # the most rows a sheet has
_EPOCH: Final = datetime(1899, 12, 30)  # Excel's day 0 (its 1900 date system)
_LONG: Final = MAX_CHARS // 2  # a text longer than this may not fit in a cell
_BATCH: Final = 1000  # rows turned into XML and compressed at a time
# Compression costs more time than the file's size is worth here: level 1 compresses the
# 91 MB of XML of a 100,000-ticket 台账 in 0.3 s into 13.7 MB, level 6 (zlib's default) in
# 1.0 s into 10.6 MB.
_LEVEL: Final = 1

# Characters XML 1.0 can't hold (C0 controls but tab and newlines, lone surrogates, U+FFFE
# and U+FFFF): dropped, as this project dropped the controls before openpyxl saw them.
_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
# What sends a text the slow way: the above, and what must be escaped. A carriage return is
# written as a character reference, or XML's reader would make it a newline.
_SPECIAL = re.compile("[\x00-\x08\x0b-\x1f\ud800-\udfff\ufffe\uffff&<>]")
_NUMBER = "%.16g"  # as openpyxl writes numbers: 3.0 reads back as 3, dates alike

_MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PKG_REL_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
_XML = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
# Styles: 0 plain, 1 the header (bold, wrapped, centred vertically), 2 a date and time.
_STYLE_HEADER, _STYLE_TIME = 1, 2
_STYLES = (
    f'{_XML}<styleSheet xmlns="{_MAIN_NS}">'
    '<numFmts count="1"><numFmt numFmtId="164" formatCode="yyyy-mm-dd h:mm:ss"/></numFmts>'
    '<fonts count="2"><font><sz val="11"/><name val="Calibri"/><family val="2"/></font>'
    '<font><b val="1"/><sz val="11"/><name val="Calibri"/><family val="2"/></font></fonts>'
    '<fills count="2"><fill><patternFill patternType="none"/></fill>'
    '<fill><patternFill patternType="gray125"/></fill></fills>'
    '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="3"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    '<xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1" '
    'applyAlignment="1"><alignment vertical="center" wrapText="1"/></xf>'
    '<xf numFmtId="164" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    "</cellXfs>"
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
    "</styleSheet>"
)


def column_letter(number: int) -> str:
    """A column's letters from its number: 1 → A, 27 → AA."""
    letters = ""
    while number > 0:
        number, rest = divmod(number - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def _letters(count: int) -> list[str]:
    return [column_letter(n) for n in range(1, count + 1)]


def _fit(text: str) -> str:
    """``text`` cut to what a cell holds (a character beyond the Basic Multilingual Plane,
    an emoji, counts two, as in Excel)."""
    if len(text) <= _LONG:
        return text
    units = text.encode("utf-16-le")
    if len(units) <= 2 * MAX_CHARS:
        return text
    # "ignore": a pair cut in half is dropped, not half written
    return units[: 2 * MAX_CHARS].decode("utf-16-le", "ignore")


def _clean(text: str) -> str:
    """``text`` as XML holds it: what XML can't hold dropped, cut to a cell's size, escaped."""
    text = _fit(_ILLEGAL.sub("", text))
    return (
        text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\r", "&#13;")
    )


def _inline(text: str) -> str:
    """A text's ``<is>`` element ("" when nothing of it can be written). (_write_rows() has
    its own copy of this.)"""
    if len(text) > _LONG or _SPECIAL.search(text) is not None:
        text = _clean(text)
        if not text:
            return ""
    if text != text.strip():  # XML's readers would drop the spaces at its ends
        return f'<is><t xml:space="preserve">{text}</t></is>'
    return f"<is><t>{text}</t></is>"


def _serial(moment: datetime) -> str:
    """A local time as Excel's serial number of days, as openpyxl writes it."""
    if moment.tzinfo is not None:
        raise TypeError("a cell's time has no time zone: give it as local time")
    span = moment - _EPOCH
    days = span.days
    if 0 < days <= 60:  # before 1900-03-01: Excel counts a 29 February 1900 that was not
        days -= 1
    return _NUMBER % (days + (span.seconds + span.microseconds / 10**6) / 86400)


def _cell(ref: str, value: Value) -> str:
    """The XML of a cell of a type :func:`_write_rows` leaves to this ("" for no cell)."""
    if isinstance(value, bool):
        return f'<c r="{ref}" t="b"><v>{int(value)}</v></c>'
    if isinstance(value, int):
        return f'<c r="{ref}"><v>{value}</v></c>'
    if isinstance(value, float):
        if not math.isfinite(value):
            return ""  # Excel has no such number: empty, as openpyxl wrote it
        return f'<c r="{ref}"><v>{_NUMBER % value}</v></c>'
    if isinstance(value, datetime):
        return f'<c r="{ref}" s="{_STYLE_TIME}"><v>{_serial(value)}</v></c>'
    if isinstance(value, str):
        inline = _inline(value) if value else ""
        return f'<c r="{ref}" t="inlineStr">{inline}</c>' if inline else ""
    raise TypeError(f"a cell can't hold {type(value).__name__}: {value!r}")


def _write_rows(
    part: IO[bytes], rows: Iterable[Sequence[Value]], first: int, letters: list[str]
) -> int:
    """Write the ``<row>`` elements of ``rows`` to ``part``, numbered from ``first``, a batch
    at a time; how many rows."""
    number = first - 1
    batch: list[str] = []
    for values in rows:
        number += 1
        if number > MAX_ROWS:
            raise ValueError(f"more rows than an Excel sheet holds ({MAX_ROWS:,})")
        if len(values) > len(letters):
            letters = _letters(len(values))
        row = str(number)
        cells = [f'<row r="{row}">']
        # The common types written here, not by a call per cell: this loop is the writer's
        # time. (A text's is _inline()'s, written out.)
        for letter, value in zip(letters, values, strict=False):
            if value is None:
                continue
            if isinstance(value, str):
                text = value
                if len(text) > _LONG or _SPECIAL.search(text) is not None:
                    text = _clean(text)
                if not text:
                    continue
                if text != text.strip():  # XML's readers would drop the spaces at its ends
                    cells.append(
                        f'<c r="{letter}{row}" t="inlineStr"><is><t xml:space="preserve">'
                        f"{text}</t></is></c>"
                    )
                else:
                    cells.append(f'<c r="{letter}{row}" t="inlineStr"><is><t>{text}</t></is></c>')
            elif type(value) is int:
                cells.append(f'<c r="{letter}{row}"><v>{value}</v></c>')
            elif type(value) is datetime:
                serial = _serial(value)
                cells.append(f'<c r="{letter}{row}" s="{_STYLE_TIME}"><v>{serial}</v></c>')
            else:
                cells.append(_cell(letter + row, value))
        cells.append("</row>")
        batch.append("".join(cells))
        if len(batch) >= _BATCH:
            part.write("".join(batch).encode())
            batch.clear()
    if batch:
        part.write("".join(batch).encode())
    return number - first + 1


def _sheet_start(sheet: Sheet, *, first: int) -> str:
    selected = ' tabSelected="1"' if first else ""
    if sheet.header:  # the header row stays in view as the rows scroll
        view = (
            f'<sheetView{selected} workbookViewId="0">'
            '<pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" state="frozen"/>'
            '<selection pane="bottomLeft" activeCell="A1" sqref="A1"/></sheetView>'
        )
    else:
        view = (
            f'<sheetView{selected} workbookViewId="0">'
            '<selection activeCell="A1" sqref="A1"/></sheetView>'
        )
    widths = "".join(
        f'<col min="{n}" max="{n}" width="{width:g}" customWidth="1"/>'
        for n, width in enumerate(sheet.widths, start=1)
    )
    return (
        f'{_XML}<worksheet xmlns="{_MAIN_NS}" xmlns:r="{_REL_NS}">'
        f"<sheetViews>{view}</sheetViews>"
        '<sheetFormatPr baseColWidth="8" defaultRowHeight="15"/>'
        + (f"<cols>{widths}</cols>" if widths else "")
        + "<sheetData>"
    )


def _sheet_end(sheet: Sheet) -> str:
    end = "</sheetData>"
    if sheet.header:
        end += f'<autoFilter ref="A1:{column_letter(len(sheet.header))}1"/>'
    return end + (
        '<pageMargins left="0.75" right="0.75" top="1" bottom="1" header="0.5" footer="0.5"/>'
        "</worksheet>"
    )


_ROOT_RELS: Final = (
    f'{_XML}<Relationships xmlns="{_PKG_REL_NS}">'
    f'<Relationship Id="rId1" Type="{_REL_NS}/officeDocument" Target="xl/workbook.xml"/>'
    '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/package/2006/'
    'relationships/metadata/core-properties" Target="docProps/core.xml"/>'
    f'<Relationship Id="rId3" Type="{_REL_NS}/extended-properties" Target="docProps/app.xml"/>'
    "</Relationships>"
)
_APP: Final = (
    f'{_XML}<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/'
    'extended-properties"><Application>GridBot</Application></Properties>'
)
_TYPE: Final = "application/vnd.openxmlformats-officedocument"


def _content_types(sheets: int) -> str:
    worksheets = "".join(
        f'<Override PartName="/xl/worksheets/sheet{n}.xml" '
        f'ContentType="{_TYPE}.spreadsheetml.worksheet+xml"/>'
        for n in range(1, sheets + 1)
    )
    return (
        f'{_XML}<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
        'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>'
        f'<Override PartName="/xl/workbook.xml" ContentType="{_TYPE}.spreadsheetml.sheet.'
        'main+xml"/>'
        f'<Override PartName="/xl/styles.xml" ContentType="{_TYPE}.spreadsheetml.styles+xml"/>'
        f"{worksheets}"
        '<Override PartName="/docProps/core.xml" ContentType="application/vnd.'
        'openxmlformats-package.core-properties+xml"/>'
        f'<Override PartName="/docProps/app.xml" ContentType="{_TYPE}.extended-properties+xml"/>'
        "</Types>"
    )


def _core(created: datetime) -> str:
    at = f"{created.astimezone(UTC):%Y-%m-%dT%H:%M:%SZ}"
    return (
        f'{_XML}<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/'
        'metadata/core-properties" xmlns:dc="http://purl.org/dc/elements/1.1/" '
        'xmlns:dcterms="http://purl.org/dc/terms/" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
        "<dc:creator>GridBot</dc:creator>"
        f'<dcterms:created xsi:type="dcterms:W3CDTF">{at}</dcterms:created>'
        f'<dcterms:modified xsi:type="dcterms:W3CDTF">{at}</dcterms:modified>'
        "</cp:coreProperties>"
    )


def _workbook(sheets: Sequence[Sheet]) -> str:
    listed = "".join(
        f'<sheet name={quoteattr(sheet.title)} sheetId="{n}" r:id="rId{n}"/>'
        for n, sheet in enumerate(sheets, start=1)
    )
    # Excel's own name for a sheet's filter range: without it Excel drops the buttons
    filters = "".join(
        f'<definedName name="_xlnm._FilterDatabase" localSheetId="{n}" hidden="1">'
        f"{_clean(_quoted(sheet.title))}!$A$1:${column_letter(len(sheet.header))}$1"
        "</definedName>"
        for n, sheet in enumerate(sheets)
        if sheet.header
    )
    return (
        f'{_XML}<workbook xmlns="{_MAIN_NS}" xmlns:r="{_REL_NS}">'
        '<bookViews><workbookView activeTab="0"/></bookViews>'
        f"<sheets>{listed}</sheets>"
        + (f"<definedNames>{filters}</definedNames>" if filters else "")
        + "</workbook>"
    )


def _quoted(title: str) -> str:
    """A sheet's title as a formula names it."""
    return "'" + title.replace("'", "''") + "'"


def _workbook_rels(sheets: int) -> str:
    worksheets = "".join(
        f'<Relationship Id="rId{n}" Type="{_REL_NS}/worksheet" Target="worksheets/sheet{n}.xml"/>'
        for n in range(1, sheets + 1)
    )
    return (
        f'{_XML}<Relationships xmlns="{_PKG_REL_NS}">{worksheets}'
        f'<Relationship Id="rId{sheets + 1}" Type="{_REL_NS}/styles" Target="styles.xml"/>'
        "</Relationships>"
    )


@dataclass(frozen=True)
class Sheet:
    """A sheet's title (at most 31 characters, none of ``[]:*?/\\``), its columns' widths in
    characters, and its header: in bold, wrapped, the row frozen above the others, with
    Excel's filter buttons (none: no header row)."""

    title: str
    widths: Sequence[float]
    header: Sequence[str] = ()

    def __post_init__(self) -> None:
        if not self.title or len(self.title) > 31 or re.search(r"[\[\]:*?/\\]", self.title):
            raise ValueError(f"not a sheet's title: {self.title!r}")


class Writer:
    """An .xlsx file written to ``out``: :meth:`add` its sheets in order, each streamed as its
    rows come, then :meth:`close` (or use it as a context manager) to finish the file.
    ``created``: the time the file says it was made."""

    def __init__(self, out: IO[bytes], *, created: datetime) -> None:
        self._zip = zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=_LEVEL)
        self._created = created
        self._sheets: list[Sheet] = []

    def __enter__(self) -> Writer:
        return self

    def __exit__(self, kind: object, error: object, trace: object) -> None:
        if kind is None:
            self.close()

    def add(self, sheet: Sheet, rows: Iterable[Sequence[Value]]) -> int:
        """Write ``sheet`` with ``rows`` (under its header); how many rows (header aside)."""
        if any(sheet.title == s.title for s in self._sheets):
            raise ValueError(f"two sheets named {sheet.title!r}")
        self._sheets.append(sheet)
        index = len(self._sheets)
        letters = _letters(max(len(sheet.widths), len(sheet.header), 1))
        with self._zip.open(f"xl/worksheets/sheet{index}.xml", "w") as part:
            part.write(_sheet_start(sheet, first=index == 1).encode())
            first = 1
            if sheet.header:
                header = "".join(
                    f'<c r="{letter}1" s="{_STYLE_HEADER}" t="inlineStr">{inline}</c>'
                    for letter, title in zip(letters, sheet.header, strict=False)
                    if (inline := _inline(title))
                )
                part.write(f'<row r="1">{header}</row>'.encode())
                first = 2
            count = _write_rows(part, rows, first, letters)
            part.write(_sheet_end(sheet).encode())
        return count

    def close(self) -> None:
        """Write what says which sheets the file has, and close it."""
        sheets = self._sheets
        if not sheets:  # Excel refuses a workbook of no sheet
            raise ValueError("a workbook needs a sheet")
        parts = {
            "[Content_Types].xml": _content_types(len(sheets)),
            "_rels/.rels": _ROOT_RELS,
            "docProps/app.xml": _APP,
            "docProps/core.xml": _core(self._created),
            "xl/workbook.xml": _workbook(sheets),
            "xl/_rels/workbook.xml.rels": _workbook_rels(len(sheets)),
            "xl/styles.xml": _STYLES,
        }
        for name, text in parts.items():
            self._zip.writestr(name, text)
        self._zip.close()
