from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.exc import IntegrityError

from storage import limits, tickets
from storage.db import Database
from storage.grids import GridSpec, sync_grids
from storage.models import InboundMessage, LimitKind, OutboundMessage, Ticket, TicketStatus

T0 = datetime(2026, 11, 22, 1, 0, tzinfo=UTC)
ZHANG = "wxid_zhang"
WANG = "wxid_wang"


def inbound(
    db: Database,
    sender: str,
    at: datetime,
    *,
    answered: int = 0,
    text: str = "积分",
    type: str = "text",
) -> int:
    """Store a message from ``sender`` received at ``at`` with ``answered`` outbound rows."""
    with db.session() as s:
        message = InboundMessage(
            key=f"{sender}-{at.isoformat()}",
            sender_id=sender,
            sender_name=sender,
            type=type,
            text=text,
            sent_at=at,
            received_at=at,
        )
        s.add(message)
        s.flush()
        assert message.id is not None
        for _ in range(answered):
            s.add(
                OutboundMessage(
                    inbound_id=message.id, text="您现有积分 0 分", created_at=at, not_before=at
                )
            )
        s.commit()
        return message.id


def open_ticket(db: Database, reporter: str, at: datetime, status: str = TicketStatus.OPEN) -> None:
    with db.session() as s:
        tickets.create(
            session=s,
            ticket=Ticket(
                grid_code="G03",
                reporter_id=reporter,
                reporter_name=reporter,
                text="路灯坏了",
                category="facility",
                status=status,
                created_at=at,
                due_at=at + timedelta(hours=72),
            ),
        )
        s.commit()


def test_tickets_opened_since_counts_the_reporters_own_in_the_window(db: Database) -> None:
    with db.session() as s:
        sync_grids(session=s, specs=[GridSpec("G03", "三", "三群")])
        s.commit()
    open_ticket(db, ZHANG, T0 - timedelta(hours=25))  # before the window
    open_ticket(db, ZHANG, T0 - timedelta(hours=23))
    open_ticket(db, ZHANG, T0, status=TicketStatus.MERGED)  # still opened by her
    open_ticket(db, WANG, T0)
    with db.session() as s:
        since = T0 - timedelta(hours=24)
        assert limits.tickets_opened_since(session=s, contact_id=ZHANG, since=since) == 2
        assert limits.tickets_opened_since(session=s, contact_id=WANG, since=since) == 1
        assert limits.tickets_opened_since(session=s, contact_id="wxid_nobody", since=since) == 0


def test_answered_since_counts_answered_messages_newest_first(db: Database) -> None:
    inbound(db, ZHANG, T0 - timedelta(minutes=11), answered=1)  # before the window
    first = T0 - timedelta(minutes=9)
    inbound(db, ZHANG, first, answered=1)
    inbound(db, ZHANG, T0 - timedelta(minutes=5))  # chatter: not answered
    inbound(db, ZHANG, T0 - timedelta(minutes=2), answered=3)  # one message, three messages out
    inbound(db, WANG, T0 - timedelta(minutes=1), answered=1)
    since = T0 - timedelta(minutes=10)
    with db.session() as s:
        got = limits.answered_since(session=s, contact_id=ZHANG, since=since, limit=10)
        assert [m.at for m in got] == [T0 - timedelta(minutes=2), first]
        newest = limits.answered_since(session=s, contact_id=ZHANG, since=since, limit=1)
        assert [m.at for m in newest] == [T0 - timedelta(minutes=2)]
        got = limits.answered_since(session=s, contact_id=WANG, since=since, limit=10)
        assert [m.at for m in got] == [T0 - timedelta(minutes=1)]


def test_answered_messages_come_with_what_was_said_and_their_neighbours(db: Database) -> None:
    # Her messages around each answered one, answered or not, in any room: what tells a
    # burst from distinct questions at human speed (bot/flood.py).
    inbound(db, ZHANG, T0 - timedelta(hours=3), text="早上好")  # long before the window
    first = inbound(db, ZHANG, T0 - timedelta(minutes=8), answered=1, text="/帮助")
    inbound(db, ZHANG, T0 - timedelta(minutes=8, seconds=-2), text="谢谢")  # chatter, 2 s on
    inbound(db, WANG, T0 - timedelta(minutes=5), answered=1)  # someone else's: not a neighbour
    inbound(db, ZHANG, T0 - timedelta(minutes=4), answered=1, text="", type="image")
    last = inbound(db, ZHANG, T0 - timedelta(minutes=1), answered=1, text="积分")
    since = T0 - timedelta(minutes=10)
    with db.session() as s:
        got = limits.answered_since(session=s, contact_id=ZHANG, since=since, limit=10)
        assert got == [
            limits.Answered(
                T0 - timedelta(minutes=1), "text", "积分", T0 - timedelta(minutes=4), None
            ),
            limits.Answered(
                T0 - timedelta(minutes=4),
                "image",
                "",
                T0 - timedelta(minutes=8, seconds=-2),
                T0 - timedelta(minutes=1),
            ),
            limits.Answered(
                T0 - timedelta(minutes=8),
                "text",
                "/帮助",
                T0 - timedelta(hours=3),
                T0 - timedelta(minutes=8, seconds=-2),
            ),
        ]
        assert limits.received(session=s, message_id=last) == (
            T0 - timedelta(minutes=1),
            T0 - timedelta(minutes=4),
        )
        one = limits.received(session=s, message_id=first)
        assert one == (T0 - timedelta(minutes=8), T0 - timedelta(hours=3))
        assert limits.received(session=s, message_id=last + 100) is None


def test_messages_received_at_the_same_time_are_each_others_neighbours(db: Database) -> None:
    one = inbound(db, ZHANG, T0, answered=1)
    with db.session() as s:
        s.add(
            InboundMessage(
                key="same-time",
                sender_id=ZHANG,
                sender_name=ZHANG,
                type="text",
                text="积分",
                sent_at=T0,
                received_at=T0,
            )
        )
        s.commit()
        [got] = limits.answered_since(
            session=s, contact_id=ZHANG, since=T0 - timedelta(minutes=1), limit=10
        )
        assert (got.before, got.after) == (T0, T0)
        assert limits.received(session=s, message_id=one) == (T0, T0)


def test_a_message_answered_with_the_notice_is_not_a_counted_reply(db: Database) -> None:
    answered = inbound(db, ZHANG, T0 - timedelta(minutes=3), answered=1)
    notice = inbound(db, ZHANG, T0 - timedelta(minutes=1), answered=1)
    with db.session() as s:
        limits.record_hit(
            session=s,
            contact_id=ZHANG,
            kind=LimitKind.REPLIES,
            at=T0 - timedelta(minutes=1),
            message_id=notice,
        )
        # a refused ticket's reply is a reply like any other
        limits.record_hit(
            session=s, contact_id=ZHANG, kind=LimitKind.TICKETS, at=T0, message_id=answered
        )
        s.commit()
        got = limits.answered_since(
            session=s, contact_id=ZHANG, since=T0 - timedelta(minutes=10), limit=10
        )
    assert [m.at for m in got] == [T0 - timedelta(minutes=3)]


def test_last_hit_by_contact_kind_and_window(db: Database) -> None:
    old = inbound(db, ZHANG, T0 - timedelta(hours=2))
    recent = inbound(db, ZHANG, T0 - timedelta(minutes=5))
    with db.session() as s:
        for message_id, at in ((old, T0 - timedelta(hours=2)), (recent, T0 - timedelta(minutes=5))):
            limits.record_hit(
                session=s, contact_id=ZHANG, kind=LimitKind.REPLIES, at=at, message_id=message_id
            )
        s.commit()
        hour = T0 - timedelta(hours=1)
        hit = limits.last_hit(session=s, contact_id=ZHANG, kind=LimitKind.REPLIES, since=hour)
        assert hit is not None
        assert (hit.message_id, hit.at) == (recent, T0 - timedelta(minutes=5))
        day = T0 - timedelta(days=1)
        assert (
            limits.last_hit(session=s, contact_id=ZHANG, kind=LimitKind.TICKETS, since=day) is None
        )
        assert (
            limits.last_hit(session=s, contact_id=WANG, kind=LimitKind.REPLIES, since=day) is None
        )
        none_since = T0 - timedelta(minutes=4)
        assert (
            limits.last_hit(session=s, contact_id=ZHANG, kind=LimitKind.REPLIES, since=none_since)
            is None
        )


def test_one_message_is_told_of_one_limit_once(db: Database) -> None:
    message_id = inbound(db, ZHANG, T0)
    with db.session() as s:
        for kind in (LimitKind.TICKETS, LimitKind.REPLIES):
            limits.record_hit(session=s, contact_id=ZHANG, kind=kind, at=T0, message_id=message_id)
        s.commit()
        limits.record_hit(
            session=s, contact_id=ZHANG, kind=LimitKind.TICKETS, at=T0, message_id=message_id
        )
        with pytest.raises(IntegrityError):
            s.commit()
