"""Redemption orders (积分兑换) and each grid's monthly stock of every item.

Placing an order holds its points with a ``redeem`` entry; 核销 only closes the order; 退回
gives the points back with a ``refund`` entry and returns the item to the stock. Locks are
taken in one order everywhere (order, balance, stock), so concurrent orders and refunds on
PostgreSQL wait for each other instead of deadlocking.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update
from sqlmodel import Session, col, func, select

from storage import points
from storage.models import EntryKind, Member, OrderStatus, PointsOrder, PointsStock


class OutOfStock(points.PointsError):
    pass


class OrderNotFound(points.PointsError):
    pass


class OtherGrid(points.PointsError):
    """The order belongs to another grid: its leaders close it, not these."""


class NotPending(points.PointsError):
    def __init__(self, order: PointsOrder) -> None:
        super().__init__(f"order {order.id} is {order.status}")
        self.order = order


def place_order(
    *,
    session: Session,
    grid_code: str,
    member_id: int,
    item_code: str,
    item_name: str,
    points_needed: int,
    stock: int | None,
    period: str,
    at: datetime,
    message_id: int,
) -> tuple[PointsOrder, int]:
    """Hold ``points_needed`` and one item of ``period``'s stock; return the order and the
    balance left. A message handled twice returns the order it placed the first time.

    Raises :class:`points.Overdrawn` or :class:`OutOfStock`.
    """
    existing = session.exec(select(PointsOrder).where(PointsOrder.message_id == message_id)).first()
    if existing is not None:
        return existing, points.totals(session=session, member_id=member_id).balance
    order = PointsOrder(
        grid_code=grid_code,
        member_id=member_id,
        item_code=item_code,
        item_name=item_name,
        points=points_needed,
        period=period,
        message_id=message_id,
        created_at=at,
    )
    session.add(order)
    session.flush()
    assert order.id is not None
    balance = points.post(
        session=session,
        member_id=member_id,
        grid_code=grid_code,
        delta=-points_needed,
        kind=EntryKind.REDEEM,
        key=f"order:{order.id}:redeem",
        at=at,
        actor_id=None,
        reason=item_name,
        message_id=message_id,
        order_id=order.id,
    )
    assert balance is not None  # the order is new, so is its key
    if stock is not None:
        _take(session=session, grid_code=grid_code, item_code=item_code, period=period, stock=stock)
    return order, balance


def _take(*, session: Session, grid_code: str, item_code: str, period: str, stock: int) -> None:
    points.insert_ignoring_conflict(
        session,
        PointsStock,
        {"grid_code": grid_code, "item_code": item_code, "period": period, "taken": 0},
        key=["grid_code", "item_code", "period"],
    )
    taken = col(PointsStock.taken)
    result = session.execute(
        update(PointsStock)
        .where(
            col(PointsStock.grid_code) == grid_code,
            col(PointsStock.item_code) == item_code,
            col(PointsStock.period) == period,
            taken < stock,
        )
        .values(taken=taken + 1)
    )
    if result.rowcount == 0:  # type: ignore[attr-defined]
        raise OutOfStock(item_code)


def taken(*, session: Session, grid_code: str, period: str) -> dict[str, int]:
    """How many of each item the grid has given out or holds in ``period``."""
    rows = session.exec(
        select(PointsStock).where(PointsStock.grid_code == grid_code, PointsStock.period == period)
    ).all()
    return {row.item_code: row.taken for row in rows}


def pending_orders(*, session: Session, member_ids: list[int]) -> list[PointsOrder]:
    if not member_ids:
        return []
    return list(
        session.exec(
            select(PointsOrder)
            .where(
                col(PointsOrder.member_id).in_(member_ids),
                PointsOrder.status == OrderStatus.PENDING,
            )
            .order_by(col(PointsOrder.id))
        ).all()
    )


def _close(
    *,
    session: Session,
    order_id: int,
    grid_code: str,
    status: OrderStatus,
    actor: str,
    at: datetime,
) -> PointsOrder:
    """Move a pending order of ``grid_code`` to ``status``; of two leaders closing it at
    once, one does and the other is told it is closed."""
    order = session.get(PointsOrder, order_id)
    if order is None:
        raise OrderNotFound(order_id)
    if order.grid_code != grid_code:
        raise OtherGrid(order_id)
    result = session.execute(
        update(PointsOrder)
        .where(col(PointsOrder.id) == order_id, col(PointsOrder.status) == OrderStatus.PENDING)
        .values(status=status.value, closed_at=at, closed_by=actor)
    )
    session.refresh(order)
    if result.rowcount == 0:  # type: ignore[attr-defined]
        raise NotPending(order)
    return order


def confirm(
    *, session: Session, order_id: int, grid_code: str, actor: str, at: datetime
) -> PointsOrder:
    """核销: the item was handed over. Raises OrderNotFound, OtherGrid, NotPending."""
    return _close(
        session=session,
        order_id=order_id,
        grid_code=grid_code,
        status=OrderStatus.CONFIRMED,
        actor=actor,
        at=at,
    )


def refund(
    *,
    session: Session,
    order_id: int,
    grid_code: str,
    actor: str,
    at: datetime,
    reason: str | None = None,
    message_id: int | None = None,
) -> tuple[PointsOrder, int]:
    """退回: give the order's points back and its item back to the stock; return the order
    and the member's balance. Raises OrderNotFound, OtherGrid, NotPending."""
    order = _close(
        session=session,
        order_id=order_id,
        grid_code=grid_code,
        status=OrderStatus.REFUNDED,
        actor=actor,
        at=at,
    )
    balance = points.post(
        session=session,
        member_id=order.member_id,
        grid_code=order.grid_code,
        delta=order.points,
        kind=EntryKind.REFUND,
        key=f"order:{order_id}:refund",
        at=at,
        actor_id=actor,
        reason=f"{order.item_name}：{reason}" if reason else order.item_name,
        message_id=message_id,
        order_id=order_id,
    )
    if balance is None:  # unreachable while the status update guards it; kept consistent
        balance = points.totals(session=session, member_id=order.member_id).balance
    taken = col(PointsStock.taken)
    session.execute(
        update(PointsStock)
        .where(
            col(PointsStock.grid_code) == order.grid_code,
            col(PointsStock.item_code) == order.item_code,
            col(PointsStock.period) == order.period,
            taken > 0,
        )
        .values(taken=taken - 1)
    )
    return order, balance


def waiting(
    *,
    session: Session,
    grid_code: str | None = None,
    member_id: int | None = None,
    offset: int = 0,
    limit: int = 20,
) -> tuple[int, list[tuple[PointsOrder, str]]]:
    """Pending orders (of a grid, or of one member), oldest first, a page of them with each
    owner's name; and how many there are. The (member, status) index serves a member's; a
    grid's pending orders are few (they are handed over within days)."""
    which = [col(PointsOrder.status) == OrderStatus.PENDING]
    if grid_code is not None:
        which.append(col(PointsOrder.grid_code) == grid_code)
    if member_id is not None:
        which.append(col(PointsOrder.member_id) == member_id)
    total = session.execute(
        select(func.count()).select_from(PointsOrder).where(*which)
    ).scalar_one()
    rows = session.execute(
        select(PointsOrder, Member.display_name)
        .join(Member, col(Member.id) == PointsOrder.member_id)
        .where(*which)
        .order_by(col(PointsOrder.id))
        .offset(offset)
        .limit(limit)
    ).all()
    return int(total), [(order, str(name)) for order, name in rows]
