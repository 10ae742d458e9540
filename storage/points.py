"""The points ledger and its balances.

:func:`post` appends an entry and moves its member's totals in the same transaction, so a
balance is always one primary-key read, however long the ledger grows. Write functions raise
after some of their statements ran: the caller rolls the session back (a handler does so by
raising ``UserError``), and nothing of the failed write remains.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Table, case, update
from sqlmodel import Session, col, func, select

from storage.db import insert_for
from storage.models import (
    EntryKind,
    Member,
    MemberRole,
    PointsBalance,
    PointsEntry,
    PointsNotice,
)

# Redemptions move points between the balance and the gift shelf; they are not merit.
NOT_MERIT = (EntryKind.REDEEM, EntryKind.REFUND)


class PointsError(Exception):
    """A points write that can't be done; the session must be rolled back."""


class Overdrawn(PointsError):
    """The entry would take the balance below zero."""

    def __init__(self, member_id: int, balance: int, delta: int) -> None:
        super().__init__(f"member {member_id}: balance {balance}, entry {delta}")
        self.member_id = member_id
        self.balance = balance
        self.delta = delta


def insert_ignoring_conflict(
    session: Session, table: Any, values: dict[str, Any], *, key: Sequence[str]
) -> bool:
    """``INSERT ... ON CONFLICT (key) DO NOTHING``; True when the row was inserted.

    The unique key, not a read before the write, decides; and on PostgreSQL a conflict
    doesn't abort the transaction as a failed plain INSERT would.
    """
    target: Table = table.__table__ if hasattr(table, "__table__") else table
    dialect = session.get_bind().dialect.name
    insert = insert_for(dialect)
    stmt = (
        insert(target)
        .values(**values)
        .on_conflict_do_nothing(index_elements=list(key))
        # RETURNING, not rowcount: drivers disagree on rowcount for a skipped insert.
        .returning(target.c[key[0]])
    )
    return session.execute(stmt).first() is not None


def post(
    *,
    session: Session,
    member_id: int,
    grid_code: str,
    delta: int,
    kind: EntryKind,
    key: str,
    at: datetime,
    actor_id: str | None = None,
    rule_code: str | None = None,
    reason: str | None = None,
    message_id: int | None = None,
    order_id: int | None = None,
) -> int | None:
    """Append an entry and move the member's totals; return the new balance, or None when
    an entry with ``key`` exists already (then nothing changed).

    The balance moves by a conditional ``UPDATE ... WHERE balance + delta >= 0``: of two
    concurrent debits that together overdraw, the second finds the condition false (on
    PostgreSQL it waits for the first's row lock and re-reads the row; SQLite has one
    writer at a time) and :class:`Overdrawn` is raised.
    """
    inserted = insert_ignoring_conflict(
        session,
        PointsEntry,
        {
            "key": key,
            "member_id": member_id,
            "grid_code": grid_code,
            "delta": delta,
            "kind": kind.value,
            "rule_code": rule_code,
            "reason": reason,
            "actor_id": actor_id,
            "at": at,
            "message_id": message_id,
            "order_id": order_id,
        },
        key=["key"],
    )
    if not inserted:
        return None
    insert_ignoring_conflict(
        session,
        PointsBalance,
        {
            "member_id": member_id,
            "grid_code": grid_code,
            "balance": 0,
            "earned": 0,
            "entries": 0,
            "updated_at": at,
        },
        key=["member_id"],
    )
    balance = col(PointsBalance.balance)
    moved = session.execute(
        update(PointsBalance)
        .where(col(PointsBalance.member_id) == member_id, balance + delta >= 0)
        .values(
            balance=balance + delta,
            earned=col(PointsBalance.earned) + (0 if kind in NOT_MERIT else delta),
            entries=col(PointsBalance.entries) + 1,
            updated_at=at,
        )
        .returning(balance)
    ).scalar_one_or_none()
    if moved is None:
        raise Overdrawn(member_id, totals(session=session, member_id=member_id).balance, delta)
    return int(moved)


@dataclass(frozen=True, slots=True)
class Totals:
    balance: int = 0
    earned: int = 0
    entries: int = 0


def totals(*, session: Session, member_id: int) -> Totals:
    row = session.execute(
        select(PointsBalance.balance, PointsBalance.earned, PointsBalance.entries).where(
            PointsBalance.member_id == member_id
        )
    ).first()
    return Totals(*row) if row else Totals()


def change_since(*, session: Session, member_id: int, since: datetime) -> int:
    """The sum of a member's entries from ``since``: a range of the (member, time) index."""
    total = session.execute(
        select(func.coalesce(func.sum(PointsEntry.delta), 0)).where(
            PointsEntry.member_id == member_id, col(PointsEntry.at) >= since
        )
    ).scalar_one()
    return int(total)


def total_since(
    *,
    session: Session,
    member_id: int,
    since: datetime,
    kinds: Iterable[EntryKind],
    rule_code: str | None = None,
    corrections: int = 0,
) -> int:
    """The sum of a member's entries of ``kinds`` (and ``rule_code``) from ``since``: what a
    cap is checked against. ``corrections`` 1 (-1) adds the corrections that gave (took)
    points: a correction is no way around a cap."""
    kind = col(PointsEntry.kind)
    which: sa.ColumnElement[bool] = kind.in_([k.value for k in kinds])
    if corrections:
        delta = col(PointsEntry.delta)
        signed = delta > 0 if corrections > 0 else delta < 0
        which = sa.or_(which, sa.and_(kind == EntryKind.ADJUST.value, signed))
    query = select(func.coalesce(func.sum(PointsEntry.delta), 0)).where(
        PointsEntry.member_id == member_id,
        col(PointsEntry.at) >= since,
        which,
    )
    if rule_code is not None:
        query = query.where(PointsEntry.rule_code == rule_code)
    return int(session.execute(query).scalar_one())


def history(*, session: Session, member_ids: Sequence[int], limit: int = 10) -> list[PointsEntry]:
    """The latest entries of these members (one person in one or several grids), newest
    first."""
    return list(
        session.exec(
            select(PointsEntry)
            .where(col(PointsEntry.member_id).in_(member_ids))
            .order_by(col(PointsEntry.at).desc(), col(PointsEntry.id).desc())
            .limit(limit)
        ).all()
    )


@dataclass(frozen=True, slots=True)
class Ranked:
    rank: int  # equal totals share a rank: 1, 2, 2, 4
    member_id: int
    name: str
    points: int


def competition_ranks(rows: Iterable[tuple[int, str, int]]) -> list[Ranked]:
    """Number rows already sorted by points, highest first."""
    ranked: list[Ranked] = []
    for position, (member_id, name, points) in enumerate(rows, start=1):
        rank = ranked[-1].rank if ranked and ranked[-1].points == points else position
        ranked.append(Ranked(rank, member_id, name, points))
    return ranked


def ranking(*, session: Session, grid_code: str, limit: int = 10) -> list[Ranked]:
    """The grid's members with the most points earned (merit, not what is left after
    redemptions), read along the (grid, earned) index."""
    rows = session.execute(
        select(PointsBalance.member_id, Member.display_name, PointsBalance.earned)
        .join(Member, col(Member.id) == PointsBalance.member_id)
        .where(PointsBalance.grid_code == grid_code, col(PointsBalance.earned) > 0)
        .order_by(col(PointsBalance.earned).desc(), col(PointsBalance.member_id))
        .limit(limit)
    ).all()
    return competition_ranks((int(m), str(n), int(p)) for m, n, p in rows)


# --- members ---


def member(*, session: Session, grid_code: str, contact_id: str) -> Member | None:
    return session.exec(
        select(Member).where(Member.grid_code == grid_code, Member.contact_id == contact_id)
    ).first()


def members_by_contact(
    *, session: Session, grid_code: str, contact_ids: Iterable[str]
) -> dict[str, Member]:
    wanted = list(dict.fromkeys(contact_ids))
    if not wanted:
        return {}
    rows = session.exec(
        select(Member).where(Member.grid_code == grid_code, col(Member.contact_id).in_(wanted))
    ).all()
    return {row.contact_id: row for row in rows}


def memberships(*, session: Session, contact_id: str) -> list[Member]:
    """Every grid a contact is a member of (a private chat is in no grid)."""
    return list(
        session.exec(
            select(Member).where(Member.contact_id == contact_id).order_by(col(Member.grid_code))
        ).all()
    )


def leaders_in_db(*, session: Session, grid_code: str) -> list[str]:
    """Contact ids made leaders of the grid in the database (config names the others)."""
    return list(
        session.exec(
            select(Member.contact_id).where(
                Member.grid_code == grid_code, Member.role == MemberRole.LEADER
            )
        ).all()
    )


# --- the month, for the 公示 ---


@dataclass(slots=True)
class KindTotal:
    count: int = 0
    points: int = 0


@dataclass(slots=True)
class MemberMonth:
    member_id: int
    name: str
    change: int = 0  # every entry of the month
    earned: int = 0  # the month's merit: every entry but redeem and refund
    balance: int = 0  # now
    earned_total: int = 0  # now


@dataclass(slots=True)
class MonthSummary:
    kinds: dict[EntryKind, KindTotal] = field(default_factory=dict)
    members: list[MemberMonth] = field(default_factory=list)  # by the month's merit, best first


def month_summary(
    *, session: Session, grid_code: str, since: datetime, until: datetime
) -> MonthSummary:
    """What the grid's ledger says for [since, until): totals by kind, and per member."""
    rows = session.execute(
        select(PointsEntry.member_id, PointsEntry.kind, func.count(), func.sum(PointsEntry.delta))
        .where(
            PointsEntry.grid_code == grid_code,
            col(PointsEntry.at) >= since,
            col(PointsEntry.at) < until,
        )
        .group_by(col(PointsEntry.member_id), col(PointsEntry.kind))
    ).all()
    summary = MonthSummary()
    per_member: dict[int, MemberMonth] = {}
    for member_id, kind_value, count, points in rows:
        kind = EntryKind(kind_value)
        total = summary.kinds.setdefault(kind, KindTotal())
        total.count += int(count)
        total.points += int(points)
        month = per_member.setdefault(int(member_id), MemberMonth(int(member_id), ""))
        month.change += int(points)
        if kind not in NOT_MERIT:
            month.earned += int(points)
    if per_member:
        people = session.execute(
            select(Member.id, Member.display_name, PointsBalance.balance, PointsBalance.earned)
            .outerjoin(PointsBalance, col(PointsBalance.member_id) == Member.id)
            .where(col(Member.id).in_(list(per_member)))
        ).all()
        for member_id, name, balance, earned in people:
            month = per_member[int(member_id)]
            month.name = str(name)
            month.balance = int(balance or 0)
            month.earned_total = int(earned or 0)
    summary.members = sorted(per_member.values(), key=lambda m: (-m.earned, m.member_id))
    return summary


def mark_notice_sent(*, session: Session, grid_code: str, period: str, at: datetime) -> bool:
    """Claim the grid's 公示 for ``period``; False when it was sent already."""
    return insert_ignoring_conflict(
        session,
        PointsNotice,
        {"grid_code": grid_code, "period": period, "sent_at": at},
        key=["grid_code", "period"],
    )


# --- verification ---


@dataclass(frozen=True, slots=True)
class Mismatch:
    member_id: int
    contact_id: str
    grid_code: str
    stored: Totals  # what points_balance says
    ledger: Totals  # what the entries add up to


@dataclass(frozen=True, slots=True)
class Verification:
    checked: int  # members with a balance row or entries
    entries: int
    mismatched: int
    mismatches: list[Mismatch]  # the first of them


def verify(*, session: Session, limit: int = 100) -> Verification:
    """Compare every member's stored totals with the sums over the ledger, in the database
    (a city's ledger does not fit in memory). Reports at most ``limit`` mismatches."""
    merit = case(
        (col(PointsEntry.kind).in_([k.value for k in NOT_MERIT]), 0), else_=PointsEntry.delta
    )
    sums = (
        select(
            PointsEntry.member_id.label("member_id"),  # type: ignore[attr-defined]
            func.sum(PointsEntry.delta).label("balance"),
            func.sum(merit).label("earned"),
            func.count().label("entries"),
        )
        .group_by(col(PointsEntry.member_id))
        .subquery()
    )
    stored = PointsBalance.__table__.alias("stored")  # type: ignore[attr-defined]
    zero = sa.literal(0)
    # Members with a balance row, and members with entries but none: a full outer join that
    # SQLite before 3.39 lacks, so two halves.
    with_row = sa.select(
        stored.c.member_id,
        stored.c.balance,
        stored.c.earned,
        stored.c.entries,
        func.coalesce(sums.c.balance, zero),
        func.coalesce(sums.c.earned, zero),
        func.coalesce(sums.c.entries, zero),
    ).outerjoin(sums, sums.c.member_id == stored.c.member_id)
    without_row = (
        sa.select(sums.c.member_id, zero, zero, zero, sums.c.balance, sums.c.earned, sums.c.entries)
        .outerjoin(stored, stored.c.member_id == sums.c.member_id)
        .where(stored.c.member_id.is_(None))
    )
    checked = entries = mismatched = 0
    found: list[Mismatch] = []
    for query in (with_row, without_row):
        for member_id, *numbers in session.execute(query):
            checked += 1
            have = Totals(*(int(n) for n in numbers[:3]))
            want = Totals(*(int(n) for n in numbers[3:]))
            entries += want.entries
            if have != want:
                mismatched += 1
                if len(found) < limit:
                    found.append(Mismatch(int(member_id), "", "", have, want))
    if found:
        names = {
            row.id: row
            for row in session.exec(
                select(Member).where(col(Member.id).in_([m.member_id for m in found]))
            ).all()
        }
        found = [
            Mismatch(
                m.member_id,
                names[m.member_id].contact_id if m.member_id in names else "?",
                names[m.member_id].grid_code if m.member_id in names else "?",
                m.stored,
                m.ledger,
            )
            for m in found
        ]
    return Verification(checked, entries, mismatched, found)


# --- the web console's pages and the 积分台账 ---


@dataclass(frozen=True, slots=True)
class Standing:
    """A member of a grid as its ranking page lists them."""

    rank: int | None  # in the whole grid (1, 2, 2, 4), None for who earned nothing yet
    member_id: int
    name: str
    earned: int
    balance: int
    entries: int


def standings(
    *, session: Session, grid_code: str, words: str = "", offset: int = 0, limit: int = 20
) -> tuple[int, list[Standing]]:
    """The grid's members (``words``: those whose name holds them), most points earned first,
    then those with none (they can be given some), a page of them; and how many there are.

    A rank is counted in the whole grid, whatever the page or the name searched: one index
    range count each, on (grid, earned)."""
    earned = func.coalesce(col(PointsBalance.earned), 0)
    which = [col(Member.grid_code) == grid_code]
    if words:
        which.append(col(Member.display_name).contains(words, autoescape=True))
    total = session.execute(select(func.count()).select_from(Member).where(*which)).scalar_one()
    other = sa.orm.aliased(PointsBalance)
    above = (
        select(func.count())
        .select_from(other)
        .where(col(other.grid_code) == grid_code, col(other.earned) > earned)
        .scalar_subquery()
    )
    rows = session.execute(
        sa.select(
            col(Member.id),
            col(Member.display_name),
            earned,
            func.coalesce(col(PointsBalance.balance), 0),
            func.coalesce(col(PointsBalance.entries), 0),
            above,
        )
        .outerjoin(PointsBalance, col(PointsBalance.member_id) == Member.id)
        .where(*which)
        .order_by(earned.desc(), col(Member.id))
        .offset(offset)
        .limit(limit)
    ).all()
    return int(total), [
        Standing(int(n) + 1 if int(e) > 0 else None, int(m), str(name), int(e), int(b), int(c))
        for m, name, e, b, c, n in rows
    ]


def _balance_after() -> Any:
    """Each entry's member's balance once it was written: the sum of their entries up to it,
    in the order they were written (their time, then their id)."""
    return (
        func.sum(PointsEntry.delta)
        .over(
            partition_by=col(PointsEntry.member_id),
            order_by=(col(PointsEntry.at), col(PointsEntry.id)),
        )
        .label("balance_after")
    )


@dataclass(frozen=True, slots=True)
class Line:
    entry: PointsEntry
    balance: int  # the member's balance once this entry was written


def entry_count(*, session: Session, member_id: int) -> int:
    return int(
        session.execute(
            select(func.count()).select_from(PointsEntry).where(PointsEntry.member_id == member_id)
        ).scalar_one()
    )


def ledger(*, session: Session, member_id: int, offset: int = 0, limit: int = 20) -> list[Line]:
    """A page of a member's entries, newest first, each with the balance it left."""
    rows = session.execute(
        select(PointsEntry, _balance_after())
        .where(PointsEntry.member_id == member_id)
        .order_by(col(PointsEntry.at).desc(), col(PointsEntry.id).desc())
        .offset(offset)
        .limit(limit)
    ).all()
    return [Line(entry, int(after)) for entry, after in rows]


@dataclass(frozen=True, slots=True)
class LedgerQuery:
    """Which entries a 积分台账 holds: of these grids (None: every grid), of one member, at
    times in [since, until)."""

    grids: frozenset[str] | None = None
    member_id: int | None = None
    since: datetime | None = None
    until: datetime | None = None


def each_entry(*, session: Session, query: LedgerQuery, batch: int = 1000) -> Iterable[Any]:
    """Every entry ``query`` finds, oldest first, read ``batch`` rows at a time: rows of the
    entry's columns by name, with ``balance_after`` and the member's ``member_name``.

    The balances are summed over each member's whole ledger, the entries before ``since``
    included; only then are the times chosen."""
    if query.grids is not None and not query.grids:
        return
    inner = sa.select(*PointsEntry.__table__.columns, _balance_after())  # type: ignore[attr-defined]
    if query.grids is not None:
        inner = inner.where(col(PointsEntry.grid_code).in_(sorted(query.grids)))
    if query.member_id is not None:
        inner = inner.where(col(PointsEntry.member_id) == query.member_id)
    entries = inner.subquery()
    listed = sa.select(entries, col(Member.display_name).label("member_name")).join(
        Member, col(Member.id) == entries.c.member_id
    )
    if query.since is not None:
        listed = listed.where(entries.c.at >= query.since)
    if query.until is not None:
        listed = listed.where(entries.c.at < query.until)
    listed = listed.order_by(entries.c.at, entries.c.id).execution_options(yield_per=batch)
    yield from session.execute(listed)
