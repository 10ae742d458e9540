from __future__ import annotations

from datetime import UTC, datetime, timedelta

from storage import outbox
from storage.db import Database
from storage.models import OutboundMessage

T0 = datetime(2026, 11, 22, 1, 0, tzinfo=UTC)


def queue(db: Database, *delays_minutes: int) -> list[int]:
    with db.session() as s:
        rows = [
            outbox.enqueue(
                session=s,
                message=OutboundMessage(
                    to_id="wxid_a",
                    text=f"+{m}",
                    created_at=T0,
                    not_before=T0 + timedelta(minutes=m),
                ),
            )
            for m in delays_minutes
        ]
        s.commit()
        return [r.id for r in rows if r.id is not None]


def test_due_in_time_order_and_next_due_at(db: Database) -> None:
    queue(db, 5, 0, 1)
    with db.session() as s:
        assert [r.text for r in outbox.due(session=s, now=T0)] == ["+0"]
        assert [r.text for r in outbox.due(session=s, now=T0 + timedelta(minutes=5))] == [
            "+0",
            "+1",
            "+5",
        ]
        assert outbox.next_due_at(session=s) == T0


def test_sent_and_failed_rows_are_no_longer_due(db: Database) -> None:
    first, second, third = queue(db, 0, 0, 0)
    with db.session() as s:
        outbox.mark_sent(session=s, message_id=first, at=T0)
        outbox.mark_attempt_failed(session=s, message_id=second, error="boom", retry_at=None)
        outbox.mark_attempt_failed(
            session=s, message_id=third, error="later", retry_at=T0 + timedelta(minutes=1)
        )
        s.commit()
        assert outbox.due(session=s, now=T0) == []
        assert outbox.next_due_at(session=s) == T0 + timedelta(minutes=1)
        rows = {r.id: r for r in outbox.due(session=s, now=T0 + timedelta(minutes=1))}
        assert list(rows) == [third]
        assert rows[third].attempts == 1
        assert s.get_one(OutboundMessage, first).sent_at == T0
        assert s.get_one(OutboundMessage, second).status == "failed"


def test_next_due_at_when_empty(db: Database) -> None:
    with db.session() as s:
        assert outbox.next_due_at(session=s) is None
