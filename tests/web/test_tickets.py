from __future__ import annotations

import logging
import re
from datetime import timedelta
from io import BytesIO
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from openpyxl import load_workbook

from bot.clock import ManualClock
from bot.events import MessageType
from storage.db import Database
from storage.models import TicketStatus
from tests.auxil.chat import LEADER, NEIGHBOUR, RESIDENT, Chat
from tests.auxil.web import add_ticket, log_in
from web import ticket_ledger as ledger
from web.tickets import PAGE_SIZE

ADMIN, LEADER_ID, OTHER_LEADER = "wxid_street_admin", "wxid_leader_li", "wxid_leader_zhao"
PHONE, MASKED = "13812345678", "138****5678"
ID_CARD, ID_MASKED = "110105199001011234", "110105********1234"


def _ids(html: str) -> list[int]:
    """The ticket numbers a list page shows, in order."""
    return [int(n) for n in re.findall(r'<td class="id"><a href="/tickets/(\d+)">', html)]


@pytest.fixture
def tickets(web_client: TestClient, sqlite_db: Database, clock: ManualClock) -> Database:
    """G03: #1 open, #2 urgent and overdue, #3 archived (environment), #5 resolved;
    G04: #4 open. Created an hour apart, #1 first."""
    now = clock.now()
    add_ticket(sqlite_db, now - timedelta(hours=5), text=f"3栋楼道灯坏了，电话{PHONE}")
    add_ticket(
        sqlite_db, now - timedelta(hours=4), urgent=True, due_at=now - timedelta(hours=1),
        text="5栋电梯困人", reporter_name=f"刘姐{PHONE}",
    )  # fmt: skip
    add_ticket(
        sqlite_db, now - timedelta(days=3), category="environment",
        status=TicketStatus.ARCHIVED, text="垃圾没人清", rating="satisfied",
    )  # fmt: skip
    add_ticket(sqlite_db, now - timedelta(hours=2), grid_code="G04", text="村口路灯不亮")
    add_ticket(sqlite_db, now - timedelta(hours=1), status=TicketStatus.RESOLVED, text="井盖松了")
    return sqlite_db


def test_a_leader_sees_his_grids_tickets_and_an_administrator_every_grids(
    web_client: TestClient, tickets: Database, clock: ManualClock
) -> None:
    log_in(web_client, tickets, LEADER_ID, clock.now())
    page = web_client.get("/tickets").text
    assert _ids(page) == [5, 2, 1, 3]
    assert "共 <strong>4</strong> 件" in page
    assert "村口路灯" not in page
    # the grid choice offers his grids only
    assert 'value="G03"' in page
    assert 'value="G04"' not in page
    web_client.cookies.clear()
    log_in(web_client, tickets, ADMIN, clock.now())
    assert _ids(web_client.get("/tickets").text) == [5, 4, 2, 1, 3]


def test_another_grids_ticket_is_403_to_a_leader(
    web_client: TestClient, tickets: Database, clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "gridbot.audit")
    log_in(web_client, tickets, OTHER_LEADER, clock.now())  # leads G04
    assert web_client.get("/tickets/4").status_code == 200
    response = web_client.get("/tickets/1")  # G03's, typed into the address bar
    assert response.status_code == 403
    assert "不是你负责的网格" in response.text
    assert "楼道灯" not in response.text
    assert "退出" in response.text  # still the logged-in page around it
    # nor by filtering the list for it
    listed = web_client.get("/tickets?grid=G03")
    assert listed.status_code == 403
    assert "楼道灯" not in listed.text
    audit = [r.getMessage() for r in caplog.records if r.name == "gridbot.audit"]
    assert audit[-2:] == [
        f"web: {OTHER_LEADER} refused ticket #1 of grid G03",
        f"web: {OTHER_LEADER} refused the ticket list of grid G03",
    ]


def test_an_administrator_opens_any_grids_ticket(
    web_client: TestClient, tickets: Database, clock: ManualClock
) -> None:
    log_in(web_client, tickets, ADMIN, clock.now())
    assert web_client.get("/tickets/1").status_code == 200
    assert web_client.get("/tickets/4").status_code == 200


@pytest.mark.parametrize("path", ["/tickets/99", "/tickets/abc", "/tickets/1234567890123"])
def test_no_such_ticket_is_a_404_page(
    web_client: TestClient, tickets: Database, clock: ManualClock, path: str
) -> None:
    log_in(web_client, tickets, ADMIN, clock.now())
    response = web_client.get(path)
    assert response.status_code == 404
    assert "没有这个工单" in response.text


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("status=active", [4, 2, 1]),
        ("status=archived", [3]),
        ("status=resolved", [5]),
        ("category=environment", [3]),
        ("urgent=1", [2]),
        ("overdue=1", [2]),
        ("grid=G04", [4]),
        ("q=路灯", [4]),
        ("q=%231", [1]),  # "#1": the ticket's number
        ("q=刘姐", [2]),
        ("from=2026-11-22&to=2026-11-22", [5, 4, 2, 1]),
        ("to=2026-11-21", [3]),
        ("sort=oldest", [3, 1, 2, 4, 5]),
        ("sort=due", [3, 2, 1, 4, 5]),
        ("status=active&grid=G03&sort=oldest", [1, 2]),
    ],
)
def test_filters_and_sorts(
    web_client: TestClient, tickets: Database, clock: ManualClock, query: str, expected: list[int]
) -> None:
    log_in(web_client, tickets, ADMIN, clock.now())
    response = web_client.get(f"/tickets?{query}")
    assert response.status_code == 200
    assert _ids(response.text) == expected


@pytest.mark.parametrize(
    ("query", "problem"),
    [
        ("status=lost", "没有这个状态「lost」"),
        ("grid=G99", "没有这个网格「G99」"),
        ("category=<b>x</b>", "没有这个类别「&lt;b&gt;x&lt;/b&gt;」"),
        ("from=yesterday", "开始日期「yesterday」不是日期"),
        ("to=1900-01-01", "结束日期「1900-01-01」超出范围"),
        ("sort=random", "没有这个排序「random」"),
        ("from=2026-11-23&to=2026-11-01", "开始日期晚于结束日期，已对调"),
    ],
)
def test_a_filter_that_cant_be_read_is_said_and_dropped(
    web_client: TestClient, tickets: Database, clock: ManualClock, query: str, problem: str
) -> None:
    log_in(web_client, tickets, ADMIN, clock.now())
    response = web_client.get(f"/tickets?{query}")
    assert response.status_code == 200
    assert problem in response.text


def test_pages(web_client: TestClient, sqlite_db: Database, clock: ManualClock) -> None:
    now = clock.now()
    for n in range(PAGE_SIZE + 5):
        add_ticket(sqlite_db, now - timedelta(minutes=100 - n), text=f"第{n + 1}件")
    log_in(web_client, sqlite_db, LEADER_ID, now)
    first = web_client.get("/tickets?status=active").text
    assert _ids(first) == list(range(25, 5, -1))
    assert "第 1 / 2 页" in first
    assert 'href="/tickets?status=active&amp;page=2">下一页</a>' in first
    second = web_client.get("/tickets?status=active&page=2").text
    assert _ids(second) == [5, 4, 3, 2, 1]
    assert "第 21–25 件" in second
    # past the last page (an old link, a typed number): the last page
    for page in ("9", "999999999999", "-1", "x"):
        shown = web_client.get(f"/tickets?page={page}").text
        assert _ids(shown) == ([5, 4, 3, 2, 1] if page[0] == "9" else list(range(25, 5, -1)))


def test_a_leader_reads_numbers_masked_an_administrator_in_full(
    web_client: TestClient, tickets: Database, clock: ManualClock
) -> None:
    add_ticket(
        tickets, clock.now(), text=f"身份证{ID_CARD}丢了", feedback=f"已联系{PHONE}",
        status=TicketStatus.RESOLVED,
    )  # fmt: skip
    log_in(web_client, tickets, LEADER_ID, clock.now())
    for path in ("/tickets", "/tickets/1", "/tickets/2", "/tickets/6"):
        page = web_client.get(path).text
        assert PHONE not in page, path
        assert ID_CARD not in page, path
    assert MASKED in web_client.get("/tickets/1").text
    assert f"刘姐{MASKED}" in web_client.get("/tickets/2").text
    assert ID_MASKED in web_client.get("/tickets/6").text
    web_client.cookies.clear()
    log_in(web_client, tickets, ADMIN, clock.now())
    assert PHONE in web_client.get("/tickets/1").text
    assert ID_CARD in web_client.get("/tickets/6").text
    assert f"已联系{PHONE}" in web_client.get("/tickets/6").text


def test_residents_words_are_text_never_markup(
    web_client: TestClient, sqlite_db: Database, clock: ManualClock
) -> None:
    add_ticket(sqlite_db, clock.now(), text='<script>alert(1)</script><img src=x onerror="y">')
    log_in(web_client, sqlite_db, ADMIN, clock.now())
    for path in ("/tickets", "/tickets/1"):
        page = web_client.get(path).text
        assert "<script>alert" not in page
        assert "<img src=x" not in page
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


async def test_the_whole_timeline_of_a_ticket(
    chat: Chat, web_client: TestClient, sqlite_db: Database, clock: ManualClock
) -> None:
    """A ticket through the real bot: reported, a photo, +1 by a neighbour, assigned,
    resolved, rated unhappy, resolved again, rated."""
    await chat.say(f"3栋门口的路灯坏了好几天了，晚上黑漆漆的，麻烦处理一下，电话{PHONE}")
    await chat.say("[图片]", type=MessageType.IMAGE)
    await chat.say("3栋路灯坏了，晚上出门很不方便，能不能修一下", NEIGHBOUR)
    await chat.say("/派单 1 @王师傅", LEADER, mentions=("wxid_worker_wang",))
    await chat.say("/办结 1 路灯已更换，恢复照明", LEADER)
    await chat.say("不满意", RESIDENT)
    await chat.say("/办结 1 已更换整套灯具并检查了线路", LEADER)
    await chat.say("满意", RESIDENT)
    log_in(web_client, sqlite_db, LEADER_ID, clock.now())
    page = web_client.get("/tickets/1").text
    labels = re.findall(r"<strong>([^<]+)</strong>", page.split("办理过程")[1])
    assert labels == [
        "居民反映，受理",
        "附件",
        "同类诉求 +1",
        "派单",
        "办结",
        "居民评价",
        "居民不满意，重新办理",
        "办结",
        "居民评价",
        "归档",
    ]
    assert "路灯已更换，恢复照明" in page
    assert "已更换整套灯具并检查了线路" in page
    assert "不满意" in page
    assert "反映人（2）" in page
    assert "王大爷" in page
    assert "附件（1）" in page
    assert "图片" in page
    assert MASKED in page
    assert PHONE not in page
    listed = web_client.get("/tickets").text
    assert "同类+1" in listed


@pytest.mark.parametrize(
    "path",
    [
        "/tickets?q=%00%01%02",
        "/tickets?q=" + "楼" * 5000,
        "/tickets?q=%ED%A0%80%FF",  # not UTF-8
        "/tickets?q=%25%25_%5C",
        "/tickets?q=a+b+c+d+e+f+g+h",
        "/tickets?from=2026-13-45&to=0000-00-00",
        "/tickets?page=%EF%BC%91%EF%BC%92",  # full-width digits
        "/tickets?page=" + "9" * 400,
        "/tickets?grid=&status=&category=&sort=",
        "/tickets?grid=G03&grid=G04",
        "/tickets?urgent=on&overdue=yes",
        "/tickets/%00",
        "/tickets/0",
        "/tickets/-1",
        "/tickets/%231",
        "/login/%00",
        "/login/" + "a" * 5000,
    ],
)
def test_odd_addresses_get_a_page_never_a_crash(
    web_client: TestClient, tickets: Database, clock: ManualClock, path: str
) -> None:
    log_in(web_client, tickets, LEADER_ID, clock.now())
    response = web_client.get(path)
    assert response.status_code in (200, 403, 404), response.text
    assert response.headers["content-type"].startswith("text/html")
    assert PHONE not in response.text


def _ledger(response: Response) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == ledger.MEDIA_TYPE
    assert response.headers["content-disposition"].startswith("attachment; filename=")
    header, *rows = list(load_workbook(BytesIO(response.content))[ledger.SHEET].values)
    return [dict(zip(header, row, strict=True)) for row in rows]


def test_the_ledger_has_the_lists_filters_and_every_page(
    web_client: TestClient, tickets: Database, clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "gridbot.audit")
    for n in range(PAGE_SIZE + 3):
        add_ticket(tickets, clock.now() - timedelta(days=10, minutes=n), text=f"旧的第{n}件")
    log_in(web_client, tickets, ADMIN, clock.now())
    listed = web_client.get("/tickets?status=active&grid=G03").text
    assert 'href="/tickets.xlsx?grid=G03&amp;status=active"' in listed
    rows = _ledger(web_client.get("/tickets.xlsx?grid=G03&status=active"))
    assert len(rows) == PAGE_SIZE + 3 + 2  # all of them, not a page: the old ones, #2 and #1
    assert [r["工单编号"] for r in rows[:2]] == [2, 1]  # the list's order
    assert PHONE in rows[1]["反映内容"]  # an administrator's file
    assert _ledger(web_client.get("/tickets.xlsx?q=井盖"))[0]["工单编号"] == 5
    assert "web: wxid_street_admin exported 25 ticket(s) as Excel (grid=G03&status=active)" in (
        caplog.text
    )


def test_a_leaders_ledger_is_his_grids_masked(
    web_client: TestClient, tickets: Database, clock: ManualClock
) -> None:
    log_in(web_client, tickets, LEADER_ID, clock.now())
    rows = _ledger(web_client.get("/tickets.xlsx"))
    by_number = {r["工单编号"]: r for r in rows}
    assert sorted(by_number) == [1, 2, 3, 5]  # G04's #4 is not his
    assert all(PHONE not in str(value) for row in rows for value in row.values())
    assert MASKED in by_number[1]["反映内容"]
    assert by_number[2]["反映人"] == f"刘姐{MASKED}"
    assert web_client.get("/tickets.xlsx?grid=G04").status_code == 403


def test_the_ledger_needs_a_login(web_client: TestClient, tickets: Database) -> None:
    response = web_client.get("/tickets.xlsx")
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("text/html")
