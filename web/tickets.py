"""工单: the list (filters, sort, pages, its Excel 台账) and a ticket with its whole timeline
and the forms of what the viewer may do to it now (posted to web/ticket_actions.py).

A leader sees his own grids, on every page and in every query, a ticket typed into the
address bar included; an administrator sees every grid.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from io import BytesIO
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from sqlmodel import Session, col, select
from starlette.responses import Response

from bot.settings import MAX_MESSAGE_CHARS, Settings
from domain import tickets as domain_tickets
from domain.tickets import Action
from storage import tickets as ticket_store
from storage.models import Member, Ticket, TicketAttachment, TicketEvent
from storage.ticket_search import Page, Sort, TicketQuery, each, search
from storage.tickets import ACTIVE
from web import flash
from web import ticket_ledger as ledger
from web.auth import Viewer, current_viewer
from web.base import PageError, audit, console_of, download, render
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

__all__ = [
    "ACTION_SLUGS",
    "PAGE_SIZE",
    "Failure",
    "Filters",
    "detail_page",
    "read_filters",
    "router",
    "ticket_number",
]

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
# each action's address on the page (/tickets/12/resolve), in the order the page offers them
ACTION_SLUGS: dict[Action, str] = {
    Action.ASSIGN: "assign",
    Action.RESOLVE: "resolve",
    Action.ESCALATE: "escalate",
    Action.DISMISS: "dismiss",
    Action.RECLASSIFY: "reclassify",
    Action.MERGE: "merge",
}
# the tickets the merge form suggests as targets (any number of the grid can be typed)
MERGE_SUGGESTIONS = 30


@dataclass(frozen=True)
class Failure:
    """An action refused: the page again, with why beside the form, and what was typed."""

    action: Action
    message: str
    form: Mapping[str, str] = field(default_factory=dict)


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


def read_day(text: str, what: str, problems: list[str]) -> date | None:
    """A date typed in a filter form, or None; a wrong one is said in ``problems``."""
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
    date_from = read_day(params.get("from", "").strip(), "开始日期", problems)
    date_to = read_day(params.get("to", "").strip(), "结束日期", problems)
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


@router.get("/tickets.xlsx")
def ticket_ledger(request: Request, viewer: Annotated[Viewer, Depends(current_viewer)]) -> Response:
    """工单台账: every ticket the list's filters find (not a page of them), as Excel."""
    console = console_of(request)
    settings, now = console.settings, console.clock.now()
    filters = read_filters(request.query_params, settings)
    if filters.grid is not None and not viewer.actor.may_act_on(filters.grid):
        raise _refuse_grid(viewer, filters.grid, "the ticket ledger")
    query = _query(filters, viewer, settings, now)
    out = BytesIO()
    with console.db.session() as session:
        count = ledger.write(
            out,
            each(session=session, query=query, columns=ledger.FIELDS),
            settings=settings,
            masked=not viewer.actor.is_admin,
            now=now,
            about=[
                ("导出人", f"{viewer.name}（{viewer.role_label}）"),
                ("筛选条件", _described(filters, viewer, settings)),
            ],
        )
    audit.info(
        "web: %s exported %d ticket(s) as Excel (%s)",
        viewer.actor.contact_id,
        count,
        filters.params(page=1) or "no filter",
    )
    return download(
        out.getvalue(),
        ledger.MEDIA_TYPE,
        ledger.file_name(now, settings.tz),
        fallback=f"tickets-{now:%Y%m%d-%H%M}.xlsx",
    )


def _described(filters: Filters, viewer: Viewer, settings: Settings) -> str:
    """The filters in words, for the 台账's 说明 sheet."""
    grid = settings.grid(filters.grid) if filters.grid else None
    parts = [
        grid.name if grid is not None else ("全部网格" if viewer.actor.is_admin else "我负责的网格")
    ]
    if filters.status:
        parts.append(STATUS_CHOICES[filters.status][0])
    if filters.category:
        parts.append(category_name(settings, filters.category))
    if filters.urgent:
        parts.append("只看紧急")
    if filters.overdue:
        parts.append("只看超期")
    if filters.date_from or filters.date_to:
        first = filters.date_from.isoformat() if filters.date_from else "最早"
        last = filters.date_to.isoformat() if filters.date_to else "今天"
        parts.append(f"受理日期 {first} 至 {last}")
    if filters.words:
        parts.append(f"关键词「{filters.words}」")
    return "，".join(parts)


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
        named = {**grid.worker_names, **grid.leader_names}
        names.update({cid: name for cid, name in named.items() if cid in ids})
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


def ticket_number(request: Request, number: str) -> int:
    """The ticket number in an address (``12`` or ``#12``); a 404 page for anything else."""
    digits = number.removeprefix("#")
    if not (digits.isascii() and digits.isdigit() and len(digits) <= 9):
        root = console_of(request).root
        raise PageError(404, "没有这个工单", f"工单编号是数字，例如 {root}/tickets/12。")
    return int(digits)


@router.get("/tickets/{number}")
def ticket_detail(
    request: Request, number: str, viewer: Annotated[Viewer, Depends(current_viewer)]
) -> Response:
    ticket_id = ticket_number(request, number)
    page = f"{console_of(request).root}/tickets/{ticket_id}"
    return flash.shown(
        request, viewer, page, lambda done: detail_page(request, viewer, ticket_id, done=done)
    )


def detail_page(
    request: Request,
    viewer: Viewer,
    ticket_id: int,
    *,
    done: str | None = None,
    failed: Failure | None = None,
    status: int = 200,
) -> Response:
    """Ticket ``ticket_id``'s page as ``viewer`` may see it: what an action just did
    (``done``), or why it was refused (``failed``, answered with ``status``)."""
    console = console_of(request)
    settings, now = console.settings, console.clock.now()
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
        forms = _forms(session, viewer, settings, ticket)
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
            "done": done,
            "failed": failed,
            # a refusal of what the page no longer offers (a second 办结) is said at the top
            "failed_above": failed is not None
            and ACTION_SLUGS[failed.action] not in dict(forms["actions"]),
            **forms,
        },
        status=status,
    )


def _forms(session: Session, viewer: Viewer, settings: Settings, ticket: Ticket) -> dict[str, Any]:
    """What the action forms offer: the actions ``viewer`` may take now, whom to assign to,
    the categories, the tickets of the grid to merge into."""
    allowed = domain_tickets.actions(viewer.actor, ticket)
    people: list[dict[str, Any]] = []
    if Action.ASSIGN in allowed:
        offered = domain_tickets.assignees(session, settings, ticket.grid_code)
        counts = Counter(a.name for a in offered)
        people = [
            {
                "id": a.contact_id,
                # two people of one name are told apart by their ids
                "name": shown(viewer.actor, a.name)
                + (f"（{a.contact_id}）" if counts[a.name] > 1 and a.name != a.contact_id else ""),
                "staff": a.staff,
            }
            for a in offered
        ]
    targets: list[dict[str, Any]] = []
    if Action.MERGE in allowed:
        found = search(
            session=session,
            query=TicketQuery(grids=(ticket.grid_code,), statuses=ACTIVE, sort=Sort.NEWEST),
            offset=0,
            limit=MERGE_SUGGESTIONS + 1,
        )
        targets = [
            {"id": t.id, "text": _snippet(shown(viewer.actor, t.text))}
            for t in found.tickets
            if t.id != ticket.id
        ][:MERGE_SUGGESTIONS]
    return {
        "actions": [(ACTION_SLUGS[a], a.value) for a in allowed],
        "assignees": people,
        "category_choices": {code: c.name for code, c in categories(settings).items()},
        "category_code": ticket.category,
        "merge_targets": targets,
        "max_chars": MAX_MESSAGE_CHARS,
    }
