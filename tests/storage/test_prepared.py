from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import bindparam, event, exc, insert, select, update
from sqlmodel import col

from storage.db import Database
from storage.models import InboundMessage, MessageStatus
from storage.prepared import Prepared
from storage.types import UTCDateTime

T0 = datetime(2026, 11, 22, 9, 30, 15, 250_000, tzinfo=UTC)

INSERT = Prepared(insert(InboundMessage).returning(col(InboundMessage.id)))
BY_KEY = Prepared(
    select(
        col(InboundMessage.id),
        col(InboundMessage.mentions),
        col(InboundMessage.sent_at),
        col(InboundMessage.status),
        col(InboundMessage.handled_at),
    ).where(col(InboundMessage.key) == bindparam("p_key"))
)
PENDING_SINCE = Prepared(
    select(col(InboundMessage.key))
    .where(
        col(InboundMessage.status) == MessageStatus.PENDING,  # a value of the statement's own
        col(InboundMessage.sent_at) >= bindparam("p_since", type_=UTCDateTime()),
    )
    .order_by(col(InboundMessage.id))
)
HANDLED = Prepared(
    update(InboundMessage)
    .where(col(InboundMessage.key) == bindparam("p_key"))
    .values(status=MessageStatus.HANDLED, handled_at=bindparam("p_at"))
)


def values(key: str, at: datetime = T0, **more: object) -> dict[str, object]:
    return {"key": key, "sender_id": "wxid_a", "sender_name": "张阿姨", "type": "text",
            "text": "3栋路灯坏了", "sent_at": at, "received_at": at, **more}  # fmt: skip


def test_values_go_in_and_come_out_as_the_orm_has_them(db: Database) -> None:
    with db.session() as s:
        # mentions and status are left out: their defaults are made as the ORM makes them
        new_id = INSERT.scalar(s, values("k1", at=T0.astimezone(UTC)))
        s.commit()
        row = BY_KEY.first(s, {"p_key": "k1"})
        loaded = s.get_one(InboundMessage, new_id)
    assert row == (new_id, [], T0, MessageStatus.PENDING, None)
    assert (loaded.mentions, loaded.sent_at, loaded.status) == ([], T0, MessageStatus.PENDING)
    assert row[2].tzinfo is not None


def test_constants_of_the_statement_and_given_values_both_bind(db: Database) -> None:
    with db.session() as s:
        for n in range(3):
            INSERT.rows(s, values(f"k{n}", at=T0 + timedelta(minutes=n), mentions=["wxid_b"]))
        HANDLED.rows(s, {"p_key": "k1", "p_at": T0})
        keys = [r[0] for r in PENDING_SINCE.rows(s, {"p_since": T0})]
        later = PENDING_SINCE.scalar(s, {"p_since": T0 + timedelta(minutes=1)})
        nothing = PENDING_SINCE.first(s, {"p_since": T0 + timedelta(days=1)})
    assert keys == ["k0", "k2"]
    assert later == "k2"
    assert nothing is None


def test_many_runs_once_per_row_in_the_transaction(db: Database) -> None:
    plain = Prepared(insert(InboundMessage))
    with db.session() as s:
        plain.many(s, [values("a"), values("b"), values("c")])
        plain.many(s, [])
        s.rollback()
        assert PENDING_SINCE.rows(s, {"p_since": T0}) == []
        plain.many(s, [values("a"), values("b")])
        s.commit()
    with db.session() as s:
        assert [r[0] for r in PENDING_SINCE.rows(s, {"p_since": T0})] == ["a", "b"]


def test_writes_count_as_commits_to_their_table(db: Database) -> None:
    before = db.commits("inbound_message")
    with db.session() as s:
        PENDING_SINCE.rows(s, {"p_since": T0})
        s.commit()
    assert db.commits("inbound_message") == before  # a read
    with db.session() as s:
        INSERT.rows(s, values("k1"))
        s.commit()
    assert db.commits("inbound_message") == before + 1


def test_listeners_see_every_statement(db: Database) -> None:
    seen: list[str] = []
    event.listen(db.engine, "before_cursor_execute", lambda *args: seen.append(args[2]))
    with db.session() as s:
        INSERT.rows(s, values("k1"))
        PENDING_SINCE.rows(s, {"p_since": T0})
    assert [sql.split()[0] for sql in seen] == ["INSERT", "SELECT"]


def test_driver_errors_are_sqlalchemys(db: Database) -> None:
    with db.session() as s:
        INSERT.rows(s, values("k1"))
        with pytest.raises(exc.IntegrityError):
            INSERT.rows(s, values("k1"))  # the key is unique
        s.rollback()
        INSERT.rows(s, values("k1"))  # the session goes on after its rollback
        s.commit()


def test_statements_sqlalchemy_must_expand_are_refused(db: Database) -> None:
    expanding = Prepared(
        select(col(InboundMessage.id)).where(col(InboundMessage.key).in_(["a", "b"]))
    )
    with db.session() as s, pytest.raises(ValueError, match="SQLAlchemy's execution"):
        expanding.rows(s, {})
