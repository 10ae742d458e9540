from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import inspect, select

from storage import retention
from storage.db import Database
from storage.models import (
    CategoryCorrection,
    Grid,
    InboundMessage,
    OutboundMessage,
    OutboundStatus,
    RetentionProgress,
    Ticket,
    TicketAttachment,
    TicketEvent,
    TicketReporter,
    TicketStatus,
)
from storage.retention import PURGED_TEXT, purge, work_at

T0 = datetime(2025, 1, 10, 1, 0, tzinfo=UTC)
CLOSED = T0 + timedelta(days=2)
MASK = timedelta(days=180)
TEXT = timedelta(days=365)
PHONE, PHONE_MASKED = "13812345678", "138****5678"
ID_CARD, ID_MASKED = "110105199001011234", "110105********1234"


def _message(key: str, text: str, at: datetime, **extra: Any) -> InboundMessage:
    values: dict[str, Any] = {"key": key, "grid_code": "G03", "sender_id": "wxid_zhang",
                              "sender_name": "张阿姨", "type": "text", "text": text,
                              "sent_at": at, "received_at": at} | extra  # fmt: skip
    return InboundMessage(**values)


def _sent(text: str, at: datetime, inbound_id: int | None, status: str) -> OutboundMessage:
    return OutboundMessage(
        text=text, inbound_id=inbound_id, created_at=at, not_before=at, status=status
    )


def add_world(db: Database, at: datetime = T0) -> None:
    """An archived ticket with phone and ID numbers everywhere a resident's words are kept,
    an open one as old, and a resident's chatter with a number in it."""
    with db.session() as s:
        s.add(Grid(code="G03", name="三网格", room_topic="三群"))
        s.flush()
        report = _message(
            "m1",
            f"3栋路灯坏了，我电话{PHONE}",
            at,
            sender_name=f"张阿姨{PHONE}",
            quote={"name": "王大爷", "text": f"身份证{ID_CARD}", "sender_id": None},
        )
        photo = _message("m2", "[图片]", at + timedelta(minutes=1), type="image")
        chatter = _message("m3", f"有事打我电话{PHONE}", at + timedelta(minutes=2))
        other = _message("m4", "楼道灯也不亮，电话13900001111", at + timedelta(minutes=3))
        done = _message("m5", "/办结 1 已修好，师傅电话13600001111", at + timedelta(days=1),
                        sender_id="wxid_leader_li", sender_name="李网格长")  # fmt: skip
        for message in (report, photo, chatter, other, done):  # ids in the order of time
            s.add(message)
            s.flush()
        s.add_all(
            [
                Ticket(id=1, grid_code="G03", reporter_id="wxid_zhang",
                       reporter_name=f"张阿姨{PHONE}", text=report.text, category="environment",
                       source_message_id=report.id, status=TicketStatus.ARCHIVED,
                       created_at=at, due_at=at + timedelta(days=1),
                       resolved_at=at + timedelta(days=1), feedback="已修好，师傅电话13600001111",
                       rating="good", closed_at=CLOSED, same_count=1),
                Ticket(id=2, grid_code="G03", reporter_id="wxid_zhang", reporter_name="张阿姨",
                       text=other.text, category="facility", source_message_id=other.id,
                       status=TicketStatus.ASSIGNED, created_at=at, due_at=at),
            ]
        )  # fmt: skip
        s.flush()
        s.add_all(
            [
                TicketEvent(ticket_id=1, at=at, actor_id="wxid_zhang", action="created",
                            note=report.text, message_id=report.id),
                TicketEvent(ticket_id=1, at=at, actor_id="wxid_leader_li",
                            action="reclassified", note="facility → environment"),
                TicketEvent(ticket_id=1, at=at + timedelta(days=1), actor_id="wxid_leader_li",
                            action="resolved", note="已修好，师傅电话13600001111",
                            message_id=done.id),
                TicketEvent(ticket_id=1, at=CLOSED, actor_id="wxid_zhang", action="rated",
                            note="good"),
                TicketEvent(ticket_id=2, at=at, actor_id="wxid_zhang", action="created",
                            note=other.text, message_id=other.id),
                TicketReporter(ticket_id=1, contact_id="wxid_zhang", name=f"张阿姨{PHONE}",
                               at=at),
                TicketAttachment(ticket_id=1, message_id=photo.id or 0, type="image", at=at),
                CategoryCorrection(ticket_id=1, text=report.text, from_category="facility",
                                   to_category="environment", actor_id="wxid_leader_li", at=at),
                _sent(f"已受理 #1：3栋路灯坏了，我电话{PHONE_MASKED}", at, report.id,
                      OutboundStatus.SENT),
                _sent(f"【新诉求】#1 3栋路灯坏了，我电话{PHONE}", at, report.id,
                      OutboundStatus.SENT),
                _sent(f"居民电话{PHONE}，请回电", at, None, OutboundStatus.PENDING),
            ]
        )  # fmt: skip
        s.commit()


_TABLES = {
    model.__tablename__: model.__table__  # type: ignore[union-attr]
    for model in (InboundMessage, OutboundMessage, Ticket, TicketEvent, TicketReporter,
                  CategoryCorrection, RetentionProgress)
}  # fmt: skip


def snapshot(db: Database) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the tables a purge may write."""
    with db.engine.connect() as conn:
        return {
            name: [tuple(row) for row in conn.execute(select(table).order_by(*table.primary_key))]
            for name, table in _TABLES.items()
        }


def texts(db: Database, model: Any, column: str) -> list[Any]:
    table = model.__table__
    with db.engine.connect() as conn:
        query = select(table.c[column]).order_by(*table.primary_key)
        return list(conn.execute(query).scalars())


def test_numbers_are_masked_everywhere_once_old_enough(db: Database) -> None:
    add_world(db)
    report = purge(db, now=T0 + MASK + timedelta(days=3), mask_after=MASK, text_after=None)
    assert report.masked == {
        "inbound_message": 4,  # the report (text, name, quote), the leader's, chatter, other
        "outbound_message": 2,  # the leader's alert and the number waiting to go out
        "ticket": 2,
        "ticket_event": 3,  # the two reports and the feedback; "good", "a → b" have none
        "ticket_reporter": 1,
        "category_correction": 1,
    }
    assert sum(report.replaced.values()) == 0
    assert texts(db, InboundMessage, "text") == [
        f"3栋路灯坏了，我电话{PHONE_MASKED}", "[图片]", f"有事打我电话{PHONE_MASKED}",
        "楼道灯也不亮，电话139****1111", "/办结 1 已修好，师傅电话136****1111",
    ]  # fmt: skip
    assert texts(db, InboundMessage, "sender_name")[0] == f"张阿姨{PHONE_MASKED}"
    assert texts(db, InboundMessage, "quote")[0] == {
        "name": "王大爷", "text": f"身份证{ID_MASKED}", "sender_id": None,
    }  # fmt: skip
    assert texts(db, Ticket, "reporter_name") == [f"张阿姨{PHONE_MASKED}", "张阿姨"]
    assert texts(db, Ticket, "feedback") == ["已修好，师傅电话136****1111", None]
    assert texts(db, TicketReporter, "name") == [f"张阿姨{PHONE_MASKED}"]
    assert texts(db, CategoryCorrection, "text") == [f"3栋路灯坏了，我电话{PHONE_MASKED}"]
    assert texts(db, TicketEvent, "note")[1] == "facility → environment"
    assert all(PHONE not in t for t in texts(db, OutboundMessage, "text"))
    # what is not a number is as it was: the free-text rule was off
    assert texts(db, Ticket, "purged_at") == [None, None]


def test_nothing_younger_than_the_rule_is_masked_and_later_runs_go_on(db: Database) -> None:
    add_world(db)
    before = snapshot(db)
    report = purge(db, now=T0 + MASK - timedelta(minutes=1), mask_after=MASK, text_after=TEXT)
    assert report.total == 0
    assert {k: v for k, v in snapshot(db).items() if k != "retention_progress"} == {
        k: v for k, v in before.items() if k != "retention_progress"
    }
    # a day later the same rows are old enough: they wait for no one
    report = purge(db, now=T0 + MASK + timedelta(days=1), mask_after=MASK, text_after=TEXT)
    assert report.masked["inbound_message"] == 3  # the reports and the chatter, of T0…
    report = purge(db, now=T0 + MASK + timedelta(days=2), mask_after=MASK, text_after=TEXT)
    assert report.masked["inbound_message"] == 1  # …and the leader's, a day after


def test_a_second_run_changes_nothing(db: Database) -> None:
    add_world(db)
    now = T0 + TEXT + timedelta(days=10)
    assert purge(db, now=now, mask_after=MASK, text_after=TEXT).total > 0
    after = snapshot(db)
    again = purge(db, now=now + timedelta(days=1), mask_after=MASK, text_after=TEXT)
    assert again.total == 0
    assert {k: v for k, v in snapshot(db).items() if k != "retention_progress"} == {
        k: v for k, v in after.items() if k != "retention_progress"
    }


def test_a_dry_run_counts_what_a_run_changes_and_changes_nothing(db: Database) -> None:
    add_world(db)
    now = T0 + TEXT + timedelta(days=10)
    before = snapshot(db)
    dry = purge(db, now=now, mask_after=MASK, text_after=TEXT, dry_run=True, batch=2)
    assert snapshot(db) == before
    real = purge(db, now=now, mask_after=MASK, text_after=TEXT)
    assert (dry.masked, dry.replaced) == (real.masked, real.replaced)
    assert dry.total > 0


@pytest.mark.parametrize("batch", [1, 2, 3, retention.BATCH])
def test_small_batches_do_what_one_batch_does(db: Database, batch: int) -> None:
    add_world(db)
    report = purge(db, now=T0 + TEXT + timedelta(days=10), mask_after=MASK, text_after=TEXT,
                   batch=batch)  # fmt: skip
    assert (report.masked, report.replaced) == (
        {"inbound_message": 4, "outbound_message": 2, "ticket": 2, "ticket_event": 3,
         "ticket_reporter": 1, "category_correction": 1},
        {"inbound_message": 3, "outbound_message": 2, "ticket": 1, "ticket_event": 2,
         "ticket_reporter": 0, "category_correction": 1},
    )  # fmt: skip
    assert texts(db, InboundMessage, "text") == [
        PURGED_TEXT, PURGED_TEXT, f"有事打我电话{PHONE_MASKED}", "楼道灯也不亮，电话139****1111",
        PURGED_TEXT,
    ]  # fmt: skip
    assert texts(db, OutboundMessage, "text") == [
        PURGED_TEXT, PURGED_TEXT, f"居民电话{PHONE_MASKED}，请回电"
    ]  # fmt: skip
    assert texts(db, Ticket, "text") == [PURGED_TEXT, "楼道灯也不亮，电话139****1111"]
    names = texts(db, RetentionProgress, "name")
    progress = dict(zip(names, texts(db, RetentionProgress, "last_id"), strict=True))
    # every row was gone through
    assert progress == {
        "mask:inbound_message": 5, "mask:outbound_message": 3, "mask:ticket": 2,
        "mask:ticket_event": 5, "mask:ticket_reporter": 1, "mask:category_correction": 1,
        "text:outbound_message": 3,
    }  # fmt: skip


def test_a_closed_ticket_loses_its_free_text_and_keeps_what_statistics_count(db: Database) -> None:
    add_world(db)
    now = CLOSED + TEXT + timedelta(minutes=1)
    report = purge(db, now=now, mask_after=None, text_after=TEXT)
    assert report.replaced == {
        "inbound_message": 3,  # the report, the leader's /办结, the photo
        "outbound_message": 2,  # sent; the pending one may still go out
        "ticket": 1,
        "ticket_event": 2,  # created and resolved; rated and reclassified are the bot's words
        "ticket_reporter": 0,
        "category_correction": 1,
    }
    with db.session() as s:
        first, second = (s.get(Ticket, 1), s.get(Ticket, 2))
        assert first is not None
        assert second is not None
        assert (first.text, first.feedback, first.purged_at) == (PURGED_TEXT, PURGED_TEXT, now)
        # what statistics count
        kept = (first.category, first.status, first.grid_code, first.rating, first.same_count)
        assert kept == ("environment", "archived", "G03", "good", 1)
        dates = (first.created_at, first.resolved_at, first.closed_at)
        assert dates == (T0, T0 + timedelta(days=1), CLOSED)
        assert first.reporter_id == "wxid_zhang"
        assert second.text == "楼道灯也不亮，电话13900001111"  # open: kept whole, even as old
    assert texts(db, TicketEvent, "note") == [
        PURGED_TEXT, "facility → environment", PURGED_TEXT, "good", "楼道灯也不亮，电话13900001111"
    ]  # fmt: skip
    assert texts(db, InboundMessage, "text") == [
        PURGED_TEXT, PURGED_TEXT, f"有事打我电话{PHONE}", "楼道灯也不亮，电话13900001111",
        PURGED_TEXT,
    ]  # fmt: skip
    assert texts(db, InboundMessage, "quote")[0] is None
    assert texts(db, OutboundMessage, "text") == [
        PURGED_TEXT,
        PURGED_TEXT,
        f"居民电话{PHONE}，请回电",
    ]
    assert texts(db, CategoryCorrection, "text") == [PURGED_TEXT]
    assert texts(db, TicketReporter, "name") == [
        f"张阿姨{PHONE}"
    ]  # a name, masked by the other rule


def test_a_ticket_closed_later_waits_its_own_time(db: Database) -> None:
    add_world(db)
    assert purge(db, now=CLOSED + TEXT - timedelta(minutes=1), mask_after=None,
                 text_after=TEXT).replaced["ticket"] == 0  # fmt: skip
    with db.session() as s:
        ticket = s.get(Ticket, 2)
        assert ticket is not None
        ticket.status, ticket.closed_at = TicketStatus.DISMISSED, CLOSED + timedelta(days=30)
        s.commit()
    report = purge(db, now=CLOSED + TEXT + timedelta(days=1), mask_after=None, text_after=TEXT)
    assert report.replaced["ticket"] == 1
    assert texts(db, Ticket, "text") == [PURGED_TEXT, "楼道灯也不亮，电话13900001111"]
    report = purge(db, now=CLOSED + TEXT + timedelta(days=31), mask_after=None, text_after=TEXT)
    assert report.replaced["ticket"] == 1
    assert texts(db, Ticket, "text") == [PURGED_TEXT, PURGED_TEXT]


def test_work_at_says_when_a_purge_next_has_something_to_do(db: Database) -> None:
    with db.session() as s:
        assert work_at(s, mask_after=MASK, text_after=TEXT) is None  # nothing stored
    add_world(db)
    with db.session() as s:
        assert work_at(s, mask_after=MASK, text_after=TEXT) == T0 + MASK
        assert work_at(s, mask_after=None, text_after=TEXT) == T0 + TEXT
        assert work_at(s, mask_after=None, text_after=None) is None
    purge(db, now=T0 + MASK + timedelta(hours=1), mask_after=MASK, text_after=TEXT)
    with db.session() as s:
        # the leader's message, a day younger, is the next to mask
        assert work_at(s, mask_after=MASK, text_after=None) == T0 + timedelta(days=1) + MASK


def test_the_purge_queue_is_a_partial_index(db: Database) -> None:
    indexes = {i["name"]: i for i in inspect(db.engine).get_indexes("ticket")}
    assert indexes["ix_ticket_unpurged_closed"]["column_names"] == ["closed_at", "id"]
    assert {"rated", "reclassified", "attached"} <= retention.KEPT_NOTES
