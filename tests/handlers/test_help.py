from __future__ import annotations

import pytest

from tests.auxil.chat import ADMIN, LEADER, OTHER_ROOM, RESIDENT, Chat


@pytest.mark.parametrize(
    "text", ["/帮助", "帮助", "#帮助", "／帮助", "@社区小助手\u2005/帮助", " 帮助 "]
)
async def test_every_way_of_asking_for_help(chat: Chat, text: str) -> None:
    [reply] = await chat.say(text)
    assert reply.text.startswith("可用命令：\n帮助")
    assert reply.mentions == (RESIDENT[0],)


async def test_residents_leaders_and_admins_see_what_they_may_do(chat: Chat) -> None:
    [resident] = await chat.say("/帮助", RESIDENT)
    [leader] = await chat.say("/帮助", LEADER)
    [admin] = await chat.say("/帮助", ADMIN)
    assert "网格长命令" not in resident.text
    assert "/状态" not in resident.text
    # what residents type bare is shown bare, and the main thing is said: no command needed
    assert "\n我的工单　" in resident.text
    assert "\n积分　" in resident.text
    assert resident.text.endswith(
        "反映问题不用命令：直接在群里说清楚在哪、什么事，我会登记并跟进。"
    )
    assert "反映问题不用命令" not in leader.text
    assert "网格长命令：\n/状态" in leader.text
    assert "管理员命令" not in leader.text
    assert "网格长命令：\n/状态" in admin.text
    assert "管理员命令：\n/网格列表" in admin.text


async def test_help_in_private_leaves_out_group_only_commands(chat: Chat) -> None:
    [leader] = await chat.say("帮助", LEADER, room=None)
    assert leader.to == LEADER[0]
    assert "/状态" not in leader.text
    assert "（网格长命令请在本网格群里使用）" in leader.text
    [resident] = await chat.say("帮助", RESIDENT, room=None)
    assert "网格长" not in resident.text


async def test_a_leader_of_another_grid_sees_resident_help_there(chat: Chat) -> None:
    [reply] = await chat.say("/帮助", LEADER, room=OTHER_ROOM)
    assert "网格长命令" not in reply.text


async def test_an_unknown_command_points_to_help_once(chat: Chat) -> None:
    [reply] = await chat.say("/天气")
    assert reply.text == "没有「/天气」这个命令，发送 /帮助 查看可用命令。"
    assert reply.mentions == (RESIDENT[0],)
    [long] = await chat.say("/" + "啊" * 500)
    assert len(long.text) < 60


@pytest.mark.parametrize(
    "text",
    [
        "大家好",
        "收到",
        "/::)",
        "#",
        "帮助一下我家老人",
        "",
        "   ",
        "👍👍",
        "#接龙\n1. 刘姐 2箱",
        "#周末",
    ],
)
async def test_chatter_emoticons_and_hashtags_get_no_reply(chat: Chat, text: str) -> None:
    # only "/" makes an unknown word a mistyped command: "#接龙" is WeChat's
    assert await chat.say(text) == []
