"""网格 on the console: each grid's group as the database knows it (bound or not, the bot's
accounts there, online or not), its leaders from the config and the database, its last
activity, and the bot's health as `gridbot status` reports it; a leader's grids only."""

from __future__ import annotations

import logging
import re
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from bot.clock import ManualClock
from bot.settings import Settings
from storage import accounts as account_store
from storage import grids as grid_store
from storage.db import Database
from storage.models import MemberRole
from tests.auxil.web import add_grids, log_in
from tests.conftest import SETTINGS
from web.app import create_app

ADMIN, LEADER, OTHER_LEADER = "wxid_street_admin", "wxid_leader_li", "wxid_leader_zhao"
G03_ROOM_ID = "R3@chatroom"


@pytest.fixture
def grids(web_client: TestClient, sqlite_db: Database, clock: ManualClock) -> Database:
    """G03's group is bound, the account `bot-a` in it seen a minute ago and `bot-b` a day
    ago; Wang spoke there an hour ago (his name holds a phone number) and was made a leader
    by /设网格长. G04's group was never seen."""
    now = clock.now()
    with sqlite_db.session() as session:
        grid_store.bind_room(session=session, grid_code="G03", room_id=G03_ROOM_ID)
        for account, seen in (
            ("bot-a", now - timedelta(minutes=1)),
            ("bot-b", now - timedelta(days=1)),
        ):
            account_store.saw_room(
                session=session, account=account, room_id=G03_ROOM_ID, topic="幸福社区第3网格",
                at=seen,
            )  # fmt: skip
        grid_store.touch_member(
            session=session, contact_id="wxid_wang", grid_code="G03",
            display_name="王大爷13812345678", at=now - timedelta(hours=1),
        )  # fmt: skip
        grid_store.set_role(
            session=session, contact_id="wxid_wang", grid_code="G03", role=MemberRole.LEADER
        )
        session.commit()
    return sqlite_db


def cards(page: str) -> list[str]:
    return re.findall(r'<strong class="name">(\S+)</strong>', page)


def test_a_leader_sees_his_grids_group_leaders_and_activity(
    web_client: TestClient, grids: Database, clock: ManualClock
) -> None:
    log_in(web_client, grids, LEADER, clock.now())
    page = web_client.get("/grids").text
    assert cards(page) == ["幸福社区第3网格"]
    assert "已接入 · 在线" in page
    assert "群 ID R3@chatroom" in page
    assert re.findall(r'<span class="account (\w+)">(\S+) ', page) == [
        ("online", "bot-a"),
        ("offline", "bot-b"),
    ]
    # the config's leader, who never spoke there, and the one made by /设网格长, masked
    leaders = re.findall(r'<span class="leader">([^<]+)<small>([^<]+)</small>', page)
    assert leaders == [("（未命名）", "配置 · 没在群里发过言"), ("王大爷138****5678", "/设网格长")]
    assert "wxid_" not in page.split("<main>")[1]  # contact ids are for administrators
    assert "2026-11-22 08:00<small>60 分钟前有人在群里发言 · 见过发言的成员 1 人" in page
    assert '<a href="/tickets?grid=G03">工单</a>' in page


def test_another_grid_typed_by_hand_is_refused(
    web_client: TestClient, grids: Database, clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "gridbot.audit")
    log_in(web_client, grids, LEADER, clock.now())
    refused = web_client.get("/grids?grid=G04")
    assert refused.status_code == 403
    assert "这不是你负责的网格" in refused.text
    assert "web: wxid_leader_li refused grid G04" in [r.getMessage() for r in caplog.records]
    assert "没有这个网格「G99」，已忽略" in web_client.get("/grids?grid=G99").text


def test_an_administrator_sees_every_grid_the_unbound_first(
    web_client: TestClient, grids: Database, clock: ManualClock
) -> None:
    log_in(web_client, grids, ADMIN, clock.now())
    page = web_client.get("/grids").text
    assert cards(page) == ["幸福社区第4网格", "幸福社区第3网格"]
    assert "共 <strong>2</strong> 个网格，其中 1 个群还没接入" in page
    assert "/绑定 G04" in page
    assert "王大爷13812345678" in page  # unmasked for an administrator
    assert "wxid_leader_zhao" in page  # and the contact ids
    assert cards(web_client.get("/grids?unbound=1").text) == ["幸福社区第4网格"]
    assert cards(web_client.get("/grids?grid=G03").text) == ["幸福社区第3网格"]


def test_the_bots_health_is_gridbot_status(
    web_client: TestClient, grids: Database, clock: ManualClock
) -> None:
    log_in(web_client, grids, LEADER, clock.now())
    page = web_client.get("/grids").text
    assert "机器人运行状态：有异常" in page  # bot-b is offline
    checks = dict(re.findall(r"<strong>(\S+)</strong><span class=\"mark\">(\S+)</span>", page))
    assert checks == {
        "数据库": "正常",
        "数据库结构": "正常",
        "微信号": "异常",
        "待发消息": "正常",
        "收到的消息": "正常",
    }
    assert "bot-a 在线（最近 2026-11-22 08:59）；bot-b 离线（最近 2026-11-21 09:00）" in page


def test_many_grids_come_a_page_at_a_time(sqlite_db: Database, clock: ManualClock) -> None:
    many = [{"code": f"G{i:02}", "name": f"网格{i}", "room": f"网格群{i}"} for i in range(45)]
    settings = Settings.model_validate(SETTINGS | {"grids": many})
    add_grids(sqlite_db, settings)
    client = TestClient(create_app(settings, sqlite_db, clock), follow_redirects=False)
    log_in(client, sqlite_db, ADMIN, clock.now())
    assert len(cards(client.get("/grids").text)) == 20
    last = client.get("/grids?page=3").text
    assert cards(last) == [f"网格{i}" for i in range(40, 45)]
    assert client.get("/grids?page=9").text == last
