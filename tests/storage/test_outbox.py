from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from storage import accounts, outbox
from storage.db import Database
from storage.models import OutboundMessage

T0 = datetime(2026, 11, 22, 1, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


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
        assert outbox.next_due_at(connection=s.connection()) == T0


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
        assert outbox.next_due_at(connection=s.connection()) == T0 + timedelta(minutes=1)
        rows = {r.id: r for r in outbox.due(session=s, now=T0 + timedelta(minutes=1))}
        assert list(rows) == [third]
        assert rows[third].attempts == 1
        assert s.get_one(OutboundMessage, first).sent_at == T0
        assert s.get_one(OutboundMessage, second).status == "failed"


def test_next_due_at_when_empty(db: Database) -> None:
    with db.session() as s:
        assert outbox.next_due_at(connection=s.connection()) is None


def queue_to(
    db: Database,
    *,
    room: str | None = None,
    topic: str | None = None,
    to: str | None = None,
    account: str | None = None,
    minutes: int = 0,
) -> int:
    with db.session() as s:
        row = outbox.enqueue(
            session=s,
            message=OutboundMessage(
                room_id=room,
                room_topic=topic if topic is not None else room,
                to_id=to,
                text="x",
                created_at=T0,
                not_before=T0 + timedelta(minutes=minutes),
                account=account,
            ),
        )
        s.commit()
        assert row.id is not None
        return row.id


def due_for(db: Database, account: str, now: datetime = T0, **kwargs: object) -> list[int]:
    with db.session() as s:
        rows = outbox.due(session=s, now=now, account=account, **kwargs)  # type: ignore[arg-type]
        return [r.id for r in rows if r.id is not None]


def test_a_group_s_messages_are_due_only_for_accounts_in_it(db: Database) -> None:
    with db.session() as s:
        accounts.saw_room(session=s, account="A", room_id="r1@chatroom", topic="一组", at=T0)
        accounts.saw_room(session=s, account="A", room_id="r2@chatroom", topic="二组", at=T0)
        accounts.saw_room(session=s, account="B", room_id="r2@chatroom", topic="二组", at=T0)
        accounts.saw_room(session=s, account="B", room_id="r3@chatroom", topic="指挥中心", at=T0)
        s.commit()
    only_a = queue_to(db, room="r1@chatroom", topic="一组")
    shared = queue_to(db, room="r2@chatroom", topic="二组")
    only_b = queue_to(db, room="r3@chatroom", topic="指挥中心")
    # addressed by topic alone (room_id is the topic): found by the topic the account saw
    by_topic_b = queue_to(db, room="指挥中心")
    # a group no account has been seen in: anyone may try, as a lone process always did
    unknown = queue_to(db, room="r9@chatroom", topic="新群")
    # a group named by its id is not matched by its topic: no account is known in r4
    lookalike = queue_to(db, room="r4@chatroom", topic="一组")
    assert due_for(db, "A") == [only_a, shared, unknown, lookalike]
    assert due_for(db, "B") == [shared, only_b, by_topic_b, unknown, lookalike]
    assert due_for(db, "C") == [unknown, lookalike]
    with db.session() as s:
        assert [r.id for r in outbox.stranded(session=s, now=T0, account="A")] == [
            only_b,
            by_topic_b,
        ]
    until = T0 + timedelta(minutes=2)
    with db.session() as s:
        claimed_by_a = [outbox.claim_next(session=s, now=T0, until=until, account="A")]
        while claimed_by_a[-1] is not None:
            claimed_by_a.append(outbox.claim_next(session=s, now=T0, until=until, account="A"))
        assert [c.id for c in claimed_by_a if c] == [only_a, shared, unknown, lookalike]
        claimed_b = outbox.claim_next(session=s, now=T0, until=until, account="B")
        assert claimed_b is not None
        assert claimed_b.id == only_b
        assert s.get_one(OutboundMessage, only_b).status == "sending"


def test_private_messages_go_from_an_account_that_has_the_contact(db: Database) -> None:
    with db.session() as s:
        accounts.saw_contact(session=s, account="A", contact_id="wxid_li", at=T0)
        accounts.saw_contact(session=s, account="A", contact_id="wxid_li", at=T0)  # again: fine
        s.commit()
    to_li = queue_to(db, to="wxid_li")
    to_stranger = queue_to(db, to="wxid_new")
    assert due_for(db, "A") == [to_li, to_stranger]
    assert due_for(db, "B") == [to_stranger]


def test_a_reply_goes_from_the_account_that_received_the_message_unless_it_is_down(
    db: Database,
) -> None:
    with db.session() as s:
        for account in ("A", "B"):
            accounts.saw_room(session=s, account=account, room_id="r2", topic="二组", at=T0)
        s.commit()
    reply = queue_to(db, room="r2", account="A")
    handover = timedelta(minutes=2)
    assert due_for(db, "A", handover=handover) == [reply]
    assert due_for(db, "B", handover=handover) == []
    assert due_for(db, "B", T0 + handover, handover=handover) == [reply]
    with db.session() as s:
        assert outbox.next_due_at(connection=s.connection(), account="A", handover=handover) == T0
        assert (
            outbox.next_due_at(connection=s.connection(), account="B", handover=handover)
            == T0 + handover
        )
        until = T0 + handover
        assert (
            outbox.claim_next(session=s, now=T0, until=until, account="B", handover=handover)
            is None
        )
        claimed = outbox.claim_next(session=s, now=T0, until=until, account="A", handover=handover)
        assert claimed is not None
        assert claimed.id == reply


def test_next_due_at_counts_only_what_the_account_can_deliver(db: Database) -> None:
    with db.session() as s:
        accounts.saw_room(session=s, account="B", room_id="r3", topic="三组", at=T0)
        s.commit()
    queue_to(db, room="r3", minutes=1)
    queue_to(db, room="r1", minutes=5)
    with db.session() as s:
        assert outbox.next_due_at(connection=s.connection(), account="A") == T0 + timedelta(
            minutes=5
        )
        assert outbox.next_due_at(connection=s.connection(), account="B") == T0 + timedelta(
            minutes=1
        )


def test_claim_next_takes_in_order_and_returns_what_the_channel_needs(db: Database) -> None:
    later, first = queue(db, 5, 0)
    until = T0 + HOUR
    with db.session() as s:
        claimed = outbox.claim_next(session=s, now=T0, until=until)
        assert claimed == outbox.Claimed(first, None, None, "wxid_a", "+0", [], 0)
        assert outbox.claim_next(session=s, now=T0, until=until) is None  # "+5" is not due
        assert s.get_one(OutboundMessage, first).claimed_until == until
        # at +5 the later one is due; the first is still claimed (another process sends it)
        again = outbox.claim_next(session=s, now=T0 + timedelta(minutes=5), until=until)
        assert again is not None
        assert again.id == later


def test_two_processes_claiming_at_once_never_take_one_message_twice(db: Database) -> None:
    ids = queue(db, *([0] * 60))
    taken: list[list[int]] = [[], []]

    def drain(mine: list[int]) -> None:
        with db.session() as s:
            while (claimed := outbox.claim_next(session=s, now=T0, until=T0 + HOUR)) is not None:
                mine.append(claimed.id)

    threads = [threading.Thread(target=drain, args=(mine,)) for mine in taken]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(taken[0] + taken[1]) == ids


def test_next_due_at_counts_claims_that_run_out(db: Database) -> None:
    queue(db, 0, 30)
    with db.session() as s:
        # a process takes the first and stops before saying "sent": due again when its claim ends
        assert outbox.claim_next(session=s, now=T0, until=T0 + timedelta(minutes=2))
        assert outbox.next_due_at(connection=s.connection()) == T0 + timedelta(minutes=2)
        assert outbox.claim_next(session=s, now=T0 + HOUR, until=T0 + 2 * HOUR)
        assert outbox.claim_next(session=s, now=T0 + HOUR, until=T0 + 2 * HOUR)
        # nothing pending: the earliest claim to run out is still counted
        assert outbox.next_due_at(connection=s.connection()) == T0 + 2 * HOUR
