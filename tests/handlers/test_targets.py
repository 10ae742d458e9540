from __future__ import annotations

from tests.auxil.chat import LEADER, NEIGHBOUR, RESIDENT, Chat

ZHANG, WANG = RESIDENT[0], NEIGHBOUR[0]


async def test_a_person_mentioned_twice_counts_once(chat: Chat) -> None:
    await chat.say("收到", RESIDENT)
    [reply] = await chat.say("/户 @张阿姨 @张阿姨", LEADER, mentions=(ZHANG, ZHANG))
    assert reply.text == "已登记一户：户代表 张阿姨，共 1 人（张阿姨）。"


async def test_a_member_renamed_since_they_last_spoke_is_still_found_by_contact_id(
    chat: Chat,
) -> None:
    await chat.say("收到", RESIDENT)
    await chat.say("收到", NEIGHBOUR)
    # WeChat writes the current group nickname; the bot knows the one from the last message
    [reply] = await chat.say("/户 @张阿姨 @老王头", LEADER, mentions=(ZHANG, WANG))
    assert reply.text == "已登记一户：户代表 张阿姨，共 2 人（张阿姨、王大爷）。"


async def test_a_display_name_copied_by_someone_else_names_only_the_mentioned_id(
    chat: Chat,
) -> None:
    await chat.say("收到", RESIDENT)
    await chat.say("收到", ("wxid_impostor", "张阿姨"))  # the same nickname, another person
    [reply] = await chat.say("/加分 @张阿姨 志愿服务", LEADER, mentions=("wxid_impostor",))
    assert reply.text == "已给 张阿姨 加 5 分（志愿服务）。"
    assert reply.mentions == ("wxid_impostor",)
    [zhang] = await chat.say("积分", RESIDENT)
    assert zhang.text == "您现有积分 0 分，本月无变动。"
