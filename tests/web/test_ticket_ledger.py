from __future__ import annotations

from datetime import UTC, datetime, timedelta
from io import BytesIO
from typing import Any

from openpyxl import load_workbook
from sqlmodel import col, select

from bot.settings import Settings
from storage.db import Database
from storage.models import Ticket, TicketStatus
from storage.ticket_search import Sort, TicketQuery, each
from tests.auxil.web import add_grids, add_ticket
from tests.conftest import TZ
from web.ticket_ledger import COLUMNS, FIELDS, SHEET, file_name, write
from web.xlsx import MAX_CHARS

T0 = datetime(2026, 11, 22, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai
PHONE, ID_CARD = "13812345678", "110105199001011234"


def ticket(number: int, **fields: Any) -> Ticket:
    values: dict[str, Any] = {
        "id": number,
        "grid_code": "G03",
        "reporter_id": "wxid_resident_zhang",
        "reporter_name": "张阿姨",
        "text": f"3栋楼道灯坏了，电话{PHONE}",
        "category": "facility",
        "created_at": T0,
        "due_at": T0 + timedelta(days=1),
    } | fields
    return Ticket(**values)


def read(data: bytes) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    book = load_workbook(BytesIO(data))
    header, *rows = list(book[SHEET].iter_rows(values_only=True))
    about = dict(book["说明"].iter_rows(values_only=True))
    return [dict(zip(header, row, strict=True)) for row in rows], about


def test_one_row_per_ticket_in_words_and_local_times(settings: Settings) -> None:
    out = BytesIO()
    resolved = ticket(
        1,
        status=TicketStatus.ARCHIVED,
        assignee_name="王师傅",
        resolved_at=T0 + timedelta(hours=30),  # after its deadline
        feedback="已更换",
        rating="satisfied",
        reopen_count=1,
        closed_at=T0 + timedelta(hours=31),
    )
    waiting = ticket(2, urgent=True, category="safety", due_at=T0 - timedelta(hours=1))
    merged = ticket(3, status=TicketStatus.MERGED, merged_into_id=1, grid_code="G04")
    count = write(
        out, [resolved, waiting, merged], settings=settings, masked=False, now=T0,
        about=[("导出人", "街道管理员")],
    )  # fmt: skip
    assert count == 3
    rows, about = read(out.getvalue())
    assert list(rows[0]) == [title for title, _width in COLUMNS]
    first = rows[0]
    assert first["工单编号"] == 1
    assert (first["网格"], first["网格编码"], first["类别"]) == (
        "幸福社区第3网格",
        "G03",
        "设施报修",
    )
    assert first["状态"] == "已归档"
    assert first["受理时间"] == datetime(2026, 11, 22, 9, 0)  # Shanghai's clock
    assert first["办结时间"] == datetime(2026, 11, 23, 15, 0)
    assert (first["办结用时（小时）"], first["按时办结"]) == (30, "否")
    assert (first["居民评价"], first["重新办理（次）"], first["处理人"]) == ("满意", 1, "王师傅")
    assert PHONE in first["反映内容"]  # an administrator's file
    second = rows[1]
    assert (second["紧急"], second["超期未办结"], second["办结时间"]) == ("是", "是", None)
    assert rows[2]["合并到"] == "#1"
    assert rows[2]["网格"] == "幸福社区第4网格"
    assert about["导出人"] == "街道管理员"
    assert about["件数"] == "3"
    assert about["导出时间"] == "2026-11-22 09:00"
    assert "未打码" in about["隐私"]


def test_a_leaders_file_has_numbers_masked(settings: Settings) -> None:
    out = BytesIO()
    write(
        out,
        [
            ticket(
                1, text=f"身份证{ID_CARD}", reporter_name=f"刘姐{PHONE}", feedback=f"已联系{PHONE}"
            )
        ],
        settings=settings,
        masked=True,
        now=T0,
    )
    data = out.getvalue()
    [row], about = read(data)
    assert row["反映内容"] == "身份证110105********1234"
    assert row["反映人"] == "刘姐138****5678"
    assert row["办理结果"] == "已联系138****5678"
    assert about["隐私"] == "居民的手机号、身份证号已打码。"


def test_what_residents_wrote_is_text_never_a_formula(settings: Settings) -> None:
    out = BytesIO()
    words = '=HYPERLINK("http://example.invalid","点这里")'
    write(
        out,
        [ticket(1, text=words, reporter_name="=1+1"), ticket(2, text="灯\x00坏\x07了\x1b")],
        settings=settings,
        masked=False,
        now=T0,
    )
    book = load_workbook(BytesIO(out.getvalue()))
    sheet = book[SHEET]
    assert (sheet["G2"].value, sheet["G2"].data_type) == (words, "s")
    assert (sheet["H2"].value, sheet["H2"].data_type) == ("=1+1", "s")
    # characters a workbook can't hold are dropped, not a failed export
    assert sheet["G3"].value == "灯坏了"


def test_what_xml_escapes_and_a_text_too_long_for_a_cell(settings: Settings) -> None:
    out = BytesIO()
    words = "<script>alert(\"x\")</script> & 3栋 > 2栋 '引号' ]]>"
    write(
        out,
        [
            ticket(1, text=words, reporter_name=" 张阿姨 ", feedback="第一行\r\n第二行"),
            ticket(2, text="长" * 40_000 + PHONE),
        ],
        settings=settings,
        masked=True,
        now=T0,
    )
    rows, _about = read(out.getvalue())
    assert (rows[0]["反映内容"], rows[0]["反映人"]) == (words, " 张阿姨 ")
    assert rows[0]["办理结果"] == "第一行\r\n第二行"
    assert rows[1]["反映内容"] == "长" * MAX_CHARS  # Excel's most, the rest cut


def test_rows_of_the_ledgers_columns_make_the_same_file(
    settings: Settings, sqlite_db: Database
) -> None:
    """each(columns=FIELDS), as the console and `gridbot export` read, every column, and
    Ticket objects: one file."""
    add_grids(sqlite_db, settings)
    add_ticket(sqlite_db, T0, text=f"楼道灯坏了 {PHONE}", urgent=True)
    add_ticket(
        sqlite_db,
        T0 + timedelta(hours=1),
        grid_code="G04",
        status=TicketStatus.ARCHIVED,
        assignee_name="王师傅",
        escalated_at=T0 + timedelta(hours=2),
        resolved_at=T0 + timedelta(hours=3),
        closed_at=T0 + timedelta(days=2),
        feedback="已修好",
        rating="basic",
        same_count=2,
    )
    query = TicketQuery(sort=Sort.OLDEST)
    files = []
    with sqlite_db.session() as session:
        for tickets in (
            each(session=session, query=query, columns=FIELDS),
            each(session=session, query=query),
            session.exec(select(Ticket).order_by(col(Ticket.id))).all(),
        ):
            out = BytesIO()
            assert write(out, tickets, settings=settings, masked=True, now=T0) == 2
            files.append(read(out.getvalue()))
    assert files[0] == files[1] == files[2]
    first, second = files[0][0]
    assert (first["紧急"], first["反映内容"]) == ("是", "楼道灯坏了 138****5678")
    assert (second["网格"], second["居民评价"], second["同类诉求（人）"]) == (
        "幸福社区第4网格",
        "基本满意",
        2,
    )
    assert (second["上报时间"], second["办结用时（小时）"]) == (datetime(2026, 11, 22, 11, 0), 2)


def test_nothing_to_write_is_a_header_alone(settings: Settings) -> None:
    out = BytesIO()
    assert write(out, [], settings=settings, masked=True, now=T0) == 0
    rows, about = read(out.getvalue())
    assert rows == []
    assert about["件数"] == "0"


def test_the_files_name_is_the_local_time() -> None:
    assert file_name(T0, TZ) == "工单台账-20261122-0900.xlsx"
