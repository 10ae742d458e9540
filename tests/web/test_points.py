"""积分 on the console: a grid's ranking, a resident's ledger, the orders waiting for 核销,
and points given on the page, through the same domain functions as /加分, /扣分 and /核销:
the same group messages into the outbox, the same rules, caps and rights."""

from __future__ import annotations

import logging
import re
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import col, select

from bot.clock import ManualClock
from bot.settings import Settings
from storage.db import Database
from storage.models import OrderStatus, OutboundMessage, PointsEntry, PointsOrder
from tests.auxil.points import (
    LI,
    LIU,
    PHONE,
    WANG,
    ZHANG,
    ZHAO,
    PointsConsole,
    add_members,
    fill_ledger,
)

ADMIN = "wxid_street_admin"
NONCE = re.compile(r'name="nonce" value="([^"]+)"')


@pytest.fixture
def points_config() -> dict[str, Any]:
    return {}  # the points rules as shipped


@pytest.fixture
def web(
    web_client: TestClient, sqlite_db: Database, settings: Settings, clock: ManualClock
) -> PointsConsole:
    return PointsConsole(web_client, sqlite_db, clock, fill_ledger(sqlite_db, settings))


def outbox(db: Database) -> list[tuple[str, str | None, list[str]]]:
    with db.session() as session:
        rows = session.exec(select(OutboundMessage).order_by(col(OutboundMessage.id))).all()
        return [(m.text, m.room_topic, list(m.mentions)) for m in rows]


def entries(db: Database, member_id: int) -> list[tuple[int, str | None, str | None]]:
    with db.session() as session:
        rows = session.exec(
            select(PointsEntry)
            .where(PointsEntry.member_id == member_id)
            .order_by(col(PointsEntry.id))
        ).all()
        return [(e.delta, e.rule_code, e.actor_id) for e in rows]


def order_status(db: Database, order_id: int) -> str:
    with db.session() as session:
        return session.get_one(PointsOrder, order_id).status


def cells(page: str, css: str) -> list[str]:
    """The text of the table cells of class ``css``, tags dropped."""
    found = re.findall(rf'<t[dh][^>]*class="{css}"[^>]*>(.*?)</t[dh]>', page, re.S)
    return [re.sub(r"<[^>]+>", "", cell).strip() for cell in found]


# --- the ranking ---


def test_a_leader_sees_his_grids_ranking(web: PointsConsole) -> None:
    web.log_in(LI)
    page = web.client.get("/points")
    assert page.status_code == 200
    text = page.text
    assert "积分 · 幸福社区第3网格" in text
    names = re.findall(r'<th scope="row"><a href="/points/residents/(\d+)">([^<]+)</a>', text)
    # by points earned: 张阿姨 25, 王大爷 5 (less 5 taken: earned 0), the leader none
    assert [name for _id, name in names] == ["张阿姨", "王大爷", "李网格长"]
    assert cells(text, "rank") == ["1", "—", "—"]
    assert "刘大叔" not in text  # G04's
    assert '<span class="tag late">1</span>' in text  # one order waiting
    assert 'aria-current="page">积分</a>' in text


def test_another_grids_ranking_is_refused_and_an_administrator_sees_every_grid(
    web: PointsConsole, caplog: pytest.LogCaptureFixture
) -> None:
    web.log_in(LI)
    with caplog.at_level(logging.WARNING, logger="gridbot.audit"):
        refused = web.client.get("/points?grid=G04")
    assert refused.status_code == 403
    assert "不是你负责的网格" in refused.text
    assert f"{LI} refused the points ranking of grid G04" in caplog.text
    assert web.client.get("/points/orders?grid=G04").status_code == 403
    unknown = web.client.get("/points?grid=G99")
    assert unknown.status_code == 200
    assert "没有这个网格「G99」" in unknown.text
    web.log_in(ADMIN)
    g04 = web.client.get("/points?grid=G04").text
    assert "刘大叔" in g04
    assert '<option value="G04" selected>' in g04


def test_the_ranking_is_paged_and_searched(web: PointsConsole) -> None:
    add_members(web.db, *((f"wxid_r{i:02}", "G03", f"居民{i:02}") for i in range(25)))
    web.log_in(LI)
    first = web.client.get("/points").text
    assert "成员 <strong>28</strong> 人，第 1–20 人" in first  # and the ledger's three
    assert 'href="/points?grid=G03&amp;page=2">下一页</a>' in first
    last = web.client.get("/points?grid=G03&page=99").text  # past the end: the last page
    assert "第 21–28 人" in last
    found = web.client.get("/points?grid=G03&q=居民07").text
    assert "名字含「居民07」的成员 <strong>1</strong> 人" in found
    none = web.client.get("/points?grid=G03&q=%25").text  # a LIKE wildcard is a character
    assert "没有名字含「%」的成员" in none


# --- a resident's ledger ---


def test_a_residents_ledger_says_who_gave_each_point_and_why(web: PointsConsole) -> None:
    web.log_in(LI)
    page = web.client.get(f"/points/residents/{web.ids[ZHANG]}").text
    assert "<h1>张阿姨</h1>" in page
    # newest first: the order held 20, then the 20 given, then 志愿服务
    assert cells(page, "delta") == ["-20", "+20", "+5"]
    assert cells(page, "balance") == ["5", "25", "5"]
    assert cells(page, "kind")[0] == "兑换单号 1"
    assert cells(page, "who") == ["居民本人（兑换）", "李网格长（网格长）", "李网格长（网格长）"]
    assert LI not in page  # a contact id is nobody's business on a leader's page
    assert "帮邻居取药，电话138****5678" in page
    assert PHONE not in page
    assert "志愿服务" in cells(page, "why")[2]
    # the order waits, with its button
    assert re.search(r'action="/points/orders/1/redeem"', page)
    web.log_in(ADMIN)
    assert PHONE in web.client.get(f"/points/residents/{web.ids[ZHANG]}").text


def test_another_grids_resident_typed_by_hand_is_refused(
    web: PointsConsole, caplog: pytest.LogCaptureFixture
) -> None:
    web.log_in(LI)
    with caplog.at_level(logging.WARNING, logger="gridbot.audit"):
        refused = web.client.get(f"/points/residents/{web.ids[LIU]}")
    assert refused.status_code == 403
    assert "刘大叔" not in refused.text
    assert f"{LI} refused the ledger of member {web.ids[LIU]}" in caplog.text
    for number in ("99999", "abc", "99999999999999999999"):
        assert web.client.get(f"/points/residents/{number}").status_code == 404


# --- points given on the page ---


def _form(client: TestClient, member_id: int) -> dict[str, str]:
    page = client.get(f"/points/residents/{member_id}").text
    csrf = re.search(r'name="csrf" value="([^"]+)"', page)
    nonce = NONCE.search(page)
    assert csrf is not None
    assert nonce is not None
    return {"csrf": csrf.group(1), "nonce": nonce.group(1)}


def test_points_given_on_the_page_tell_the_group_as_the_chat_command_does(
    web: PointsConsole, caplog: pytest.LogCaptureFixture
) -> None:
    web.log_in(LI)
    form = _form(web.client, web.ids[WANG])
    before = len(outbox(web.db))
    with caplog.at_level(logging.INFO, logger="gridbot.audit"):
        done = web.client.post(
            f"/points/residents/{web.ids[WANG]}/award",
            data=form | {"what": "rule:volunteer", "reason": "清理楼道杂物"},
        )
    assert done.status_code == 303
    assert done.headers["location"] == f"/points/residents/{web.ids[WANG]}"
    # as `/加分 @王大爷 志愿服务 清理楼道杂物` in the group says it
    assert outbox(web.db)[before:] == [
        ("已给 王大爷 加 5 分（志愿服务：清理楼道杂物）。", "幸福社区第3网格", [WANG])
    ]
    assert entries(web.db, web.ids[WANG])[-1] == (5, "volunteer", LI)
    assert f"web: {LI} gave +5 (award volunteer) to {WANG} in G03: balance 5" in caplog.text
    page = web.client.get(done.headers["location"]).text
    assert (
        '<p class="flash" role="status">已给 王大爷 加 5 分（志愿服务：清理楼道杂物）。</p>' in page
    )
    # the same form again (a double click): recorded once
    again = web.client.post(
        f"/points/residents/{web.ids[WANG]}/award",
        data=form | {"what": "rule:volunteer", "reason": "清理楼道杂物"},
    )
    assert again.status_code == 303
    assert len(entries(web.db, web.ids[WANG])) == 3
    assert len(outbox(web.db)) == before + 1
    assert "这次的积分已经记过了" in web.client.get(again.headers["location"]).text
    # by an amount, taken
    taken = web.client.post(
        f"/points/residents/{web.ids[WANG]}/award",
        data=_form(web.client, web.ids[WANG])
        | {"what": "penalty", "amount": "2", "reason": "堆放杂物"},
    )
    assert taken.status_code == 303
    assert outbox(web.db)[-1][0] == "已扣 王大爷 2 分（堆放杂物）。"


@pytest.mark.parametrize(
    ("fields", "status", "said"),
    [
        ({"what": "award", "amount": "", "reason": "x"}, 422, "请填写分值。"),
        ({"what": "award", "amount": "5", "reason": ""}, 422, "按分值加分请写明理由"),
        ({"what": "award", "amount": "51", "reason": "x"}, 422, "单次最多加 50 分"),
        ({"what": "award", "amount": "-3", "reason": "x"}, 422, "分值要是 1 到 50 的整数"),
        ({"what": "penalty", "amount": "9", "reason": "x"}, 409, "王大爷 现有 0 分，不够扣 9 分"),
        ({"what": "rule:straw_burning"}, 422, "「焚烧秸秆」不是本网格的积分规则"),
        ({"what": "rule:nothing"}, 422, "没有这个积分规则"),
        ({"what": ""}, 422, "请选择积分规则"),
    ],
)
def test_a_refused_award_says_why_beside_the_form_and_records_nothing(
    *, web: PointsConsole, fields: dict[str, str], status: int, said: str
) -> None:
    web.log_in(LI)
    before = (entries(web.db, web.ids[WANG]), outbox(web.db))
    refused = web.client.post(
        f"/points/residents/{web.ids[WANG]}/award", data=_form(web.client, web.ids[WANG]) | fields
    )
    assert refused.status_code == status
    assert said in refused.text
    assert (entries(web.db, web.ids[WANG]), outbox(web.db)) == before
    if fields.get("reason"):
        assert f'value="{fields["reason"]}"' in refused.text  # what was typed is kept


def test_a_cap_refuses_on_the_page_as_in_the_group(web: PointsConsole) -> None:
    web.log_in(LI)
    url = f"/points/residents/{web.ids[ZHANG]}/award"
    ok = web.client.post(url, data=_form(web.client, web.ids[ZHANG]) | {"what": "rule:volunteer"})
    assert ok.status_code == 303
    over = web.client.post(url, data=_form(web.client, web.ids[ZHANG]) | {"what": "rule:volunteer"})
    assert over.status_code == 409
    assert "张阿姨 今天按「志愿服务」已加 10 分，每天上限 10 分，本次未记录。" in over.text


def test_no_points_for_oneself_nor_for_another_grid_nor_without_the_forms_token(
    web: PointsConsole,
) -> None:
    web.log_in(LI)
    own = web.client.post(
        f"/points/residents/{web.ids[LI]}/award",
        data=_form(web.client, web.ids[LI]) | {"what": "rule:volunteer"},
    )
    assert own.status_code == 403
    assert "不能给自己加分" in own.text
    form = _form(web.client, web.ids[ZHANG])
    other = web.client.post(
        f"/points/residents/{web.ids[LIU]}/award", data=form | {"what": "rule:volunteer"}
    )
    assert other.status_code == 403
    no_token = web.client.post(
        f"/points/residents/{web.ids[ZHANG]}/award",
        data={"nonce": form["nonce"], "what": "rule:volunteer"},
    )
    assert no_token.status_code == 403
    no_nonce = web.client.post(
        f"/points/residents/{web.ids[ZHANG]}/award",
        data={"csrf": form["csrf"], "what": "rule:volunteer"},
    )
    assert no_nonce.status_code == 400
    assert entries(web.db, web.ids[LIU]) == [(10, None, ZHAO)]
    assert len(entries(web.db, web.ids[ZHANG])) == 3


# --- 核销 ---


def test_redeem_on_the_page_tells_the_group_as_the_chat_command_does(
    web: PointsConsole, caplog: pytest.LogCaptureFixture
) -> None:
    csrf = web.log_in(LI)
    listed = web.client.get("/points/orders").text
    assert "肥皂" in listed
    assert 'action="/points/orders/1/redeem"' in listed
    before = len(outbox(web.db))
    with caplog.at_level(logging.INFO, logger="gridbot.audit"):
        done = web.client.post("/points/orders/1/redeem", data={"csrf": csrf})
    assert done.status_code == 303
    assert done.headers["location"] == "/points/orders?grid=G03"
    assert order_status(web.db, 1) == OrderStatus.CONFIRMED
    # as `/核销 1` in the group says it: the leader (a member of it) and the resident @
    assert outbox(web.db)[before:] == [
        ("已核销单号 1：张阿姨 领取「肥皂」。", "幸福社区第3网格", [LI, ZHANG])
    ]
    assert f"web: {LI} did 核销 of order 1 in G03" in caplog.text
    page = web.client.get(done.headers["location"]).text
    assert "已核销单号 1：张阿姨 领取「肥皂」。" in page
    assert "没有待核销的兑换。" in page
    again = web.client.post("/points/orders/1/redeem", data={"csrf": csrf})
    assert again.status_code == 409
    assert "单号 1 已核销过了。" in again.text
    assert len(outbox(web.db)) == before + 1


def test_redeem_from_a_residents_page_goes_back_there(web: PointsConsole) -> None:
    csrf = web.log_in(ADMIN)
    done = web.client.post("/points/orders/1/redeem", data={"csrf": csrf, "back": "resident"})
    assert done.headers["location"] == f"/points/residents/{web.ids[ZHANG]}"
    # the administrator is in no group: the group @mentions the resident only
    assert outbox(web.db)[-1] == (
        "已核销单号 1：张阿姨 领取「肥皂」。",
        "幸福社区第3网格",
        [ZHANG],
    )
    assert "已核销单号 1" in web.client.get(done.headers["location"]).text


def test_redeem_of_another_grids_order_or_without_the_token_is_refused(
    web: PointsConsole, caplog: pytest.LogCaptureFixture
) -> None:
    csrf = web.log_in(ZHAO)
    with caplog.at_level(logging.WARNING, logger="gridbot.audit"):
        refused = web.client.post("/points/orders/1/redeem", data={"csrf": csrf})
    assert refused.status_code == 403
    assert f"{ZHAO} refused 核销 of order 1: not his grid" in caplog.text
    assert web.client.post("/points/orders/1/redeem", data={}).status_code == 403
    assert web.client.post("/points/orders/77/redeem", data={"csrf": csrf}).status_code == 404
    assert web.client.post("/points/orders/x/redeem", data={"csrf": csrf}).status_code == 404
    assert order_status(web.db, 1) == OrderStatus.PENDING
    assert outbox(web.db) == []
