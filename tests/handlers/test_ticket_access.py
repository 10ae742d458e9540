from __future__ import annotations

import copy

import pytest

from bot.settings import Settings
from tests.auxil.chat import LEADER, OTHER_LEADER, OTHER_ROOM, Chat
from tests.conftest import SETTINGS

LAMP = "3栋门口的路灯坏了好几天了，晚上黑漆漆的，麻烦处理一下"
DEPUTY = ("wxid_leader_deputy", "副网格长小周")
FIFTH = "幸福社区第5网格"


@pytest.fixture
def settings() -> Settings:
    data = copy.deepcopy(SETTINGS)
    # a leader without a name first: the first name given counts, whoever it belongs to
    data["grids"][0]["leaders"] = [DEPUTY[0], {"id": LEADER[0], "name": "李明"}]
    data["grids"].append(
        {
            "code": "G05",
            "name": FIFTH,
            "room": FIFTH,
            "leaders": [{"id": "wxid_leader_qian", "name": "钱13812345678"}],
        }
    )
    return Settings.model_validate(data)


async def test_the_reply_names_the_leader_by_the_configured_name(chat: Chat) -> None:
    """Issue 18 item 11: the manual shows the leader's name, the bot said 本网格网格长."""
    [reply] = await chat.say(LAMP)
    assert "由网格长李明负责" in reply.text
    # the configured name wins over the name the leader (or a co-leader) has in the group
    await chat.say("大家好", DEPUTY)
    await chat.say("大家好", LEADER)
    [again] = await chat.say("5栋楼道灯坏了，麻烦修一下", ("wxid_resident_wang", "王大爷"))
    assert "由网格长李明负责" in again.text


async def test_a_configured_name_is_masked_like_a_display_name(chat: Chat) -> None:
    [reply] = await chat.say(LAMP, room=FIFTH)
    assert "由网格长钱138****5678负责" in reply.text


async def test_without_a_configured_name_the_group_name_then_the_role(chat: Chat) -> None:
    [before] = await chat.say(LAMP, room=OTHER_ROOM)
    assert "由本网格网格长负责" in before.text
    await chat.say("大家好", OTHER_LEADER, room=OTHER_ROOM)
    [after] = await chat.say("5栋楼道灯坏了，麻烦修一下", room=OTHER_ROOM)
    assert "由网格长赵网格长负责" in after.text
