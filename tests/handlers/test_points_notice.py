from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from bot.app import App
from bot.clock import ManualClock
from bot.settings import Settings
from handlers import points_notice
from storage import points
from storage.db import Database
from tests.auxil.chat import LEADER, NEIGHBOUR, OTHER_LEADER, OTHER_ROOM, RESIDENT, Chat
from tests.conftest import TZ, settings_with_points

ZHANG, WANG = RESIDENT[0], NEIGHBOUR[0]
DEC_1 = datetime(2026, 12, 1, 9, 0, tzinfo=TZ)


@pytest.fixture
def clock() -> ManualClock:
    # The month's last evening: moving the clock steps every scheduled job on the way.
    return ManualClock(datetime(2026, 11, 30, 20, 0, tzinfo=TZ))


@pytest.fixture
def points_config() -> dict[str, Any]:
    return {}  # the points rules as shipped


@pytest.fixture
async def november(chat: Chat) -> Chat:
    await chat.say("收到", RESIDENT)
    await chat.say("收到", NEIGHBOUR)
    await chat.say("/加分 @张阿姨 @王大爷 志愿服务", LEADER, mentions=(ZHANG, WANG))
    await chat.say("/加分 @张阿姨 20 组织屋场会", LEADER, mentions=(ZHANG,))
    await chat.say("/扣分 @王大爷 2 乱堆杂物", LEADER, mentions=(WANG,))
    await chat.say("兑换 肥皂", RESIDENT)
    chat.sender.clear()
    return chat


async def test_the_monthly_notice_goes_to_the_group_and_the_full_list_to_its_leaders(
    november: Chat, app: App, clock: ManualClock
) -> None:
    await app.advance(clock, datetime(2026, 12, 1, 10, 0, tzinfo=TZ))
    group, leader = november.sender.sent
    assert group.room_topic == "幸福社区第3网格"
    assert group.text.splitlines() == [
        "【积分公示】幸福社区第3网格 2026年11月",
        "本月加分 3 笔共 +30 分，扣分 1 笔共 -2 分，兑换 1 件共 20 分。",
        "本月积分前 5 名：",
        "1. 张阿姨 +25",
        "2. 王大爷 +3",
        "完整名单已发给网格长，有疑问请找网格长核对。",
    ]
    assert leader.to == LEADER[0]
    assert leader.text.splitlines() == [
        "【积分公示·明细】幸福社区第3网格 2026年11月，共 2 人：",
        "张阿姨：本月 +5，可用 5，累计 25",
        "王大爷：本月 +3，可用 3，累计 3",
    ]
    november.sender.clear()
    await app.scheduler.run_task(points_notice.TASK, (), datetime(2027, 1, 1, 9, 0, tzinfo=TZ))
    await app.outbox.flush()
    assert november.sender.sent == []  # nothing happened in December: no notice


async def test_the_notice_is_sent_once_however_often_the_task_runs(
    november: Chat, app: App, clock: ManualClock
) -> None:
    await app.advance(clock, DEC_1)
    sent = len(november.sender.sent)
    await app.scheduler.run_task(points_notice.TASK, (), DEC_1)
    await app.outbox.flush()
    assert len(november.sender.sent) == sent == 2


async def test_a_grid_without_entries_or_unseen_gets_nothing(
    chat: Chat, app: App, clock: ManualClock, sqlite_db: Database
) -> None:
    await chat.say("收到", RESIDENT, room=OTHER_ROOM)
    await app.advance(clock, DEC_1)
    assert chat.sender.sent == []
    with sqlite_db.session() as session:
        # not claimed: a later month with entries would still get its notice
        assert points.mark_notice_sent(session=session, grid_code="G04", period="2026-11", at=DEC_1)


async def test_the_full_list_is_split_into_messages_of_fifty_lines(
    chat: Chat, app: App, clock: ManualClock
) -> None:
    people = [(f"wxid_p{i}", f"居民{i}") for i in range(60)]
    for who in people:
        await chat.say("收到", who, room=OTHER_ROOM)
    for start in range(0, 60, 10):
        batch = people[start : start + 10]
        text = "/加分 " + " ".join(f"@{name}" for _, name in batch) + " 1 打扫"
        mentions = tuple(contact for contact, _ in batch)
        await chat.say(text, OTHER_LEADER, room=OTHER_ROOM, mentions=mentions)
    chat.sender.clear()
    await app.advance(clock, DEC_1)
    group, first, second = chat.sender.sent
    assert group.text.splitlines()[3:9] == [f"1. 居民{i} +1" for i in range(6)]  # all share 1st
    assert (first.to, second.to) == (OTHER_LEADER[0], OTHER_LEADER[0])
    assert len(first.text.splitlines()) == 51
    assert len(second.text.splitlines()) == 10


@pytest.mark.parametrize("points_config", [{"notice": {"cron": None}}])
def test_no_job_without_a_schedule(settings: Settings) -> None:
    assert points_notice.jobs(settings) == []


def test_the_job_follows_the_configured_cron_in_the_configured_timezone() -> None:
    [job] = points_notice.jobs(settings_with_points({"notice": {"cron": "30 8 2 * *"}}))
    first = job.trigger.get_next_fire_time(None, DEC_1)
    assert first == datetime(2026, 12, 2, 8, 30, tzinfo=TZ)
