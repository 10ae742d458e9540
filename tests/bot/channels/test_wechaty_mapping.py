"""bot.channels.wechaty_mapping: SDK messages → Inbound, with small fakes of the SDK objects."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from types import SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot.channels.wechaty_mapping import message_type, sent_at, to_inbound
from bot.events import MessageType
from bot.wechaty_compat import load_wechaty
from tests.auxil.wechat import SDK_CACHE_DIR

TZ = ZoneInfo("Asia/Shanghai")
BOT = "wxid_gridbot"
T_MS = 1_795_315_511_774  # 2026-11-22 10:45:11.774 in Shanghai


class SdkType(enum.Enum):  # the SDK's MessageType members are found by name
    MESSAGE_TYPE_TEXT = 6
    MESSAGE_TYPE_IMAGE = 5
    MESSAGE_TYPE_RED_ENVELOPE = 12


@dataclass
class FakeContact:
    contact_id: str
    name: str
    type: str = "CONTACT_TYPE_PERSONAL"

    @property
    def payload(self) -> Any:
        return SimpleNamespace(name=self.name, type=SimpleNamespace(name=self.type))


@dataclass
class FakeRoom:
    room_id: str
    topic: str
    aliases: dict[str, str] = field(default_factory=dict)
    alias_fails: bool = False

    @property
    def payload(self) -> Any:
        return SimpleNamespace(topic=self.topic)

    async def alias(self, member: Any) -> str | None:
        if self.alias_fails:
            raise RuntimeError("unsupported")
        return self.aliases.get(member.contact_id, "")


@dataclass
class FakeMessage:
    talker_contact: FakeContact
    text_: str = ""
    room_: FakeRoom | None = None
    type_: Any = SdkType.MESSAGE_TYPE_TEXT
    mentions: list[FakeContact] = field(default_factory=list)
    message_id: str = "m1"
    timestamp: int = T_MS
    mention_fails: bool = False

    @property
    def payload(self) -> Any:
        return SimpleNamespace(
            timestamp=self.timestamp,
            from_id=self.talker_contact.contact_id,
            mention_ids=[c.contact_id for c in self.mentions],
        )

    def talker(self) -> FakeContact:
        return self.talker_contact

    def room(self) -> FakeRoom | None:
        return self.room_

    def type(self) -> Any:
        return self.type_

    def text(self) -> str:
        return self.text_

    async def mention_list(self) -> Sequence[FakeContact]:
        if self.mention_fails:
            raise RuntimeError("contact payload not found")
        return self.mentions


ZHANG = FakeContact("wxid_resident_zhang", "张阿姨")
WANG = FakeContact("wxid_resident_wang", "王大爷")
ME = FakeContact(BOT, "网格助手")
ROOM = FakeRoom("10001@chatroom", "幸福社区第3网格", aliases={ZHANG.contact_id: "3栋502张阿姨"})


async def test_a_room_message() -> None:
    msg = FakeMessage(ZHANG, "3栋路灯坏了", ROOM, mentions=[ME, WANG], message_id="gw1")
    event = await to_inbound(msg, self_id=BOT, tz=TZ)
    assert event is not None
    assert event.ts == datetime(2026, 11, 22, 10, 45, 11, 774000, tzinfo=TZ)
    assert (event.sender_id, event.sender_name) == (ZHANG.contact_id, "3栋502张阿姨")
    assert (event.room_id, event.room_topic) == ("10001@chatroom", "幸福社区第3网格")
    assert event.text == "3栋路灯坏了"
    assert event.id == "gw1"
    assert event.mentions == (WANG.contact_id,)  # the bot itself is left out
    assert event.type == MessageType.TEXT


async def test_the_display_name_falls_back_to_the_contact_name() -> None:
    event = await to_inbound(FakeMessage(WANG, "早", ROOM), self_id=BOT, tz=TZ)
    assert event is not None
    assert event.sender_name == "王大爷"
    broken = FakeRoom("10001@chatroom", "幸福社区第3网格", alias_fails=True)
    event = await to_inbound(FakeMessage(ZHANG, "早", broken), self_id=BOT, tz=TZ)
    assert event is not None
    assert event.sender_name == "张阿姨"


async def test_mentions_fall_back_to_the_payload_ids() -> None:
    msg = FakeMessage(ZHANG, "x", ROOM, mentions=[WANG, WANG, ME], mention_fails=True)
    event = await to_inbound(msg, self_id=BOT, tz=TZ)
    assert event is not None
    assert event.mentions == (WANG.contact_id,)


async def test_a_private_message() -> None:
    event = await to_inbound(FakeMessage(WANG, "/帮助"), self_id=BOT, tz=TZ)
    assert event is not None
    assert event.is_private
    assert (event.sender_id, event.sender_name, event.text) == (WANG.contact_id, "王大爷", "/帮助")
    assert event.mentions == ()


async def test_messages_the_bot_must_not_see() -> None:
    assert await to_inbound(FakeMessage(ME, "已受理", ROOM), self_id=BOT, tz=TZ) is None
    nobody = FakeContact("", "")
    assert await to_inbound(FakeMessage(nobody, "系统消息", ROOM), self_id=BOT, tz=TZ) is None
    official = FakeContact("gh_news", "本地新闻", type="CONTACT_TYPE_OFFICIAL")
    assert await to_inbound(FakeMessage(official, "今日要闻"), self_id=BOT, tz=TZ) is None


async def test_before_login_nothing_is_taken_for_the_bots_own() -> None:
    event = await to_inbound(FakeMessage(ZHANG, "早", ROOM), self_id=None, tz=TZ)
    assert event is not None


async def test_non_text_messages() -> None:
    image = FakeMessage(ZHANG, "", ROOM, type_=SdkType.MESSAGE_TYPE_IMAGE, mentions=[WANG])
    event = await to_inbound(image, self_id=BOT, tz=TZ)
    assert event is not None
    assert (event.type, event.text) == (MessageType.IMAGE, "")
    red = FakeMessage(ZHANG, "", ROOM, type_=SdkType.MESSAGE_TYPE_RED_ENVELOPE)
    event = await to_inbound(red, self_id=BOT, tz=TZ)
    assert event is not None
    assert event.type == MessageType.OTHER


def test_every_sdk_message_type_maps() -> None:
    sdk = load_wechaty(cache_dir=SDK_CACHE_DIR).MessageType
    expected = {
        "MESSAGE_TYPE_TEXT": MessageType.TEXT,
        "MESSAGE_TYPE_IMAGE": MessageType.IMAGE,
        "MESSAGE_TYPE_AUDIO": MessageType.VOICE,
        "MESSAGE_TYPE_ATTACHMENT": MessageType.FILE,
        "MESSAGE_TYPE_URL": MessageType.URL,
        "MESSAGE_TYPE_VIDEO": MessageType.VIDEO,
        "MESSAGE_TYPE_EMOTICON": MessageType.EMOTICON,
    }
    for member in sdk:
        assert message_type(member) == expected.get(member.name, MessageType.OTHER), member
    assert message_type(None) == MessageType.OTHER
    assert message_type(7) == MessageType.OTHER


@pytest.mark.parametrize("stamp", [1_795_315_511, 1_795_315_511_000])
def test_timestamps_in_seconds_or_milliseconds(stamp: int) -> None:
    assert sent_at(stamp, TZ) == datetime(2026, 11, 22, 10, 45, 11, tzinfo=TZ)
