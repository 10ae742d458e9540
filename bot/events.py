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
class Quote:
    """The message a reply quotes (WeChat's 引用): who wrote it and its words. ``sender_id``
    when the channel knows it (WeChat's quoted text names only the display name)."""

    name: str
    text: str
    sender_id: str | None = None


@dataclass(frozen=True, slots=True)
class Inbound:
    """One message somebody sent: in a group (``room_id`` set) or privately to the bot.

    ``room_id`` is the platform's room id; channels without ids (console, replay) use the
    topic. ``id`` is the platform's message id when the platform gives one. ``account`` is
    the bot account that received it (its contact id on WeChat, a configured name
    elsewhere): several bot processes, one account each, may share a database.
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
    account: str | None = None
    # the message this one replies to; ``text`` is then only what the sender wrote now
    quote: Quote | None = None

    @property
    def is_private(self) -> bool:
        return self.room_id is None

    def idempotency_key(self) -> str:
        """The key under which this message is stored exactly once, whichever account or
        delivery brought it.

        A group message reaches every bot account in the group, and a reconnect can deliver
        it to one account again. The platform's message id can't tell these apart: whether
        two accounts see one group message under the same id is not something to rely on.
        What both see alike is the group (room ids are global), the sender (contact ids are
        global), the type, the text and the server's timestamp. So a group message's key is
        a hash of those, the time cut to whole seconds: WeChat stamps messages in seconds,
        and puppets that report milliseconds may fill them in differently per account.
        Mentions are left out: each account drops itself from them.

        The trade-off: the same sender sending the same text (or two photos, whose text is
        empty) into the same group within the same second is taken as one message, stored
        and answered once. Such a burst is a double tap, not two requests.

        A private message reaches one account only: its key is that account's, with the
        platform id when there is one (a redelivery has the same), else the same hash.
        """
        second = str(int(self.ts.timestamp()))
        parts: tuple[str, ...]
        if self.room_id is not None:
            parts = ("room", self.room_id, self.sender_id, self.type, self.text, second)
            prefix = "r"
        elif self.id:
            parts = ("private", self.account or "", self.sender_id, "id", self.id)
            prefix = "p"
        else:
            parts = ("private", self.account or "", self.sender_id, self.type, self.text, second)
            prefix = "p"
        digest = hashlib.sha256("\x1f".join(parts).encode()).hexdigest()
        return f"{prefix}:{digest[:40]}"


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
