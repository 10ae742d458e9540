"""Finding tickets for the web console's list: filters, sort and one page at a time.

Everything is done in SQL, a page at a time: the list must stay as fast at a city's 100,000
tickets as at a grid's first ten. The grids searched are the caller's to give (the viewer's
rights); None means every grid.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, cast

from sqlalchemy import ColumnElement, Row, and_, func, or_
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from storage.models import Ticket
from storage.tickets import ACTIVE

__all__ = ["MAX_WORDS", "Page", "Sort", "TicketQuery", "each", "search"]

# a search of more words than this looks for the first ones (each is one more LIKE)
MAX_WORDS = 5
_WORD_CHARS = 50


class Sort(StrEnum):
    NEWEST = "newest"  # created, newest first
    OLDEST = "oldest"
    DUE = "due"  # the nearest deadline first (overdue ones lead)


@dataclass(frozen=True, slots=True)
class TicketQuery:
    # the grids to search; None: every grid. Empty: none (a viewer who may see nothing).
    grids: Collection[str] | None = None
    statuses: Collection[str] | None = None
    category: str | None = None
    # any of these categories (the Open311 API's service_code list); None: any category
    categories: Collection[str] | None = None
    # only these ticket numbers (Open311's service_request_id list); None: any
    ids: Collection[int] | None = None
    urgent: bool = False
    # only active tickets whose deadline passed by then
    overdue_at: datetime | None = None
    created_from: datetime | None = None  # inclusive
    created_before: datetime | None = None  # exclusive
    # each word must be in the text or the reporter's name; a number also finds the ticket
    words: Sequence[str] = ()
    sort: Sort = Sort.NEWEST


@dataclass(frozen=True, slots=True)
class Page:
    tickets: Sequence[Ticket]
    total: int  # how many tickets match, on every page


def _contains(column: Any, word: str, dialect: str) -> ColumnElement[bool]:
    # SQLite's LIKE ignores the case of ASCII letters already; its ILIKE would lower() every
    # row first (a search of 100,000 tickets took ten times as long). PostgreSQL's LIKE
    # minds case: "WiFi" should find "wifi" there too.
    if dialect == "postgresql":
        return cast("ColumnElement[bool]", column.icontains(word, autoescape=True))
    return cast("ColumnElement[bool]", column.contains(word, autoescape=True))


def _conditions(query: TicketQuery, dialect: str) -> list[ColumnElement[bool]]:
    found: list[ColumnElement[bool]] = []
    if query.grids is not None:
        grids = sorted(set(query.grids))
        # one grid is an equality, which the (grid_code, …) indexes read in order
        found.append(
            col(Ticket.grid_code) == grids[0]
            if len(grids) == 1
            else col(Ticket.grid_code).in_(grids)
        )
    if query.statuses is not None:
        statuses = sorted(set(query.statuses))
        found.append(
            col(Ticket.status) == statuses[0]
            if len(statuses) == 1
            else col(Ticket.status).in_(statuses)
        )
    if query.category is not None:
        found.append(col(Ticket.category) == query.category)
    if query.categories is not None:
        found.append(col(Ticket.category).in_(sorted(set(query.categories))))
    if query.ids is not None:
        found.append(col(Ticket.id).in_(sorted(set(query.ids))))
    if query.urgent:
        found.append(col(Ticket.urgent).is_(True))
    if query.overdue_at is not None:
        found += [col(Ticket.status).in_(ACTIVE), col(Ticket.due_at) <= query.overdue_at]
    if query.created_from is not None:
        found.append(col(Ticket.created_at) >= query.created_from)
    if query.created_before is not None:
        found.append(col(Ticket.created_at) < query.created_before)
    for typed in list(query.words)[:MAX_WORDS]:
        word = typed[:_WORD_CHARS]
        matches = [
            _contains(col(Ticket.text), word, dialect),
            _contains(col(Ticket.reporter_name), word, dialect),
        ]
        number = word.removeprefix("#")
        if number.isascii() and number.isdigit() and len(number) <= 9:
            matches.append(col(Ticket.id) == int(number))
        found.append(or_(*matches))
    return found


_ORDER = {
    Sort.NEWEST: (col(Ticket.created_at).desc(), col(Ticket.id).desc()),
    Sort.OLDEST: (col(Ticket.created_at), col(Ticket.id)),
    Sort.DUE: (col(Ticket.due_at), col(Ticket.id)),
}


def search(*, session: Session, query: TicketQuery, offset: int, limit: int) -> Page:
    """One page of the tickets ``query`` finds (``limit`` from ``offset``), and how many it
    finds in all."""
    choices = (query.grids, query.categories, query.ids)
    if any(chosen is not None and not chosen for chosen in choices):  # none may be found
        return Page((), 0)
    where = _conditions(query, session.get_bind().dialect.name)
    condition = and_(*where) if where else None
    listed = select(Ticket)
    counted = select(func.count()).select_from(Ticket)
    if condition is not None:
        listed, counted = listed.where(condition), counted.where(condition)
    tickets = session.exec(listed.order_by(*_ORDER[query.sort]).offset(offset).limit(limit)).all()
    # A page that is not full ends the list: its count is known without counting (a search
    # for a rare word reads the table once, not twice).
    if len(tickets) < limit and (tickets or offset == 0):
        return Page(tickets, offset + len(tickets))
    return Page(tickets, session.exec(counted).one())


def each(
    *,
    session: Session,
    query: TicketQuery,
    batch: int = 1000,
    columns: Sequence[str] | None = None,
) -> Iterator[Row[Any]]:
    """Every ticket ``query`` finds, in its order, read ``batch`` rows at a time (a 台账 of a
    year's tickets is written without holding them all). Rows of the ticket table's columns
    (``columns``, in that order; None: every one), by name (``row.grid_code``), not Ticket
    objects: loading 100,000 of those took three times as long as reading them."""
    if query.grids is not None and not query.grids:
        return
    where = _conditions(query, session.get_bind().dialect.name)
    table = Ticket.__table__.columns  # type: ignore[attr-defined]
    listed = sa_select(*(table if columns is None else (table[name] for name in columns)))
    if where:
        listed = listed.where(and_(*where))
    listed = listed.order_by(*_ORDER[query.sort]).execution_options(yield_per=batch)
    yield from session.execute(listed)
