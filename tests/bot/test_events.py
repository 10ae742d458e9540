from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from bot.events import Inbound, MessageType, Outbound

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


def test_a_group_message_has_one_key_whichever_account_or_delivery_brought_it() -> None:
    key = make(id="abc", account="bot_a").idempotency_key()
    assert key.startswith("r:")
    assert len(key) <= 64
    # a reconnect redelivers it to the same account
    assert make(id="abc", account="bot_a").idempotency_key() == key
    # another bot account in the group gets it under another platform id, mentioning not
    # itself but the first account
    assert make(id="xyz", account="bot_b", mentions=("bot_a",)).idempotency_key() == key
    # puppets that report milliseconds: the server's second is what both accounts share
    assert make(ts=TS.replace(microsecond=999_000)).idempotency_key() == key
    # the display name is not part of who sent it
    assert make(sender_name="改了名").idempotency_key() == key


def test_different_group_messages_have_different_keys() -> None:
    key = make().idempotency_key()
    assert make(text="别的").idempotency_key() != key
    assert make(sender_id="wxid_b").idempotency_key() != key
    assert make(room_id="r2").idempotency_key() != key
    assert make(ts=TS.replace(second=1)).idempotency_key() != key
    assert (
        make(type=MessageType.IMAGE, text="").idempotency_key()
        != make(type=MessageType.VOICE, text="").idempotency_key()
    )


def test_a_private_message_is_keyed_by_the_account_that_received_it() -> None:
    private = {"room_id": None, "room_topic": None}
    key = make(id="abc", account="bot_a", **private).idempotency_key()
    assert key.startswith("p:")
    assert make(id="abc", account="bot_a", text="x", **private).idempotency_key() == key
    assert make(id="abc", account="bot_b", **private).idempotency_key() != key
    assert make(id="abd", account="bot_a", **private).idempotency_key() != key
    # without a platform id: the same hash as a group message's, with the account
    bare = make(account="bot_a", **private).idempotency_key()
    assert make(account="bot_a", **private).idempotency_key() == bare
    assert make(account="bot_b", **private).idempotency_key() != bare
    assert make(account="bot_a", text="别的", **private).idempotency_key() != bare


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
