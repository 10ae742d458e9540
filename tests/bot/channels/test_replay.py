from __future__ import annotations

import io
import json
from datetime import datetime

import pytest

from bot.app import App, build_app
from bot.channels.replay import JsonLinesSender, ReplayLineError, parse_line, replay
from bot.clock import ManualClock
from bot.events import Inbound, MessageType
from bot.settings import Settings
from nlp.classifier import Classifier
from storage.db import Database
from tests.conftest import TZ


def line(**fields: object) -> str:
    return json.dumps(fields, ensure_ascii=False)


def test_a_room_message() -> None:
    event = parse_line(
        line(
            ts="2026-11-22T09:00:00+08:00",
            room="群",
            **{"from": "wxid_a"},
            name="张阿姨",
            text="3栋路灯坏了",
            id="m1",
            mentions=["wxid_b"],
        ),
        TZ,
    )
    assert isinstance(event, Inbound)
    assert (event.room_id, event.room_topic, event.sender_id, event.sender_name) == (
        "群",
        "群",
        "wxid_a",
        "张阿姨",
    )
    assert (event.text, event.id, event.mentions, event.type) == (
        "3栋路灯坏了",
        "m1",
        ("wxid_b",),
        MessageType.TEXT,
    )


def test_a_private_message_without_name_or_text_for_an_image() -> None:
    event = parse_line(line(ts="2026-11-22T09:00:00+08:00", type="image", **{"from": "wxid_a"}), TZ)
    assert isinstance(event, Inbound)
    assert event.is_private
    assert (event.sender_name, event.text, event.type) == ("wxid_a", "", MessageType.IMAGE)


def test_a_tick_and_a_naive_time_in_the_configured_zone() -> None:
    when = parse_line(line(ts="2026-11-22T12:00:00", tick=True), TZ)
    assert when == datetime(2026, 11, 22, 12, tzinfo=TZ)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("{", "not JSON"),
        ("[1]", "expected a JSON object"),
        (line(ts="2026-11-22T09:00:00+08:00"), "from: Field required"),
        (line(ts="yesterday", text="x", **{"from": "a"}), "ts: Input should be a valid datetime"),
        (line(ts="2026-11-22T09:00:00+08:00", **{"from": "a"}), "a text message needs 'text'"),
        (line(ts="2026-11-22T09:00:00+08:00", text="x", **{"from": "a"}, extra=1), "extra"),
        (line(ts="2026-11-22T09:00:00+08:00", text="x", **{"from": "a"}, type="gif"), "type"),
        (line(ts="2026-11-22T09:00:00+08:00", tick=False), "tick"),
        (line(ts="2026-11-22T09:00:00+08:00", tick=True, text="x"), "text"),
        (line(ts="2026-11-22T09:00:00+08:00", text="x", **{"from": ""}), "from"),
    ],
)
def test_malformed_lines_say_what_is_wrong(text: str, problem: str) -> None:
    with pytest.raises(ReplayLineError, match=problem):
        parse_line(text, TZ)


@pytest.fixture
def replay_app(
    settings: Settings, sqlite_db: Database, classifier: Classifier
) -> tuple[App, ManualClock, io.StringIO]:
    clock = ManualClock(datetime(2000, 1, 1, tzinfo=TZ))
    out = io.StringIO()
    return (
        build_app(
            settings,
            clock=clock,
            db=sqlite_db,
            sender=JsonLinesSender(clock, out),
            classifier=classifier,
        ),
        clock,
        out,
    )


async def test_replay_round_trip_with_a_bad_line_in_the_middle(
    replay_app: tuple[App, ManualClock, io.StringIO],
) -> None:
    app, clock, out = replay_app
    lines = [
        line(
            ts="2026-11-22T09:00:00+08:00",
            room="幸福社区第3网格",
            text="/帮助",
            **{"from": "wxid_resident_zhang"},
            name="张阿姨",
        ),
        "not json",
        "",
        line(ts="2026-11-22T10:00:00+08:00", tick=True),
        line(ts="2026-11-22T10:30:00+08:00", text="/帮助", **{"from": "wxid_leader_li"}),
    ]
    err = io.StringIO()
    assert await replay(app, clock, lines, err) == 1
    assert err.getvalue() == "line 2: not JSON: Expecting value at column 1; skipped\n"
    records = [json.loads(x) for x in out.getvalue().splitlines()]
    assert [(r["ts"], r["room"], r["to"], r["mentions"]) for r in records] == [
        ("2026-11-22T09:00:00+08:00", "幸福社区第3网格", None, ["wxid_resident_zhang"]),
        ("2026-11-22T10:30:00+08:00", None, "wxid_leader_li", []),
    ]
    assert all(set(r) == {"ts", "room", "to", "text", "mentions"} for r in records)
    assert clock.now() == datetime(2026, 11, 22, 10, 30, tzinfo=TZ)


async def test_a_clean_replay_exits_zero(
    replay_app: tuple[App, ManualClock, io.StringIO],
) -> None:
    app, clock, out = replay_app
    lines = [line(ts="2026-11-22T09:00:00+08:00", room="幸福社区第3网格", text="大家早上好",
                  **{"from": "wxid_resident_zhang"})]  # fmt: skip
    assert await replay(app, clock, lines, io.StringIO()) == 0
    assert out.getvalue() == ""  # chatter gets no reply
