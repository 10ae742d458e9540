from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from bot.app import build_app
from bot.clock import ManualClock
from nlp.classifier import Classifier
from storage.db import Database
from tests.auxil.chat import (
    ADMIN,
    LEADER,
    NEIGHBOUR,
    OTHER_LEADER,
    OTHER_ROOM,
    RESIDENT,
    Chat,
    RecordingSender,
)
from tests.auxil.points import rural_g04
from tests.conftest import settings_with_points

ZHANG, WANG = RESIDENT[0], NEIGHBOUR[0]


@pytest.fixture
def points_config() -> dict[str, Any]:
    return {}  # the points rules as shipped


@pytest.fixture
async def group(chat: Chat) -> Chat:
    """Zhang has 8 points this month (and 3 from last month), Wang 5."""
    await chat.say("收到", RESIDENT)
    await chat.say("收到", NEIGHBOUR)
    now = chat.clock.now()
    await chat.say("/加分 @张阿姨 上报隐患", LEADER, mentions=(ZHANG,), at=now - timedelta(days=30))
    await chat.say("/加分 @张阿姨 @王大爷 志愿服务 打扫楼道", LEADER, mentions=(ZHANG, WANG),
                   at=now + timedelta(seconds=1))  # fmt: skip
    await chat.say("/加分 @张阿姨 3 帮邻居取药", LEADER, mentions=(ZHANG,))
    return chat


@pytest.mark.parametrize(
    "text",
    [
        "积分",
        "/积分",
        "我的积分",
        "查积分",
        "我有多少分",
        "我有多少积分？",
        "我的积分是多少",
        "我现在还有几分呀",
        "请问我一共有多少积分",
        "查一下我的积分",
        "帮我看下积分",
        "我有多少積分",
        "还有多少积分？",
        "@社区小助手\u2005我有多少分",
    ],
)
async def test_every_way_of_asking_for_ones_balance(group: Chat, text: str) -> None:
    [reply] = await group.say(text, RESIDENT)
    assert reply.text == "您现有积分 11 分，本月 +8 分。"
    assert reply.mentions == (ZHANG,)


@pytest.mark.parametrize(
    "text", ["我考了多少分", "积分制度挺好的", "这次活动加多少分", "我家孩子有多少分"]
)
async def test_other_talk_about_points_is_not_a_balance_question(group: Chat, text: str) -> None:
    replies = await group.say(text, RESIDENT)
    assert not any(r.text.startswith("您现有积分") for r in replies)


async def test_a_member_without_points_and_a_quiet_month(group: Chat) -> None:
    [reply] = await group.say("积分", ("wxid_new", "新邻居"))
    assert reply.text == "您现有积分 0 分，本月无变动。"


async def test_the_balance_mentions_orders_waiting_to_be_collected(group: Chat) -> None:
    await group.say("/加分 @张阿姨 20 组织屋场会", LEADER, mentions=(ZHANG,))
    await group.say("兑换 肥皂", RESIDENT)
    [reply] = await group.say("积分", RESIDENT)
    assert (
        reply.text == "您现有积分 11 分，本月 +8 分。\n待领取：肥皂（单号 1），请到网格长处领取。"
    )


async def test_in_private_the_balance_covers_every_grid(group: Chat) -> None:
    await group.say("收到", RESIDENT, room=OTHER_ROOM)
    await group.say("/加分 @张阿姨 志愿服务", OTHER_LEADER, room=OTHER_ROOM, mentions=(ZHANG,))
    [reply] = await group.say("我有多少积分", RESIDENT, room=None)
    assert reply.to == ZHANG
    assert reply.text == (
        "您的积分：\n幸福社区第3网格 11 分，本月 +8 分\n幸福社区第4网格 5 分，本月 +5 分"
    )
    [history] = await group.say("积分明细", RESIDENT, room=None)
    assert history.text.splitlines()[1].endswith("志愿服务（幸福社区第4网格）")
    [stranger] = await group.say("积分", ("wxid_stranger", "路人"), room=None)
    assert stranger.text == "您还没有积分记录。"


@pytest.mark.parametrize("points_config", [{"replies": "private"}])
async def test_config_can_send_balance_and_history_privately(group: Chat) -> None:
    [reply] = await group.say("我有多少分", RESIDENT)
    assert (reply.to, reply.room_id) == (ZHANG, None)
    assert reply.text == "您现有积分 11 分，本月 +8 分。"
    [history] = await group.say("积分明细", RESIDENT)
    assert history.to == ZHANG


async def test_history_shows_the_latest_entries_newest_first(group: Chat) -> None:
    [reply] = await group.say("积分明细", RESIDENT)
    assert reply.text.splitlines() == [
        "最近 3 条积分记录：",
        "11-22 +3 加分：帮邻居取药",
        "11-22 +5 志愿服务：打扫楼道",
        "10-23 +3 上报隐患",
    ]
    assert (await group.say("积分明细", ("wxid_new", "新邻居")))[0].text == "您还没有积分记录。"


async def test_history_is_limited_to_ten(group: Chat) -> None:
    for i in range(10):
        await group.say(f"/加分 @王大爷 1 第{i}次", LEADER, mentions=(WANG,))
    [reply] = await group.say("积分明细", NEIGHBOUR)
    lines = reply.text.splitlines()
    assert lines[0] == "最近 10 条积分记录："
    assert lines[1].endswith("第9次")
    assert len(lines) == 11


async def test_ranking_of_the_grid_by_display_name(group: Chat) -> None:
    [reply] = await group.say("积分排行", NEIGHBOUR)
    assert reply.text == "幸福社区第3网格积分排行（累计获得）：\n1. 张阿姨 11 分\n2. 王大爷 5 分"
    assert reply.mentions == (WANG,)
    [other] = await group.say("积分排行", RESIDENT, room=OTHER_ROOM)
    assert other.text == "本网格还没有人获得积分。"
    [private] = await group.say("积分排行", RESIDENT, room=None)
    assert private.text == "/积分排行 请在网格群里使用。"


async def test_the_rules_list(chat: Chat) -> None:
    [reply] = await chat.say("积分规则", RESIDENT)
    lines = reply.text.splitlines()
    assert lines[0] == "加分规则："
    assert "志愿服务 +5（每天最多 10 分，每月最多 50 分）" in lines
    assert "扣分规则：" in lines
    assert "乱扔垃圾 -5" in lines


VILLAGE_RULES = ("遵守村规民约 +5（每月最多 5 分）", "焚烧秸秆 -20")


@pytest.mark.parametrize("points_config", [{}])
async def test_the_rules_list_of_a_grid_has_only_its_rules(
    points_config: dict[str, Any], clock: ManualClock, sqlite_db: Database, classifier: Classifier
) -> None:
    """Issue 18 item 11: a city community's residents read 焚烧秸秆 and 村规民约."""
    sender = RecordingSender()
    settings = rural_g04(settings_with_points(points_config))
    app = build_app(settings, clock=clock, db=sqlite_db, sender=sender, classifier=classifier)
    chat = Chat(app, clock, sender)
    [city] = await chat.say("积分规则", RESIDENT)
    assert "志愿服务 +5（每天最多 10 分，每月最多 50 分）" in city.text.splitlines()
    assert not set(VILLAGE_RULES) & set(city.text.splitlines())
    [village] = await chat.say("积分规则", NEIGHBOUR, room=OTHER_ROOM)
    assert set(VILLAGE_RULES) <= set(village.text.splitlines())
    assert "志愿服务 +5（每天最多 10 分，每月最多 50 分）" in village.text.splitlines()
    # privately: the rules of the asker's grids; of every grid for a stranger or an admin
    [mine] = await chat.say("积分规则", RESIDENT, room=None)
    assert mine.text == city.text
    [theirs] = await chat.say("积分规则", NEIGHBOUR, room=None)
    assert theirs.text == village.text
    [leader] = await chat.say("积分规则", OTHER_LEADER, room=None)
    assert leader.text == village.text
    for who in (("wxid_stranger", "路人"), ADMIN):
        [everything] = await chat.say("积分规则", who, room=None)
        assert set(VILLAGE_RULES) <= set(everything.text.splitlines())


async def test_the_ranking_privately_is_refused_for_everyone(group: Chat) -> None:
    for who in (RESIDENT, ADMIN):  # administrators may use group commands privately, not this
        [reply] = await group.say("积分排行", who, room=None)
        assert reply.text == "/积分排行 请在网格群里使用。"
