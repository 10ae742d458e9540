from __future__ import annotations

from bot.app import build_app
from bot.clock import ManualClock
from bot.settings import MAX_MESSAGE_CHARS, Settings
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
        "共 2 个网格，1 个群已接入，1 个群机器人还没见到消息（未接入）。",
        "G04 幸福社区第4网格：未接入",
        "G03 幸福社区第3网格：已接入",
    ]
    [refused] = await chat.say("/网格列表", LEADER)
    assert refused.text == "抱歉，/网格列表 仅限街道管理员使用。"


async def test_grid_list_lists_the_grids_when_all_are_connected(chat: Chat) -> None:
    """Issue 18 item 11: with every group connected it said only how many there were."""
    await chat.say("早", RESIDENT)
    await chat.say("早", RESIDENT, room=OTHER_ROOM)
    [reply] = await chat.say("/网格列表", ADMIN, room=None)
    assert reply.text.splitlines() == [
        "共 2 个网格，2 个群已接入。",
        "G03 幸福社区第3网格：已接入",
        "G04 幸福社区第4网格：已接入",
    ]


def _city(
    settings: Settings,
    grids: list[dict[str, str]],
    *,
    clock: ManualClock,
    sqlite_db: Database,
    sender: RecordingSender,
    classifier: Classifier,
) -> Chat:
    city = Settings.model_validate(settings.model_dump() | {"grids": grids})
    app = build_app(city, clock=clock, db=sqlite_db, sender=sender, classifier=classifier)
    return Chat(app, clock, sender)


async def test_grid_list_of_a_city_goes_page_by_page(
    settings: Settings,
    clock: ManualClock,
    sqlite_db: Database,
    sender: RecordingSender,
    classifier: Classifier,
) -> None:
    many = [{"code": f"G{i:03}", "name": f"网格{i}", "room": f"群{i}"} for i in range(100)]
    chat = _city(
        settings, many, clock=clock, sqlite_db=sqlite_db, sender=sender, classifier=classifier
    )
    await chat.say("早", RESIDENT, room="群42")
    [first] = await chat.say("/网格列表", ADMIN, room=None)
    lines = first.text.splitlines()
    assert lines[0] == "共 100 个网格，1 个群已接入，99 个群机器人还没见到消息（未接入）。"
    assert lines[1] == "G000 网格0：未接入（群名：群0）"
    assert len(lines) == LIST_LIMIT + 2
    assert lines[-1] == "第 1/5 页，发送 /网格列表 2 看下一页"
    seen = lines[1:-1]
    for page in range(2, 6):
        [reply] = await chat.say(f"/网格列表 {page}", ADMIN, room=None)
        seen += reply.text.splitlines()[1:-1]
        assert len(reply.text) <= MAX_MESSAGE_CHARS
    assert reply.text.splitlines()[-1] == "第 5/5 页"
    assert len(seen) == 100
    assert seen[-1] == "G042 网格42：已接入"  # the connected ones after those to act on
    [beyond] = await chat.say("/网格列表 6", ADMIN, room=None)
    assert beyond.text == "网格列表共 5 页，没有第 6 页。"
    [words] = await chat.say("/网格列表 全部", ADMIN, room=None)
    assert words.text == first.text


async def test_grid_list_pages_stay_one_message_with_long_names(
    settings: Settings,
    clock: ManualClock,
    sqlite_db: Database,
    sender: RecordingSender,
    classifier: Classifier,
) -> None:
    long = [
        {"code": f"{i:032}", "name": f"{i:03}" + "长" * 197, "room": f"{i:03}" + "群" * 197}
        for i in range(60)
    ]
    chat = _city(
        settings, long, clock=clock, sqlite_db=sqlite_db, sender=sender, classifier=classifier
    )
    [first] = await chat.say("/网格列表", ADMIN, room=None)
    pages = int(first.text.splitlines()[-1].split("/")[1].split(" ")[0])
    shown = 0
    for page in range(1, pages + 1):
        [reply] = await chat.say(f"/网格列表 {page}", ADMIN, room=None)
        assert len(reply.text) <= MAX_MESSAGE_CHARS
        shown += len(reply.text.splitlines()) - 2
    assert shown == 60


async def test_status_privately_asks_for_the_group(chat: Chat) -> None:
    [reply] = await chat.say("/状态", ADMIN, room=None)  # this crashed on the missing grid
    assert reply.text == "/状态 请在网格群里使用。"
