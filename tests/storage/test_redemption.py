from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest

from storage import points, redemption
from storage.db import Database
from storage.models import EntryKind, OrderStatus
from tests.auxil.points import T0, add_members, entry_count, store_message

A, B = "wxid_a", "wxid_b"


@pytest.fixture
def people(db: Database) -> dict[str, int]:
    ids = add_members(db, (A, "G03", "张阿姨"), (B, "G03", "王大爷"))
    with db.session() as session:
        for contact, amount in ((A, 50), (B, 50)):
            points.post(session=session, member_id=ids[contact], grid_code="G03", delta=amount,
                        kind=EntryKind.AWARD, key=f"seed:{contact}", at=T0)  # fmt: skip
        session.commit()
    return ids


def order(
    db: Database, member_id: int, key: str, *, cost: int = 20, stock: int | None = 5,
    before_commit: Callable[[], None] = lambda: None,
) -> tuple[int, int]:  # fmt: skip
    with db.session() as session:
        message_id = store_message(session, key)
        placed, balance = redemption.place_order(
            session=session, grid_code="G03", member_id=member_id, item_code="soap",
            item_name="肥皂", points_needed=cost, stock=stock, period="2026-11", at=T0,
            message_id=message_id,
        )  # fmt: skip
        assert placed.id is not None
        before_commit()
        session.commit()
        return placed.id, balance


def balance_of(db: Database, member_id: int) -> int:
    with db.session() as session:
        return points.totals(session=session, member_id=member_id).balance


def test_an_order_holds_its_points_and_one_item(db: Database, people: dict[str, int]) -> None:
    order_id, balance = order(db, people[A], "m1")
    assert balance == 30
    with db.session() as session:
        assert redemption.taken(session=session, grid_code="G03", period="2026-11") == {"soap": 1}
        [pending] = redemption.pending_orders(session=session, member_ids=[people[A]])
        assert (pending.id, pending.status) == (order_id, OrderStatus.PENDING)


def test_the_same_message_places_one_order(db: Database, people: dict[str, int]) -> None:
    with db.session() as session:
        message_id = store_message(session, "m1")
        session.commit()
    for _ in range(2):
        with db.session() as session:
            placed, balance = redemption.place_order(
                session=session, grid_code="G03", member_id=people[A], item_code="soap",
                item_name="肥皂", points_needed=20, stock=5, period="2026-11", at=T0,
                message_id=message_id,
            )  # fmt: skip
            session.commit()
        assert (placed.id, balance) == (1, 30)
    assert entry_count(db) == 3  # two seeds and one redemption


def test_an_order_beyond_the_balance_is_refused(db: Database, people: dict[str, int]) -> None:
    with pytest.raises(points.Overdrawn):
        order(db, people[A], "m1", cost=51)
    assert balance_of(db, people[A]) == 50


def test_an_order_beyond_the_stock_is_refused(db: Database, people: dict[str, int]) -> None:
    order(db, people[A], "m1", stock=1)
    with pytest.raises(redemption.OutOfStock):
        order(db, people[B], "m2", stock=1)
    assert balance_of(db, people[B]) == 50
    order(db, people[B], "m3", stock=None)  # unlimited


def test_confirm_closes_a_pending_order_once(db: Database, people: dict[str, int]) -> None:
    order_id, _ = order(db, people[A], "m1")
    with db.session() as session:
        closed = redemption.confirm(
            session=session, order_id=order_id, grid_code="G03", actor="wxid_leader", at=T0
        )
        session.commit()
        assert (closed.status, closed.closed_by) == (OrderStatus.CONFIRMED, "wxid_leader")
    with db.session() as session, pytest.raises(redemption.NotPending) as caught:
        redemption.confirm(session=session, order_id=order_id, grid_code="G03", actor="x", at=T0)
    assert caught.value.order.status == OrderStatus.CONFIRMED
    assert balance_of(db, people[A]) == 30


def test_refund_gives_points_and_stock_back(db: Database, people: dict[str, int]) -> None:
    order_id, _ = order(db, people[A], "m1", stock=1)
    with db.session() as session:
        _, balance = redemption.refund(
            session=session, order_id=order_id, grid_code="G03", actor="wxid_leader", at=T0,
            reason="缺货",
        )  # fmt: skip
        session.commit()
        assert balance == 50
        assert redemption.taken(session=session, grid_code="G03", period="2026-11") == {"soap": 0}
        [refund_entry] = points.history(session=session, member_ids=[people[A]], limit=1)
        assert (refund_entry.kind, refund_entry.reason) == ("refund", "肥皂：缺货")
    order(db, people[B], "m2", stock=1)  # the item is back on the shelf
    with db.session() as session, pytest.raises(redemption.NotPending):
        redemption.refund(session=session, order_id=order_id, grid_code="G03", actor="x", at=T0)


def test_closing_an_unknown_or_another_grids_order_is_refused(
    db: Database, people: dict[str, int]
) -> None:
    order_id, _ = order(db, people[A], "m1")
    with db.session() as session:
        with pytest.raises(redemption.OrderNotFound):
            redemption.confirm(session=session, order_id=999, grid_code="G03", actor="x", at=T0)
        with pytest.raises(redemption.OtherGrid):
            redemption.refund(session=session, order_id=order_id, grid_code="G04", actor="x",
                              at=T0)  # fmt: skip
    assert balance_of(db, people[A]) == 30


def test_two_orders_racing_for_the_last_points_never_overdraw(
    db: Database, people: dict[str, int]
) -> None:
    """Two sessions each see 50 points and order 30: exactly one order goes through.

    Each thread keeps its transaction open a moment after its debit, so the other's debit
    runs while the first is uncommitted: PostgreSQL makes it wait for the row lock and
    re-read, SQLite for the write lock.
    """
    start = threading.Barrier(2)
    outcomes: list[str] = []
    seen: list[int] = []

    def attempt(key: str) -> None:
        seen.append(balance_of(db, people[A]))
        start.wait()
        try:
            order(db, people[A], key, cost=30, before_commit=lambda: time.sleep(0.3))
        except points.Overdrawn:
            outcomes.append("refused")
        else:
            outcomes.append("placed")

    threads = [threading.Thread(target=attempt, args=(f"race{i}",)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert seen == [50, 50]
    assert sorted(outcomes) == ["placed", "refused"]
    assert balance_of(db, people[A]) == 20
    with db.session() as session:
        assert points.verify(session=session).mismatched == 0
        assert len(redemption.pending_orders(session=session, member_ids=[people[A]])) == 1


def test_two_members_racing_for_the_last_item_get_one(db: Database, people: dict[str, int]) -> None:
    start = threading.Barrier(2)
    outcomes: dict[str, str] = {}

    def attempt(contact: str) -> None:
        start.wait()
        try:
            order(db, people[contact], contact, stock=1, before_commit=lambda: time.sleep(0.3))
        except redemption.OutOfStock:
            outcomes[contact] = "sold out"
        else:
            outcomes[contact] = "placed"

    threads = [threading.Thread(target=attempt, args=(c,)) for c in (A, B)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(outcomes.values()) == ["placed", "sold out"]
    assert balance_of(db, people[A]) + balance_of(db, people[B]) == 80


def test_the_orders_waiting_of_a_grid_or_a_member(db: Database, people: dict[str, int]) -> None:
    first, _ = order(db, people[A], "o1")
    second, _ = order(db, people[B], "o2")
    third, _ = order(db, people[A], "o3")
    with db.session() as session:
        redemption.confirm(session=session, order_id=third, grid_code="G03", actor="x", at=T0)
        session.commit()
        total, found = redemption.waiting(session=session, grid_code="G03")
        assert (total, [(o.id, name) for o, name in found]) == (
            2, [(first, "张阿姨"), (second, "王大爷")]
        )  # fmt: skip
        total, found = redemption.waiting(session=session, grid_code="G03", offset=1, limit=1)
        assert (total, [o.id for o, _name in found]) == (2, [second])
        total, found = redemption.waiting(session=session, member_id=people[A])
        assert (total, [o.id for o, _name in found]) == (1, [first])
        assert redemption.waiting(session=session, grid_code="G04") == (0, [])
