from __future__ import annotations

import io
import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlmodel import select

from bot.app import App, build_app
from bot.channels.replay import JsonLinesSender, ReplayLineError, parse_line, replay
from bot.clock import ManualClock
from bot.context import Context
from bot.events import Inbound, MessageType, Outbound, Quote
from bot.settings import Settings
from nlp.classifier import Classifier
from storage import migrate
from storage.db import Database
from storage.models import InboundMessage
from tests.conftest import TZ


def line(**fields: object) -> str:
    return json.dumps(fields, ensure_ascii=False)


def escaped(**fields: object) -> str:
    return json.dumps(fields)


AT = "2026-11-22T09:00:00+08:00"
# Bad lines of every kind (issue 17, items 9-11): what each is, the line, the error it gets.
# escaped() writes a lone surrogate as JSON escapes it ("\\ud800"); "\udcff" written as is
# stands for the byte 0xFF, as the command line reads a file (surrogateescape).
BAD_LINES: dict[str, tuple[str, str]] = {
    "ts-unix-0": (line(ts=0, text="x", **{"from": "a"}), "ts: must be an ISO 8601 time string"),
    "ts-float": (line(ts=1.7e9, tick=True), "ts: must be an ISO 8601 time string"),
    "ts-digits": (line(ts="1700000000", tick=True), "ts: must be an ISO 8601 time string"),
    "ts-null": (line(ts=None, tick=True), "ts: must be an ISO 8601 time string"),
    "ts-year-1": (line(ts="0001-01-01T00:00:00+08:00", text="x", **{"from": "a"}), "ts: the year"),
    "ts-year-9999": (line(ts="9999-12-31T23:59:59+08:00", tick=True), "ts: the year must be"),
    "ts-1999": (line(ts="1999-12-31T23:59:59", tick=True), "ts: the year must be from 2000 to"),
    "ts-2100": (
        line(ts="2100-01-01T00:00:00", tick=True),
        "ts: the year must be from 2000 to 2099",
    ),
    "nested-arrays": ("[" * 100_000, "not JSON: nested too deeply"),
    "nested-objects": ('{"a":' * 50_000 + "1" + "}" * 50_000, "not JSON: nested too deeply"),
    "nested-mentions": (
        line(ts=AT, text="x", **{"from": "a"}, mentions=[[["a"]]]),
        r"mentions\[0\]",
    ),
    "huge-int": (f'{{"ts": "{AT}", "from": "a", "text": {"9" * 5000}}}', "not JSON: Exceeds"),
    "byte-ff": (
        f'{{"ts": "{AT}", "from": "a", "text": "\udcff"}}',
        "not valid UTF-8: byte 0xFF at",
    ),
    "surrogate-text": (escaped(ts=AT, text="\ud800", **{"from": "a"}), r"text: a lone surrogate"),
    "surrogate-name": (escaped(ts=AT, text="x", name="\udc00", **{"from": "a"}), "name: a lone"),
    "surrogate-mention": (
        escaped(ts=AT, text="x", **{"from": "a"}, mentions=["\udfff"]),
        r"mentions\[0\]: a lone surrogate \(\\udfff\)",
    ),
    "surrogate-room": (escaped(ts=AT, room="\ud83d", text="x", **{"from": "a"}), "room: a lone"),
    "surrogate-quote": (
        escaped(ts=AT, text="x", **{"from": "a"}, quote={"name": "b", "text": "\udbff"}),
        r"quote\.text: a lone surrogate",
    ),
    "surrogate-key": (escaped(ts=AT, text="x", **{"from": "a", "\ud800": 1}), r"^\(top level\): a"),
    "bom-after-line-1": ("\ufeff" + line(ts=AT, tick=True), "not JSON: Unexpected UTF-8 BOM"),
}


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


def test_a_quoted_reply_given_as_a_field_or_as_wechat_writes_it() -> None:
    quote = {"from": "wxid_b", "name": "王大爷", "text": "3栋路灯坏了"}
    given = parse_line(
        line(ts="2026-11-22T09:00:00+08:00", room="群", **{"from": "wxid_a"}, text="我家门口也黑",
             quote=quote),
        TZ,
    )  # fmt: skip
    assert isinstance(given, Inbound)
    assert given.quote == Quote(name="王大爷", text="3栋路灯坏了", sender_id="wxid_b")
    assert given.text == "我家门口也黑"
    raw = "「王大爷：3栋路灯坏了」\n- - - - - - - - - - - - - - -\n我家门口也黑"
    written = parse_line(line(ts="2026-11-22T09:00:00+08:00", room="群", **{"from": "wxid_a"},
                              text=raw), TZ)  # fmt: skip
    assert isinstance(written, Inbound)
    assert (written.quote, written.text) == (
        Quote(name="王大爷", text="3栋路灯坏了"),
        "我家门口也黑",
    )
    with pytest.raises(ReplayLineError, match="quote"):
        parse_line(line(ts="2026-11-22T09:00:00+08:00", **{"from": "wxid_a"}, text="x",
                        quote={"text": "no name"}), TZ)  # fmt: skip


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


@pytest.mark.parametrize("kind", BAD_LINES)
def test_hostile_lines_are_bad_lines_too(kind: str) -> None:
    text, problem = BAD_LINES[kind]
    with pytest.raises(ReplayLineError, match=problem):
        parse_line(text, TZ)


async def test_no_bad_line_ends_the_run_and_each_is_said_once(
    replay_app: tuple[App, ManualClock, io.StringIO],
) -> None:
    """Every bad line of the list, each followed by a good one: all skipped with one line on
    stderr, every good line answered (a bad line used to end the whole run)."""
    app, clock, out = replay_app
    lines: list[str] = []
    for number, (bad, _) in enumerate(BAD_LINES.values()):
        when = datetime(2026, 11, 22, 9, tzinfo=TZ) + timedelta(minutes=number)
        lines += [bad, line(ts=when.isoformat(), text="/帮助", **{"from": f"wxid_{number}"})]
    err = io.StringIO()
    assert await replay(app, clock, lines, err) == 1
    reported = err.getvalue().splitlines()
    assert [r.split(":")[0] for r in reported] == [f"line {n}" for n in range(1, len(lines), 2)]
    assert all(r.endswith("; skipped") for r in reported)
    assert [r["to"] for r in records(out)] == [f"wxid_{n}" for n in range(len(BAD_LINES))]


async def test_a_byte_order_mark_before_line_1_is_not_a_bad_line(
    replay_app: tuple[App, ManualClock, io.StringIO],
) -> None:
    app, clock, out = replay_app
    first = "\ufeff" + line(ts="2026-11-22T09:00:00+08:00", text="/帮助", **{"from": "wxid_a"})
    err = io.StringIO()
    assert await replay(app, clock, [first], err) == 0
    assert err.getvalue() == ""
    assert [r["to"] for r in records(out)] == ["wxid_a"]


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


# --- resuming on a database that holds messages already --------------------------------

ROOM = "幸福社区第3网格"


def said(ts: str, sender: str, name: str, text: str, id: str) -> str:
    return line(ts=f"2026-11-22T{ts}:00+08:00", room=ROOM, text=text, name=name, id=id,
                **{"from": sender})  # fmt: skip


RESUME_LINES = [
    said("09:00", "wxid_a", "张阿姨", "3栋楼道的灯坏了，晚上很黑", "m1"),
    said("10:30", "wxid_b", "李叔", "5栋门口的下水道堵了，污水漫出来了", "m2"),
    said("11:00", "wxid_b", "李叔", "我的工单", "m3"),
]


class Killed(BaseException):
    """The process dying: nothing after it runs, nothing uncommitted is kept."""


def new_app(
    settings: Settings, db: Database, classifier: Classifier, sender: type[JsonLinesSender]
) -> tuple[App, ManualClock, io.StringIO]:
    clock = ManualClock(datetime(2000, 1, 1, tzinfo=TZ))
    out = io.StringIO()
    app = build_app(settings, clock=clock, db=db, sender=sender(clock, out), classifier=classifier)
    return app, clock, out


def die_while_handling(app: App, message_id: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make ``app`` die once ``message_id`` is stored, before it is handled."""
    handle = app.dispatcher._handle_in

    async def die(ctx: Context) -> None:
        if ctx.event.id == message_id:
            raise Killed
        await handle(ctx)

    monkeypatch.setattr(app.dispatcher, "_handle_in", die)


def records(*outs: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(x) for out in outs for x in out.getvalue().splitlines()]


@pytest.fixture
async def uninterrupted(
    settings: Settings, classifier: Classifier, tmp_path: Path
) -> list[dict[str, object]]:
    db = Database.from_url(f"sqlite:///{tmp_path}/reference.db")
    migrate.upgrade(db.engine)
    app, clock, out = new_app(settings, db, classifier, JsonLinesSender)
    try:
        assert await replay(app, clock, RESUME_LINES, io.StringIO()) == 0
    finally:
        db.dispose()
    return records(out)


async def test_killed_while_handling_a_message_it_resumes_where_it_was(
    settings: Settings,
    sqlite_db: Database,
    classifier: Classifier,
    uninterrupted: list[dict[str, object]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    first, clock, out1 = new_app(settings, sqlite_db, classifier, JsonLinesSender)
    die_while_handling(first, "m2", monkeypatch)
    with pytest.raises(Killed):
        await replay(first, clock, RESUME_LINES, io.StringIO())

    again, clock, out2 = new_app(settings, sqlite_db, classifier, JsonLinesSender)
    assert await replay(again, clock, RESUME_LINES, io.StringIO()) == 0
    # m2 handled at its own time (its deadline counts from 10:30, not from the file's first
    # line), m1 not answered again, nothing stamped before where the killed run had got to
    assert records(out1, out2) == uninterrupted
    assert [r["ts"] for r in records(out2)] == [
        "2026-11-22T10:30:00+08:00",
        "2026-11-22T11:00:00+08:00",
    ]
    assert "11月25日 10:30前" in str(records(out2)[0]["text"])


class DiesAfterWritingTheLast(JsonLinesSender):
    """Killed after the message went out, before it was marked sent."""

    async def send(self, message: Outbound) -> None:
        await super().send(message)
        if "您有 1 件工单" in message.text:
            raise Killed


async def test_a_message_sent_but_not_marked_goes_again_once_its_claim_runs_out(
    settings: Settings,
    sqlite_db: Database,
    classifier: Classifier,
    uninterrupted: list[dict[str, object]],
) -> None:
    first, clock, out1 = new_app(settings, sqlite_db, classifier, DiesAfterWritingTheLast)
    with pytest.raises(Killed):
        await replay(first, clock, RESUME_LINES, io.StringIO())
    assert records(out1) == uninterrupted

    again, clock, out2 = new_app(settings, sqlite_db, classifier, JsonLinesSender)
    assert await replay(again, clock, RESUME_LINES, io.StringIO()) == 0
    # the end of the replay waits for the claim (sending.claim_seconds) and sends it again:
    # at least once, the one in flight twice
    again_at = datetime(2026, 11, 22, 11, tzinfo=TZ) + timedelta(
        seconds=settings.sending.claim_seconds
    )
    assert records(out2) == [{**uninterrupted[-1], "ts": again_at.isoformat()}]


async def test_a_finished_replay_run_again_on_its_database_sends_nothing(
    settings: Settings, sqlite_db: Database, classifier: Classifier
) -> None:
    first, clock, out1 = new_app(settings, sqlite_db, classifier, JsonLinesSender)
    assert await replay(first, clock, RESUME_LINES, io.StringIO()) == 0
    again, clock, out2 = new_app(settings, sqlite_db, classifier, JsonLinesSender)
    assert await replay(again, clock, RESUME_LINES, io.StringIO()) == 0
    assert len(records(out1)) == 3
    assert records(out2) == []
    assert clock.now() == datetime(2026, 11, 22, 11, 0, tzinfo=TZ)


async def test_new_lines_after_an_earlier_day_start_at_their_own_time(
    settings: Settings, sqlite_db: Database, classifier: Classifier
) -> None:
    first, clock, _ = new_app(settings, sqlite_db, classifier, JsonLinesSender)
    assert await replay(first, clock, RESUME_LINES[:1], io.StringIO()) == 0
    again, clock, out = new_app(settings, sqlite_db, classifier, JsonLinesSender)
    next_day = line(ts="2026-11-23T08:00:00+08:00", room=ROOM, text="我的工单",
                    **{"from": "wxid_a"}, name="张阿姨")  # fmt: skip
    assert await replay(again, clock, [next_day], io.StringIO()) == 0
    assert [r["ts"] for r in records(out)] == ["2026-11-23T08:00:00+08:00"]


# --- the clock never goes back --------------------------------------------------------------


async def test_a_line_before_the_clock_is_taken_as_at_the_clock(
    replay_app: tuple[App, ManualClock, io.StringIO],
) -> None:
    app, clock, out = replay_app
    lines = [
        said("10:00", "wxid_a", "张阿姨", "大家早上好", "m1"),
        line(ts="2026-11-22T11:00:00+08:00", tick=True),
        said("08:00", "wxid_b", "李叔", "5栋门口的下水道堵了，污水漫出来了", "m2"),
        line(ts="2026-11-22T10:30:00+08:00", tick=True),
    ]
    err = io.StringIO()
    assert await replay(app, clock, lines, err) == 0  # not a malformed line
    assert err.getvalue().splitlines() == [
        "line 3: ts 2026-11-22T08:00:00+08:00 is before the bot's clock; "
        "taken as 2026-11-22T11:00:00+08:00",
        "line 4: ts 2026-11-22T10:30:00+08:00 is before the bot's clock; "
        "taken as 2026-11-22T11:00:00+08:00",
    ]
    # handled at 11:00: its deadline counts from then, and nothing is chased as overdue
    [reply] = records(out)
    assert reply["ts"] == "2026-11-22T11:00:00+08:00"
    assert "11月25日 11:00前" in str(reply["text"])
    assert clock.now() == datetime(2026, 11, 22, 11, tzinfo=TZ)


EARLY_LINES = [
    said("10:00", "wxid_a", "张阿姨", "3栋楼道的灯坏了，晚上很黑", "m1"),
    said("09:00", "wxid_b", "李叔", "5栋门口的下水道堵了，污水漫出来了", "m2"),  # taken as 10:00
    said("11:00", "wxid_c", "王大爷", "8栋的电梯坏了，老人下不了楼", "m3"),
    said("11:30", "wxid_b", "李叔", "我的工单", "m4"),
]


async def test_a_line_taken_as_a_later_time_is_not_handled_again_on_resume(
    settings: Settings,
    sqlite_db: Database,
    classifier: Classifier,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Its time comes from the lines before it, not from the clock (which a resumed run
    starts at the latest stored message, 11:30 here): it keeps the time it was stored
    with, so the resumed run knows it."""
    reference_db = Database.from_url(f"sqlite:///{tmp_path}/reference.db")
    migrate.upgrade(reference_db.engine)
    app, clock, reference = new_app(settings, reference_db, classifier, JsonLinesSender)
    try:
        assert await replay(app, clock, EARLY_LINES, io.StringIO()) == 0
    finally:
        reference_db.dispose()
    uninterrupted = records(reference)
    assert "11月25日 10:00前" in str(uninterrupted[1]["text"])

    first, clock, out1 = new_app(settings, sqlite_db, classifier, JsonLinesSender)
    die_while_handling(first, "m4", monkeypatch)
    with pytest.raises(Killed):
        await replay(first, clock, EARLY_LINES, io.StringIO())
    again, clock, out2 = new_app(settings, sqlite_db, classifier, JsonLinesSender)
    assert await replay(again, clock, EARLY_LINES, io.StringIO()) == 0
    assert records(out1, out2) == uninterrupted
    with sqlite_db.session() as session:  # each line stored once, m2 as at 10:00
        stored = session.exec(select(InboundMessage.platform_id, InboundMessage.sent_at)).all()
    assert sorted((i, t.astimezone(TZ).strftime("%H:%M")) for i, t in stored) == [
        ("m1", "10:00"),
        ("m2", "10:00"),
        ("m3", "11:00"),
        ("m4", "11:30"),
    ]
