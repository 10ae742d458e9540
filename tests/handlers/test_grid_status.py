from __future__ import annotations

from bot.app import build_app
from bot.clock import ManualClock
from bot.settings import Settings
from handlers.grid_status import LIST_LIMIT
from nlp.classifier import Classifier
from storage.db import Database
from tests.auxil.chat import ADMIN, LEADER, NEIGHBOUR, OTHER_ROOM, RESIDENT, Chat, RecordingSender


async def test_status_counts_members_and_todays_messages(chat: Chat) -> None:
    await chat.say("早", RESIDENT)
    await chat.say("早", NEIGHBOUR)
    await chat.say("早", RESIDENT, room=OTHER_ROOM)
    [reply] = await chat.say("/状态", LEADER)
    assert reply.text == "幸福社区第3网格（G03）：已登记群成员 3 人，今日收到消息 3 条。"
    assert reply.mentions == (LEADER[0],)


async def test_status_is_for_leaders_only(chat: Chat) -> None:
    [reply] = await chat.say("/状态", RESIDENT)
    assert reply.text == "抱歉，/状态 仅限本网格的网格长使用。"


async def test_grid_list_shows_which_groups_the_bot_has_seen(chat: Chat) -> None:
    await chat.say("早", RESIDENT)
    [reply] = await chat.say("/网格列表", ADMIN, room=None)
    assert reply.text.splitlines() == [
        "共 2 个网格，1 个群已接入。",
        "尚未见到群消息：",
        "G04 幸福社区第4网格（群名：幸福社区第4网格）",
    ]
    [refused] = await chat.say("/网格列表", LEADER)
    assert refused.text == "抱歉，/网格列表 仅限街道管理员使用。"


async def test_grid_list_stays_one_readable_message_for_a_city(
    settings: Settings,
    clock: ManualClock,
    sqlite_db: Database,
    sender: RecordingSender,
    classifier: Classifier,
) -> None:
    many = [
        {"code": f"G{i:03}", "name": f"网格{i}", "room": f"群{i}"} for i in range(LIST_LIMIT + 30)
    ]
    city = Settings.model_validate(settings.model_dump() | {"grids": many})
    chat = Chat(
        build_app(city, clock=clock, db=sqlite_db, sender=sender, classifier=classifier),
        clock,
        sender,
    )
    [reply] = await chat.say("/网格列表", ADMIN, room=None)
    lines = reply.text.splitlines()
    assert lines[0] == f"共 {LIST_LIMIT + 30} 个网格，0 个群已接入。"
    assert len(lines) == LIST_LIMIT + 3
    assert lines[-1] == "……另有 30 个"


async def test_status_privately_asks_for_the_group(chat: Chat) -> None:
    [reply] = await chat.say("/状态", ADMIN, room=None)  # this crashed on the missing grid
    assert reply.text == "/状态 请在网格群里使用。"
