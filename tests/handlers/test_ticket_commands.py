from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import col, select

from bot.app import build_app
from bot.clock import ManualClock
from bot.settings import MAX_MESSAGE_CHARS, Settings
from nlp.classifier import Classifier
from storage.db import Database
from storage.models import CategoryCorrection, Ticket, TicketEvent, TrainingExample
from tests.auxil.chat import (
    ADMIN,
    LEADER,
    NEIGHBOUR,
    OTHER_LEADER,
    OTHER_ROOM,
    RESIDENT,
    Chat,
    RecordingSender,
)
from tests.conftest import SETTINGS

LAMP = "3栋门口的路灯坏了好几天了，晚上黑漆漆的，麻烦处理一下"
WORKER = ("wxid_worker_wang", "王师傅")


def ticket(db: Database, number: int = 1) -> Ticket:
    with db.session() as s:
        return s.get_one(Ticket, number)


def trail(db: Database, number: int = 1) -> list[tuple[str, str | None, str | None, str | None]]:
    with db.session() as s:
        rows = s.exec(select(TicketEvent).where(TicketEvent.ticket_id == number))
        return [(e.action, e.from_status, e.to_status, e.actor_id) for e in rows]


@pytest.fixture
async def opened(chat: Chat) -> Chat:
    await chat.say("我来帮忙", WORKER)  # the worker is a member of the group
    await chat.say(LAMP)
    return chat


async def test_list_open_tickets(opened: Chat) -> None:
    listing, said = await opened.say("/工单", LEADER)
    assert listing.to == LEADER[0]
    assert listing.text.splitlines() == [
        "本网格未办结工单 1 件：",
        "#1 设施报修｜待派单｜截止11月25日 09:00｜3栋门口的路灯坏了好几天了，晚上…（张阿姨）",
    ]
    assert (said.room_topic, said.mentions) == ("幸福社区第3网格", (LEADER[0],))
    assert said.text == "本网格未办结工单 1 件，已私信发给您。"
    [overdue] = await opened.say("/工单 超期", LEADER)
    assert overdue.text == "本网格目前没有超期的工单。"
    [bad] = await opened.say("/工单 明天", LEADER)
    assert bad.text == "用法：/工单、/工单 超期 或 /工单 全部"


async def test_assign_by_mention_tells_the_worker_and_the_reporter(
    opened: Chat, sqlite_db: Database
) -> None:
    [reply] = await opened.say("/派单 #1 @王师傅", LEADER, mentions=(WORKER[0],))
    assert (
        reply.text
        == "工单 #1（设施报修）已派给王师傅，请于11月25日 09:00前处理。反映人会收到处理结果。"
    )
    assert reply.mentions == (WORKER[0], RESIDENT[0])
    t = ticket(sqlite_db)
    assert (t.status, t.assignee_id, t.assignee_name) == ("assigned", WORKER[0], "王师傅")
    assert trail(sqlite_db)[-1] == ("assigned", "open", "assigned", LEADER[0])


async def test_a_typed_name_without_a_real_mention_assigns_nobody(
    opened: Chat, sqlite_db: Database
) -> None:
    [reply] = await opened.say("/派单 1 @王师傅", LEADER)
    assert reply.text == "请在命令里 @ 处理人（用微信的 @ 选人），例如：/派单 12 @王师傅"
    [two] = await opened.say("/派单 1 @a @b", LEADER, mentions=(WORKER[0], NEIGHBOUR[0]))
    assert two.text == "一次只能派给一位处理人。"
    assert ticket(sqlite_db).status == "open"


async def test_residents_and_other_grids_leaders_are_refused(
    opened: Chat, sqlite_db: Database
) -> None:
    [resident] = await opened.say("/办结 1 修好了", RESIDENT)
    assert resident.text == "抱歉，/办结 仅限本网格的网格长使用。"
    [other] = await opened.say("/办结 1 修好了", OTHER_LEADER)
    assert other.text == "抱歉，/办结 仅限本网格的网格长使用。"
    [wrong_grid] = await opened.say("/办结 1 修好了", OTHER_LEADER, room=OTHER_ROOM)
    assert wrong_grid.text == "#1 不是本网格的工单。"
    assert ticket(sqlite_db).status == "open"


async def test_resolve_asks_the_reporter_for_a_rating(opened: Chat, sqlite_db: Database) -> None:
    [reply] = await opened.say("/办结 1 路灯已更换，已恢复照明", LEADER)
    assert reply.mentions == (RESIDENT[0],)
    assert reply.text == (
        "您反映的问题（#1）已办结：路灯已更换，已恢复照明\n"
        "请张阿姨回复“满意”“基本满意”或“不满意”（也可回复 1、2、3）评价。"
    )
    t = ticket(sqlite_db)
    assert (t.status, t.feedback) == ("resolved", "路灯已更换，已恢复照明")
    assert t.rating_due_at == opened.clock.now() + timedelta(hours=48)
    [twice] = await opened.say("/办结 1 又修了一遍", LEADER)
    assert twice.text == "#1 已经办结过了，正在等居民评价。"
    assert ticket(sqlite_db).feedback == "路灯已更换，已恢复照明"


@pytest.mark.parametrize(
    ("text", "answer"),
    [
        ("/办结", "请写上工单号，例如：/办结 12 路灯已修好"),
        ("/办结 abc 好了", "请写上工单号，例如：/办结 12 路灯已修好"),
        ("/办结 1", "请写上处理结果，例如：/办结 12 路灯已修好"),
        ("/办结 999 好了", "没有找到工单 #999。"),
        # a number, just too long to be any ticket's: not "write the number"
        ("/办结 99999999999999 好了", "没有找到工单 #999999999999…。"),
        ("/办结 1234567890 好了", "没有找到工单 #1234567890。"),
        ("/派单", "请写上工单号，例如：/派单 12 @王师傅"),
        ("/上报 1", "请写上上报原因，例如：/上报 12 需要供电所处理"),
        ("/驳回 1", "请写上驳回原因，例如：/驳回 12 不属于本网格事务"),
        (
            "/改类 1 天气",
            "没有「天气」这个类别。可选：环境卫生、设施报修、矛盾纠纷、安全隐患、治安防控、困难帮扶、政策咨询",
        ),
        ("/改类 1 设施报修", "#1 已经是「设施报修」。"),
        ("/合并 1", "用法：/合并 12 8（把 #12 并入 #8）"),
        ("/合并 1 1", "不能把工单并入它自己。"),
        ("/合并 1 77", "没有找到工单 #77。"),
        ("/合并 1 abc", "用法：/合并 12 8（把 #12 并入 #8）"),
        ("/合并 1 ²", "用法：/合并 12 8（把 #12 并入 #8）"),
        # the database's integer overflowed on a 20-digit id: the command crashed
        ("/合并 1 99999999999999999999", "没有找到工单 #999999999999…。"),
    ],
)
async def test_bad_arguments_get_one_specific_reply_and_change_nothing(
    opened: Chat, sqlite_db: Database, text: str, answer: str
) -> None:
    before = trail(sqlite_db)
    [reply] = await opened.say(text, LEADER)
    assert reply.text == answer
    assert reply.mentions == (LEADER[0],)
    assert trail(sqlite_db) == before


async def test_escalate_sends_a_summary_to_the_escalation_room(
    opened: Chat, sqlite_db: Database
) -> None:
    room, group = await opened.say("/上报 1 需要供电所更换线路", LEADER)
    assert room.room_topic == "幸福社区指挥中心"
    assert room.text == (
        f"【上报】幸福社区第3网格 #1 设施报修：{LAMP}（张阿姨，11月22日 09:00 反映）。"
        "原因：需要供电所更换线路。上报人：李网格长。"
    )
    assert group.mentions == (RESIDENT[0],)
    assert group.text == "您反映的问题（#1）已上报幸福社区指挥中心协调处理，有进展会告诉您。"
    assert ticket(sqlite_db).status == "escalated"
    [again] = await opened.say("/上报 1 再报一次", LEADER)
    assert again.text == "#1 已经上报过了。"
    # assigning keeps it escalated until it is resolved
    await opened.say("/派单 1 @王师傅", LEADER, mentions=(WORKER[0],))
    assert ticket(sqlite_db).status == "escalated"
    await opened.say("/办结 1 供电所已更换线路", LEADER)
    assert ticket(sqlite_db).status == "resolved"


async def test_dismiss_tells_the_reporter_why(opened: Chat, sqlite_db: Database) -> None:
    [reply] = await opened.say("/驳回 1 属于物业维修范围，已转告物业", LEADER)
    assert (
        reply.text
        == "您反映的问题（#1）未予受理：属于物业维修范围，已转告物业。如有疑问请联系网格长。"
    )
    assert ticket(sqlite_db).status == "dismissed"
    [late] = await opened.say("/办结 1 好了", LEADER)
    assert late.text == "#1 已驳回，不能再办结。"


async def test_reclassify_keeps_the_correction_as_training_signal(
    opened: Chat, sqlite_db: Database
) -> None:
    [reply] = await opened.say("/改类 1 environment", LEADER)
    assert reply.text == "已将 #1 改为「环境卫生」，处理时限改为11月24日 09:00。"
    await opened.say("/改类 #1 安全隐患", LEADER)
    with sqlite_db.session() as s:
        corrections = s.exec(select(CategoryCorrection)).all()
    assert [(c.from_category, c.to_category, c.text) for c in corrections] == [
        ("facility", "environment", LAMP),
        ("environment", "safety", LAMP),
    ]
    assert corrections[0].keywords
    assert ticket(sqlite_db).category == "safety"


def training_rows(db: Database) -> list[tuple[str, bool, str | None, str, int | None]]:
    with db.session() as s:
        rows = s.exec(select(TrainingExample).order_by(col(TrainingExample.id)))
        return [(e.text, e.is_request, e.category, e.source, e.ticket_id) for e in rows]


async def test_a_reclassification_becomes_a_training_example_with_the_text_masked(
    opened: Chat, sqlite_db: Database
) -> None:
    await opened.say("5栋楼道里的垃圾好几天没人清，我电话13812345678", NEIGHBOUR)
    await opened.say("/改类 2 环境卫生", LEADER)  # already so: refused, nothing kept
    await opened.say("/改类 2 设施报修", LEADER)
    assert training_rows(sqlite_db) == [
        ("5栋楼道里的垃圾好几天没人清，我电话138****5678", True, "facility", "改类", 2)
    ]
    with sqlite_db.session() as s:
        assert [e.contact_id for e in s.exec(select(TrainingExample))] == [LEADER[0]]


@pytest.mark.parametrize("reason", ["不是诉求", "非诉求，是聊天", "闲聊", "不是反映问题。"])
async def test_a_dismissal_as_no_request_becomes_a_not_request_example(
    opened: Chat, sqlite_db: Database, reason: str
) -> None:
    await opened.say(f"/驳回 1 {reason}", LEADER)
    assert ticket(sqlite_db).status == "dismissed"
    assert training_rows(sqlite_db) == [(LAMP, False, None, "驳回", 1)]


async def test_a_request_dismissed_for_another_reason_is_no_example(
    opened: Chat, sqlite_db: Database
) -> None:
    await opened.say("/驳回 1 属于物业维修范围，不是诉求也不是投诉", LEADER)
    assert ticket(sqlite_db).status == "dismissed"
    assert training_rows(sqlite_db) == []


async def test_merge_moves_the_reporters_to_the_target(opened: Chat, sqlite_db: Database) -> None:
    await opened.say("楼下垃圾堆了三天没人清理，臭死了", NEIGHBOUR)
    reply, confirmed = await opened.say("/合并 2 1", LEADER)
    assert reply.text == "工单 #2 已并入 #1 一并处理，结果会一起告诉您。"
    assert reply.mentions == (NEIGHBOUR[0],)
    # Issue 18 item 11: the leader heard nothing back
    assert confirmed.text == "已将 #2 并入 #1（设施报修），办结 #1 时两件的反映人都会收到结果。"
    assert confirmed.mentions == (LEADER[0],)
    assert (ticket(sqlite_db, 2).status, ticket(sqlite_db, 2).merged_into_id) == ("merged", 1)
    assert ticket(sqlite_db).same_count == 1
    [resolved] = await opened.say("/办结 1 都处理好了", LEADER)
    assert resolved.mentions == (RESIDENT[0], NEIGHBOUR[0])
    [merged] = await opened.say("/派单 2 @王师傅", LEADER, mentions=(WORKER[0],))
    assert merged.text == "#2 已合并到 #1，请对 #1 操作。"


async def test_a_merge_done_privately_is_confirmed_privately(opened: Chat) -> None:
    await opened.say("楼下垃圾堆了三天没人清理，臭死了", NEIGHBOUR)
    told, confirmed = await opened.say("/合并 2 1", ADMIN, room=None)
    assert (told.room_topic, told.mentions) == ("幸福社区第3网格", (NEIGHBOUR[0],))
    assert (confirmed.to, confirmed.text) == (
        ADMIN[0],
        "已将 #2 并入 #1（设施报修），办结 #1 时两件的反映人都会收到结果。",
    )


async def test_an_assignee_who_reported_it_is_mentioned_once(opened: Chat) -> None:
    [reply] = await opened.say("/派单 1 @张阿姨", LEADER, mentions=(RESIDENT[0],))
    assert reply.mentions == (RESIDENT[0],)


async def test_the_open_list_leaves_out_what_awaits_a_rating(opened: Chat) -> None:
    """Issue 18 item 11: the administrator's 未办结 list had 已办结，待评价 tickets in it."""
    await opened.say("楼下垃圾堆了三天没人清理，臭死了", NEIGHBOUR)
    await opened.say("/办结 1 路灯已更换", LEADER)
    [listing] = await opened.say("/工单", ADMIN, room=None)
    assert listing.text.splitlines()[0] == "全部网格未办结工单 1 件："
    assert "#1 " not in listing.text
    [month] = await opened.say("/工单 全部", ADMIN, room=None)
    assert month.text.splitlines()[0] == "全部网格本月工单 2 件："


async def test_an_admin_may_act_from_anywhere(opened: Chat, sqlite_db: Database) -> None:
    sent = await opened.say("/办结 1 街道已协调处理", ADMIN, room=None)
    assert [(m.room_topic, m.mentions) for m in sent] == [("幸福社区第3网格", (RESIDENT[0],))]
    assert ticket(sqlite_db).status == "resolved"
    [listing] = await opened.say("/工单", ADMIN, room=None)
    assert listing.text == "全部网格目前没有未办结的工单。"  # resolved: waiting for a rating


async def test_every_change_leaves_a_trace(opened: Chat, sqlite_db: Database) -> None:
    await opened.say("/派单 1 @王师傅", LEADER, mentions=(WORKER[0],))
    await opened.say("/上报 1 需要协调", LEADER)
    await opened.say("/办结 1 已修好", LEADER)
    assert trail(sqlite_db) == [
        ("created", "open", "open", RESIDENT[0]),
        ("assigned", "open", "assigned", LEADER[0]),
        ("escalated", "assigned", "escalated", LEADER[0]),
        ("resolved", "escalated", "resolved", LEADER[0]),
    ]


async def test_an_assignment_goes_to_the_mentioned_id_whatever_name_is_typed(
    opened: Chat, sqlite_db: Database
) -> None:
    await opened.say("收到", NEIGHBOUR)
    [sent] = await opened.say("/派单 1 @李网格长", LEADER, mentions=(NEIGHBOUR[0],))
    assert "已派给王大爷" in sent.text
    t = ticket(sqlite_db)
    assert (t.assignee_id, t.assignee_name) == (NEIGHBOUR[0], "王大爷")


async def test_what_the_group_hears_about_a_ticket_holds_no_residents_data(chat: Chat) -> None:
    """Zhang's report carries her phone number and flat, Wang joins the same matter: the
    assignment, resolution, escalation and dismissal notices that the whole group reads name
    the ticket and the leader's words, never a resident's number, flat or report."""
    phone, flat = "13812345678", "502"
    await chat.say(f"3栋门口的路灯坏了好几天了，我住3栋{flat}，电话{phone}")
    await chat.say("3栋门口路灯坏了，晚上看不见路", NEIGHBOUR)
    await chat.say("我来帮忙", WORKER)
    await chat.say("楼下垃圾桶满了好几天没人清理，臭得很", NEIGHBOUR)
    sent = [
        *await chat.say("/派单 1 @王师傅", LEADER, mentions=(WORKER[0],)),
        *await chat.say("/上报 1 需要供电所处理", LEADER),
        *await chat.say("/办结 1 已更换灯具", LEADER),
        *await chat.say("/驳回 2 已有保洁安排", LEADER),
    ]
    assert len(sent) == 5  # one to the group each, and the escalation room's summary
    for message in sent:
        assert phone not in message.text
        if message.room_topic == "幸福社区指挥中心":
            assert "138****5678" in message.text  # the workers who handle it: masked
            continue
        assert flat not in message.text, message.text
        assert "好几天" not in message.text, message.text


# --- issue 17: what the group reads (items 3, 4, 13, 16) ---


async def test_the_list_in_a_group_goes_to_the_leader_privately(opened: Chat) -> None:
    """Item 16: the list names every reporter and quotes them; the group only hears where it
    went. Asked privately (an administrator), it is answered there as before."""
    await opened.say("隔壁502天天半夜装修吵得睡不着，物业也不管", NEIGHBOUR)
    sent = await opened.say("/工单 全部", LEADER)
    in_group = [m for m in sent if m.room_topic is not None]
    assert [m.text for m in in_group] == ["本网格本月工单 2 件，已私信发给您。"]
    assert in_group[0].mentions == (LEADER[0],)
    [private] = [m for m in sent if m.to is not None]
    assert private.to == LEADER[0]
    assert "（王大爷）" in private.text
    assert "隔壁502" in private.text
    [empty] = await opened.say("/工单 超期", LEADER)  # nothing to keep from anyone
    assert (empty.room_topic, empty.text) == ("幸福社区第3网格", "本网格目前没有超期的工单。")


async def test_a_config_switch_keeps_the_list_in_the_group(
    clock: ManualClock, sqlite_db: Database, sender: RecordingSender, classifier: Classifier
) -> None:
    settings = Settings.model_validate(SETTINGS | {"tickets": {"list_in_group": True}})
    app = build_app(settings, clock=clock, db=sqlite_db, sender=sender, classifier=classifier)
    await app.start()
    try:
        chat = Chat(app, clock, sender)
        await chat.say(LAMP)
        [reply] = await chat.say("/工单", LEADER)
        assert (reply.room_topic, reply.mentions) == ("幸福社区第3网格", (LEADER[0],))
        assert reply.text.startswith("本网格未办结工单 1 件：\n#1 设施报修")
    finally:
        app.stop()


@pytest.mark.parametrize(
    ("name", "text", "shown"),
    [
        ("3栋刘姐13612345678", "3栋路灯坏了", "（3栋刘姐136****5678）"),
        ("刘姐+86 136 1234 5678", "3栋路灯坏了", "（刘姐+86 136****5678）"),
        ("张阿姨", "电话+8613812345678路灯坏了", "｜电话+86138****5678…（张阿姨）"),
        (
            "张阿姨",
            "１３８１２３４５６７８，3栋门口的路灯坏了",
            "｜138****5678，3栋门口…（张阿姨）",
        ),
        ("张阿姨", "138\u200b1234\u200b5678 3栋门口的路灯坏了", "｜138****5678 3栋门口…（张阿姨）"),
        (
            "张阿姨",
            "身份证110105 1990 0101 1234，5栋下水道堵了",
            "｜身份证110105*******…（张阿姨）",
        ),
    ],
)
async def test_the_list_masks_numbers_in_names_and_words(
    chat: Chat, name: str, text: str, shown: str
) -> None:
    """Items 3 and 4: numbers written every which way, and in the display name."""
    await chat.say(text, (RESIDENT[0], name))
    listing, _ = await chat.say("/工单", LEADER)
    assert listing.text.splitlines()[1].endswith(shown), listing.text


async def test_the_leaders_words_and_the_names_are_masked_where_the_bot_repeats_them(
    chat: Chat, sqlite_db: Database
) -> None:
    """Item 4: /办结 and /上报 text is the leader's, but leaders quote residents' numbers
    ("已联系张阿姨13812345678"); the ticket keeps them, the group and the escalation room
    read them masked, and so does the reporter's name."""
    reporter = (RESIDENT[0], "3栋张阿姨13612345678")
    await chat.say("3栋门口的路灯坏了，电话 +86 138 1234 5678", reporter)
    await chat.say("我来帮忙", ("wxid_worker_liu", "刘师傅13900001111"))
    [assigned] = await chat.say("/派单 1 @刘师傅", LEADER, mentions=("wxid_worker_liu",))
    assert "已派给刘师傅139****1111" in assigned.text
    room, _ = await chat.say("/上报 1 已联系张阿姨１３８１２３４５６７８，需供电所处理", LEADER)
    assert room.text == (
        "【上报】幸福社区第3网格 #1 设施报修：3栋门口的路灯坏了，电话 +86 138****5678"
        "（3栋张阿姨136****5678，11月22日 09:00 反映）。"
        "原因：已联系张阿姨138****5678，需供电所处理。上报人：李网格长。"
    )
    [resolved] = await chat.say("/办结 1 已修好，张阿姨 138-1234-5678 已确认", LEADER)
    assert resolved.text == (
        "您反映的问题（#1）已办结：已修好，张阿姨 138****5678 已确认\n"
        "请3栋张阿姨136****5678回复“满意”“基本满意”或“不满意”（也可回复 1、2、3）评价。"
    )
    [query] = await chat.say("查询 1", reporter)
    assert "处理结果：已修好，张阿姨 138****5678 已确认" in query.text
    t = ticket(sqlite_db)
    assert t.feedback == "已修好，张阿姨 138-1234-5678 已确认"  # kept as written


@pytest.mark.parametrize(
    ("command", "what"),
    [("/办结 1 ", "处理结果"), ("/上报 1 ", "上报原因"), ("/驳回 1 ", "驳回原因")],
)
async def test_what_a_leader_has_repeated_into_a_group_has_the_notices_limit(
    opened: Chat, sqlite_db: Database, command: str, what: str
) -> None:
    """Item 13: /办结 sent 5,000 characters into the group; notices stop at 1,500."""
    before = trail(sqlite_db)
    [refused] = await opened.say(command + "好" * 5000, LEADER)
    assert refused.text == (
        f"{what}最长 {MAX_MESSAGE_CHARS} 字，这条有 5000 字，工单没有改动，请精简后再发。"
    )
    assert trail(sqlite_db) == before
    sent = await opened.say(command + "好" * MAX_MESSAGE_CHARS, LEADER)
    assert ticket(sqlite_db).status != "open"
    assert any("好" * MAX_MESSAGE_CHARS in m.text for m in sent)  # sent, whole


async def test_a_long_report_is_shortened_in_the_escalation_room(chat: Chat) -> None:
    """Item 13: what the bot repeats from a resident has the same limit."""
    await chat.say("3栋门口的路灯坏了好几天了，" + "晚上很黑，" * 390)
    room, _ = await chat.say("/上报 1 需要供电所处理", LEADER)
    quoted = room.text.split("：", 1)[1].split("（", 1)[0]
    assert len(quoted) == MAX_MESSAGE_CHARS
    assert quoted.endswith("…")
