from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from sqlmodel import select

from bot.clock import ManualClock
from storage.db import Database
from storage.models import PointsEntry
from tests.auxil.chat import ADMIN, LEADER, NEIGHBOUR, RESIDENT, Chat
from tests.auxil.points import entry_count
from tests.conftest import TZ

ZHANG, WANG = RESIDENT[0], NEIGHBOUR[0]
LIU = ("wxid_resident_liu", "刘姐")


@pytest.fixture
def clock() -> ManualClock:
    # Near the year's end, so the next base period is an hour away: moving the clock steps
    # every scheduled job on the way.
    return ManualClock(datetime(2026, 12, 31, 22, 0, tzinfo=TZ))


@pytest.fixture
def points_config() -> dict[str, Any]:
    return {}  # the points rules as shipped


@pytest.fixture
async def group(chat: Chat) -> Chat:
    for who in (RESIDENT, NEIGHBOUR, LIU):
        await chat.say("收到", who)
    return chat


def base_entries(db: Database) -> list[tuple[str | None, int, str | None]]:
    with db.session() as session:
        rows = session.exec(select(PointsEntry).where(PointsEntry.kind == "base")).all()
        return [(e.actor_id, e.delta, e.reason) for e in rows]


async def test_a_leader_registers_a_household(group: Chat) -> None:
    [reply] = await group.say("/户 @张阿姨 @王大爷", LEADER, mentions=(ZHANG, WANG))
    assert reply.text == "已登记一户：户代表 张阿姨，共 2 人（张阿姨、王大爷）。"
    [typed] = await group.say("/户 @刘姐", LEADER)
    assert typed.text == "请用微信的 @ 功能从群成员里选人，手动输入的「@名字」不算数。"
    [resident] = await group.say("/户 @刘姐", RESIDENT, mentions=(LIU[0],))
    assert resident.text == "抱歉，/户 仅限本网格的网格长使用。"


async def test_base_points_go_to_each_households_representative_once_per_period(
    group: Chat, sqlite_db: Database
) -> None:
    await group.say("/户 @张阿姨 @王大爷", LEADER, mentions=(ZHANG, WANG))
    await group.say("/户 @刘姐", LEADER, mentions=(LIU[0],))
    [reply] = await group.say("/基础分", LEADER)
    assert reply.text == "已发放2026年基础分：2 户，共 35 分。"  # 10+5×2 and 10+5×1
    assert sorted(base_entries(sqlite_db)) == [(LEADER[0], 15, "2026年"), (LEADER[0], 20, "2026年")]
    [again] = await group.say("/基础分", LEADER)
    assert again.text == "2026年基础分已经发过了，这次没有新发放。"
    assert entry_count(sqlite_db) == 2
    [balance] = await group.say("积分", RESIDENT)
    assert balance.text.startswith("您现有积分 20 分")
    next_year = datetime(2027, 1, 1, 0, 30, tzinfo=TZ)
    [later] = await group.say("/基础分", LEADER, at=next_year)
    assert later.text == "已发放2027年基础分：2 户，共 35 分。"


@pytest.mark.parametrize(
    "points_config",
    [
        {
            "households": {"G03": [[ZHANG, "wxid_son"], ["wxid_absent", "wxid_x", "wxid_y"]]},
            "base": {"period": "month", "per_household": 0, "per_person": 4},
        }
    ],
)
async def test_households_from_config_and_a_representative_not_yet_in_the_group(
    group: Chat, sqlite_db: Database
) -> None:
    [reply] = await group.say("/基础分", LEADER)
    assert reply.text == (
        "已发放2026年12月基础分：1 户，共 8 分。1 户的户代表还没在本群发过言，未发放。"
    )
    # a household formed in the group replaces the configured one its members are in; Zhang
    # was counted this month already, her newcomers Wang and Liu were not
    await group.say("/户 @张阿姨 @王大爷 @刘姐", LEADER, mentions=(ZHANG, WANG, LIU[0]))
    [again] = await group.say("/基础分", LEADER)
    assert again.text == (
        "已发放2026年12月基础分：1 户，共 8 分。其中 1 户只计本期还没计过的人。"
        "1 户的户代表还没在本群发过言，未发放。"
    )
    [third] = await group.say("/基础分", LEADER)
    assert third.text == (
        "已发放2026年12月基础分：0 户，共 0 分。1 户本期已发过。"
        "1 户的户代表还没在本群发过言，未发放。"
    )


async def test_base_points_without_households(group: Chat) -> None:
    [reply] = await group.say("/基础分", LEADER)
    assert reply.text == "本网格还没有登记户，请先用 /户 @户代表 @家人… 登记。"


@pytest.mark.parametrize("points_config", [{"base": {"per_household": 0, "per_person": 0}}])
async def test_base_points_of_zero(group: Chat) -> None:
    [reply] = await group.say("/基础分", LEADER)
    assert reply.text == "配置里的基础分是 0 分，没有可发放的。"


async def test_households_and_base_points_need_the_grids_group(
    group: Chat, sqlite_db: Database
) -> None:
    """An administrator may use group commands privately; these act on one grid's members."""
    [form] = await group.say("/户 @张阿姨", ADMIN, room=None, mentions=(RESIDENT[0],))
    assert form.text == "/户 请在网格群里使用。"
    [base] = await group.say("/基础分", ADMIN, room=None)
    assert base.text == "/基础分 请在网格群里使用。"
    assert entry_count(sqlite_db) == 0


async def test_moving_someone_to_a_household_of_their_own_pays_nothing_more(
    group: Chat, sqlite_db: Database
) -> None:
    """Issue 17 item 7: each person counts once per period, in whichever household."""
    await group.say("/户 @张阿姨 @王大爷", LEADER, mentions=(ZHANG, WANG))
    [first] = await group.say("/基础分", LEADER)
    assert first.text == "已发放2026年基础分：1 户，共 20 分。"
    [moved] = await group.say("/户 @王大爷", LEADER, mentions=(WANG,))
    assert moved.text == "已登记一户：户代表 王大爷，共 1 人（王大爷）。"
    await group.say("/户 @刘姐 @张阿姨", LEADER, mentions=(LIU[0], ZHANG))
    [second] = await group.say("/基础分", LEADER)
    # Wang's and Zhang's new households: only Liu is new, and without a household's part
    assert (
        second.text
        == "已发放2026年基础分：1 户，共 5 分。其中 1 户只计本期还没计过的人。1 户本期已发过。"
    )
    assert sorted(base_entries(sqlite_db)) == [(LEADER[0], 5, "2026年"), (LEADER[0], 20, "2026年")]
    [third] = await group.say("/基础分", LEADER)
    assert third.text == "2026年基础分已经发过了，这次没有新发放。"
    next_year = datetime(2027, 1, 1, 0, 30, tzinfo=TZ)
    [later] = await group.say("/基础分", LEADER, at=next_year)
    assert later.text == "已发放2027年基础分：2 户，共 35 分。"  # 10+5 for Wang, 10+5×2


async def test_a_household_that_grows_is_paid_for_its_newcomer(group: Chat) -> None:
    await group.say("/户 @张阿姨", LEADER, mentions=(ZHANG,))
    [first] = await group.say("/基础分", LEADER)
    assert first.text == "已发放2026年基础分：1 户，共 15 分。"
    await group.say("/户 @张阿姨 @王大爷", LEADER, mentions=(ZHANG, WANG))
    [second] = await group.say("/基础分", LEADER)
    assert second.text == "已发放2026年基础分：1 户，共 5 分。其中 1 户只计本期还没计过的人。"
    [balance] = await group.say("积分", RESIDENT)
    assert balance.text.startswith("您现有积分 20 分")


@pytest.mark.parametrize("own", ["representative", "member"])
async def test_a_leader_does_not_pay_his_own_household(
    group: Chat, sqlite_db: Database, own: str
) -> None:
    """Issue 17 item 7: `/户 @自己` then `/基础分` paid the leader around 不能给自己加分."""
    await group.say("我也住这个网格", LEADER)
    people = (LEADER[0], ZHANG) if own == "representative" else (ZHANG, LEADER[0])
    await group.say("/户 @李网格长 @张阿姨", LEADER, mentions=people)
    await group.say("/户 @刘姐", LEADER, mentions=(LIU[0],))
    [reply] = await group.say("/基础分", LEADER)
    assert reply.text == (
        "已发放2026年基础分：1 户，共 15 分。1 户有您本人，请由其他网格长或管理员发放。"
    )
    assert base_entries(sqlite_db) == [(LEADER[0], 15, "2026年")]
    [admin] = await group.say("/基础分", ADMIN)
    assert admin.text == "已发放2026年基础分：1 户，共 20 分。1 户本期已发过。"
    assert sorted(base_entries(sqlite_db)) == [(LEADER[0], 15, "2026年"), (ADMIN[0], 20, "2026年")]
