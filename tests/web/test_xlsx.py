"""web.xlsx: the files it writes read back with openpyxl as written — texts, numbers, times,
the bold frozen header, the widths — whatever a resident typed into a text."""

from __future__ import annotations

import io
import zipfile
from datetime import UTC, datetime
from enum import StrEnum
from typing import IO, Any, cast
from xml.etree import ElementTree

import pytest
from openpyxl import load_workbook
from openpyxl.utils.datetime import to_excel
from openpyxl.worksheet.worksheet import Worksheet

from web import xlsx
from web.xlsx import MAX_CHARS, Sheet, Value, Writer, column_letter

NOW = datetime(2026, 11, 22, 1, 0, tzinfo=UTC)
SHEET = Sheet("台账", (9, 48, 17), ("编号", "内容", "时间"))


def written(*sheets: tuple[Sheet, list[list[Value]]]) -> tuple[bytes, list[int]]:
    out = io.BytesIO()
    with Writer(out, created=NOW) as book:
        counts = [book.add(sheet, rows) for sheet, rows in sheets]
    return out.getvalue(), counts


def book_of(data: bytes) -> Any:
    return load_workbook(io.BytesIO(data))


def values(sheet: Worksheet) -> list[tuple[Any, ...]]:
    return list(sheet.iter_rows(values_only=True))


def one_cell(value: Value) -> Any:
    """The cell ``value`` is written as, read back."""
    data, _counts = written((Sheet("s", (10,)), [[value]]))
    return book_of(data)["s"]["A1"]


def test_the_header_is_bold_wrapped_frozen_and_filtered_under_the_widths_given() -> None:
    data, [count] = written((SHEET, [[1, "灯坏了", datetime(2026, 11, 22, 9, 0)]]))
    assert count == 1
    sheet = book_of(data)["台账"]
    assert values(sheet)[0] == ("编号", "内容", "时间")
    for cell in sheet[1]:
        assert cell.font.b
        assert (cell.alignment.wrap_text, cell.alignment.vertical) == (True, "center")
    assert not sheet["B2"].font.b
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref == "A1:C1"
    widths = {letter: sheet.column_dimensions[letter].width for letter in "ABC"}
    assert widths == {"A": 9, "B": 48, "C": 17}


def test_values_keep_their_types() -> None:
    row: list[Value] = [
        845, 30.5, 3.0, -2, 10**15, True, False,
        datetime(2026, 11, 22, 9, 3, 7), datetime(1900, 1, 1, 12, 0), "text", "12",
    ]  # fmt: skip
    data, _counts = written((Sheet("s", ()), [row]))
    sheet = book_of(data)["s"]
    assert values(sheet) == [(
        845, 30.5, 3, -2, 10**15, True, False,
        datetime(2026, 11, 22, 9, 3, 7), datetime(1900, 1, 1, 12, 0), "text", "12",
    )]  # fmt: skip
    types = [cell.data_type for cell in sheet[1]]
    assert types == ["n", "n", "n", "n", "n", "b", "b", "d", "d", "s", "s"]
    assert sheet["H1"].number_format == "yyyy-mm-dd h:mm:ss"
    assert sheet["A1"].number_format == "General"


def test_times_are_written_as_openpyxl_wrote_them() -> None:
    # the same serial number to the last digit, so a file reads the same as before
    moment = datetime(2025, 6, 1, 17, 24, 33, 123456)
    before: float = to_excel(moment)  # type: ignore[no-untyped-call]
    assert xlsx._serial(moment) == f"{before:.16g}"
    assert one_cell(moment).value == datetime(2025, 6, 1, 17, 24, 33, 123000)  # Excel's ms


def test_a_time_with_a_zone_is_refused() -> None:
    with pytest.raises(TypeError, match="local time"):
        one_cell(NOW)


@pytest.mark.parametrize(
    "text",
    [
        "<b>\"引号\"</b> & '单引号' ]]> &amp;",
        "=1+1",
        '=HYPERLINK("http://example.invalid","点这里")',
        "+86 138",
        "  前后有空格  ",
        "\u3000全角空格",
        "多行\n第二行\t制表",
        "回车\r换行\r\n",
        "😀 表情 𠀋",
    ],
)
def test_a_text_reads_back_as_written_and_never_as_a_formula(text: str) -> None:
    cell = one_cell(text)
    assert (cell.value, cell.data_type) == (text, "s")


def test_characters_xml_cant_hold_are_dropped() -> None:
    assert one_cell("灯\x00坏\x07了\x1b\x0b\x0c\ufffe\uffff\ud800").value == "灯坏了"
    assert one_cell("\x01\x02").value is None  # nothing left: an empty cell


def test_a_text_longer_than_a_cell_holds_is_cut() -> None:
    assert one_cell("长" * 40_000).value == "长" * MAX_CHARS
    assert one_cell("长" * MAX_CHARS).value == "长" * MAX_CHARS
    # escaped after the cut: the cell holds the characters, not their references
    assert one_cell("&" * 40_000).value == "&" * MAX_CHARS
    # an emoji is two of Excel's characters, and is not cut in half
    emoji = one_cell("😀" * 20_000).value
    assert emoji == "😀" * (MAX_CHARS // 2)


def test_empty_values_leave_the_cell_empty() -> None:
    data, _counts = written((Sheet("s", ()), [[None, "", 1, float("nan"), None]]))
    assert values(book_of(data)["s"]) == [(None, None, 1)]


def test_a_text_enum_is_its_value() -> None:
    class Status(StrEnum):
        OPEN = "open"

    assert one_cell(Status.OPEN).value == "open"


def test_what_no_cell_can_hold_is_refused() -> None:
    with pytest.raises(TypeError, match="can't hold"):
        one_cell(object())  # type: ignore[arg-type]


def test_no_rows_is_a_header_alone_and_a_sheet_with_no_header_has_none() -> None:
    about = Sheet("说明", (14, 60))
    data, counts = written((SHEET, []), (about, [["件数", "0"]]))
    assert counts == [0, 1]
    book = book_of(data)
    assert book.sheetnames == ["台账", "说明"]
    assert values(book["台账"]) == [("编号", "内容", "时间")]
    notes = book["说明"]
    assert values(notes) == [("件数", "0")]
    assert notes.freeze_panes is None
    assert notes.auto_filter.ref is None
    assert not notes["A1"].font.b
    assert notes.column_dimensions["B"].width == 60


def test_many_rows_stream_in_batches_with_their_numbers() -> None:
    rows: list[list[Value]] = [[n, f"第{n}件"] for n in range(2500)]
    data, [count] = written((SHEET, rows))
    assert count == 2500
    found = values(book_of(data)["台账"])
    assert len(found) == 2501
    assert found[-1] == (2499, "第2499件", None)


def test_rows_wider_than_the_widths_get_their_columns() -> None:
    data, _counts = written((Sheet("s", (5,)), [list(range(30))]))
    sheet = book_of(data)["s"]
    assert sheet["AD1"].value == 29
    assert [column_letter(n) for n in (1, 26, 27, 52, 703)] == ["A", "Z", "AA", "AZ", "AAA"]


def test_more_rows_than_a_sheet_holds_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(xlsx, "MAX_ROWS", 3)
    with pytest.raises(ValueError, match="more rows than an Excel sheet holds"):
        written((SHEET, [[1], [2], [3]]))  # the header is the first of the three


def test_every_part_is_well_formed_xml_in_utf8() -> None:
    data, _counts = written((SHEET, [[1, "<&>\"'\r", datetime(2026, 1, 1)]]))
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        names = archive.namelist()
        assert "[Content_Types].xml" in names
        assert "xl/worksheets/sheet1.xml" in names
        for name in names:
            ElementTree.fromstring(archive.read(name))
        assert "内容".encode() in archive.read("xl/worksheets/sheet1.xml")
        assert "台账".encode() in archive.read("xl/workbook.xml")
    assert book_of(data).properties.created == datetime(2026, 11, 22, 1, 0)


def test_a_stream_that_cant_seek_gets_a_whole_file() -> None:
    class Stream(io.RawIOBase):
        def __init__(self) -> None:
            self.taken = bytearray()

        def writable(self) -> bool:
            return True

        def write(self, data: Any) -> int:
            self.taken += data
            return len(data)

    stream = Stream()
    with Writer(cast(IO[bytes], stream), created=NOW) as book:
        book.add(SHEET, [[1, "灯坏了", None]])
    assert values(book_of(bytes(stream.taken))["台账"])[1] == (1, "灯坏了", None)


@pytest.mark.parametrize("title", ["", "a" * 32, "a/b", "[x]", "a:b"])
def test_a_sheet_title_excel_would_refuse_is_refused(title: str) -> None:
    with pytest.raises(ValueError, match="not a sheet's title"):
        Sheet(title, ())


def test_two_sheets_of_one_title_or_none_are_refused() -> None:
    with pytest.raises(ValueError, match="two sheets"):
        written((SHEET, []), (SHEET, []))
    with pytest.raises(ValueError, match="needs a sheet"):
        Writer(io.BytesIO(), created=NOW).close()
