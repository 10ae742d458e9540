"""统计 on the console: the chat's /统计 figures for the same tickets, per grid and category,
with charts drawn on the server; a leader sees his own grids."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import date

import pytest
from fastapi.testclient import TestClient

from bot.clock import ManualClock
from bot.settings import Settings
from storage.db import Database
from tests.auxil.chat import ADMIN, LEADER, NEIGHBOUR, OTHER_ROOM, Chat
from tests.auxil.web import AuditLog, log_in
from web.stats import presets, read_period

LEADER_ID, OTHER_LEADER, ADMIN_ID = "wxid_leader_li", "wxid_leader_zhao", "wxid_street_admin"


def figures(page: str) -> dict[str, str]:
    """The figures at the top of the page, by their names."""
    return dict(re.findall(r"<dt>([^<]+)</dt><dd>([^<]+)", page))


def charts(page: str) -> list[ET.Element]:
    return [ET.fromstring(svg) for svg in re.findall(r"<svg .*?</svg>", page, flags=re.S)]


async def _fill(chat: Chat) -> None:
    await chat.say("3栋门口的路灯坏了好几天了，晚上黑漆漆的，麻烦处理一下")
    await chat.say("楼下垃圾堆了三天没人清理，臭死了", NEIGHBOUR)
    await chat.say("/办结 1 路灯已更换", LEADER)
    await chat.say("满意")
    await chat.say("村口的垃圾堆了三天没人清理，臭死了", NEIGHBOUR, room=OTHER_ROOM)


async def test_the_page_and_the_chat_give_the_same_figures(
    chat: Chat, web_client: TestClient, sqlite_db: Database, clock: ManualClock
) -> None:
    await _fill(chat)
    [reply] = await chat.say("/统计", LEADER)
    assert reply.text.splitlines()[1:4] == [
        "受理 2 件：已办结 1，处理中 1，已驳回 0",
        "办结率 50.0%，按时办结率 100.0%，平均办结用时 0.0 小时",
        "满意率 100.0%（已评价 1 件）",
    ]
    log_in(web_client, sqlite_db, LEADER_ID, clock.now())
    page = web_client.get("/stats").text  # this month, as /统计
    assert figures(page) == {
        "受理": "2",
        "已办结": "1",
        "办结率": "50.0%",
        "按时办结率": "100.0%",
        "平均办结用时": "0.0",
        "满意率": "100.0%",
        "重新办理": "0",
    }
    assert "2026-11-01 至 2026-11-22" in page
    # his grid only: G04's ticket is neither counted nor named
    assert "幸福社区第4网格" not in page
    rows = re.findall(r'<th scope="row"><a href="/tickets\?([^"]+)">([^<]+)</a>', page)
    assert rows == [
        ("grid=G03&amp;from=2026-11-01&amp;to=2026-11-22", "幸福社区第3网格"),
        ("category=environment&amp;from=2026-11-01&amp;to=2026-11-22", "环境卫生"),
        ("category=facility&amp;from=2026-11-01&amp;to=2026-11-22", "设施报修"),
    ]
    # week by week and by category; one grid has no "worst grids"
    drawn = charts(page)
    assert [c.findtext("{http://www.w3.org/2000/svg}title") for c in drawn] == [
        "逐周受理和办结件数",
        "各类别受理和办结件数",
    ]


async def test_an_administrator_sees_every_grid_and_the_worst_ones(
    chat: Chat, web_client: TestClient, sqlite_db: Database, clock: ManualClock
) -> None:
    await _fill(chat)
    [reply] = await chat.say("/统计", ADMIN, room=None)
    log_in(web_client, sqlite_db, ADMIN_ID, clock.now())
    page = web_client.get("/stats").text
    assert figures(page)["受理"] == "3"
    assert "受理 3 件" in reply.text
    titles = [c.findtext("{http://www.w3.org/2000/svg}title") for c in charts(page)]
    assert titles[-1] == "办结率最低的网格"
    one = web_client.get("/stats?grid=G04").text
    assert figures(one)["受理"] == "1"
    assert figures(one)["办结率"] == "0.0%"


async def test_a_leader_asking_for_another_grid_gets_403(
    chat: Chat,
    web_client: TestClient,
    sqlite_db: Database,
    clock: ManualClock,
    audit_log: AuditLog,
) -> None:
    await _fill(chat)
    log_in(web_client, sqlite_db, OTHER_LEADER, clock.now())  # leads G04
    response = web_client.get("/stats?grid=G03")
    assert response.status_code == 403
    assert "幸福社区第3网格" not in response.text.split("</header>")[1]
    assert f"web: {OTHER_LEADER} refused the statistics of grid G03" in audit_log()
    assert figures(web_client.get("/stats").text)["受理"] == "1"


def test_a_period_with_nothing_says_so(
    web_client: TestClient, sqlite_db: Database, clock: ManualClock
) -> None:
    log_in(web_client, sqlite_db, LEADER_ID, clock.now())
    page = web_client.get("/stats?from=2025-01-01&to=2025-01-31").text
    assert "这段时间没有受理工单。" in page
    assert "<svg" not in page


@pytest.mark.parametrize(
    ("params", "first", "last", "problem"),
    [
        ({}, date(2026, 11, 1), date(2026, 11, 22), None),
        ({"from": "2026-10-01", "to": "2026-10-31"}, date(2026, 10, 1), date(2026, 10, 31), None),
        ({"from": "2026-11-20", "to": "2026-11-02"}, date(2026, 11, 2), date(2026, 11, 20), "对调"),
        ({"from": "昨天"}, date(2026, 11, 1), date(2026, 11, 22), "不是日期"),
        ({"to": "1999-12-31"}, date(2026, 11, 1), date(2026, 11, 22), "超出范围"),
        ({"grid": "G99"}, date(2026, 11, 1), date(2026, 11, 22), "没有这个网格"),
        ({"from": "2026-12-05"}, date(2026, 12, 5), date(2026, 12, 5), None),
    ],
)
def test_the_period_as_the_address_bar_has_it(
    settings: Settings, params: dict[str, str], first: date, last: date, problem: str | None
) -> None:
    period = read_period(params, settings, date(2026, 11, 22))
    assert (period.first, period.last, period.grid) == (first, last, None)
    if problem is None:
        assert period.problems == []
    else:
        [said] = period.problems
        assert problem in said


def test_presets_count_as_the_chat_does() -> None:
    offered = presets(date(2026, 11, 22))  # a Sunday
    assert offered["本周"] == (date(2026, 11, 16), date(2026, 11, 22))
    assert offered["本月"] == (date(2026, 11, 1), date(2026, 11, 22))
    assert offered["上月"] == (date(2026, 10, 1), date(2026, 10, 31))
    assert offered["今年"] == (date(2026, 1, 1), date(2026, 11, 22))
    assert presets(date(2026, 1, 5))["上月"] == (date(2025, 12, 1), date(2025, 12, 31))


@pytest.mark.parametrize(
    "path",
    [
        "/stats?from=%00&to=%FF",
        "/stats?grid=%3Cscript%3E",
        "/stats?from=2000-01-01&to=2099-12-31",
        "/stats?from=" + "9" * 500,
    ],
)
def test_odd_addresses_get_a_page(
    web_client: TestClient, sqlite_db: Database, clock: ManualClock, path: str
) -> None:
    log_in(web_client, sqlite_db, ADMIN_ID, clock.now())
    response = web_client.get(path)
    assert response.status_code == 200
    assert "<script>" not in response.text
