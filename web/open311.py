"""Open311 GeoReport v2, read only and in JSON: the grids' tickets as the service requests a
12345 or 平安 platform already knows how to pull (http://wiki.open311.org/GeoReport_v2).

- ``/open311/v2/services.json``: the categories of config/categories.yaml as services.
- ``/open311/v2/requests.json``: ``service_request_id``, ``service_code``, ``status``,
  ``start_date``, ``end_date`` (W3C datetimes), each list comma-delimited, as the spec has
  them; at most :data:`MAX_REQUESTS` requests, newest first, of at most 90 days (the last 90
  days when no date is given).
- ``/open311/v2/requests/{id}.json``: one request, in an array as the spec has it.

An API key (storage/api_keys.py) is required, in the spec's ``api_key`` parameter or in the
headers /api/v1/ takes; a missing or wrong one is a 403, as the spec says. A key of some grids
reads those only: another grid's request is not found (404). Errors are the spec's array of
``{"code", "description"}``. ``jurisdiction_id`` is accepted and ignored (one street).

Statuses: GridBot's 待派单 (open), 处置中 (assigned) and 已上报 (escalated) are ``open``; 已办结
(resolved, awaiting the rating), 已归档 (archived), 已驳回 (dismissed) and 已合并 (merged) are
``closed``, with ``status_notes`` saying which and why. Residents' phone and ID numbers are
masked; no reporter is named.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta, tzinfo
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Header, Query, Request
from fastapi.exceptions import RequestValidationError
from sqlalchemy import func
from sqlmodel import Session, col, select
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse, Response

from bot.settings import Settings
from domain.ticket_stats import DONE
from nlp.privacy import mask_personal
from storage.models import Ticket, TicketEvent, TicketStatus
from storage.ticket_search import Sort, TicketQuery, search
from storage.tickets import ACTIVE
from web.api import ApiClient, KeyRefused, authorise, presented_key
from web.base import Console, audit, console_of
from web.labels import STATUSES, categories, category_name

__all__ = ["CLOSED", "OPEN", "create_open311"]

router = APIRouter()

OPEN: tuple[str, ...] = ACTIVE
CLOSED: tuple[str, ...] = (*DONE, TicketStatus.DISMISSED, TicketStatus.MERGED)
MAX_REQUESTS = 1000
SPAN = timedelta(days=90)
DESCRIPTION_CHARS = 4000  # the spec's most
_MAX_IDS = 1000
_KEYWORDS = 12

# What the spec's `group` and `description` say of each of the seven category codes (they
# are fixed: tickets and reports use them); a category of another code gets its name.
GROUPS = {
    "environment": "城市管理",
    "facility": "城市管理",
    "dispute": "矛盾纠纷",
    "safety": "安全隐患",
    "security": "社会治安",
    "assistance": "民生服务",
    "consult": "政策咨询",
}
DESCRIPTIONS = {
    "environment": "垃圾清运、卫生死角、污水异味、噪声扰民、乱堆乱放等",
    "facility": "路灯、电梯、水电气、道路井盖、门禁等公共设施损坏和报修",
    "dispute": "邻里纠纷、物业纠纷、停车占道、漏水扰民等矛盾纠纷",
    "safety": "消防通道堵塞、楼道堆物、电动车违规充电、危房危墙等安全隐患",
    "security": "偷盗、诈骗、可疑人员、打架斗殴等治安问题",
    "assistance": "独居老人、困难群众、残疾人等需要关心帮扶的诉求",
    "consult": "医保、社保、证照办理等政策咨询",
}

_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
# a building named in a report: the most specific part of an address GridBot knows
_BUILDING = re.compile(r"(?<![0-9])([0-9]{1,3}|[一二三四五六七八九十]{1,3})(?:号楼|栋|幢|号院)")


class Open311Error(Exception):
    """An error as the spec answers it: an HTTP status and the array of errors."""

    def __init__(self, status: int, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.description = description


class _Json(JSONResponse):
    media_type = "application/json; charset=utf-8"  # as the spec asks


def _errors(status: int, *descriptions: str) -> Response:
    return _Json([{"code": status, "description": d} for d in descriptions], status_code=status)


def _client(
    request: Request, api_key: str | None, authorization: str | None, header: str | None
) -> ApiClient:
    try:
        return authorise(request, presented_key(authorization, header, api_key), where="open311")
    except KeyRefused as exc:
        raise Open311Error(403, f"{exc.reason}（api_key）") from exc


KeyParam = Annotated[str | None, Query(description="API 密钥")]
AuthHeader = Annotated[str | None, Header(include_in_schema=False)]


def _authorised(
    request: Request,
    api_key: KeyParam = None,
    jurisdiction_id: str | None = None,  # accepted and ignored: one street
    authorization: AuthHeader = None,
    x_api_key: AuthHeader = None,
) -> ApiClient:
    """Every endpoint's key, from the parameter or a header (the spec's ``api_key``)."""
    return _client(request, api_key, authorization, x_api_key)


Client = Annotated[ApiClient, Depends(_authorised)]


def _w3c(moment: datetime, tz: tzinfo) -> str:
    """A W3C datetime with its offset (2026-11-22T09:00:00+08:00), in the grids' time zone."""
    return moment.astimezone(tz).isoformat(timespec="seconds")


def _read_time(text: str, what: str, tz: tzinfo, *, end: bool = False) -> datetime:
    """A W3C datetime (or date) as the spec's parameters carry it; one without an offset is
    taken to be the grids' local time, a date alone as its first moment (its last for an
    ``end``: the day is included)."""
    value = text.strip()
    if end and _DATE.match(value):
        return _read_time(value, what, tz) + timedelta(days=1, microseconds=-1)
    try:
        moment = datetime.fromisoformat(value[:-1] + "+00:00" if value.endswith("Z") else value)
    except ValueError:
        raise Open311Error(
            400, f"{what} 不是 W3C 日期时间（例如 2026-11-01T00:00:00+08:00）"
        ) from None
    if not 2000 <= moment.year <= 2099:
        raise Open311Error(400, f"{what} 超出范围（2000–2099 年）")
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=tz)


def _listed(text: str | None) -> list[str]:
    return [part.strip() for part in (text or "").split(",") if part.strip()]


@router.get("/services.json")
def services(request: Request, client: Client) -> Response:
    settings = console_of(request).settings
    listed = []
    for code, category in categories(settings).items():
        terms = sorted(category.terms().items(), key=lambda item: (-item[1], item[0]))
        listed.append(
            {
                "service_code": code,
                "service_name": category.name,
                "description": DESCRIPTIONS.get(code, category.name),
                "metadata": False,
                "type": "realtime",
                "keywords": ", ".join(term for term, _weight in terms[:_KEYWORDS]),
                "group": GROUPS.get(code, category.name),
            }
        )
    return _Json(listed)


@router.get("/requests.json")
def requests(
    request: Request,
    client: Client,
    *,
    service_request_id: Annotated[str | None, Query(description="工单编号，逗号分隔")] = None,
    service_code: Annotated[str | None, Query(description="类别编码，逗号分隔")] = None,
    status: Annotated[str | None, Query(description="open、closed，逗号分隔")] = None,
    start_date: str | None = None,
    end_date: str | None = None,
) -> Response:
    console = console_of(request)
    settings, now = console.settings, console.clock.now()
    actor = client.actor
    grids = None if actor.is_admin else actor.grids
    if _listed(service_request_id):  # the spec: it overrides every other argument
        query = TicketQuery(grids=grids, ids=_ids(service_request_id), sort=Sort.NEWEST)
    else:
        start, end = _span(start_date, end_date, now, settings.tz)
        query = TicketQuery(
            grids=grids,
            categories=_codes(service_code, settings),
            statuses=_statuses(status),
            created_from=start,
            created_before=end + timedelta(microseconds=1),  # the end is included
            sort=Sort.NEWEST,
        )
    with console.db.session() as session:
        found = search(session=session, query=query, offset=0, limit=MAX_REQUESTS).tickets
        answer = _requests(session, settings, found)
    return _Json(answer)


@router.get("/requests/{number}.json")
def one_request(
    request: Request,
    number: str,
    client: Client,
) -> Response:
    console = console_of(request)
    settings = console.settings
    digits = number.removeprefix("#")
    ticket_id = int(digits) if digits.isascii() and digits.isdigit() and len(digits) <= 9 else None
    missing = Open311Error(404, f"没有编号为 {number[:20]} 的服务请求")
    if ticket_id is None:
        raise missing
    with console.db.session() as session:
        ticket = session.get(Ticket, ticket_id)
        if ticket is None:
            raise missing
        if not client.actor.may_act_on(ticket.grid_code):
            # not found, as for anyone else: what another grid has is none of this key's
            audit.warning("open311: %s refused request %d: not its grid", client.label, ticket_id)
            raise missing
        answer = _requests(session, settings, [ticket])
    return _Json(answer)


def _ids(text: str | None) -> list[int]:
    ids = []
    for part in _listed(text):
        number = part.removeprefix("#")
        if not (number.isascii() and number.isdigit() and len(number) <= 9):
            raise Open311Error(400, f"service_request_id「{part[:20]}」不是工单编号")
        ids.append(int(number))
    if len(ids) > _MAX_IDS:
        raise Open311Error(400, f"service_request_id 一次最多 {_MAX_IDS} 个")
    return ids


def _codes(text: str | None, settings: Settings) -> list[str] | None:
    codes = _listed(text)
    if not codes:
        return None
    unknown = [code for code in codes if code not in categories(settings)]
    if unknown:
        raise Open311Error(400, f"没有这个 service_code：{unknown[0][:32]}（见 services.json）")
    return codes


def _statuses(text: str | None) -> tuple[str, ...] | None:
    asked = _listed(text)
    if not asked:
        return None
    chosen: list[str] = []
    for value in asked:
        if value.lower() not in ("open", "closed"):
            raise Open311Error(400, f"status 只能是 open 或 closed，不是「{value[:20]}」")
        chosen += OPEN if value.lower() == "open" else CLOSED
    return tuple(chosen)


def _span(
    start_text: str | None, end_text: str | None, now: datetime, tz: tzinfo
) -> tuple[datetime, datetime]:
    """The dates asked (the last 90 days when none), checked against the spec's 90 days."""
    start = _read_time(start_text, "start_date", tz) if start_text else None
    end = _read_time(end_text, "end_date", tz, end=True) if end_text else None
    if start is None and end is None:
        return now - SPAN, now
    if start is None:
        assert end is not None
        return end - SPAN, end
    if end is None:
        return start, min(start + SPAN, max(now, start))
    if end < start:
        raise Open311Error(400, "end_date 早于 start_date")
    if end - start > SPAN:
        raise Open311Error(400, "start_date 到 end_date 不能超过 90 天")
    return start, end


def _latest_changes(session: Session, ids: Sequence[int]) -> dict[int, datetime]:
    """When each ticket last changed: its latest event (one query for the whole answer)."""
    if not ids:
        return {}
    rows = session.exec(
        select(TicketEvent.ticket_id, func.max(TicketEvent.at))
        .where(col(TicketEvent.ticket_id).in_(ids))
        .group_by(col(TicketEvent.ticket_id))
    ).all()
    return {ticket_id: at for ticket_id, at in rows if at is not None}


def _dismissals(session: Session, tickets: Iterable[Ticket]) -> dict[int, str]:
    """Why each dismissed ticket was dismissed, as the leader wrote it."""
    ids = [t.id for t in tickets if t.status == TicketStatus.DISMISSED and t.id is not None]
    if not ids:
        return {}
    rows = session.exec(
        select(TicketEvent.ticket_id, TicketEvent.note)
        .where(col(TicketEvent.ticket_id).in_(ids), TicketEvent.action == "dismissed")
        .order_by(col(TicketEvent.id))
    ).all()
    return {ticket_id: note for ticket_id, note in rows if note}  # the last one stays


def _notes(ticket: Ticket, reasons: dict[int, str]) -> str:
    label = STATUSES.get(ticket.status, ticket.status)
    if ticket.status in DONE and ticket.feedback:
        return f"{label}：{mask_personal(ticket.feedback)}"
    if ticket.status == TicketStatus.DISMISSED and ticket.id in reasons:
        return f"{label}：{mask_personal(reasons[ticket.id])}"
    if ticket.status == TicketStatus.MERGED and ticket.merged_into_id is not None:
        return f"重复诉求，已合并到工单 {ticket.merged_into_id}"
    return label


def _address(ticket: Ticket, settings: Settings) -> str:
    """Most specific first, as the spec asks: the building if the report names one, the
    grid, its community."""
    grid = settings.grid(ticket.grid_code)
    parts = []
    building = _BUILDING.search(ticket.text)
    if building is not None:
        parts.append(building.group(0))
    parts.append(grid.name if grid is not None else ticket.grid_code)
    if grid is not None and grid.community and grid.community not in grid.name:
        parts.append(grid.community)
    return "，".join(parts)


def _requests(
    session: Session, settings: Settings, tickets: Sequence[Ticket]
) -> list[dict[str, Any]]:
    tz = settings.tz
    changed = _latest_changes(session, [t.id for t in tickets if t.id is not None])
    reasons = _dismissals(session, tickets)
    answer = []
    for ticket in tickets:
        assert ticket.id is not None
        grid = settings.grid(ticket.grid_code)
        closed = ticket.status not in OPEN
        updated = (ticket.closed_at or ticket.resolved_at) if closed else None
        updated = updated or changed.get(ticket.id) or ticket.created_at
        answer.append(
            {
                "service_request_id": str(ticket.id),
                "status": "closed" if closed else "open",
                "status_notes": _notes(ticket, reasons),
                "service_name": category_name(settings, ticket.category),
                "service_code": ticket.category,
                "description": mask_personal(ticket.text)[:DESCRIPTION_CHARS],
                "agency_responsible": grid.name if grid is not None else ticket.grid_code,
                "requested_datetime": _w3c(ticket.created_at, tz),
                "updated_datetime": _w3c(updated, tz),
                "expected_datetime": _w3c(ticket.due_at, tz),
                "address": _address(ticket, settings),
            }
        )
    return answer


def create_open311(console: Console) -> FastAPI:
    """Open311 as an application of its own, mounted at ``/open311/v2`` by web/app.py: every
    answer, errors included, is the spec's JSON."""
    app = FastAPI(
        title="网格助手 Open311 GeoReport v2", docs_url=None, redoc_url=None, openapi_url=None
    )
    app.state.console = console
    app.include_router(router)

    @app.exception_handler(Open311Error)
    async def spec_error(request: Request, exc: Open311Error) -> Response:
        return _errors(exc.status, exc.description)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        if exc.status_code == 404:
            return _errors(
                404, "没有这个资源（只提供 JSON：services.json、requests.json、requests/{id}.json）"
            )
        return _errors(exc.status_code, str(exc.detail))

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError) -> Response:
        return _errors(400, "请求参数有误")

    return app
