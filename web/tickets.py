"""工单: the list (filters, sort, pages) and a ticket with its whole timeline. Read only in
this phase: the actions (派单, 办结, …) come with domain/tickets.py.

A leader sees his own grids, on every page and in every query, a ticket typed into the
address bar included; an administrator sees every grid.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from sqlmodel import Session, col, select
from starlette.responses import Response

from bot.settings import Settings
from storage import tickets as ticket_store
from storage.models import Member, Ticket, TicketAttachment, TicketEvent
from storage.ticket_search import Page, Sort, TicketQuery, search
from storage.tickets import ACTIVE
from web.auth import Viewer, current_viewer
from web.base import PageError, audit, console_of, render
from web.labels import (
    MEDIA,
    RATINGS,
    STATUSES,
    action_label,
    categories,
    category_name,
    local_time,
    shown,
)

__all__ = ["PAGE_SIZE", "Filters", "read_filters", "router"]

router = APIRouter()

PAGE_SIZE = 20
SNIPPET_CHARS = 60
WORDS_CHARS = 100
_MAX_PAGE = 100_000

# The status filter's choices: "active" is every status still being worked on.
STATUS_CHOICES: dict[str, tuple[str, tuple[str, ...]]] = {
    "active": ("办理中（未办结）", ACTIVE),
    **{status: (label, (status,)) for status, label in STATUSES.items()},
}
SORTS = {Sort.NEWEST: "最新受理在前", Sort.OLDEST: "最早受理在前", Sort.DUE: "截止时间最近在前"}


@dataclass(frozen=True)
class Filters:
    """The list's filters as the address bar has them; what could not be read is dropped
    and said (``problems``), never an error page."""

    grid: str | None = None
    status: str | None = None
    category: str | None = None
    urgent: bool = False
    overdue: bool = False
    date_from: date | None = None
    date_to: date | None = None
    words: str = ""
    sort: Sort = Sort.NEWEST
    page: int = 1
    problems: list[str] = field(default_factory=list, compare=False)

    def params(self, **changes: Any) -> str:
        """The query string of these filters (with ``changes``), for links and paging."""
        chosen = replace(self, **changes)
        values: dict[str, str] = {}
        for key, value in (
            ("grid", chosen.grid),
            ("status", chosen.status),
            ("category", chosen.category),
            ("urgent", "1" if chosen.urgent else None),
            ("overdue", "1" if chosen.overdue else None),
            ("from", chosen.date_from.isoformat() if chosen.date_from else None),
            ("to", chosen.date_to.isoformat() if chosen.date_to else None),
            ("q", chosen.words or None),
            ("sort", chosen.sort.value if chosen.sort != Sort.NEWEST else None),
            ("page", str(chosen.page) if chosen.page != 1 else None),
        ):
            if value is not None:
                values[key] = value
        return urlencode(values)


def _date(text: str, what: str, problems: list[str]) -> date | None:
    if not text:
        return None
    try:
        day = date.fromisoformat(text[:10])
    except ValueError:
        problems.append(f"{what}「{text[:20]}」不是日期，已忽略")
        return None
    if not 2000 <= day.year <= 2099:
        problems.append(f"{what}「{text[:20]}」超出范围，已忽略")
        return None
    return day


def read_filters(params: Mapping[str, str], settings: Settings) -> Filters:
    """The filters in ``params`` (the query string), each checked against its choices."""
    problems: list[str] = []

    def choice(key: str, allowed: Iterable[str], what: str) -> str | None:
        value = params.get(key, "").strip()
        if not value:
            return None
        if value not in allowed:
            problems.append(f"没有这个{what}「{value[:20]}」，已忽略")
            return None
        return value

    grid = choice("grid", [g.code for g in settings.grids], "网格")
    status = choice("status", STATUS_CHOICES, "状态")
    category = choice("category", categories(settings), "类别")
    sort_key = choice("sort", [s.value for s in Sort], "排序")
    date_from = _date(params.get("from", "").strip(), "开始日期", problems)
    date_to = _date(params.get("to", "").strip(), "结束日期", problems)
    if date_from and date_to and date_from > date_to:
        problems.append("开始日期晚于结束日期，已对调")
        date_from, date_to = date_to, date_from
    page_text = params.get("page", "").strip()
    page = int(page_text) if page_text.isascii() and page_text.isdigit() and page_text else 1
    return Filters(
        grid=grid,
        status=status,
        category=category,
        urgent=params.get("urgent", "") not in ("", "0"),
        overdue=params.get("overdue", "") not in ("", "0"),
        date_from=date_from,
        date_to=date_to,
        # printable only: a search box is no place for control characters
        words=" ".join("".join(c for c in params.get("q", "") if c.isprintable()).split())[
            :WORDS_CHARS
        ],
        sort=Sort(sort_key) if sort_key else Sort.NEWEST,
        page=min(max(page, 1), _MAX_PAGE) if len(page_text) <= 9 else _MAX_PAGE,
        problems=problems,
    )


def _start_of(day: date, settings: Settings) -> datetime:
    return datetime.combine(day, time.min, tzinfo=settings.tz)


def _query(filters: Filters, viewer: Viewer, settings: Settings, now: datetime) -> TicketQuery:
    if filters.grid is not None:
        grids: frozenset[str] | None = frozenset({filters.grid})
    else:
        grids = None if viewer.actor.is_admin else viewer.actor.grids
    return TicketQuery(
        grids=grids,
        statuses=STATUS_CHOICES[filters.status][1] if filters.status else None,
        category=filters.category,
        urgent=filters.urgent,
        overdue_at=now if filters.overdue else None,
        created_from=_start_of(filters.date_from, settings) if filters.date_from else None,
        created_before=(
            _start_of(filters.date_to + timedelta(days=1), settings) if filters.date_to else None
        ),
        words=filters.words.split(),
        sort=filters.sort,
    )


def _snippet(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= SNIPPET_CHARS else flat[:SNIPPET_CHARS] + "…"


def _status(ticket: Ticket, viewer: Viewer) -> str:
    label = STATUSES.get(ticket.status, ticket.status)
    if ticket.assignee_name and ticket.status in ACTIVE:
        label += f"（{shown(viewer.actor, ticket.assignee_name)}）"
    if ticket.rating and ticket.status not in ACTIVE:
        label += f"（{RATINGS.get(ticket.rating, ticket.rating)}）"
    if ticket.merged_into_id is not None:
        label += f" → #{ticket.merged_into_id}"
    return label


def _row(ticket: Ticket, viewer: Viewer, settings: Settings, now: datetime) -> dict[str, Any]:
    grid = settings.grid(ticket.grid_code)
    return {
        "id": ticket.id,
        "grid": grid.name if grid else ticket.grid_code,
        "category": category_name(settings, ticket.category),
        "text": _snippet(shown(viewer.actor, ticket.text)),
        "reporter": shown(viewer.actor, ticket.reporter_name),
        "status": _status(ticket, viewer),
        "created": local_time(ticket.created_at, settings.tz),
        "due": local_time(ticket.due_at, settings.tz),
        "active": ticket.status in ACTIVE,
        "overdue": ticket.status in ACTIVE and ticket.due_at <= now,
        "urgent": ticket.urgent,
        "same": ticket.same_count,
    }


def _refuse_grid(viewer: Viewer, grid_code: str, what: str) -> PageError:
    audit.warning("web: %s refused %s of grid %s", viewer.actor.contact_id, what, grid_code)
    return PageError(403, "无权查看", "这不是你负责的网格。后台只显示你负责的网格的工单。")


@router.get("/tickets")
def ticket_list(request: Request, viewer: Annotated[Viewer, Depends(current_viewer)]) -> Response:
    console = console_of(request)
    settings, now = console.settings, console.clock.now()
    filters = read_filters(request.query_params, settings)
    if filters.grid is not None and not viewer.actor.may_act_on(filters.grid):
        raise _refuse_grid(viewer, filters.grid, "the ticket list")
    query = _query(filters, viewer, settings, now)
    with console.db.session() as session:
        found = _page(session, query, filters.page)
        if not found.tickets and found.total:  # past the last page: show the last one
            last = (found.total - 1) // PAGE_SIZE + 1
            filters = replace(filters, page=last)
            found = _page(session, query, last)
    pages = max(1, (found.total - 1) // PAGE_SIZE + 1)
    grids = [g for g in settings.grids if viewer.actor.may_act_on(g.code)]
    return render(
        request,
        "tickets.html",
        {
            "viewer": viewer,
            "nav": "tickets",
            "filters": filters,
            "rows": [_row(t, viewer, settings, now) for t in found.tickets],
            "total": found.total,
            "pages": pages,
            "grids": grids,
            "statuses": {key: label for key, (label, _s) in STATUS_CHOICES.items()},
            "categories": {code: c.name for code, c in categories(settings).items()},
            "sorts": SORTS,
            "first": (filters.page - 1) * PAGE_SIZE + 1,
        },
    )


def _page(session: Session, query: TicketQuery, page: int) -> Page:
    return search(session=session, query=query, offset=(page - 1) * PAGE_SIZE, limit=PAGE_SIZE)


def _names(session: Session, settings: Settings, grid_code: str, ids: set[str]) -> dict[str, str]:
    """Who the contact ids in a ticket's timeline are: the config's names, else the names
    they have in the grid's group."""
    names: dict[str, str] = {}
    if ids:
        rows = session.exec(
            select(Member.contact_id, Member.display_name).where(
                Member.grid_code == grid_code, col(Member.contact_id).in_(sorted(ids))
            )
        ).all()
        names.update(dict(rows))
    for grid in settings.grids:
        names.update({cid: name for cid, name in grid.leader_names.items() if cid in ids})
    for cid in ids & set(settings.admins):
        names.setdefault(cid, "街道管理员")
    return names


def _note(event: TicketEvent, viewer: Viewer, settings: Settings) -> str:
    note = event.note or ""
    if event.action == "reclassified" and " → " in note:
        old, new = note.split(" → ", 1)
        return f"{category_name(settings, old)} → {category_name(settings, new)}"
    if event.action == "rated":
        return RATINGS.get(note, note)
    if event.action == "attached":
        return MEDIA.get(note, note)
    if event.action in ("reminded", "reopened"):
        return ""  # the label says it all
    if event.action == "created":
        return ""  # the report itself heads the page
    return shown(viewer.actor, note)


@router.get("/tickets/{number}")
def ticket_detail(
    request: Request, number: str, viewer: Annotated[Viewer, Depends(current_viewer)]
) -> Response:
    console = console_of(request)
    settings, now = console.settings, console.clock.now()
    digits = number.removeprefix("#")
    if not (digits.isascii() and digits.isdigit() and len(digits) <= 9):
        raise PageError(404, "没有这个工单", f"工单编号是数字，例如 {console.root}/tickets/12。")
    ticket_id = int(digits)
    with console.db.session() as session:
        ticket = ticket_store.get(session=session, ticket_id=ticket_id)
        if ticket is None:
            raise PageError(404, "没有这个工单", f"没有编号为 #{ticket_id} 的工单。")
        if not viewer.actor.may_act_on(ticket.grid_code):
            raise _refuse_grid(viewer, ticket.grid_code, f"ticket #{ticket_id}")
        events = ticket_store.events(session=session, ticket_id=ticket_id)
        reporters = ticket_store.reporters(session=session, ticket_id=ticket_id)
        attachments = session.exec(
            select(TicketAttachment)
            .where(TicketAttachment.ticket_id == ticket_id)
            .order_by(col(TicketAttachment.id))
        ).all()
        merged_in = session.exec(
            select(Ticket.id).where(Ticket.merged_into_id == ticket_id).order_by(col(Ticket.id))
        ).all()
        ids = {e.actor_id for e in events if e.actor_id}
        # residents as they reported, beside the names the group knows
        names = {r.contact_id: r.name for r in reporters}
        names |= _names(session, settings, ticket.grid_code, ids - set(names))
    actor = viewer.actor
    timeline = [
        {
            "at": local_time(event.at, settings.tz),
            "action": event.action,
            "label": action_label(event.action),
            "who": (
                "系统"
                if event.actor_id is None
                else shown(actor, names.get(event.actor_id, event.actor_id))
            ),
            "note": _note(event, viewer, settings),
            "status": STATUSES.get(event.to_status or "", "")
            if event.to_status != event.from_status
            else "",
        }
        for event in events
    ]
    grid = settings.grid(ticket.grid_code)
    return render(
        request,
        "ticket.html",
        {
            "viewer": viewer,
            "nav": "tickets",
            "ticket": _row(ticket, viewer, settings, now),
            "text": shown(actor, ticket.text),
            "grid": f"{grid.name}（{ticket.grid_code}）" if grid else ticket.grid_code,
            "feedback": shown(actor, ticket.feedback),
            "resolved": local_time(ticket.resolved_at, settings.tz),
            "closed": local_time(ticket.closed_at, settings.tz),
            "rating": RATINGS.get(ticket.rating, ticket.rating) if ticket.rating else "",
            "reopened": ticket.reopen_count,
            "merged_into": ticket.merged_into_id,
            "merged_in": merged_in,
            "reporters": [
                {
                    "name": shown(actor, r.name),
                    "at": local_time(r.at, settings.tz),
                    "first": r.contact_id == ticket.reporter_id,
                }
                for r in reporters
            ],
            "attachments": [
                {"kind": MEDIA.get(a.type, a.type), "at": local_time(a.at, settings.tz)}
                for a in attachments
            ],
            "timeline": timeline,
        },
    )
