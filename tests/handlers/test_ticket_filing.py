from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from sqlmodel import select

from bot.events import Quote
from storage import examples
from storage.db import Database
from storage.models import TicketEvent, TicketReporter, TrainingExample
from tests.auxil.chat import (
    ADMIN,
    LEADER,
    NEIGHBOUR,
    OTHER_LEADER,
    OTHER_ROOM,
    RESIDENT,
    STAFF_WORKER,
    Chat,
)
from tests.handlers.test_tickets import tickets

# Words the bot lets pass, whatever the classifier reads in them: said to a neighbour.
VAGUE = "王大爷，楼上那家又开始了，天天这样，电话13812345678"
# ... and with nothing in them to tell what kind of matter it is
NO_TOPIC = "王大爷，又来了，真受不了"
# Addressed to a neighbour, so the bot keeps out of it, though it is a leak to fix.
TO_NEIGHBOUR = "王大爷，你家水管漏到我家了，天花板都湿了"
NOT_FOUND = "没有找到被引用的消息：只能受理本群 7 天内居民发的文字消息。"


def quote_of(who: tuple[str, str], text: str) -> str:
    return f"「{who[1]}：{text}」\n- - - - - - - - - - - - - - -\n"


def stored(db: Database) -> list[TrainingExample]:
    with db.session() as s:
        return list(s.exec(select(TrainingExample).order_by(TrainingExample.id)))  # type: ignore[arg-type]


def trail(db: Database, ticket_id: int) -> list[tuple[str, str | None, int | None]]:
    with db.session() as s:
        rows = s.exec(select(TicketEvent).where(TicketEvent.ticket_id == ticket_id))
        return [(e.action, e.actor_id, e.message_id) for e in rows]


async def test_a_quoted_message_becomes_the_residents_ticket_and_an_example(
    chat: Chat, sqlite_db: Database
) -> None:
    await chat.say("收到", LEADER)
    assert await chat.say(VAGUE) == []
    assert tickets(sqlite_db) == []
    [reply] = await chat.say("/受理 矛盾纠纷", LEADER, quote=quote_of(RESIDENT, VAGUE))
    # the reply a report gets, to the resident whose report it is
    assert reply.text == "已受理，工单 #1（矛盾纠纷），由网格长李网格长负责，11月27日 09:00前处理。"
    assert (reply.room_topic, reply.mentions) == ("幸福社区第3网格", (RESIDENT[0],))
    [ticket] = tickets(sqlite_db)
    assert (ticket.reporter_id, ticket.reporter_name) == RESIDENT
    assert (ticket.text, ticket.category, ticket.urgent) == (VAGUE, "dispute", False)
    assert ticket.id is not None
    assert [(action, actor) for action, actor, _ in trail(sqlite_db, ticket.id)] == [
        ("created", RESIDENT[0]),
        ("filed", LEADER[0]),
    ]
    [example] = stored(sqlite_db)
    assert (example.is_request, example.category, example.source) == (True, "dispute", "受理")
    assert (example.grid_code, example.ticket_id, example.contact_id) == ("G03", 1, LEADER[0])
    assert example.text == "王大爷，楼上那家又开始了，天天这样，电话138****5678"
    with sqlite_db.session() as s:
        reporters = s.exec(select(TicketReporter.contact_id)).all()
    assert reporters == [RESIDENT[0]]


async def test_without_a_category_the_classifiers_is_taken_else_asked_for(
    chat: Chat, sqlite_db: Database
) -> None:
    assert await chat.say(TO_NEIGHBOUR) == []
    [reply] = await chat.say("/受理", LEADER, quote=quote_of(RESIDENT, TO_NEIGHBOUR))
    assert reply.text.startswith("已受理，工单 #1（")
    assert reply.mentions == (RESIDENT[0],)
    [ticket] = tickets(sqlite_db)
    assert stored(sqlite_db)[0].category == ticket.category
    await chat.say(NO_TOPIC, NEIGHBOUR)
    [ask] = await chat.say("/受理", LEADER, quote=quote_of(NEIGHBOUR, NO_TOPIC))
    assert ask.text == "请写上类别，例如：/受理 设施报修"
    assert ask.mentions == (LEADER[0],)
    assert len(tickets(sqlite_db)) == 1


async def test_a_message_is_filed_once(chat: Chat, sqlite_db: Database) -> None:
    await chat.say(VAGUE)
    await chat.say("/受理 矛盾纠纷", LEADER, quote=quote_of(RESIDENT, VAGUE))
    [again] = await chat.say("/受理 矛盾纠纷", LEADER, quote=quote_of(RESIDENT, VAGUE))
    assert again.text == "这条消息已经登记在工单 #1，不再重复登记。"
    # a report the bot took itself, or added to a ticket, is on its ticket already
    lamp = "3栋门口的路灯坏了好几天了，晚上黑漆漆的，麻烦处理一下"
    await chat.say(lamp, NEIGHBOUR)
    [taken] = await chat.say("/受理", LEADER, quote=quote_of(NEIGHBOUR, lamp))
    assert taken.text == "这条消息已经登记在工单 #2，不再重复登记。"
    assert len(tickets(sqlite_db)) == 2
    assert len(stored(sqlite_db)) == 1


@pytest.mark.parametrize(
    ("quote", "answer"),
    [
        (None, "请长按居民的那条消息，选「引用」，再发 /受理 [类别]，例如：/受理 设施报修"),
        # words nobody wrote, or that person didn't
        (quote_of(RESIDENT, "没说过的话"), NOT_FOUND),
        (quote_of(NEIGHBOUR, VAGUE), NOT_FOUND),
        (quote_of(("x", "社区小助手"), VAGUE), NOT_FOUND),  # the bot's own
    ],
)  # fmt: skip
async def test_what_cannot_be_found_is_said_briefly(
    chat: Chat, sqlite_db: Database, quote: str | None, answer: str
) -> None:
    await chat.say("收到", NEIGHBOUR)
    await chat.say(VAGUE)
    kwargs = {"quote": quote} if quote else {}
    [reply] = await chat.say("/受理 矛盾纠纷", LEADER, **kwargs)
    assert reply.text == answer
    assert reply.mentions == (LEADER[0],)
    assert tickets(sqlite_db) == []
    assert stored(sqlite_db) == []


async def test_a_week_old_message_and_a_workers_are_not_taken(
    chat: Chat, sqlite_db: Database
) -> None:
    await chat.say(VAGUE)
    chat.clock.set(chat.clock.now() + timedelta(days=7, minutes=1))
    [old] = await chat.say("/受理 矛盾纠纷", LEADER, quote=quote_of(RESIDENT, VAGUE))
    assert old.text == NOT_FOUND
    await chat.say("电梯里有股怪味", STAFF_WORKER)
    [staff] = await chat.say(
        "/受理 环境卫生", LEADER, quote=quote_of(STAFF_WORKER, "电梯里有股怪味")
    )
    assert staff.text == "只能受理居民的消息。"
    [bad] = await chat.say("/受理 天气", LEADER, quote=quote_of(RESIDENT, VAGUE))
    assert bad.text.startswith("没有「天气」这个类别。可选：环境卫生、")
    assert tickets(sqlite_db) == []


async def test_of_residents_of_one_name_the_one_who_wrote_the_words_reported_it(
    chat: Chat, sqlite_db: Database
) -> None:
    other = ("wxid_other", NEIGHBOUR[1])
    await chat.say(VAGUE, NEIGHBOUR)
    await chat.say("我家楼上也是", other)
    [reply] = await chat.say("/受理 矛盾纠纷", LEADER, quote=quote_of(NEIGHBOUR, VAGUE))
    assert reply.mentions == (NEIGHBOUR[0],)
    # the same words from both: the sender's id, where the channel knows it (a replay's
    # quote "from"), says whose
    await chat.say("张阿姨，对面那家又开始了", NEIGHBOUR)
    await chat.say("张阿姨，对面那家又开始了", other)
    event = chat.message("/受理 矛盾纠纷", LEADER)
    event = replace(event, quote=Quote(NEIGHBOUR[1], "张阿姨，对面那家又开始了", NEIGHBOUR[0]))
    [second] = await chat.feed(event)
    assert second.mentions == (NEIGHBOUR[0],)
    assert [t.reporter_id for t in tickets(sqlite_db)] == [NEIGHBOUR[0], NEIGHBOUR[0]]


async def test_a_leader_files_what_a_resident_said_elsewhere(
    chat: Chat, sqlite_db: Database
) -> None:
    await chat.say("收到", NEIGHBOUR)
    [reply] = await chat.say(
        "/补录 @王大爷\u2005设施报修 5栋后面的井盖松了，踩上去晃", LEADER, mentions=(NEIGHBOUR[0],)
    )
    assert reply.text.startswith("已受理，工单 #1（设施报修），由网格长李网格长负责")
    assert reply.mentions == (NEIGHBOUR[0],)
    [ticket] = tickets(sqlite_db)
    assert (ticket.reporter_id, ticket.reporter_name) == NEIGHBOUR
    assert ticket.text == "5栋后面的井盖松了，踩上去晃"
    [example] = stored(sqlite_db)
    assert (example.text, example.category, example.source) == (ticket.text, "facility", "补录")
    # no category: the classifier's reading of the words, else the leader is asked for one
    [vague] = await chat.say("/补录 @王大爷 楼道里堆满了纸箱子", LEADER, mentions=(NEIGHBOUR[0],))
    assert vague.text == "请写上类别，例如：/补录 @张阿姨 设施报修 3栋路灯坏了"
    [read] = await chat.say(
        "/补录 @王大爷 小区东门那个坑谁来管管", LEADER, mentions=(NEIGHBOUR[0],)
    )
    assert read.text.startswith("已受理，工单 #2（设施报修）")
    assert [e.source for e in stored(sqlite_db)] == ["补录", "补录"]
    assert len(tickets(sqlite_db)) == 2


@pytest.mark.parametrize(
    ("text", "mentions", "answer"),
    [
        ("/补录 5栋井盖松了", (), "请 @ 要操作的人，用法：/补录 @居民 [类别] 内容"),
        ("/补录 @王大爷", (NEIGHBOUR[0],),
         "用法：/补录 @居民 [类别] 内容，例如：/补录 @张阿姨 设施报修 3栋路灯坏了"),
        ("/补录 @王大爷 设施报修", (NEIGHBOUR[0],),
         "用法：/补录 @居民 [类别] 内容，例如：/补录 @张阿姨 设施报修 3栋路灯坏了"),
        ("/补录 @王大爷 5栋井盖松了", (),
         "请用微信的 @ 功能从群成员里选人，手动输入的「@名字」不算数。"),
        ("/补录 @王大爷 @张阿姨 5栋井盖松了", (NEIGHBOUR[0], RESIDENT[0]),
         "一次只能为一位居民补录。"),
        ("/补录 @胡楼栋长 5栋井盖松了", (STAFF_WORKER[0],), "只能为居民补录。"),
        ("/补录 @王大爷 " + "井" * 2001, (NEIGHBOUR[0],),
         "诉求最长 2000 字，这条有 2001 字，没有登记，请精简后用 /补录 登记。"),
    ],
)  # fmt: skip
async def test_a_malformed_backfill_gets_one_short_reply(
    chat: Chat, sqlite_db: Database, text: str, mentions: tuple[str, ...], answer: str
) -> None:
    for who in (NEIGHBOUR, RESIDENT, STAFF_WORKER):
        await chat.say("收到", who)
    [reply] = await chat.say(text, LEADER, mentions=mentions)
    assert reply.text == answer
    assert tickets(sqlite_db) == []
    assert stored(sqlite_db) == []


async def test_residents_and_other_grids_leaders_cannot_file(
    chat: Chat, sqlite_db: Database
) -> None:
    await chat.say(VAGUE)
    await chat.say("收到", NEIGHBOUR)
    quote = quote_of(RESIDENT, VAGUE)
    for who in (NEIGHBOUR, OTHER_LEADER, ("wxid_impostor", LEADER[1])):
        [refused] = await chat.say("/受理 矛盾纠纷", who, quote=quote)
        assert refused.text == "抱歉，/受理 仅限本网格的网格长使用。"
        [refused] = await chat.say("/补录 @王大爷 5栋井盖松了", who, mentions=(NEIGHBOUR[0],))
        assert refused.text == "抱歉，/补录 仅限本网格的网格长使用。"
    # a leader in another grid's group finds nothing of this one's there
    [elsewhere] = await chat.say("/受理 矛盾纠纷", OTHER_LEADER, OTHER_ROOM, quote=quote)
    assert elsewhere.text == NOT_FOUND
    [private] = await chat.say("/补录 @王大爷 5栋井盖松了", ADMIN, None, mentions=(NEIGHBOUR[0],))
    assert private.text == "/补录 请在网格群里使用。"
    assert tickets(sqlite_db) == []
    assert stored(sqlite_db) == []
    # an administrator may, in the grid's group
    [done] = await chat.say("/受理 矛盾纠纷", ADMIN, quote=quote)
    assert done.text.startswith("已受理，工单 #1（矛盾纠纷）")


async def test_the_commands_are_audited(
    chat: Chat, sqlite_db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    await chat.say(VAGUE)
    with caplog.at_level("INFO", logger="gridbot.audit"):
        await chat.say("/受理 矛盾纠纷", LEADER, quote=quote_of(RESIDENT, VAGUE))
        await chat.say("/补录 @张阿姨 5栋井盖松了", NEIGHBOUR, mentions=(RESIDENT[0],))
    audited = [r.getMessage() for r in caplog.records if r.name == "gridbot.audit"]
    assert audited[0].startswith(f"/受理 by {LEADER[0]} (role LEADER) in G03")
    assert audited[1].startswith(f"refused /补录 to {NEIGHBOUR[0]}")
    assert [r["id"] for r in examples_rows(sqlite_db)] == ["c1"]


def examples_rows(db: Database) -> list[dict[str, object]]:
    with db.session() as s:
        return examples.rows(session=s)
