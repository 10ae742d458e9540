"""bot.channels.wechaty_rooms: which group an outbound message goes to, with a fake Room class
that behaves like the SDK's (a process-wide pool, ``load``, ``find_all`` with a filter)."""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace
from typing import Any, ClassVar

import pytest

from bot.channels.wechaty_rooms import RoomDirectory, RoomNotFound
from bot.events import Outbound


class FakeRoom:
    _pool: ClassVar[dict[str, FakeRoom]] = {}
    topics: ClassVar[dict[str, str]] = {}  # what the gateway knows: room id -> topic
    searches: ClassVar[int] = 0

    def __init__(self, room_id: str) -> None:
        self.room_id = room_id
        self._payload: Any = None

    @property
    def payload(self) -> Any:
        if self._payload is None:
            raise ValueError("not ready")
        return self._payload

    @classmethod
    def load(cls, room_id: str) -> FakeRoom:
        return cls._pool.setdefault(room_id, cls(room_id))

    @classmethod
    async def find_all(cls, query: Callable[[FakeRoom], bool]) -> list[FakeRoom]:
        cls.searches += 1
        rooms = [cls.load(room_id) for room_id in cls.topics]
        for room in rooms:
            if room._payload is None:  # the SDK's ready(): only when there is no payload
                room._payload = SimpleNamespace(topic=cls.topics[room.room_id])
        return [room for room in rooms if query(room)]


@pytest.fixture
def rooms() -> RoomDirectory:
    FakeRoom._pool = {}
    FakeRoom.searches = 0
    FakeRoom.topics = {
        "1@chatroom": "幸福社区第3网格",
        "2@chatroom": "幸福社区第3网格2",
        "3@chatroom": "幸福社区指挥中心",
    }
    return RoomDirectory(FakeRoom)


def by_topic(topic: str) -> Outbound:
    return Outbound(text="x", room_id=topic, room_topic=topic)


async def test_a_room_id_is_used_as_is(rooms: RoomDirectory) -> None:
    room = await rooms.room_for(Outbound(text="x", room_id="9@chatroom", room_topic="某群"))
    assert room.room_id == "9@chatroom"
    assert FakeRoom.searches == 0


async def test_a_topic_is_matched_exactly_and_remembered(rooms: RoomDirectory) -> None:
    room = await rooms.room_for(by_topic("幸福社区第3网格"))
    assert room.room_id == "1@chatroom"  # not 幸福社区第3网格2, which contains it
    again = await rooms.room_for(Outbound(text="x", room_topic="幸福社区第3网格"))
    assert again is room
    assert FakeRoom.searches == 1


async def test_no_room_or_two_rooms_with_the_topic(rooms: RoomDirectory) -> None:
    with pytest.raises(RoomNotFound, match="no group called '幸福社区'"):
        await rooms.room_for(by_topic("幸福社区"))
    FakeRoom.topics["4@chatroom"] = "幸福社区指挥中心"  # a look-alike group
    with pytest.raises(RoomNotFound, match="2 groups are called '幸福社区指挥中心'"):
        await rooms.room_for(by_topic("幸福社区指挥中心"))


async def test_a_renamed_room_is_looked_up_again(rooms: RoomDirectory) -> None:
    await rooms.room_for(by_topic("幸福社区指挥中心"))
    FakeRoom.topics["3@chatroom"] = "街道指挥中心"
    rooms.renamed("3@chatroom")
    assert FakeRoom._pool["3@chatroom"]._payload is None  # the stale copy is dropped
    with pytest.raises(RoomNotFound):
        await rooms.room_for(by_topic("幸福社区指挥中心"))
    room = await rooms.room_for(by_topic("街道指挥中心"))
    assert room.room_id == "3@chatroom"


async def test_reset_forgets_topics_and_payloads(rooms: RoomDirectory) -> None:
    await rooms.room_for(by_topic("幸福社区指挥中心"))
    rooms.reset()
    assert all(room._payload is None for room in FakeRoom._pool.values())
    await rooms.room_for(by_topic("幸福社区指挥中心"))
    assert FakeRoom.searches == 2


def test_ids_seen_in_messages_are_ids(rooms: RoomDirectory) -> None:
    odd = Outbound(text="x", room_id="same", room_topic="same")  # id and topic look alike
    assert not rooms.is_room_id(odd)
    rooms.saw("same")
    assert rooms.is_room_id(odd)
    assert not rooms.is_room_id(Outbound(text="x", room_topic="t"))
