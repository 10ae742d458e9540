from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from bot.events import Inbound, Outbound

TS = datetime(2026, 11, 22, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai"))


def make(**changes: object) -> Inbound:
    fields: dict[str, object] = {
        "ts": TS,
        "sender_id": "wxid_a",
        "sender_name": "A",
        "text": "3栋路灯坏了",
        "room_id": "r1",
        "room_topic": "群",
    }
    fields.update(changes)
    return Inbound(**fields)  # type: ignore[arg-type]


def test_the_platform_id_is_the_key_when_there_is_one() -> None:
    assert make(id="abc").idempotency_key() == "id:abc"
    assert make(id="abc", text="other").idempotency_key() == "id:abc"


def test_without_an_id_the_key_is_a_hash_of_room_sender_text_and_time() -> None:
    key = make().idempotency_key()
    assert key.startswith("h:")
    assert len(key) <= 64
    assert make().idempotency_key() == key
    assert make(text="别的").idempotency_key() != key
    assert make(sender_id="wxid_b").idempotency_key() != key
    assert make(room_id="r2").idempotency_key() != key
    assert make(ts=TS.replace(second=1)).idempotency_key() != key
    # the display name is not part of who sent it
    assert make(sender_name="改了名").idempotency_key() == key


def test_private_message() -> None:
    assert make(room_id=None, room_topic=None).is_private
    assert not make().is_private


def test_outbound_goes_to_a_room_or_a_contact() -> None:
    Outbound(text="x", room_topic="群")
    Outbound(text="x", to="wxid_a")
    with pytest.raises(ValueError, match="either"):
        Outbound(text="x")
    with pytest.raises(ValueError, match="either"):
        Outbound(text="x", room_id="r", to="wxid_a")
