from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import select

from storage.db import Database
from storage.models import Ticket, TicketEvent
from tests.auxil.chat import ADMIN, LEADER, NEIGHBOUR, OTHER_LEADER, OTHER_ROOM, RESIDENT, Chat

LAMP = "3栋门口的路灯坏了好几天了，晚上黑漆漆的，麻烦处理一下"


def ticket(db: Database, number: int = 1) -> Ticket:
    with db.session() as s:
        return s.get_one(Ticket, number)


@pytest.fixture
async def resolved(chat: Chat) -> Chat:
    await chat.say(LAMP)
    await chat.say("/办结 1 路灯已更换", LEADER)
    return chat


async def test_my_tickets(chat: Chat) -> None:
    [empty] = await chat.say("我的工单")
    assert empty.text == "您目前没有未办结的工单。"
    await chat.say(LAMP)
    [mine] = await chat.say("我的工单")
    assert mine.text.splitlines() == [
        "您有 1 件工单在处理：",
        "#1 设施报修｜待派单｜截止11月25日 09:00｜3栋门口的路灯坏了好几天了，晚上…",
    ]
    [theirs] = await chat.say("我的工单", NEIGHBOUR)
    assert theirs.text == "您目前没有未办结的工单。"


async def test_query_shows_progress_to_reporter_leader_and_admin_only(chat: Chat) -> None:
    await chat.say(LAMP)
    [own] = await chat.say("查询 1")
    assert own.text.splitlines() == [
        "#1 设施报修｜待派单",
        "反映：11月22日 09:00",
        "截止：11月25日 09:00",
    ]
    assert (await chat.say("查询 #1", LEADER))[0].text == own.text
    assert (await chat.say("查询 1", ADMIN, room=None))[0].text == own.text
    for who, room in [(NEIGHBOUR, "幸福社区第3网格"), (OTHER_LEADER, OTHER_ROOM)]:
        [refused] = await chat.say("查询 1", who, room=room)
        assert refused.text == "没有找到您能查看的工单 #1。"
    [missing] = await chat.say("查询 42")
    assert missing.text == "没有找到您能查看的工单 #42。"
    [usage] = await chat.say("查询 一下")
    assert usage.text == "请写上工单号，例如：查询 12"
    [too_long] = await chat.say("查询 99999999999999999999")
    assert too_long.text == "没有找到您能查看的工单 #999999999999…。"
    [next_line] = await chat.say("查询\n1")
    assert next_line.text == own.text


async def test_satisfied_archives_the_ticket(resolved: Chat, sqlite_db: Database) -> None:
    [reply] = await resolved.say("满意")
    assert reply.text == "感谢您的评价！工单 #1 已归档。"
    t = ticket(sqlite_db)
    assert (t.status, t.rating) == ("archived", "satisfied")
    [query] = await resolved.say("查询 1")
    assert query.text.splitlines()[0] == "#1 设施报修｜已归档（满意）"
    assert "处理结果：路灯已更换" in query.text


async def test_a_digit_rates_too(resolved: Chat, sqlite_db: Database) -> None:
    await resolved.say("2")
    assert ticket(sqlite_db).rating == "basic"


@pytest.mark.parametrize(
    ("text", "rating"),
    [
        ("滿意", "satisfied"),
        ("满意 谢谢", "satisfied"),
        ("非常满意👍", "satisfied"),
        ("满意，谢谢网格长辛苦了！", "satisfied"),
        ("基本满意吧", "basic"),
        ("不太满意 灯还是一闪一闪的", "unsatisfied"),
        ("不滿意 只換了一半", "unsatisfied"),
    ],
)
async def test_ratings_as_people_write_them(
    resolved: Chat, sqlite_db: Database, text: str, rating: str
) -> None:
    [reply, *_] = await resolved.say(text)
    assert ticket(sqlite_db).rating == rating
    assert reply.mentions == (RESIDENT[0],)


async def test_only_the_reporter_is_asked_to_rate(chat: Chat) -> None:
    await chat.say(LAMP)
    await chat.say("3栋路灯坏了 晚上出门看不见", NEIGHBOUR)  # +1
    [told] = await chat.say("/办结 1 路灯已更换", LEADER)
    assert told.mentions == (RESIDENT[0], NEIGHBOUR[0])  # both hear the result
    assert "请张阿姨回复“满意”" in told.text


async def test_a_rating_in_another_grids_group_is_not_taken(
    resolved: Chat, sqlite_db: Database
) -> None:
    [reply] = await resolved.say("满意", room=OTHER_ROOM)
    assert reply.text == "您目前没有待评价的工单。"
    assert ticket(sqlite_db).rating is None
    assert await resolved.say("满意 这家店的菜不错", room=OTHER_ROOM) == []


async def test_unsatisfied_reopens_and_tells_the_leader(
    resolved: Chat, sqlite_db: Database
) -> None:
    reply, leaders = await resolved.say("不满意")
    assert reply.text == "抱歉没让您满意，工单 #1 已重新打开，网格长会尽快跟进。"
    # privately: the group does not learn who was unhappy with what
    assert (leaders.to, leaders.room_topic) == (LEADER[0], None)
    assert leaders.text == "张阿姨对工单 #1 的处理不满意，已重新打开，请于11月25日 09:00前跟进。"
    t = ticket(sqlite_db)
    assert (t.status, t.reopen_count, t.resolved_at) == ("open", 1, None)
    with sqlite_db.session() as s:
        actions = [e.action for e in s.exec(select(TicketEvent).order_by(TicketEvent.id))]
    assert actions[-2:] == ["rated", "reopened"]
    # worked on again and resolved: a new rating is asked for
    await resolved.say("/办结 1 已重新更换灯具", LEADER)
    await resolved.say("满意")
    assert ticket(sqlite_db).status == "archived"


async def test_a_rating_privately_works_and_stays_private(resolved: Chat) -> None:
    reply, leaders = await resolved.say("不满意", room=None)
    assert reply.to == RESIDENT[0]
    assert (leaders.to, leaders.room_topic) == (LEADER[0], None)


async def test_a_rating_with_nothing_pending(resolved: Chat) -> None:
    [reply] = await resolved.say("满意", NEIGHBOUR)
    assert reply.text == "您目前没有待评价的工单。"
    assert await resolved.say("1", NEIGHBOUR) == []  # "1" is a "+1" in a group chat
    await resolved.say("满意")
    [again] = await resolved.say("满意")
    assert again.text == "您目前没有待评价的工单。"


async def test_after_the_window_a_rating_is_not_taken(resolved: Chat, sqlite_db: Database) -> None:
    later = resolved.clock.now() + timedelta(hours=49)
    [reply] = await resolved.say("不满意", at=later)
    assert reply.text == "您目前没有待评价的工单。"
    assert ticket(sqlite_db).status == "archived"  # archived as 未评价 by the sweep
    assert ticket(sqlite_db).rating == "none"


async def test_a_neighbour_on_the_same_matter_sees_its_progress_not_the_first_words(
    chat: Chat,
) -> None:
    """Wang reported the same lamp (同类诉求 +1): he follows the ticket, but what Zhang
    wrote, with her phone number and flat, is not his to read."""
    await chat.say("3栋门口的路灯坏了好几天了，我住3栋502，电话13812345678")
    [linked] = await chat.say("3栋门口路灯坏了，晚上看不见路", NEIGHBOUR)
    assert linked.text == "已记录，和 #1 一并处理。"
    [theirs] = await chat.say("我的工单", NEIGHBOUR)
    assert theirs.text.splitlines() == [
        "您有 1 件工单在处理：",
        "#1 设施报修｜待派单｜截止11月25日 09:00｜同类+1｜您反映的同类问题",
    ]
    [query] = await chat.say("查询 1", NEIGHBOUR)
    assert query.text.startswith("#1 设施报修｜待派单")
    for reply in (theirs, query):
        for private in ("502", "1381", "张阿姨"):
            assert private not in reply.text


async def test_my_tickets_in_the_group_masks_numbers_however_written(chat: Chat) -> None:
    """Issue 17 item 3: the reply is read by the whole group."""
    await chat.say("１３８１２３４５６７８，3栋门口的路灯坏了")
    [mine] = await chat.say("我的工单")
    assert mine.text.splitlines()[1].endswith("｜138****5678，3栋门口…")


async def test_the_result_a_query_shows_is_masked(chat: Chat, sqlite_db: Database) -> None:
    """Issue 17 item 4: the leader's /办结 text may quote a resident's number."""
    await chat.say(LAMP)
    await chat.say("/办结 1 已修好，王大爷１３９\u200b0000\u200b1111 帮忙确认了", LEADER)
    [shown] = await chat.say("查询 1")
    assert shown.text.splitlines()[-1] == "处理结果：已修好，王大爷139****1111 帮忙确认了"
    assert ticket(sqlite_db).feedback == "已修好，王大爷13900001111 帮忙确认了"  # kept
