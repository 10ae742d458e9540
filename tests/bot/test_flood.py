"""Anti-flood, end to end through the chat: per-resident limits on new tickets and replies."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import pytest
from sqlmodel import col, func, select

from bot import flood
from bot.app import App, build_app
from bot.clock import ManualClock
from bot.context import Context
from bot.events import Outbound
from bot.routing import Role
from bot.settings import Settings
from nlp.classifier import Classifier
from storage.db import Database
from storage.models import InboundMessage, LimitHit, Ticket
from tests.auxil.chat import (
    ADMIN,
    LEADER,
    NEIGHBOUR,
    OTHER_LEADER,
    OTHER_ROOM,
    RESIDENT,
    ROOM,
    Chat,
    RecordingSender,
)
from tests.conftest import SETTINGS

FIRE = "5栋楼道着火了，快来人"
NOTICE_START = "您操作太频繁了"
REFUSAL_START = "您24小时内已提交"


@pytest.fixture
def limits() -> dict[str, Any]:
    """The `limits:` section; a test parametrizes it to change it (empty: the defaults)."""
    return {}


@pytest.fixture
def settings(limits: dict[str, Any]) -> Settings:
    return Settings.model_validate(SETTINGS | {"limits": limits})


def tickets_of(db: Database, contact_id: str) -> list[Ticket]:
    with db.session() as s:
        return list(s.exec(select(Ticket).where(Ticket.reporter_id == contact_id)).all())


def stored_from(db: Database, contact_id: str) -> int:
    with db.session() as s:
        return s.exec(
            select(func.count())
            .select_from(InboundMessage)
            .where(InboundMessage.sender_id == contact_id)
        ).one()


async def say_many(
    chat: Chat, texts: list[str], who: tuple[str, str] = RESIDENT, *, gap: timedelta, **kw: Any
) -> list[list[Outbound]]:
    answers = []
    for text in texts:
        event = chat.message(text, who, at=chat.clock.now() + gap, **kw)
        answers.append(await chat.feed(event))
    return answers


async def test_a_hundred_requests_open_the_daily_tickets_then_one_refusal_then_silence(
    chat: Chat, sqlite_db: Database, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    # The defaults, one request every two minutes: a morning's worth, not a burst.
    limit = settings.limits.tickets_per_day
    requests = [f"{n}栋路灯坏了" for n in range(1, 101)]
    answers = await say_many(chat, requests, gap=timedelta(minutes=2))
    [hit] = [r for r in caplog.records if "anti-flood" in r.getMessage()]
    assert (hit.name, RESIDENT[0] in hit.getMessage()) == ("gridbot.audit", True)
    assert "路灯" not in hit.getMessage()
    acks = answers[:limit]
    assert all(len(a) == 1 and a[0].text.startswith("已受理，工单 #") for a in acks)
    [refusal] = answers[limit]
    assert refusal.text == flood.ticket_refusal(limit)
    assert refusal.mentions == (RESIDENT[0],)
    assert answers[limit + 1 :] == [[]] * (100 - limit - 1)
    assert len(tickets_of(sqlite_db, RESIDENT[0])) == limit
    assert stored_from(sqlite_db, RESIDENT[0]) == 100  # every message is still stored


@pytest.mark.parametrize("limits", [{"tickets_per_day": 2}])
async def test_merges_and_plus_ones_do_not_count_and_still_work_over_the_limit(
    chat: Chat, sqlite_db: Database
) -> None:
    await chat.say("3栋路灯坏了", NEIGHBOUR)
    assert (await chat.say("1号楼电梯坏了"))[0].text.startswith("已受理")
    assert (await chat.say("2号楼电梯坏了"))[0].text.startswith("已受理")
    assert await chat.say("1号楼电梯坏了，还没人修") == []  # her repeat: merged quietly
    [linked] = await chat.say("3栋的路灯坏了")
    assert linked.text.startswith("已记录，和 #1 一并处理")
    [refused] = await chat.say("4号楼电梯坏了")
    assert refused.text.startswith(REFUSAL_START)
    assert len(tickets_of(sqlite_db, RESIDENT[0])) == 2
    # over the limit, a repeat still merges into her own ticket (quietly)
    assert await chat.say("2号楼电梯坏了，很久了") == []
    assert len(tickets_of(sqlite_db, RESIDENT[0])) == 2


@pytest.mark.parametrize("limits", [{"tickets_per_day": 2}])
async def test_an_urgent_report_is_never_refused_but_counts(
    chat: Chat, sqlite_db: Database
) -> None:
    assert (await chat.say("1号楼电梯坏了"))[0].text.startswith("已受理")
    answer = await chat.say(FIRE)
    assert answer[0].text.startswith("情况紧急，请立即拨打 119")
    assert any(m.to == LEADER[0] for m in answer)  # the leader is alerted
    # the fire was the second ticket: the next ordinary request is over the limit
    assert (await chat.say("2号楼电梯坏了"))[0].text.startswith(REFUSAL_START)
    answer = await chat.say("9栋车库着火了，快来人")
    assert answer[0].text.startswith("情况紧急，请立即拨打 119")
    assert [t.urgent for t in tickets_of(sqlite_db, RESIDENT[0])] == [False, True, True]


@pytest.mark.parametrize("limits", [{"tickets_per_day": 1}])
async def test_the_ticket_window_is_a_rolling_24_hours(
    chat: Chat, sqlite_db: Database, clock: ManualClock
) -> None:
    assert (await chat.say("1号楼电梯坏了"))[0].text.startswith("已受理")
    assert (await chat.say("2号楼电梯坏了"))[0].text.startswith(REFUSAL_START)
    clock.set(clock.now() + timedelta(hours=23, minutes=59))
    assert await chat.say("3号楼电梯坏了") == []  # told once already in this window
    clock.set(clock.now() + timedelta(minutes=2))  # the first ticket is 24 h old now
    assert (await chat.say("3号楼电梯坏了"))[0].text.startswith("已受理")
    assert len(tickets_of(sqlite_db, RESIDENT[0])) == 2


@pytest.mark.parametrize("limits", [{"tickets_per_day": 2}])
async def test_leaders_and_admins_never_reach_the_ticket_limit(
    chat: Chat, sqlite_db: Database
) -> None:
    # They speak for the grid: what they say opens no ticket, so no limit can stop them.
    for first, who in ((1, LEADER), (11, ADMIN)):
        requests = [f"{n}号楼电梯坏了" for n in range(first, first + 5)]
        answers = await say_many(chat, requests, who, gap=timedelta(minutes=3))
        assert answers == [[]] * 5
        assert tickets_of(sqlite_db, who[0]) == []


async def test_a_hundred_queries_get_the_replies_then_one_notice_then_silence(
    chat: Chat, clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    # One second apart, and mixed: queries, help, a mistyped command, a ticket list.
    words = ["积分", "/帮助", "我有多少分", "/xxx", "我的工单", "积分明细"]
    start = clock.now()
    with caplog.at_level(logging.INFO, logger="gridbot.audit"):
        answers = await say_many(chat, [words[n % 6] for n in range(100)], gap=timedelta(seconds=1))
    assert all(len(a) == 1 and not a[0].text.startswith(NOTICE_START) for a in answers[:10])
    [notice] = answers[10]
    # the first reply (at 9:00:01) leaves the window at 9:10:01, nine minutes and fifty
    # seconds after the notice
    assert notice.text == flood.replies_notice(10) == "您操作太频繁了，请 10 分钟后再试。"
    assert notice.mentions == (RESIDENT[0],)
    assert answers[11:] == [[]] * 89
    hits = [r for r in caplog.records if "anti-flood" in r.getMessage()]
    assert len(hits) == 1
    assert RESIDENT[0] in hits[0].getMessage()
    assert "积分" not in hits[0].getMessage()
    # a reply exactly a window old still counts; once the first has left, she is answered
    clock.set(start + timedelta(minutes=10))
    assert await chat.say("积分") == []  # at 9:10:01
    [answer] = await chat.say("积分")  # at 9:10:02
    assert answer.text.startswith("您现有积分")
    # and that took the freed place: silence again, without a second notice in the window
    assert await chat.feed(chat.message("积分", at=clock.now())) == []
    # a window after the notice she may be told again
    clock.set(start + timedelta(minutes=20, seconds=12))
    answers = await say_many(chat, ["积分"] * 11, gap=timedelta(seconds=1))
    assert [a[0].text.startswith(NOTICE_START) for a in answers] == [False] * 10 + [True]
    assert len([r for r in caplog.records if "anti-flood" in r.getMessage()]) == 2


# What a newcomer tries in her first minutes (docs/使用手册.md, 所有人可用), one after the other.
EXPLORING = [
    "/帮助",
    "3栋路灯坏了",
    "我的工单",
    "积分",
    "查询 1",
    "积分明细",
    "积分排行",
    "/xxx",
    "兑换 肥皂",
    "我有多少分",
    "5号楼电梯坏了",
    "查询 2",
    "查询 9",
    "/统计",
]


async def test_distinct_questions_at_human_speed_are_always_answered(chat: Chat) -> None:
    answers = await say_many(chat, EXPLORING, gap=timedelta(seconds=12))
    assert all(len(a) == 1 and not a[0].text.startswith(NOTICE_START) for a in answers)
    # and asking one of them again later is no flood either
    [again] = await chat.say("积分", at=chat.clock.now() + timedelta(seconds=30))
    assert again.text.startswith("您现有积分")


async def test_the_same_question_over_and_over_is_a_flood_even_slowly(chat: Chat) -> None:
    # `积分`, `/积分`, `#积分`: one question however it is written
    asked = ["积分", "/积分", "#积分", "／积分"] * 4
    answers = await say_many(chat, asked, gap=timedelta(seconds=30))
    assert [a[0].text.startswith(NOTICE_START) for a in answers[:11]] == [False] * 10 + [True]
    # the first (9:00:30) leaves the window at 9:10:30, five minutes after the notice
    assert answers[10][0].text == flood.replies_notice(5)
    assert answers[11:] == [[]] * 5


async def test_a_new_question_after_a_flood_is_answered_at_human_speed_only(chat: Chat) -> None:
    await say_many(chat, ["积分"] * 11, gap=timedelta(seconds=1))
    assert await chat.say("积分排行") == []  # new, but still part of the burst
    [answer] = await chat.say("积分明细", at=chat.clock.now() + timedelta(seconds=20))
    assert answer.text == "您还没有积分记录。"
    assert await chat.say("积分", at=chat.clock.now() + timedelta(seconds=20)) == []  # a repeat


@pytest.mark.parametrize("limits", [{"max_replies": 12}])
async def test_distinct_questions_have_a_ceiling_too(chat: Chat) -> None:
    answers = await say_many(chat, [*EXPLORING[:12], "查询 3"], gap=timedelta(seconds=20))
    assert all(len(a) == 1 and not a[0].text.startswith(NOTICE_START) for a in answers[:12])
    # the first (9:00:20) leaves the window at 9:10:20, six minutes after the notice
    assert [m.text for m in answers[12]] == [flood.replies_notice(6)]


@pytest.mark.parametrize(
    ("text", "same_as"),
    [
        ("/积分", "积分"),
        ("／积分", "积分"),
        ("积分？", "积分"),
        ("积 分！", "积分"),
        ("#积分", "积分"),
        ("积分😊", "积分"),
        ("ＡＢＣ", "abc"),
    ],
)
def test_a_repeat_is_the_same_words_however_written(text: str, same_as: str) -> None:
    assert flood.repeat_key(text) == flood.repeat_key(same_as) is not None


def test_different_questions_are_no_repeats() -> None:
    assert flood.repeat_key("查询 1") != flood.repeat_key("查询 2")
    assert flood.repeat_key("？？？") is None
    assert flood.repeat_key("") is None


async def test_other_residents_are_answered_while_one_is_held_back(chat: Chat) -> None:
    await say_many(chat, ["积分"] * 12, gap=timedelta(seconds=1))
    assert await chat.say("积分") == []
    [answer] = await chat.say("积分", NEIGHBOUR)
    assert answer.mentions == (NEIGHBOUR[0],)


async def test_leaders_and_admins_have_higher_limits_of_their_own(chat: Chat) -> None:
    # a burst three times the residents' share is answered; the leaders' share then runs out
    for who in (LEADER, ADMIN):
        answers = await say_many(chat, ["积分", "/帮助"] * 15, who, gap=timedelta(seconds=1))
        assert all(len(a) == 1 and not a[0].text.startswith(NOTICE_START) for a in answers)
    [notice] = await chat.say("积分", LEADER)
    assert notice.text.startswith(NOTICE_START)
    assert await chat.say("积分", ADMIN) != []


@pytest.mark.parametrize(
    "limits", [{"leaders": {"replies": 12}, "admins": {"replies": 15, "max_replies": 15}}]
)
async def test_the_leaders_and_admins_limits_are_configurable(chat: Chat) -> None:
    for who, share in ((LEADER, 12), (ADMIN, 15)):
        answers = await say_many(chat, ["积分"] * (share + 2), who, gap=timedelta(seconds=1))
        texts = [a[0].text if a else None for a in answers]
        assert [t is not None and t.startswith(NOTICE_START) for t in texts[:-1]] == [
            False
        ] * share + [True]
        assert texts[-1] is None


@pytest.mark.parametrize("limits", [{"replies": 20, "leaders": {"replies": 12}}])
async def test_a_leader_never_has_less_than_a_resident(chat: Chat) -> None:
    answers = await say_many(chat, ["积分"] * 21, LEADER, gap=timedelta(seconds=1))
    assert [a[0].text.startswith(NOTICE_START) for a in answers] == [False] * 20 + [True]


async def test_a_leader_in_another_grid_keeps_his_limits(chat: Chat) -> None:
    # His commands in his own grid and his questions in the next one are one person's use,
    # under his own limits: switching grids makes him no resident to be stopped at ten.
    here = await say_many(chat, ["/状态", "/工单"] * 8, LEADER, gap=timedelta(seconds=1))
    there = await say_many(chat, ["积分"] * 14, LEADER, room=OTHER_ROOM, gap=timedelta(seconds=1))
    assert all(len(a) == 1 and not a[0].text.startswith(NOTICE_START) for a in here + there)
    [notice] = await chat.say("积分", LEADER, OTHER_ROOM)  # his 31st reply in ten minutes
    assert notice.text.startswith(NOTICE_START)


@pytest.mark.parametrize("limits", [{"tickets_per_day": 2, "leaders": {"tickets_per_day": 4}}])
async def test_a_leader_reporting_in_another_grid_has_the_leaders_ticket_limit(
    chat: Chat, sqlite_db: Database
) -> None:
    requests = [f"{n}号楼电梯坏了" for n in range(1, 6)]
    answers = await say_many(chat, requests, OTHER_LEADER, gap=timedelta(minutes=3))
    assert [a[0].text[:4] for a in answers] == ["已受理，"] * 4 + [REFUSAL_START[:4]]
    assert len(tickets_of(sqlite_db, OTHER_LEADER[0])) == 4


async def test_private_replies_count_too(chat: Chat) -> None:
    answers = await say_many(chat, ["/帮助"] * 12, room=None, gap=timedelta(seconds=1))
    assert all(a[0].to == RESIDENT[0] for a in answers[:10])
    [notice] = answers[10]
    assert notice.text.startswith(NOTICE_START)
    assert notice.to == RESIDENT[0]
    assert answers[11] == []


async def test_an_emergency_is_answered_over_the_reply_limit(chat: Chat) -> None:
    await say_many(chat, ["积分"] * 12, gap=timedelta(seconds=1))
    assert await chat.say("积分") == []
    answer = await chat.say(FIRE)
    assert answer[0].text.startswith("情况紧急，请立即拨打 119")
    assert answer[0].mentions == (RESIDENT[0],)
    assert any(m.to == LEADER[0] for m in answer)


async def test_the_limits_hold_across_a_restart_and_processes(
    chat: Chat, settings: Settings, sqlite_db: Database, classifier: Classifier
) -> None:
    await say_many(chat, ["积分"] * 11, gap=timedelta(seconds=1))
    # Another process on the same database (as after a restart, or a second bot): nothing
    # kept in memory carries the count over.
    sender, clock = RecordingSender(), chat.clock
    again = build_app(settings, clock=clock, db=sqlite_db, sender=sender, classifier=classifier)
    await again.start()
    try:
        restarted = Chat(again, clock, sender)
        assert await restarted.say("积分", msg_id="after-restart") == []
        with sqlite_db.session() as s:
            assert len(s.exec(select(LimitHit)).all()) == 1
    finally:
        again.stop()


async def test_messages_to_others_are_not_held_back(
    app: App, chat: Chat, sqlite_db: Database
) -> None:
    await say_many(chat, ["积分"] * 10, gap=timedelta(seconds=1))
    event = chat.message("兑换 肥皂")
    await app.feed(event, answer=False)  # stored, so the notice has a message to belong to
    with sqlite_db.session() as session:
        message_id = session.exec(
            select(InboundMessage.id).where(InboundMessage.platform_id == event.id)
        ).one()
        assert message_id is not None
        ctx = Context(
            event=event,
            message_id=message_id,
            now=event.ts,
            session=session,
            services=app.services,
            grid=app.services.settings.grid("G03"),
            role=Role.RESIDENT,
            command=None,
        )
        to_leader = Outbound(text="有居民兑换", to=LEADER[0])
        to_escalation = Outbound(text="上报", room_topic="幸福社区指挥中心")
        ctx.reply("已下单")
        ctx.send(to_leader)
        ctx.send(to_escalation)
        flood.screen_replies(ctx)
        assert ctx.outgoing[:2] == [to_leader, to_escalation]
        [notice] = ctx.outgoing[2:]
        assert (notice.text, notice.room_id) == (flood.replies_notice(10), ROOM)
        # an urgent message's replies are never screened
        ctx.outgoing = []
        ctx.urgent = True
        ctx.reply("情况紧急，请立即拨打 119！")
        flood.screen_replies(ctx)
        assert [m.text for m in ctx.outgoing] == ["情况紧急，请立即拨打 119！"]
        hits = session.exec(select(LimitHit).where(col(LimitHit.message_id) == message_id)).all()
        assert len(hits) == 1
