from __future__ import annotations

import dataclasses

from sqlmodel import select

from bot.app import App
from bot.events import Outbound
from storage.models import Grid
from tests.auxil.chat import ADMIN, LEADER, OTHER_LEADER, RESIDENT, ROOM, Chat

DANCE = "广场舞爱好者"  # a group whose topic is no grid's
DANCE_ID = "dance@chatroom"
NEW_ROOM_ID = "new3@chatroom"


async def say_in(
    chat: Chat, text: str, who: tuple[str, str], room_id: str, topic: str
) -> list[Outbound]:
    """A message in a room whose platform id differs from its topic, as in WeChat."""
    event = dataclasses.replace(chat.message(text, who, topic), room_id=room_id)
    return await chat.feed(event)


def room_of(app: App, code: str) -> str | None:
    with app.services.db.session() as session:
        return session.exec(select(Grid.room_id).where(Grid.code == code)).one()


async def test_an_admin_binds_a_group_whose_topic_is_no_grids(chat: Chat, app: App) -> None:
    [reply] = await say_in(chat, "/绑定 G04", ADMIN, DANCE_ID, DANCE)
    assert reply.text == "已将本群绑定为幸福社区第4网格（G04）的网格群。"
    assert reply.room_id == DANCE_ID
    assert reply.mentions == (ADMIN[0],)
    assert room_of(app, "G04") == DANCE_ID
    # From now on the group is G04's, whatever its topic.
    [status] = await say_in(chat, "/状态", OTHER_LEADER, DANCE_ID, DANCE)
    assert status.text.startswith("幸福社区第4网格（G04）")


async def test_codes_are_read_in_any_case(chat: Chat, app: App) -> None:
    [reply] = await say_in(chat, "/绑定 g04", ADMIN, DANCE_ID, DANCE)
    assert "（G04）" in reply.text
    assert room_of(app, "G04") == DANCE_ID


async def test_others_get_no_answer_in_a_strangers_group(chat: Chat, app: App) -> None:
    assert await say_in(chat, "/绑定 G04", LEADER, DANCE_ID, DANCE) == []
    assert await say_in(chat, "/绑定 G04", RESIDENT, DANCE_ID, DANCE) == []
    assert room_of(app, "G04") is None


async def test_a_leader_is_refused_in_a_grid_group(chat: Chat, app: App) -> None:
    [reply] = await chat.say("/绑定 G04", LEADER)
    assert reply.text == "抱歉，/绑定 仅限街道管理员使用。"
    assert room_of(app, "G04") is None


async def test_unknown_or_missing_code(chat: Chat, app: App) -> None:
    [reply] = await say_in(chat, "/绑定 G99", ADMIN, DANCE_ID, DANCE)
    assert reply.text == "没有编码为 G99 的网格，发送 /网格列表 查看。"
    [reply] = await say_in(chat, "/绑定", ADMIN, DANCE_ID, DANCE)
    assert reply.text == "请写上网格编码，例如：/绑定 G03（发送 /网格列表 查看编码）"
    assert room_of(app, "G04") is None


async def test_not_in_a_private_chat(chat: Chat) -> None:
    [reply] = await chat.say("/绑定 G03", ADMIN, room=None)
    assert reply.text == "请在要绑定的群里发送 /绑定 <网格编码>，例如：/绑定 G03"


async def test_a_grid_moves_to_a_new_group(chat: Chat, app: App) -> None:
    await chat.say("早", RESIDENT)  # the old group, bound by its topic
    assert room_of(app, "G03") == ROOM
    [reply] = await say_in(chat, "/绑定 G03", ADMIN, NEW_ROOM_ID, "幸福社区第3网格（新）")
    assert (
        reply.text == "已将本群绑定为幸福社区第3网格（G03）的网格群，原来的群不再接收本网格消息。"
    )
    assert room_of(app, "G03") == NEW_ROOM_ID
    # The old group now looks like a look-alike of the grid's: heard, not answered.
    assert await chat.say("/帮助", RESIDENT) == []
    [help_reply] = await say_in(chat, "/帮助", RESIDENT, NEW_ROOM_ID, "幸福社区第3网格（新）")
    assert help_reply.text.startswith("可用命令：")


async def test_a_grid_group_given_to_another_grid(chat: Chat, app: App) -> None:
    await chat.say("早", RESIDENT)
    [reply] = await chat.say("/绑定 G04", ADMIN)
    assert reply.text == "已将本群绑定为幸福社区第4网格（G04）的网格群。"
    assert room_of(app, "G04") == ROOM
    assert room_of(app, "G03") is None


async def test_binding_the_same_grid_again(chat: Chat, app: App) -> None:
    await chat.say("早", RESIDENT)
    [reply] = await chat.say("/绑定 G03", ADMIN)
    assert reply.text == "本群已是幸福社区第3网格（G03）的网格群。"
    assert room_of(app, "G03") == ROOM
