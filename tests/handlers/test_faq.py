from __future__ import annotations

import pytest
from sqlmodel import select

from bot.settings import FaqEntry, FaqSettings, Settings
from handlers.faq import best_entry
from storage.db import Database
from storage.models import Ticket
from tests.auxil.chat import LEADER, Chat


def test_the_entry_with_most_words_answers() -> None:
    faq = FaqSettings(
        entries=[
            FaqEntry(topic="医保缴费", words=["医保", "缴费"], answer="A"),
            FaqEntry(topic="社保卡", words=["社保卡", "医保"], answer="B"),
        ]
    )
    assert best_entry(faq, "醫保在哪裡繳費") is not None  # traditional characters too
    assert best_entry(faq, "医保怎么缴费").topic == "医保缴费"  # type: ignore[union-attr]
    assert best_entry(faq, "社保卡丢了 医保还能用吗").topic == "社保卡"  # type: ignore[union-attr]
    assert best_entry(faq, "路灯坏了") is None


def test_the_shipped_knowledge_base_covers_the_common_topics(settings: Settings) -> None:
    topics = {entry.topic for entry in settings.faq.entries}
    assert {"医保缴费", "养老保险认证", "疫苗接种", "低保申请", "居住证"} <= topics


@pytest.mark.parametrize(
    ("question", "start"),
    [
        ("请问今年的医保在哪里交？", "城乡居民医保按年缴费"),
        ("我妈的养老金认证要怎么弄啊", "领取养老金的老人每年做一次资格认证"),
        ("小孩打疫苗要带什么", "儿童疫苗到社区卫生服务中心"),
    ],
)
async def test_a_policy_question_is_answered_not_ticketed(
    chat: Chat, sqlite_db: Database, question: str, start: str
) -> None:
    [answer] = await chat.say(question)
    assert answer.text.startswith(start)
    with sqlite_db.session() as s:
        assert s.exec(select(Ticket)).all() == []


async def test_a_question_nobody_wrote_down_goes_to_the_leader_without_a_deadline(
    chat: Chat, sqlite_db: Database
) -> None:
    sent = await chat.say("请问今年的种粮补贴什么时候发？打到哪张卡上？")
    [group] = [m for m in sent if m.to is None]
    [private] = [m for m in sent if m.to is not None]
    assert group.text == "您的问题已转告本网格网格长，请稍候答复。"
    assert "前处理" not in group.text
    assert private.to == LEADER[0]
    assert private.text.startswith("【咨询】幸福社区第3网格 张阿姨：")
    with sqlite_db.session() as s:
        assert s.exec(select(Ticket)).all() == []


async def test_talk_about_policy_that_asks_nothing_gets_no_reply(chat: Chat) -> None:
    assert await chat.say("我去年办的居住证 在派出所户籍窗口 要带租房合同") == []
