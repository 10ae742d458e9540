from __future__ import annotations

from datetime import timedelta

from sqlmodel import select

from bot.events import MessageType
from handlers.tickets import REQUEST_MAX_CHARS
from storage.db import Database
from storage.models import Ticket, TicketAttachment, TicketEvent
from tests.auxil.chat import LEADER, NEIGHBOUR, OTHER_ROOM, RESIDENT, Chat

LAMP = "3栋门口的路灯坏了好几天了，晚上黑漆漆的，麻烦处理一下"
FIRE = "着火了！3栋2单元冒黑烟了，快来人"


def tickets(db: Database) -> list[Ticket]:
    with db.session() as s:
        return list(s.exec(select(Ticket).order_by(Ticket.id)))


def events_of(db: Database, ticket_id: int) -> list[str]:
    with db.session() as s:
        rows = s.exec(select(TicketEvent).where(TicketEvent.ticket_id == ticket_id))
        return [e.action for e in rows]


async def test_a_request_becomes_a_ticket_and_is_answered_once(
    chat: Chat, sqlite_db: Database
) -> None:
    await chat.say("大家好", LEADER)  # the leader has spoken: the bot knows their name
    [reply] = await chat.say(LAMP)
    [ticket] = tickets(sqlite_db)
    assert reply.mentions == (RESIDENT[0],)
    assert reply.room_topic == "幸福社区第3网格"
    assert reply.text == (
        f"已受理，工单 #{ticket.id}（设施报修），由网格长李网格长负责，11月25日 09:00前处理。"
    )
    assert (ticket.grid_code, ticket.reporter_id, ticket.text) == ("G03", RESIDENT[0], LAMP)
    assert (ticket.category, ticket.urgent, ticket.status) == ("facility", False, "open")
    assert ticket.keywords
    assert ticket.due_at - ticket.created_at == timedelta(hours=72)
    assert ticket.source_message_id is not None
    assert events_of(sqlite_db, ticket.id or 0) == ["created"]


async def test_before_the_leader_has_spoken_the_reply_names_the_role(chat: Chat) -> None:
    [reply] = await chat.say(LAMP)
    assert "由本网格网格长负责" in reply.text


async def test_chatter_and_settled_matters_make_no_ticket_and_no_reply(
    chat: Chat, sqlite_db: Database
) -> None:
    for text in ["大家早上好", "收到", "路灯修好了，谢谢网格员！", "哈哈哈", "👍"]:
        assert await chat.say(text) == []
    assert tickets(sqlite_db) == []


async def test_a_flood_of_text_is_not_a_request(chat: Chat, sqlite_db: Database) -> None:
    assert await chat.say(LAMP * (REQUEST_MAX_CHARS // len(LAMP) + 1)) == []
    assert tickets(sqlite_db) == []
    [reply] = await chat.say(LAMP)  # the same words, as a resident writes them
    assert reply.text.startswith("已受理，工单 #1")


async def test_no_tickets_from_private_chats_or_rooms_of_no_grid(
    chat: Chat, sqlite_db: Database
) -> None:
    assert await chat.say(LAMP, room=None) == []
    assert await chat.say(LAMP, room="别的群") == []
    assert tickets(sqlite_db) == []


async def test_the_same_resident_repeating_the_matter_is_merged(
    chat: Chat, sqlite_db: Database
) -> None:
    await chat.say(LAMP)
    [reply] = await chat.say("3栋的路灯还是坏的，怎么还没人来修")
    [ticket] = tickets(sqlite_db)
    assert reply.text == f"已合并到 #{ticket.id}，我们正在跟进，不用重复反映。"
    assert events_of(sqlite_db, ticket.id or 0) == ["created", "repeated"]


async def test_a_different_matter_of_the_same_resident_is_a_new_ticket(
    chat: Chat, sqlite_db: Database
) -> None:
    await chat.say(LAMP)
    await chat.say("5栋的路灯也坏了，麻烦一起修一下")  # another building
    await chat.say("楼下垃圾堆了三天没人清理，臭死了")  # another category
    assert [t.category for t in tickets(sqlite_db)] == ["facility", "facility", "environment"]


async def test_other_residents_reporting_the_same_matter_are_linked(
    chat: Chat, sqlite_db: Database
) -> None:
    await chat.say(LAMP)
    [reply] = await chat.say("3栋路灯坏了，晚上出门很不方便，能不能修一下", NEIGHBOUR)
    [ticket] = tickets(sqlite_db)
    assert reply.mentions == (NEIGHBOUR[0],)
    assert reply.text == (
        f"已有居民反映过这个问题（#{ticket.id}），已记为同类诉求 +1，处理结果会一并告诉您。"
    )
    assert ticket.same_count == 1
    # the same neighbour again: that's a repeat now, not another +1
    [again] = await chat.say("3栋路灯还坏着呢，麻烦快点修", NEIGHBOUR)
    assert again.text.startswith(f"已合并到 #{ticket.id}")
    assert tickets(sqlite_db)[0].same_count == 1


async def test_the_same_matter_in_another_grid_is_another_ticket(
    chat: Chat, sqlite_db: Database
) -> None:
    await chat.say(LAMP)
    await chat.say(LAMP, NEIGHBOUR, room=OTHER_ROOM)
    assert [t.grid_code for t in tickets(sqlite_db)] == ["G03", "G04"]


async def test_an_urgent_request_gets_the_emergency_number_and_alerts(
    chat: Chat, sqlite_db: Database
) -> None:
    sent = await chat.say(FIRE)
    [ticket] = tickets(sqlite_db)
    assert ticket.urgent
    assert ticket.category == "safety"
    assert ticket.due_at - ticket.created_at == timedelta(hours=1)
    group, alert, escalation = sent
    assert group.text == (
        f"情况紧急，请立即拨打 119！已登记紧急工单 #{ticket.id}（安全隐患），"
        "已通知网格长和指挥中心。"
    )
    assert group.mentions == (RESIDENT[0],)
    assert (
        alert.to,
        alert.text.startswith(f"【紧急】幸福社区第3网格 #{ticket.id} 安全隐患："),
    ) == (
        LEADER[0],
        True,
    )
    assert escalation.room_topic == "幸福社区指挥中心"
    assert escalation.text.startswith(
        f"【紧急】幸福社区第3网格 #{ticket.id} 安全隐患：{FIRE}（张阿姨，"
    )
    assert escalation.text.endswith("已提示居民拨打 119。")


async def test_phone_numbers_are_masked_in_what_others_read(
    chat: Chat, sqlite_db: Database
) -> None:
    text = "着火了！3栋冒黑烟，我电话13812345678，快来人"
    _, alert, escalation = await chat.say(text)
    assert "13812345678" not in alert.text + escalation.text
    assert "138****5678" in escalation.text
    assert tickets(sqlite_db)[0].text == text  # kept whole for the worker who handles it


async def test_a_photo_right_after_a_request_is_attached(chat: Chat, sqlite_db: Database) -> None:
    await chat.say(LAMP)
    [reply] = await chat.say("", type=MessageType.IMAGE)
    [ticket] = tickets(sqlite_db)
    assert reply.text == f"图片已补充到工单 #{ticket.id}。"
    with sqlite_db.session() as s:
        [attachment] = s.exec(select(TicketAttachment)).all()
    assert (attachment.ticket_id, attachment.type) == (ticket.id, "image")


async def test_media_later_or_from_someone_else_is_just_stored(
    chat: Chat, sqlite_db: Database
) -> None:
    await chat.say(LAMP)
    assert await chat.say("", NEIGHBOUR, type=MessageType.IMAGE) == []
    later = chat.clock.now() + timedelta(minutes=10)
    assert await chat.say("", type=MessageType.VOICE, at=later) == []
    with sqlite_db.session() as s:
        assert s.exec(select(TicketAttachment)).all() == []


async def test_a_message_handled_twice_opens_one_ticket(chat: Chat, sqlite_db: Database) -> None:
    event = chat.message(LAMP, msg_id="wx-1")
    assert len(await chat.feed(event)) == 1
    assert await chat.feed(event) == []
    assert len(tickets(sqlite_db)) == 1
