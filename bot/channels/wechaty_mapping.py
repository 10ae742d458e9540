"""Wechaty SDK messages → :class:`~bot.events.Inbound`.

Only the few SDK attributes below are used; they are described as protocols so that the
mapping can be tested with small fakes and without a gateway. Facts about the SDK that the
code relies on are in tests/gateway/README.md ("Findings"), numbered there as cited here.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Sequence
from datetime import datetime, tzinfo
from typing import Any, Final, Protocol

from bot.channels.quotes import split_quote
from bot.events import Inbound, MessageType

log = logging.getLogger(__name__)

# The SDK's message types by enum member name (finding 8), so that this module needs no
# import of the SDK. Everything else (contact cards, locations, mini programs, transfers,
# red envelopes, recalls, chat histories, unknown) is OTHER: stored, never treated as words.
SDK_MESSAGE_TYPES: Final[dict[str, MessageType]] = {
    "MESSAGE_TYPE_TEXT": MessageType.TEXT,
    "MESSAGE_TYPE_IMAGE": MessageType.IMAGE,
    "MESSAGE_TYPE_AUDIO": MessageType.VOICE,
    "MESSAGE_TYPE_ATTACHMENT": MessageType.FILE,
    "MESSAGE_TYPE_URL": MessageType.URL,
    "MESSAGE_TYPE_VIDEO": MessageType.VIDEO,
    "MESSAGE_TYPE_EMOTICON": MessageType.EMOTICON,
}

# Seconds or milliseconds: puppets differ; the SDK's own rule (wechaty.utils.date_util) is
# that a value above 2038-01-01 in seconds must be milliseconds.
_MILLISECONDS_FROM: Final = 2_145_888_000
_OFFICIAL_ACCOUNT: Final = "CONTACT_TYPE_OFFICIAL"


class SdkContact(Protocol):
    contact_id: str
    payload: Any  # ContactPayload: .name, .type

    @property
    def name(self) -> str: ...


class SdkRoom(Protocol):
    room_id: str
    payload: Any  # RoomPayload: .topic

    async def alias(self, member: Any) -> str | None: ...


class SdkMessage(Protocol):
    message_id: str
    payload: Any  # MessagePayload: .timestamp, .from_id, .room_id, .mention_ids

    def talker(self) -> SdkContact: ...

    def room(self) -> SdkRoom | None: ...

    def type(self) -> Any: ...

    def text(self) -> str: ...

    async def mention_list(self) -> Sequence[SdkContact]: ...


def message_type(sdk_type: object) -> MessageType:
    """The SDK's ``MessageType`` member as ours; unknown kinds are OTHER."""
    name = getattr(sdk_type, "name", None)
    if not isinstance(name, str):
        return MessageType.OTHER
    return SDK_MESSAGE_TYPES.get(name, MessageType.OTHER)


def sent_at(timestamp: float, tz: tzinfo) -> datetime:
    """When the message was sent, from the payload's timestamp (``msg.date()`` is naive local
    time and ``msg.age()`` is wrong: finding 10)."""
    seconds = timestamp / 1000 if timestamp > _MILLISECONDS_FROM else timestamp
    return datetime.fromtimestamp(seconds, tz)


def _is_official_account(contact: SdkContact) -> bool:
    # 公众号 push articles into private chats; the bot must never answer them.
    kind = getattr(contact.payload, "type", None)
    return getattr(kind, "name", None) == _OFFICIAL_ACCOUNT


async def _display_name(room: SdkRoom, talker: SdkContact) -> str:
    """The talker's name as the group shows it: the group nickname (群昵称) if set."""
    alias: str | None = None
    # A puppet without room aliases raises or answers empty; the contact's name is fine then.
    with contextlib.suppress(Exception):
        alias = await room.alias(talker)
    return alias or talker.name or talker.contact_id


async def _mentions(msg: SdkMessage, self_id: str | None) -> tuple[str, ...]:
    """The contact ids @mentioned (the puppet's list, finding 7), without the bot itself:
    mentioning the bot is how people address it, not who a command is about."""
    try:
        ids = [contact.contact_id for contact in await msg.mention_list()]
    except Exception:  # a mentioned contact the puppet can't describe: keep the bare ids
        log.debug("mention_list() failed for message %s", msg.message_id, exc_info=True)
        ids = list(getattr(msg.payload, "mention_ids", None) or [])
    return tuple(dict.fromkeys(cid for cid in ids if cid and cid != self_id))


async def to_inbound(msg: SdkMessage, *, self_id: str | None, tz: tzinfo) -> Inbound | None:
    """The event for one message the SDK delivered (``msg.ready()`` done), or None for a
    message the bot must not see: its own (real accounts echo them, finding 9), a system
    message without a talker, or an official account's push."""
    talker_id = (getattr(msg.payload, "from_id", None) or "").strip()
    if not talker_id:
        return None
    if self_id is not None and talker_id == self_id:
        return None
    talker = msg.talker()
    kind = message_type(msg.type())
    # Non-text messages have no text, except links, whose text is the URL (finding 8).
    text = msg.text() or ""
    quote, text = split_quote(text) if kind == MessageType.TEXT else (None, text)
    common: dict[str, Any] = {
        "ts": sent_at(float(msg.payload.timestamp), tz),
        "sender_id": talker_id,
        "text": text,
        "quote": quote,
        "id": msg.message_id,
        "type": kind,
    }
    room = msg.room()
    if room is None:
        if _is_official_account(talker):
            return None
        return Inbound(sender_name=talker.name or talker_id, **common)
    return Inbound(
        sender_name=await _display_name(room, talker),
        room_id=room.room_id,
        room_topic=room_topic(room),
        mentions=await _mentions(msg, self_id),
        **common,
    )


def room_topic(room: SdkRoom) -> str:
    """The topic from the room's payload (``await room.topic()`` needs a login and makes up a
    name from the members for a group without one)."""
    payload = room.payload
    return str(getattr(payload, "topic", "") or "")
