"""The bad-input corpus (tests/data/bad_input.jsonl) replayed through the real bot.

Each line is one case: who sends what where, and what a grid leader would want to happen:
silence, or one short reply to the sender (exact, or a substring or regex where the text
carries variable parts), and how many tickets, ledger entries and orders it may add (none
unless the case says so). A case may also name `private`, text of the one private message
the sender gets besides the reply (a leader's `/工单` in a group), and `hidden`, strings no
message it makes the bot send may show. Every case runs against one shared world, set up
once per module: two grids with two tickets each, a resident with points and a pending
order, so commands have real tickets, people and orders to get wrong. Cases use their own
sender where they can, so the anti-flood limits never count one case against the next; the
world's settings lift those limits anyway. The world is built on SQLite and on PostgreSQL,
and every case runs on both: PostgreSQL refuses what SQLite takes (a NUL byte, an over-long
name).

Per case: no exception escapes, the reply (or silence) is as specified, the message is
stored and marked handled (a failed mark means a handler crashed), nothing outside the
case's own answer is sent, and no reply to anyone but the reporter shows her phone number
or, to other residents, her report. At the end: balances equal their ledger sums, no row
points at nothing, every ticket has its reporter and the world's order is untouched.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import pytest_asyncio
import sqlalchemy as sa
from sqlmodel import col, func, select

from bot.app import App, build_app
from bot.clock import ManualClock
from bot.commands import command_text
from bot.events import MessageType, Outbound
from bot.settings import Settings
from handlers import all_routers
from nlp.classifier import Classifier
from storage import migrate
from storage import points as points_store
from storage.db import Database
from storage.models import (
    InboundMessage,
    Member,
    MessageStatus,
    OrderStatus,
    PointsEntry,
    PointsOrder,
    Ticket,
    TicketEvent,
    TicketReporter,
)
from tests.auxil.chat import ADMIN, LEADER, NEIGHBOUR, OTHER_LEADER, RESIDENT, Chat, RecordingSender
from tests.auxil.chat import OTHER_ROOM as G04_ROOM
from tests.auxil.chat import ROOM as G03_ROOM
from tests.auxil.postgres import PostgresServer
from tests.conftest import SETTINGS

pytestmark = pytest.mark.asyncio(loop_scope="module")

CORPUS = Path(__file__).parent / "data" / "bad_input.jsonl"
TZ = ZoneInfo("Asia/Shanghai")
UNKNOWN_ROOM = "广场舞爱好者"

# The world's people. Zhang reported ticket #1 with her phone number in it, has points and
# a pending order; Wang reported #2; Liu and Sun are residents of G04 with #3 and #4.
ZHANG_PHONE = "13812345678"
ZHANG_WORDS = "楼道的路灯"
LIU = ("wxid_resident_liu", "刘师傅")
SUN = ("wxid_resident_sun", "孙阿姨")
IMPOSTOR = ("wxid_impostor", LEADER[1])  # a resident who took the leader's display name
PEOPLE = {
    "zhang": RESIDENT,
    "wang": NEIGHBOUR,
    "liu": LIU,
    "leader": LEADER,
    "other_leader": OTHER_LEADER,
    "admin": ADMIN,
    "impostor": IMPOSTOR,
}
ROOMS: dict[str, str | None] = {
    "grid": G03_ROOM,
    "other_grid": G04_ROOM,
    "unknown_room": UNKNOWN_ROOM,
    "private": None,
    "long_topic_room": "群" * 300,  # a group of no grid whose topic is wider than its column
}
KINDS = {
    "empty",
    "whitespace",
    "huge",
    "emoji",
    "invisible",
    "control",
    "injection",
    "command",
    "fullwidth",
    "numbers",
    "unknown_ticket",
    "wrong_grid",
    "unknown_place",
    "non_text",
    "authorisation",
    "privacy",
    "chatter",
}


@dataclass(frozen=True)
class Case:
    id: str
    kind: str
    desc: str
    who: str  # a name in PEOPLE, "stranger", or "resident" (a fresh member for this case)
    where: str  # a key of ROOMS
    text: str
    name: str | None  # a display name other than the sender's usual one
    type: MessageType
    mentions: tuple[str, ...]
    expect: str | dict[str, str]  # "silence", or one of {"reply"|"contains"|"regex": ...}
    db: dict[str, int]  # tickets / ledger / orders this case may add (default 0)
    # besides the reply, one private message to the sender holding this (a leader's /工单
    # in a group is answered privately, the group told where it went)
    private: str | None = None
    hidden: tuple[str, ...] = ()  # what no message the case makes the bot send may show

    @property
    def param_id(self) -> str:
        return self.id


def _person(name: str, case_id: str) -> tuple[str, str]:
    if name in PEOPLE:
        return PEOPLE[name]
    if name == "resident":
        return (f"wxid_case_{case_id}", f"居民{case_id[:12]}")
    if name == "stranger":
        return (f"wxid_stranger_{case_id}", "路人")
    raise ValueError(f"unknown sender {name!r}")


def load_corpus() -> list[Case]:
    cases: list[Case] = []
    for number, raw in enumerate(CORPUS.read_text(encoding="utf-8").split("\n"), 1):
        if not raw.strip():
            continue
        data: dict[str, Any] = json.loads(raw)
        # `prefix` + `text` × `repeat`: the 100,000-character cases stay one short line
        text = str(data.get("prefix", "")) + str(data.get("text", "")) * int(data.get("repeat", 1))
        mentions = tuple(PEOPLE[m][0] if m in PEOPLE else m for m in data.get("mentions", []))
        case = Case(
            id=data["id"],
            kind=data["kind"],
            desc=data["desc"],
            who=data["who"],
            where=data["where"],
            text=text,
            name=data.get("name"),
            type=MessageType(data.get("type", "text")),
            mentions=mentions,
            expect=data["expect"],
            db=dict(data.get("db", {})),
            private=data.get("private"),
            hidden=tuple(data.get("hidden", [])),
        )
        if case.kind not in KINDS or case.where not in ROOMS:
            raise ValueError(f"{CORPUS.name}:{number}: unknown kind or place")
        if case.expect != "silence" and not (
            isinstance(case.expect, dict) and len(case.expect) == 1
            and set(case.expect) <= {"reply", "contains", "regex"}
        ):  # fmt: skip
            raise ValueError(f"{CORPUS.name}:{number}: bad expectation {case.expect!r}")
        cases.append(case)
    return cases


CASES = load_corpus()


async def test_the_corpus_is_big_and_covers_every_kind() -> None:
    assert len(CASES) >= 200
    assert len({c.id for c in CASES}) == len(CASES), "case ids must be unique"
    assert {c.kind for c in CASES} == KINDS
    assert {c.type for c in CASES} == set(MessageType)
    assert {c.where for c in CASES} == set(ROOMS)


async def test_the_corpus_has_cases_for_every_command() -> None:
    """A command added without bad-input cases fails here."""
    typed = [command_text(c.text).lstrip("/#") for c in CASES if c.type == MessageType.TEXT]
    names = {spec.command.name for r in all_routers() for spec in r.handlers if spec.command}
    missing = sorted(n for n in names if sum(t.startswith(n) for t in typed) < 2)
    assert missing == []


# --- the world ---


@dataclass
class World:
    app: App
    chat: Chat
    db: Database
    sender: RecordingSender
    ids: dict[str, int]  # what the setup made: tickets and the order
    backend: str
    fed: int = 0  # corpus cases fed so far


def world_settings() -> Settings:
    data = {
        **SETTINGS,
        # Generous: the corpus is about bad input, not floods (bot/flood.py has its own tests)
        "limits": {"tickets_per_day": 1000, "replies": 1000, "reply_window_minutes": 1},
    }
    return Settings.model_validate(data)


def counts(db: Database) -> dict[str, int]:
    with db.session() as s:
        return {
            "tickets": s.exec(select(func.count()).select_from(Ticket)).one(),
            "ledger": s.exec(select(func.count()).select_from(PointsEntry)).one(),
            "orders": s.exec(select(func.count()).select_from(PointsOrder)).one(),
            "events": s.exec(select(func.count()).select_from(TicketEvent)).one(),
        }


@pytest_asyncio.fixture(scope="module", loop_scope="module", params=["sqlite", "postgresql"])
async def world(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    classifier: Classifier,
) -> AsyncIterator[World]:
    """The world on each backend: PostgreSQL refuses what SQLite takes (a NUL byte)."""
    server: PostgresServer | None = None
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('bad-input') / 'world.db'}"
    else:
        server = request.getfixturevalue("pg_server")
        name = server.create_database()
        url = server.url(name)
    db = Database.from_url(url)
    migrate.upgrade(db.engine)
    clock = ManualClock(datetime(2026, 11, 23, 9, 0, tzinfo=TZ))  # a Monday morning
    sender = RecordingSender()
    app = build_app(world_settings(), clock=clock, db=db, sender=sender, classifier=classifier)
    await app.start()
    chat = Chat(app, clock, sender)
    say = chat.say
    await say("大家好", LEADER)
    await say("收到", OTHER_LEADER, G04_ROOM)
    await say("收到", NEIGHBOUR)
    await say("收到", SUN, G04_ROOM)
    ids: dict[str, int] = {}
    for key, who, room, text in (
        ("zhang", RESIDENT, G03_ROOM, f"3栋{ZHANG_WORDS}坏了，晚上很黑，有事打我电话{ZHANG_PHONE}"),
        ("wang", NEIGHBOUR, G03_ROOM, "小区门口的垃圾堆了好几天没人清理，味道很大"),
        ("liu", LIU, G04_ROOM, "5栋的电梯坏了，老人上下楼很不方便"),
        ("sun", SUN, G04_ROOM, "楼下有人占用消防通道停车"),
    ):
        [reply] = await say(text, who, room)
        found = re.search(r"工单 #(\d+)", reply.text)
        assert found, reply.text
        ids[key] = int(found.group(1))
    await say("/加分 @张阿姨 30 帮忙清扫楼道", LEADER, mentions=(RESIDENT[0],))
    await say("/加分 @王大爷 志愿服务", LEADER, mentions=(NEIGHBOUR[0],))
    [placed] = await say("兑换 肥皂", RESIDENT)
    found = re.search(r"单号 (\d+)", placed.text)
    assert found, placed.text
    ids["order"] = int(found.group(1))
    assert counts(db) | {"events": 0} == {"tickets": 4, "ledger": 3, "orders": 1, "events": 0}
    sender.clear()
    try:
        yield World(app, chat, db, sender, ids, request.param)
    finally:
        app.stop()
        db.dispose()
        if server is not None:
            server.drop_database(name)


def _addressed_to_sender(message: Outbound, sender_id: str, room: str | None) -> bool:
    if room is None:
        return message.to == sender_id
    # a room's topic is cut to its column's width (bot/dispatcher.py)
    topic = message.room_topic or ""
    return (
        bool(topic)
        and room.startswith(topic)
        and message.to is None
        and sender_id in message.mentions
    )


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
async def test_case(case: Case, world: World) -> None:
    who = _person(case.who, case.id)
    if case.name is not None:
        who = (who[0], case.name)
    room = ROOMS[case.where]
    before = counts(world.db)
    sent = await world.chat.say(
        case.text, who, room, mentions=case.mentions, type=case.type, msg_id=f"bad-{case.id}"
    )

    with world.db.session() as s:
        stored = s.exec(
            select(InboundMessage).where(InboundMessage.platform_id == f"bad-{case.id}")
        ).one()
    world.fed += 1
    assert stored.status == MessageStatus.HANDLED, stored.error
    # Kept as sent, bad input being evidence; only NUL (PostgreSQL can't hold it) and lone
    # surrogates (no encoding can write them) are U+FFFD.
    assert stored.text == re.sub("[\x00\ud800-\udfff]", "\ufffd", case.text)

    texts = [m.text for m in sent]
    for secret in case.hidden:
        assert not any(secret in t for t in texts), (case.desc, secret)
    if case.private is not None:
        [private] = [m for m in sent if m.to == who[0] and room is not None]
        assert case.private in private.text, (case.desc, private.text)
        sent = [m for m in sent if m is not private]
    if case.expect == "silence":
        assert texts == [], case.desc
    else:
        assert isinstance(case.expect, dict)
        assert len(sent) == 1, (case.desc, texts)
        [message] = sent
        assert _addressed_to_sender(message, who[0], room), message
        ((how, wanted),) = case.expect.items()
        if how == "reply":
            assert message.text == wanted, case.desc
        elif how == "contains":
            assert wanted in message.text, (case.desc, message.text)
        else:
            assert re.search(wanted, message.text), (case.desc, message.text)
        assert len(message.text) <= 600, "replies are short"
    if who != RESIDENT:
        assert not any(ZHANG_PHONE in t for t in texts), "Zhang's phone number leaked"
    if case.who not in ("zhang", "leader", "admin"):
        # what Zhang wrote is hers and her grid's leaders' (and administrators') to read
        assert not any(ZHANG_WORDS in t for t in texts), "Zhang's report shown to another"

    after = counts(world.db)
    for table in ("tickets", "ledger", "orders"):
        assert after[table] - before[table] == case.db.get(table, 0), (table, case.desc)


async def test_the_database_is_consistent_after_the_corpus(world: World) -> None:
    """Runs after the cases on its backend (same module and world, declared last): nothing
    they did left the database inconsistent."""
    with world.db.session() as s:
        verification = points_store.verify(session=s)
        assert verification.mismatched == 0, verification.mismatches
        # no row points at nothing (SQLite enforces foreign keys only when asked)
        orphans = {
            "reporters": select(func.count())
            .select_from(TicketReporter)
            .where(~col(TicketReporter.ticket_id).in_(select(Ticket.id))),
            "events": select(func.count())
            .select_from(TicketEvent)
            .where(~col(TicketEvent.ticket_id).in_(select(Ticket.id))),
            "entries": select(func.count())
            .select_from(PointsEntry)
            .where(~col(PointsEntry.member_id).in_(select(Member.id))),
            "orders": select(func.count())
            .select_from(PointsOrder)
            .where(~col(PointsOrder.member_id).in_(select(Member.id))),
        }
        for name, query in orphans.items():
            assert s.exec(query).one() == 0, name
        if world.backend == "sqlite":  # PostgreSQL enforces them on every write
            assert s.execute(sa.text("PRAGMA foreign_key_check")).all() == []
        # every message the corpus sent is stored once and handled
        statuses = s.exec(
            select(InboundMessage.status, func.count())
            .where(col(InboundMessage.platform_id).like("bad-%"))
            .group_by(col(InboundMessage.status))
        ).all()
        assert dict(statuses) == {MessageStatus.HANDLED: world.fed}
        # every ticket is in a configured grid and has its reporter
        for ticket in s.exec(select(Ticket)).all():
            assert ticket.grid_code in ("G03", "G04")
            reporters = s.exec(
                select(TicketReporter.contact_id).where(TicketReporter.ticket_id == ticket.id)
            ).all()
            assert ticket.reporter_id in reporters
        # the world's order is still pending: no bad input confirmed or refunded it
        order = s.get(PointsOrder, world.ids["order"])
        assert order is not None
        assert order.status == OrderStatus.PENDING
