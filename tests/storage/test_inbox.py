from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

from sqlmodel import func, select

from storage import inbox
from storage.db import Database
from storage.grids import GridSpec, sync_grids, touch_member
from storage.models import InboundMessage, MemberRole

T0 = datetime(2026, 11, 22, 1, 0, tzinfo=UTC)


def message(
    key: str, text: str = "3栋路灯坏了", grid: str | None = None, at: datetime = T0
) -> dict[str, object]:
    """The column values of a stored message."""
    return {
        "key": key,
        "sender_id": "wxid_a",
        "sender_name": "张阿姨",
        "type": "text",
        "text": text,
        "mentions": ["wxid_b"],
        "grid_code": grid,
        "sent_at": at,
        "received_at": at,
    }


def test_store_once_under_a_key(db: Database) -> None:
    with db.session() as s:
        first = inbox.store(session=s, values=message("k1"))
        assert first.inserted
        assert first.status == "pending"
        again = inbox.store(session=s, values=message("k1", text="不同的文字"))
        assert not again.inserted
        assert again.id == first.id
        inbox.mark_handled(session=s, message_id=first.id, at=T0)
        s.commit()
        assert inbox.store(session=s, values=message("k1")).status == "handled"
        # stored as handled at once (a message nothing is to be done with): said so
        quiet = inbox.store(session=s, values={**message("k9"), "status": "handled"})
        assert (quiet.inserted, quiet.status) == (True, "handled")
        row = s.get_one(InboundMessage, first.id)
    assert row.text == "3栋路灯坏了"
    assert row.mentions == ["wxid_b"]
    assert row.sent_at == T0


def test_long_and_odd_text_is_stored_as_is(db: Database) -> None:
    odd = "\u200b\u202e" + "灯" * 100_000 + "'; DROP TABLE inbound_message; --"
    with db.session() as s:
        stored = inbox.store(session=s, values=message("k2", text=odd))
        s.expire_all()
        assert s.get_one(InboundMessage, stored.id).text == odd


def test_pending_handled_failed(db: Database) -> None:
    with db.session() as s:
        ids = [inbox.store(session=s, values=message(f"k{i}")).id for i in range(3)]
        assert [r.id for r in inbox.pending(session=s)] == ids
        inbox.mark_handled(session=s, message_id=ids[0], at=T0)  # type: ignore[arg-type]
        inbox.mark_failed(session=s, message_id=ids[1], at=T0, error="x" * 10_000)  # type: ignore[arg-type]
        s.commit()
        assert [r.id for r in inbox.pending(session=s)] == ids[2:]
        failed = s.get_one(InboundMessage, ids[1])
    assert failed.status == "failed"
    assert failed.error is not None
    assert len(failed.error) == inbox.MAX_ERROR_CHARS


def test_count_in_grid_since(db: Database) -> None:
    with db.session() as s:
        sync_grids(session=s, specs=[GridSpec("G03", "三", "三群")])
        s.commit()
        inbox.store(session=s, values=message("a", grid="G03", at=T0))
        inbox.store(session=s, values=message("b", grid="G03", at=T0 + timedelta(hours=2)))
        inbox.store(session=s, values=message("c", at=T0 + timedelta(hours=2)))
        assert inbox.count_in_grid_since(session=s, grid_code="G03", since=T0) == 2
        assert (
            inbox.count_in_grid_since(session=s, grid_code="G03", since=T0 + timedelta(hours=1))
            == 1
        )


def test_a_message_is_taken_for_handling_by_one_transaction_at_a_time(db: Database) -> None:
    with db.session() as s:
        message_id = inbox.store(session=s, values=message("k-lock")).id
    with db.session() as first, db.session() as second:
        assert inbox.take_for_handling(session=first, message_id=message_id)
        if db.url.get_backend_name() == "postgresql":
            # another process's copy of the message waits for the first to finish with it
            with ThreadPoolExecutor(1) as pool:
                waiting = pool.submit(
                    inbox.take_for_handling, session=second, message_id=message_id
                )
                time.sleep(0.3)
                assert not waiting.done()
                inbox.mark_handled(session=first, message_id=message_id, at=T0)
                first.commit()
                assert waiting.result(timeout=10) is False
            second.rollback()
        else:
            inbox.mark_handled(session=first, message_id=message_id, at=T0)
            first.commit()
        assert not inbox.take_for_handling(session=second, message_id=message_id)


def test_a_message_let_go_of_can_be_taken_again(db: Database) -> None:
    with db.session() as s:
        message_id = inbox.store(session=s, values=message("k-rollback")).id
    with db.session() as first, db.session() as second:
        assert inbox.take_for_handling(session=first, message_id=message_id)
        first.rollback()  # the handler failed, or its process died
        assert inbox.take_for_handling(session=second, message_id=message_id)


def test_latest_sent_at_and_the_keys_stored_since(db: Database) -> None:
    with db.session() as s:
        assert inbox.latest_sent_at(session=s) is None
        # stored out of order: the latest is the latest sent, not the last stored
        for key, minutes in (("a", 0), ("c", 20), ("b", 10)):
            inbox.store(session=s, values=message(key, at=T0 + timedelta(minutes=minutes)))
        assert inbox.latest_sent_at(session=s) == T0 + timedelta(minutes=20)
        assert inbox.keys_since(session=s, since=T0 + timedelta(minutes=10)) == {"b", "c"}
        assert inbox.keys_since(session=s, since=T0 + timedelta(minutes=21)) == set()


def test_an_insert_checking_the_senders_member_row_stores_only_what_it_can_rely_on(
    db: Database,
) -> None:
    """Issue 21: chatter of someone seen lately is one statement; the member row the caller
    did not write is checked by that statement (name, role, seen since), or nothing sticks."""
    with db.session() as s:
        sync_grids(session=s, specs=[GridSpec("G03", "三", "三群"), GridSpec("G04", "四", "四群")])
        touch_member(session=s, contact_id="wxid_a", grid_code="G03", display_name="张阿姨", at=T0)
        s.commit()
    since = T0 - timedelta(minutes=5)
    as_known = inbox.SeenMember(role=MemberRole.RESIDENT, seen_since=since)
    otherwise = [
        ("k-name", {"sender_name": "张阿姨（3栋）"}, as_known),  # renamed: the row is to be written
        ("k-role", {}, inbox.SeenMember(role=MemberRole.LEADER, seen_since=since)),
        ("k-late", {}, inbox.SeenMember(role=MemberRole.RESIDENT, seen_since=T0 + timedelta(1))),
        ("k-grid", {"grid_code": "G04"}, as_known),  # never seen there
    ]
    with db.session() as s:
        for key, change, member in otherwise:
            values = {**message(key, grid="G03"), **change}
            assert inbox.store_checking_member(session=s, values=values, member=member) is None
        assert s.exec(select(func.count()).select_from(InboundMessage)).one() == 0
        stored = inbox.store_checking_member(
            session=s, values=message("k1", grid="G03"), member=as_known
        )
        assert stored is not None
        assert (stored.inserted, stored.status) == (True, "pending")
        again = inbox.store_checking_member(
            session=s, values=message("k1", grid="G03"), member=as_known
        )
        assert again == (stored.id, False, "pending")
        assert s.exec(select(InboundMessage.key)).all() == ["k1"]
