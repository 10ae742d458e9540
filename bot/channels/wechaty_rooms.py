"""Which WeChat group an :class:`~bot.events.Outbound` goes to.

An outbound message names its room by the platform's room id once the bot has seen the group
(grids are bound by id on their first message), or only by topic: the escalation room, and a
grid whose group has not spoken yet, have ``room_id == room_topic``. A topic is looked up
among the bot's groups, exactly (the SDK's ``Room.find("topic")`` matches substrings and takes
the first hit, so "幸福社区第3网格" would also find "幸福社区第3网格2"), and the id is kept
until the group is renamed or the connection is re-established.
"""

from __future__ import annotations

import logging
from typing import Any

from bot.channels.wechaty_mapping import room_topic
from bot.events import Outbound
from bot.wechaty_compat import forget_room_payloads

log = logging.getLogger(__name__)


class RoomNotFound(LookupError):
    """No group, or more than one, has the topic an outbound message names."""


class RoomDirectory:
    """Topic → room id, for the bot's ``Room`` class (``bot.Room`` after ``init_puppet()``)."""

    def __init__(self, room_class: Any) -> None:
        self._rooms = room_class
        self._ids_by_topic: dict[str, str] = {}
        self._seen_ids: set[str] = set()

    def saw(self, room_id: str) -> None:
        """A message came from this room: its id is an id, whatever it looks like."""
        self._seen_ids.add(room_id)

    def renamed(self, room_id: str) -> None:
        """A group changed its topic: forget what was cached about it (the SDK's copy of its
        topic included, finding 11), so the next message or lookup reads the new one."""
        self._ids_by_topic = {t: i for t, i in self._ids_by_topic.items() if i != room_id}
        pooled = self._rooms._pool.get(room_id)
        if pooled is not None:
            forget_room_payloads([pooled])

    def reset(self) -> None:
        """After a reconnect: groups may have been renamed while the bot was away."""
        self._ids_by_topic.clear()
        forget_room_payloads(list(self._rooms._pool.values()))

    def is_room_id(self, message: Outbound) -> bool:
        """Whether ``message.room_id`` is the platform's id rather than a stand-in topic."""
        room_id = message.room_id
        if room_id is None:
            return False
        return room_id != message.room_topic or room_id in self._seen_ids

    async def room_for(self, message: Outbound) -> Any:
        """The SDK room to send ``message`` to; raises :class:`RoomNotFound`."""
        if self.is_room_id(message):
            return self._rooms.load(message.room_id)
        topic = message.room_topic or message.room_id or ""
        cached = self._ids_by_topic.get(topic)
        if cached is not None:
            return self._rooms.load(cached)

        def has_topic(room: Any) -> bool:
            return room_topic(room) == topic

        found = await self._rooms.find_all(has_topic)
        if not found:
            raise RoomNotFound(f"the bot is in no group called {topic!r}")
        if len(found) > 1:
            ids = ", ".join(sorted(room.room_id for room in found))
            raise RoomNotFound(f"{len(found)} groups are called {topic!r} ({ids}): not sending")
        room = found[0]
        self._ids_by_topic[topic] = room.room_id
        log.info("group %r is room %s", topic, room.room_id)
        return room
