from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import insert
from sqlmodel import Session

from storage.db import Database
from storage.models import Grid, Ticket, TicketStatus
from storage.ticket_search import Sort, TicketQuery, each, search
from storage.tickets import ACTIVE

NOW = datetime(2026, 11, 22, 1, 0, tzinfo=UTC)


def _world(session: Session, tickets: list[dict[str, Any]]) -> None:
    session.execute(
        insert(Grid),
        [{"code": code, "name": code, "room_topic": code} for code in ("G03", "G04", "G05")],
    )
    rows = []
    for n, fields in enumerate(tickets, start=1):
        created = fields.pop("created_at", NOW - timedelta(hours=100 - n))
        rows.append(
            {
                "id": n,
                "grid_code": "G03",
                "reporter_id": f"wxid_r{n}",
                "reporter_name": f"居民{n}",
                "text": f"第{n}件事",
                "category": "facility",
                "urgent": False,
                "keywords": [],
                "status": TicketStatus.OPEN,
                "created_at": created,
                "due_at": created + timedelta(days=1),
                "same_count": 0,
                "reopen_count": 0,
                "confidence": 0.0,
            }
            | fields
        )
    session.execute(insert(Ticket), rows)
    session.commit()


def _ids(db: Database, query: TicketQuery, offset: int = 0, limit: int = 50) -> list[int | None]:
    with db.session() as session:
        return [
            t.id for t in search(session=session, query=query, offset=offset, limit=limit).tickets
        ]


@pytest.fixture
def world(db: Database) -> Database:
    with db.session() as session:
        _world(
            session,
            [
                {},  # 1
                {"grid_code": "G04", "text": "楼道灯坏了 100%"},  # 2
                {"status": TicketStatus.ARCHIVED, "category": "environment"},  # 3
                {"urgent": True, "reporter_name": "王大爷"},  # 4
                {"grid_code": "G05", "status": TicketStatus.RESOLVED, "text": "WiFi 坏了"},  # 5
                {"due_at": NOW + timedelta(days=3), "text": "路灯_不亮"},  # 6: not due yet
                {"created_at": NOW - timedelta(days=40), "status": TicketStatus.ASSIGNED},  # 7
            ],
        )
    return db


def test_every_grid_or_the_grids_given(world: Database) -> None:
    assert _ids(world, TicketQuery()) == [6, 5, 4, 3, 2, 1, 7]
    assert _ids(world, TicketQuery(grids={"G03"})) == [6, 4, 3, 1, 7]
    assert _ids(world, TicketQuery(grids={"G04", "G05"})) == [5, 2]
    # a viewer who may see no grid sees nothing, not everything
    assert _ids(world, TicketQuery(grids=())) == []


def test_status_category_urgent_and_overdue(world: Database) -> None:
    assert _ids(world, TicketQuery(statuses=ACTIVE)) == [6, 4, 2, 1, 7]
    assert _ids(world, TicketQuery(statuses=[TicketStatus.RESOLVED])) == [5]
    assert _ids(world, TicketQuery(category="environment")) == [3]
    assert _ids(world, TicketQuery(urgent=True)) == [4]
    # overdue: active and past the deadline (6 is due in three days; 3 and 5 are done)
    assert _ids(world, TicketQuery(overdue_at=NOW)) == [4, 2, 1, 7]


def test_any_of_several_categories_or_of_some_numbers(world: Database) -> None:
    # the Open311 API's service_code and service_request_id lists
    assert _ids(world, TicketQuery(categories=["environment", "facility"])) == [6, 5, 4, 3, 2, 1, 7]
    assert _ids(world, TicketQuery(categories=["environment", "safety"])) == [3]
    assert _ids(world, TicketQuery(ids=[2, 5, 99], grids={"G04", "G03"})) == [2]
    # none asked for is none found
    assert _ids(world, TicketQuery(categories=())) == []
    assert _ids(world, TicketQuery(ids=())) == []


def test_a_date_range_of_creation(world: Database) -> None:
    query = TicketQuery(
        created_from=NOW - timedelta(days=41), created_before=NOW - timedelta(days=39)
    )
    assert _ids(world, query) == [7]
    # from inclusive, before exclusive
    assert _ids(world, TicketQuery(created_from=NOW - timedelta(hours=95))) == [6, 5]
    assert _ids(world, TicketQuery(created_before=NOW - timedelta(hours=98))) == [1, 7]


def test_words_find_the_text_the_reporter_and_the_number(world: Database) -> None:
    assert _ids(world, TicketQuery(words=["楼道灯"])) == [2]
    assert _ids(world, TicketQuery(words=["王大爷"])) == [4]
    assert _ids(world, TicketQuery(words=["#3"])) == [3]
    # LIKE's wildcards are a resident's characters here, not patterns
    assert _ids(world, TicketQuery(words=["%"])) == [2]
    assert _ids(world, TicketQuery(words=["_"])) == [6]
    # all words must match; letters in any case
    assert _ids(world, TicketQuery(words=["楼道灯", "100"])) == [2]
    assert _ids(world, TicketQuery(words=["楼道灯", "路灯"])) == []
    assert _ids(world, TicketQuery(words=["wifi"])) == [5]


def test_sorts_and_pages(world: Database) -> None:
    assert _ids(world, TicketQuery(sort=Sort.OLDEST)) == [7, 1, 2, 3, 4, 5, 6]
    assert _ids(world, TicketQuery(sort=Sort.DUE)) == [7, 1, 2, 3, 4, 5, 6]
    assert _ids(world, TicketQuery(), offset=2, limit=2) == [4, 3]
    with world.session() as session:
        page = search(session=session, query=TicketQuery(grids={"G03"}), offset=4, limit=2)
        assert ([t.id for t in page.tickets], page.total) == ([7], 5)
        past = search(session=session, query=TicketQuery(), offset=100, limit=20)
        assert (list(past.tickets), past.total) == ([], 7)


def test_each_reads_every_ticket_the_query_finds_in_batches(world: Database) -> None:
    with world.session() as session:
        assert [t.id for t in each(session=session, query=TicketQuery(), batch=2)] == [
            6, 5, 4, 3, 2, 1, 7,
        ]  # fmt: skip
        query = TicketQuery(grids={"G03"}, statuses=ACTIVE, sort=Sort.OLDEST)
        assert [t.id for t in each(session=session, query=query)] == [7, 1, 4, 6]
        assert list(each(session=session, query=TicketQuery(grids=()))) == []


def test_each_reads_only_the_columns_asked_in_their_order(world: Database) -> None:
    query = TicketQuery(grids={"G03"}, statuses=ACTIVE, sort=Sort.OLDEST)
    with world.session() as session:
        rows = list(each(session=session, query=query, columns=("created_at", "id")))
    assert [tuple(row) for row in rows][:2] == [
        (NOW - timedelta(days=40), 7),  # aware UTC, as every read of the table gives it
        (NOW - timedelta(hours=99), 1),
    ]
    assert rows[0]._fields == ("created_at", "id")


@pytest.mark.parametrize(
    "query",
    [
        TicketQuery(),
        TicketQuery(sort=Sort.OLDEST),
        TicketQuery(grids={"G03"}),
        TicketQuery(grids={"G03"}, sort=Sort.OLDEST),
        TicketQuery(grids={"G03"}, created_from=NOW - timedelta(days=30)),
    ],
    ids=["all", "all-oldest", "grid", "grid-oldest", "grid-month"],
)
def test_a_page_by_date_is_read_in_index_order(sqlite_db: Database, query: TicketQuery) -> None:
    """Without the (created_at) and (grid_code, created_at) indexes each page sorted all of a
    city's (or a grid's) tickets first: the planner says so before any clock does."""
    with sqlite_db.session() as session:
        _world(session, [{}, {"grid_code": "G04"}])
    statements: list[tuple[str, Any]] = []

    def note(_conn: Any, _cursor: Any, sql: str, params: Any, _ctx: Any, _many: bool) -> None:
        if "ORDER BY" in sql:
            statements.append((sql, params))

    sa.event.listen(sqlite_db.engine, "before_cursor_execute", note)
    _ids(sqlite_db, query)
    sa.event.remove(sqlite_db.engine, "before_cursor_execute", note)
    [(sql, params)] = statements
    with sqlite_db.engine.connect() as conn:
        plan = " / ".join(
            row[-1] for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", params)
        )
    assert "TEMP B-TREE" not in plan, plan
    assert "created" in plan, plan
