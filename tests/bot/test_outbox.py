from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from sqlmodel import select

from bot.clock import ManualClock
from bot.outbox import RETRY_DELAYS, OutboxSender
from storage import outbox as outbox_store
from storage.db import Database
from storage.models import OutboundMessage
from tests.auxil.chat import RecordingSender


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
    outbox = OutboxSender(sqlite_db, clock, sender)
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
    outbox = OutboxSender(sqlite_db, clock, sender)
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
    assert await OutboxSender(sqlite_db, clock, sender).flush() == 1
    assert sender.texts() == ["second"]


async def test_serve_delivers_when_notified(
    sqlite_db: Database, clock: ManualClock, sender: RecordingSender
) -> None:
    outbox = OutboxSender(sqlite_db, clock, sender)
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
