"""Transport-neutral messages: what every channel turns platform messages into, and back.

Handlers see only these types. A channel (console, replay, WeChat) is the only code that knows
a platform's message format.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class MessageType(StrEnum):
    TEXT = "text"
    IMAGE = "image"
    VOICE = "voice"
    FILE = "file"
    URL = "url"
    VIDEO = "video"
    EMOTICON = "emoticon"
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class Inbound:
    """One message somebody sent: in a group (``room_id`` set) or privately to the bot.

    ``room_id`` is the platform's room id; channels without ids (console, replay) use the
    topic. ``id`` is the platform's message id when the platform gives one.
    """

    ts: datetime
    sender_id: str
    sender_name: str
    text: str
    room_id: str | None = None
    room_topic: str | None = None
    id: str | None = None
    mentions: tuple[str, ...] = ()
    type: MessageType = MessageType.TEXT

    @property
    def is_private(self) -> bool:
        return self.room_id is None

    def idempotency_key(self) -> str:
        """The key under which this message is stored exactly once.

        A reconnect can deliver old messages again: the platform id identifies them. Without
        one, the same sender saying the same thing in the same room at the same instant is
        taken to be the same message.
        """
        if self.id:
            return f"id:{self.id}"
        digest = hashlib.sha256(
            "\x1f".join(
                (self.room_id or "", self.sender_id, self.text, self.ts.isoformat())
            ).encode()
        ).hexdigest()
        return f"h:{digest[:40]}"


@dataclass(frozen=True, slots=True)
class Outbound:
    """One message the bot sends: to a room (by id and/or topic) or privately to a contact.

    A room may be addressed by topic alone (the escalation room from config); the channel
    resolves it. ``mentions`` are contact ids the platform should @mention.
    """

    text: str
    room_id: str | None = None
    room_topic: str | None = None
    to: str | None = None
    mentions: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        has_room = self.room_id is not None or self.room_topic is not None
        if has_room == (self.to is not None):
            raise ValueError("an Outbound goes either to a room or to one contact")
