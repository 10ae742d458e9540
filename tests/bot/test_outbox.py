from __future__ import annotations

import asyncio
import itertools
import random
from datetime import datetime, timedelta

import pytest
from sqlalchemy import event, insert
from sqlmodel import select

from bot import outbox as outbox_module
from bot.clock import ManualClock
from bot.events import Outbound
from bot.outbox import RETRY_DELAYS, OutboxSender, queue_outbound, queued_in
from bot.settings import SendingSettings
from storage import outbox as outbox_store
from storage.db import Database
from storage.models import OutboundMessage
from tests.auxil.chat import RecordingSender

UNTHROTTLED = SendingSettings(interval_seconds=0, jitter_seconds=0, per_minute=600)


def queue(db: Database, at: datetime, *texts: str, room: str = "群") -> None:
    with db.session() as s:
        for text in texts:
            outbox_store.enqueue(
                session=s,
                message=OutboundMessage(
                    room_topic=room, text=text, mentions=["wxid_a"], created_at=at, not_before=at
                ),
            )
        s.commit()


def rows(db: Database) -> list[OutboundMessage]:
    with db.session() as s:
        return list(s.exec(select(OutboundMessage).order_by(OutboundMessage.id)))


async def test_flush_sends_due_messages_in_order_and_marks_them_sent(
    sqlite_db: Database, clock: ManualClock, sender: RecordingSender
) -> None:
    queue(sqlite_db, clock.now(), "一", "二", "三")
    queue(sqlite_db, clock.now() + timedelta(minutes=5), "later")
    outbox = OutboxSender(sqlite_db, clock, sender, UNTHROTTLED)
    assert await outbox.flush() == 3
    assert sender.texts() == ["一", "二", "三"]
    assert sender.sent[0].mentions == ("wxid_a",)
    assert [r.status for r in rows(sqlite_db)] == ["sent", "sent", "sent", "pending"]
    assert await outbox.flush() == 0
    clock.set(clock.now() + timedelta(minutes=5))
    assert await outbox.flush() == 1
    assert sender.texts()[-1] == "later"


async def test_a_failed_send_is_retried_with_backoff_then_given_up(
    sqlite_db: Database, clock: ManualClock, sender: RecordingSender
) -> None:
    queue(sqlite_db, clock.now(), "通知")
    outbox = OutboxSender(sqlite_db, clock, sender, UNTHROTTLED)
    sender.fail_next = len(RETRY_DELAYS) + 1
    for delay in RETRY_DELAYS:
        assert await outbox.flush() == 0
        [row] = rows(sqlite_db)
        assert row.status == "pending"
        assert row.not_before == clock.now() + delay
        assert row.last_error == "ConnectionError('gateway unreachable')"
        clock.set(row.not_before)
    assert await outbox.flush() == 0
    [row] = rows(sqlite_db)
    assert (row.status, row.attempts, row.sent_at) == ("failed", len(RETRY_DELAYS) + 1, None)
    assert sender.sent == []


async def test_a_failure_does_not_hold_back_the_messages_behind_it(
    sqlite_db: Database, clock: ManualClock, sender: RecordingSender
) -> None:
    queue(sqlite_db, clock.now(), "first", "second")
    sender.fail_next = 1
    assert await OutboxSender(sqlite_db, clock, sender, UNTHROTTLED).flush() == 1
    assert sender.texts() == ["second"]


async def test_serve_delivers_when_notified(
    sqlite_db: Database, clock: ManualClock, sender: RecordingSender
) -> None:
    outbox = OutboxSender(sqlite_db, clock, sender, UNTHROTTLED)
    task = asyncio.create_task(outbox.serve(idle=60))
    try:
        await asyncio.sleep(0.05)
        queue(sqlite_db, clock.now(), "hello")
        outbox.notify()
        for _ in range(100):
            if sender.sent:
                break
            await asyncio.sleep(0.01)
        assert sender.texts() == ["hello"]
    finally:
        task.cancel()


async def test_waiting_for_what_is_due_leaves_later_messages_waiting(
    sqlite_db: Database, clock: ManualClock, sender: RecordingSender
) -> None:
    queue(sqlite_db, clock.now(), "now")
    queue(sqlite_db, clock.now() + timedelta(hours=8), "morning")  # held for quiet hours
    outbox = OutboxSender(sqlite_db, clock, sender, UNTHROTTLED)
    task = asyncio.create_task(outbox.serve(idle=60))
    try:
        await asyncio.wait_for(outbox.wait_until_empty(due_by=clock.now()), 5)
        assert sender.texts() == ["now"]
        assert [r.status for r in rows(sqlite_db)] == ["sent", "pending"]
    finally:
        task.cancel()


async def test_the_throttle_spaces_sends_and_caps_them_per_minute(
    sqlite_db: Database, clock: ManualClock, sender: RecordingSender
) -> None:
    throttled = SendingSettings(interval_seconds=3, jitter_seconds=2, per_minute=5)
    outbox = OutboxSender(sqlite_db, clock, sender, throttled, rng=random.Random(1))
    queue(sqlite_db, clock.now(), *[f"m{i}" for i in range(7)])
    stamps: list[datetime] = []
    while (at := outbox.next_send_at()) is not None:
        clock.set(max(at, clock.now()))
        before = len(sender.sent)
        assert await outbox.flush() == 1  # one at a time: each send moves the throttle
        stamps.append(clock.now())
        assert len(sender.sent) == before + 1
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(stamps)]
    assert all(3 <= gap <= 5 for gap in gaps[:4])
    assert len(set(gaps[:4])) > 1  # jittered, not ticking
    # the sixth send waits for the minute since the first to pass
    assert stamps[5] - stamps[0] == timedelta(minutes=1)
    assert sender.texts() == [f"m{i}" for i in range(7)]


async def test_replies_go_before_notices(
    sqlite_db: Database, clock: ManualClock, sender: RecordingSender
) -> None:
    with sqlite_db.session() as s:
        for text, priority in [("notice 1", 1), ("notice 2", 1), ("reply", 0)]:
            outbox_store.enqueue(
                session=s,
                message=OutboundMessage(
                    room_topic="群",
                    text=text,
                    created_at=clock.now(),
                    not_before=clock.now(),
                    priority=priority,
                ),
            )
        s.commit()
    await OutboxSender(sqlite_db, clock, sender, UNTHROTTLED).flush()
    assert sender.texts() == ["reply", "notice 1", "notice 2"]


async def test_a_message_claimed_by_another_process_is_not_sent_twice(
    sqlite_db: Database, clock: ManualClock, sender: RecordingSender
) -> None:
    queue(sqlite_db, clock.now(), "only once")
    with sqlite_db.session() as s:
        assert outbox_store.claim_next(
            session=s, now=clock.now(), until=clock.now() + timedelta(minutes=2)
        )
    # the other process is sending it right now: this one leaves it alone
    assert await OutboxSender(sqlite_db, clock, sender, UNTHROTTLED).flush() == 0
    # the other process died before saying "sent": after its claim ran out, it goes again
    clock.set(clock.now() + timedelta(minutes=2))
    assert await OutboxSender(sqlite_db, clock, sender, UNTHROTTLED).flush() == 1
    assert sender.texts() == ["only once"]


async def test_a_step_with_nothing_new_in_the_outbox_does_not_ask_the_database(
    sqlite_db: Database, clock: ManualClock, sender: RecordingSender
) -> None:
    statements: list[str] = []
    event.listen(sqlite_db.engine, "before_cursor_execute",
                 lambda *args: statements.append(args[2]))  # fmt: skip
    outbox = OutboxSender(sqlite_db, clock, sender, UNTHROTTLED)
    queue(sqlite_db, clock.now() + timedelta(minutes=5), "later")
    assert await outbox.flush() == 0
    assert outbox.next_send_at() == clock.now() + timedelta(minutes=5)
    statements.clear()
    assert await outbox.flush() == 0  # nothing written since, nothing due yet
    assert outbox.next_send_at() == clock.now() + timedelta(minutes=5)
    assert statements == []
    clock.set(clock.now() + timedelta(minutes=5))  # its time has come: it goes
    assert await outbox.flush() == 1
    # a message queued through another Database object of this process is seen at once
    other = Database.from_url(sqlite_db.url)
    queue(other, clock.now(), "now")
    other.dispose()
    assert await outbox.flush() == 1
    assert sender.texts() == ["later", "now"]


async def test_serve_looks_at_the_database_for_other_processes_messages(
    sqlite_db: Database, clock: ManualClock, sender: RecordingSender
) -> None:
    outbox = OutboxSender(sqlite_db, clock, sender, UNTHROTTLED)
    assert await outbox.flush() == 0  # nothing there: remembered
    with sqlite_db.engine.begin() as conn:  # as another process would: past this one's count
        conn.execute(
            insert(OutboundMessage).values(
                room_topic="群", text="from elsewhere", mentions=[], created_at=clock.now(),
                not_before=clock.now(), status="pending", priority=0, attempts=0,
            )
        )  # fmt: skip
    assert await outbox.flush() == 0  # this process could not know
    task = asyncio.create_task(outbox.serve(idle=0.05))
    try:
        for _ in range(100):
            if sender.sent:
                break
            await asyncio.sleep(0.01)
        assert sender.texts() == ["from elsewhere"]
    finally:
        task.cancel()


async def test_a_message_another_process_queues_is_seen_on_a_server_database(
    db: Database, clock: ManualClock, sender: RecordingSender, monkeypatch: pytest.MonkeyPatch
) -> None:
    outbox = OutboxSender(db, clock, sender, UNTHROTTLED)
    assert outbox.next_send_at() is None
    # queued past this process's count of commits, as another process's would be
    with db.engine.begin() as other:
        other.execute(
            insert(OutboundMessage).values(
                room_topic="群", text="别的进程", created_at=clock.now(), not_before=clock.now()
            )
        )
    monkeypatch.setattr(outbox_module, "SHARED_DUE_FRESH", 0.0)
    if db.url.get_backend_name() == "postgresql":
        assert outbox.next_send_at() == clock.now()
        assert await outbox.flush() == 1
    else:  # SQLite serves one process: a step trusts its own count; serve() reads afresh
        assert outbox.next_send_at() is None


def test_what_a_session_queued_is_told_once(sqlite_db: Database, clock: ManualClock) -> None:
    first = Outbound(text="一", to="wxid_a")
    second = Outbound(text="二", room_id="r1", room_topic="一组")
    with sqlite_db.session() as session:
        queue_outbound(session, iter([first]), now=clock.now())  # any iterable, read once
        queue_outbound(session, [second], now=clock.now())
        queue_outbound(session, [], now=clock.now())
        assert queued_in(session) == [first, second]
        assert queued_in(session) == []
        session.commit()
        assert len(session.exec(select(OutboundMessage)).all()) == 2
