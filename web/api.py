"""The JSON API the city's platform (12345, 平安) reads the grids' cases with: `/api/v1/`.

Authorised by an API key (`gridbot api-key create`, storage/api_keys.py) in the
``Authorization: Bearer <key>`` header, or in ``X-API-Key``; an unknown or revoked key is a
401. A key reads the grids it was made for (every grid when none was given), as the console's
rights have it (domain/actor.py): a key of every grid reads as an administrator, a key of some
grids as their leader; another grid's ticket or figures are a 403, by whatever address asked.
Read only: nothing here writes but a key's time of last use.

What residents wrote is read with phone and ID numbers masked, whatever the key; a resident
(anyone, in a timeline) is named by a pseudonymous id, stable for the key and its successors
(:func:`storage.api_keys.pseudonym`), never by a WeChat id or display name.

The schema is FastAPI's, at ``/api/v1/openapi.json``; ``/api/v1/docs`` lists the endpoints
on a page of the console's own (Swagger UI would load its script from a CDN, and offices run
on intranets). The Open311 endpoints (web/open311.py) use the keys checked here.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Path, Query, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field
from sqlmodel import Session, col, select
from starlette.responses import Response

from bot.routing import Role
from bot.settings import Settings
from domain import tickets as domain_tickets
from domain.actor import Actor
from domain.errors import NotAllowed, NotFound
from domain.ticket_stats import DONE, Figures, report
from nlp.privacy import mask_personal
from storage import api_keys
from storage import tickets as ticket_store
from storage.models import ApiKey, Ticket, TicketAttachment
from storage.ticket_search import Sort, TicketQuery, search
from storage.tickets import ACTIVE
from web.base import Console, audit, console_of, render
from web.labels import RATINGS, STATUSES, action_label, categories, category_name
from web.tickets import STATUS_CHOICES

__all__ = ["ApiClient", "KeyRefused", "authorise", "create_api", "presented_key", "router"]

router = APIRouter()

MAX_LIMIT = 200
DEFAULT_LIMIT = 50
MAX_OFFSET = 10_000_000
_FIRST_YEAR, _LAST_YEAR = 2000, 2099

DESCRIPTION = """\
网格助手的只读数据接口，供市级 12345、平安建设等平台拉取各网格的工单（诉求）、网格、类别和统计。

**授权**：每个请求带上 API 密钥（`gridbot api-key create` 生成），放在请求头
`Authorization: Bearer <密钥>` 或 `X-API-Key: <密钥>` 中。密钥无效或已吊销：401。
密钥限定了网格的，只能读这些网格：读其他网格（包括手工输入的工单号）：403。

**隐私**：居民的手机号、身份证号一律打码；居民以匿名编号（`p_` 开头）表示，
同一把密钥（及同名的后续密钥）下始终不变，不含微信号和昵称。

**时间**：ISO 8601，带时区（网格所在时区）。日期参数 `from`、`to` 为本地日期（含两端）。
"""


# --- who is asking ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ApiClient:
    """A platform, as its key lets it read."""

    key: ApiKey
    # the grids it reads, as the console's rights see them: a key of every grid reads as an
    # administrator, one of some grids as their leader (nothing in the API unmasks for either)
    actor: Actor

    @property
    def label(self) -> str:
        """How the audit log names it: never by the key itself."""
        return f"{self.key.name} ({self.key.prefix})"

    def pseudonym(self, contact_id: str | None) -> str | None:
        return None if contact_id is None else api_keys.pseudonym(self.key, contact_id)

    def said(self, text: str | None, ids: Iterable[str | None] = ()) -> str | None:
        """``text`` as the API says it: phone and ID numbers masked, and the contact ids in
        it (``ids``, and any WeChat-made ``wxid_…``) as pseudonyms. A name is a contact id
        where the bot knew no other (someone given a ticket before he ever spoke)."""
        if text is None:
            return None
        clean = mask_personal(text)
        known = {cid for cid in ids if cid and len(cid) >= _MIN_ID_CHARS}
        for cid in sorted(known, key=len, reverse=True):
            for form in {cid, mask_personal(cid)}:
                if form in clean:
                    clean = clean.replace(form, api_keys.pseudonym(self.key, cid))
        return _WXID.sub(lambda found: api_keys.pseudonym(self.key, found.group(0)), clean)


class KeyRefused(Exception):
    """A request whose key opens nothing: none, unknown or revoked."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# what WeChat makes a contact id of (the ids people choose themselves can't be told from
# words: those the ticket knows are replaced by name)
_WXID = re.compile(r"wxid_[A-Za-z0-9_*-]+")
_MIN_ID_CHARS = 4
_BEARER = re.compile(r"^\s*bearer\s+(\S+)\s*$", re.IGNORECASE)


def presented_key(*values: str | None) -> str | None:
    """The first key among ``values`` (an ``Authorization`` header's value, then others as
    they are), or None."""
    for value in values:
        if not value:
            continue
        found = _BEARER.match(value)
        return found.group(1) if found else value.strip()
    return None


_PREFIX = re.compile(rf"^{api_keys.KEY_PREFIX}[A-Za-z0-9_-]{{8}}")


def _shown_prefix(presented: str) -> str:
    """What a log line may say of a key that opened nothing: its prefix if it looks like one
    of ours (the rest is the secret), else nothing of it."""
    found = _PREFIX.match(presented)
    return found.group(0) if found else "(not one of ours)"


def actor_of(key: ApiKey, settings: Settings) -> Actor:
    who = f"api:{key.prefix}"
    if not key.grids:
        return Actor(who, Role.ADMIN, frozenset(grid.code for grid in settings.grids))
    return Actor(who, Role.LEADER, frozenset(key.grids))


def authorise(request: Request, presented: str | None, *, where: str) -> ApiClient:
    """The platform whose key ``presented`` is; :class:`KeyRefused` for anyone else (logged
    on ``gridbot.audit``, naming the key by its prefix only)."""
    console = console_of(request)
    if not presented:
        audit.warning("%s: %s %s refused: no API key", where, request.method, request.url.path)
        raise KeyRefused("缺少 API 密钥")
    with console.db.session() as session:
        check = api_keys.authenticate(session=session, presented=presented, now=console.clock.now())
        session.commit()
    if check.key is None or check.refused is not None:
        named = check.key.prefix if check.key is not None else _shown_prefix(presented)
        audit.warning(
            "%s: %s %s refused: %s key %s",
            where,
            request.method,
            request.url.path,
            (check.refused or api_keys.Refusal.UNKNOWN).value,
            named,
        )
        if check.refused is api_keys.Refusal.REVOKED:
            raise KeyRefused("API 密钥已吊销")
        raise KeyRefused("API 密钥无效")
    return ApiClient(key=check.key, actor=actor_of(check.key, console.settings))


_bearer = HTTPBearer(auto_error=False, description="Authorization: Bearer <API 密钥>")
_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="X-API-Key: <API 密钥>")


def api_client(
    request: Request,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    header: Annotated[str | None, Depends(_header)],
) -> ApiClient:
    try:
        return authorise(
            request, presented_key(bearer.credentials if bearer else None, header), where="api"
        )
    except KeyRefused as exc:
        raise HTTPException(401, exc.reason, headers={"WWW-Authenticate": "Bearer"}) from exc


Client = Annotated[ApiClient, Depends(api_client)]


def _refuse(client: ApiClient, what: str) -> HTTPException:
    audit.warning("api: %s refused %s: not its grid", client.label, what)
    return HTTPException(403, "这把 API 密钥无权读取这个网格")


# --- what is said -----------------------------------------------------------------------------


def local(moment: datetime | None, tz: tzinfo) -> datetime | None:
    return None if moment is None else moment.astimezone(tz)


class TicketOut(BaseModel):
    id: int = Field(description="工单编号")
    grid: str = Field(description="网格编码")
    grid_name: str = Field(description="网格名称")
    category: str = Field(description="类别编码（同 /categories）")
    category_name: str
    urgent: bool = Field(description="紧急")
    status: str = Field(
        description="状态编码：open assigned escalated resolved archived dismissed merged"
    )
    status_name: str = Field(description="状态（中文）")
    overdue: bool = Field(description="超期未办结")
    text: str = Field(description="反映内容（手机号、身份证号已打码）")
    reporter: str = Field(description="首位反映人的匿名编号")
    same_count: int = Field(description="同类诉求（其他反映人数）")
    assignee_name: str | None = Field(description="处理人")
    created_at: datetime = Field(description="受理时间")
    due_at: datetime = Field(description="办理期限")
    escalated_at: datetime | None = Field(description="上报时间")
    resolved_at: datetime | None = Field(description="办结时间（已办结的）")
    closed_at: datetime | None = Field(description="关闭（归档、驳回、合并）时间")
    feedback: str | None = Field(description="办理结果（已打码）")
    rating: str | None = Field(description="居民评价：satisfied basic unsatisfied none")
    rating_name: str | None
    reopen_count: int = Field(description="因不满意重新办理的次数")
    merged_into: int | None = Field(description="合并到的工单编号")


class TicketPage(BaseModel):
    total: int = Field(description="符合条件的工单总数")
    limit: int
    offset: int
    items: list[TicketOut]


class ReporterOut(BaseModel):
    reporter: str = Field(description="匿名编号")
    at: datetime
    first: bool = Field(description="首位反映人")


class AttachmentOut(BaseModel):
    type: str = Field(description="image voice video file")
    at: datetime


class EventOut(BaseModel):
    at: datetime
    action: str = Field(description="事件编码（created assigned resolved …）")
    action_name: str
    by: str | None = Field(description="谁做的（匿名编号）；系统自动为 null")
    by_name: str | None = Field(description="网格长、网格员、街道管理员的称呼；居民为 null")
    from_status: str | None
    to_status: str | None
    note: str | None = Field(description="说明（已打码）")


class TicketDetail(TicketOut):
    reporters: list[ReporterOut]
    attachments: list[AttachmentOut]
    timeline: list[EventOut]
    merged_in: list[int] = Field(description="并入本工单的工单编号")


class GridOut(BaseModel):
    code: str
    name: str
    community: str | None
    tags: list[str]


class CategoryOut(BaseModel):
    code: str
    name: str
    time_limit_hours: int = Field(description="办理期限（小时）")
    urgent_time_limit_hours: int = Field(description="紧急时的办理期限（小时）")


class FiguresOut(BaseModel):
    accepted: int = Field(description="受理")
    done: int = Field(description="已办结")
    working: int = Field(description="办理中")
    dismissed: int = Field(description="驳回")
    on_time: int = Field(description="按时办结")
    done_rate: float | None = Field(description="办结率 = 已办结 / (受理 − 驳回)，0–1")
    on_time_rate: float | None = Field(description="按时办结率 = 按时办结 / 已办结")
    hours_to_resolve: float | None = Field(description="平均办结用时（小时）")
    rated: int = Field(description="已评价")
    satisfied: int = Field(description="满意和基本满意")
    satisfaction: float | None = Field(description="满意率 = (满意 + 基本满意) / 已评价")
    reopened: int = Field(description="重新办理过的工单")


class GridFigures(FiguresOut):
    grid: str
    grid_name: str


class CategoryFigures(FiguresOut):
    category: str
    category_name: str


class WeekFigures(FiguresOut):
    week: date = Field(description="那一周的星期一")


class Statistics(BaseModel):
    first: date = Field(description="第一天（含）")
    last: date = Field(description="最后一天（含）")
    grid: str | None
    total: FiguresOut
    grids: list[GridFigures]
    categories: list[CategoryFigures]
    weeks: list[WeekFigures]


def ticket_out(
    ticket: Ticket,
    settings: Settings,
    client: ApiClient,
    now: datetime,
    known: Iterable[str | None] = (),
) -> TicketOut:
    """``ticket`` as the API says it; ``known``: contact ids its words may hold, besides its
    reporter's and assignee's."""
    tz = settings.tz
    ids = {ticket.reporter_id, ticket.assignee_id, *known}
    grid = settings.grid(ticket.grid_code)
    resolved = ticket.resolved_at if ticket.status in DONE else None
    assert ticket.id is not None
    return TicketOut(
        id=ticket.id,
        grid=ticket.grid_code,
        grid_name=grid.name if grid is not None else ticket.grid_code,
        category=ticket.category,
        category_name=category_name(settings, ticket.category),
        urgent=ticket.urgent,
        status=ticket.status,
        status_name=STATUSES.get(ticket.status, ticket.status),
        overdue=ticket.status in ACTIVE and ticket.due_at <= now,
        text=client.said(ticket.text, ids) or "",
        reporter=api_keys.pseudonym(client.key, ticket.reporter_id),
        same_count=ticket.same_count,
        assignee_name=client.said(ticket.assignee_name, ids),
        created_at=ticket.created_at.astimezone(tz),
        due_at=ticket.due_at.astimezone(tz),
        escalated_at=local(ticket.escalated_at, tz),
        resolved_at=local(resolved, tz),
        closed_at=local(ticket.closed_at, tz),
        feedback=client.said(ticket.feedback, ids),
        rating=ticket.rating,
        rating_name=RATINGS.get(ticket.rating, ticket.rating) if ticket.rating else None,
        reopen_count=ticket.reopen_count,
        merged_into=ticket.merged_into_id,
    )


def _figures(f: Figures) -> dict[str, Any]:
    return {
        "accepted": f.accepted,
        "done": f.done,
        "working": f.working,
        "dismissed": f.dismissed,
        "on_time": f.on_time,
        "done_rate": f.done_rate,
        "on_time_rate": f.on_time_rate,
        "hours_to_resolve": None if f.hours_to_resolve is None else round(f.hours_to_resolve, 2),
        "rated": f.rated,
        "satisfied": f.satisfied,
        "satisfaction": f.satisfaction,
        "reopened": f.reopened,
    }


def staff_names(settings: Settings, grid_code: str) -> dict[str, str]:
    """Who of the grid's people the config names (its leaders, its workers), and the
    administrators: the API names them; residents it does not."""
    names = dict.fromkeys(settings.admins, "街道管理员")
    grid = settings.grid(grid_code)
    if grid is not None:
        names |= dict.fromkeys(grid.workers, "网格员") | dict.fromkeys(grid.leaders, "网格长")
        names |= grid.worker_names | grid.leader_names
    return names


# --- reading the question ---------------------------------------------------------------------


def _day(value: date | None, what: str) -> date | None:
    if value is not None and not _FIRST_YEAR <= value.year <= _LAST_YEAR:
        raise HTTPException(422, f"{what}超出范围（{_FIRST_YEAR}–{_LAST_YEAR} 年）")
    return value


def _start(day: date, tz: tzinfo) -> datetime:
    return datetime.combine(day, time.min, tzinfo=tz)


def _grid_asked(client: ApiClient, settings: Settings, grid: str | None, what: str) -> None:
    if grid is None:
        return
    if not client.actor.may_act_on(grid):
        raise _refuse(client, f"{what} of grid {grid[:32]!r}")
    if settings.grid(grid) is None:
        raise HTTPException(422, f"没有这个网格：{grid[:32]}")


# --- the endpoints ----------------------------------------------------------------------------

GridParam = Annotated[str | None, Query(description="网格编码，例如 G03；不填为密钥能读的全部网格")]
FromParam = Annotated[date | None, Query(alias="from", description="受理日期从（含），YYYY-MM-DD")]
ToParam = Annotated[date | None, Query(alias="to", description="受理日期到（含），YYYY-MM-DD")]


@router.get(
    "/tickets",
    summary="工单列表（分页）",
    description="密钥能读的网格的工单，筛选条件与后台的工单列表相同；"
    "按 limit、offset 分页，total 为符合条件的总数。",
    response_model=TicketPage,
)
def ticket_list(
    request: Request,
    client: Client,
    *,
    grid: GridParam = None,
    status: Annotated[
        str | None,
        Query(
            description="active（办理中）或状态编码 open assigned escalated resolved archived "
            "dismissed merged"
        ),
    ] = None,
    category: Annotated[str | None, Query(description="类别编码，见 /categories")] = None,
    urgent: Annotated[bool, Query(description="只看紧急")] = False,
    overdue: Annotated[bool, Query(description="只看超期未办结")] = False,
    date_from: FromParam = None,
    date_to: ToParam = None,
    sort: Annotated[
        Sort, Query(description="newest 最新受理在前，oldest 最早在前，due 截止时间最近在前")
    ] = Sort.NEWEST,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="每页件数")] = DEFAULT_LIMIT,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET, description="跳过的件数")] = 0,
) -> TicketPage:
    """Tickets of the key's grids, a page at a time (the filters as the console's list)."""
    console = console_of(request)
    settings, now = console.settings, console.clock.now()
    _grid_asked(client, settings, grid, "the ticket list")
    if status is not None and status not in STATUS_CHOICES:
        raise HTTPException(422, f"没有这个状态：{status[:32]}")
    if category is not None and category not in categories(settings):
        raise HTTPException(422, f"没有这个类别：{category[:32]}")
    first, last = _day(date_from, "开始日期"), _day(date_to, "结束日期")
    if first is not None and last is not None and first > last:
        raise HTTPException(422, "开始日期晚于结束日期")
    actor, tz = client.actor, settings.tz
    query = TicketQuery(
        grids=(grid,) if grid is not None else (None if actor.is_admin else actor.grids),
        statuses=STATUS_CHOICES[status][1] if status is not None else None,
        category=category,
        urgent=urgent,
        overdue_at=now if overdue else None,
        created_from=_start(first, tz) if first else None,
        created_before=_start(last + timedelta(days=1), tz) if last else None,
        sort=sort,
    )
    with console.db.session() as session:
        found = search(session=session, query=query, offset=offset, limit=limit)
    return TicketPage(
        total=found.total,
        limit=limit,
        offset=offset,
        items=[ticket_out(t, settings, client, now) for t in found.tickets],
    )


@router.get(
    "/tickets/{ticket_id}",
    summary="一件工单及其全过程",
    description="工单内容、全部反映人（匿名编号）、附件，"
    "以及受理、派单、办结、上报、评价等全过程。其他网格的工单：403。",
    response_model=TicketDetail,
)
def ticket_detail(
    request: Request, client: Client, ticket_id: Annotated[int, Path(description="工单编号")]
) -> TicketDetail:
    """A ticket with its reporters, attachments and whole timeline."""
    console = console_of(request)
    settings, now, tz = console.settings, console.clock.now(), console.settings.tz
    with console.db.session() as session:
        try:
            ticket = domain_tickets.find(session, client.actor, ticket_id)
        except NotFound as exc:
            raise HTTPException(404, f"没有编号为 {ticket_id} 的工单") from exc
        except NotAllowed as exc:
            raise _refuse(client, f"ticket #{ticket_id}") from exc
        return _detail(session, ticket, settings, client, now=now, tz=tz)


def _detail(
    session: Session,
    ticket: Ticket,
    settings: Settings,
    client: ApiClient,
    *,
    now: datetime,
    tz: tzinfo,
) -> TicketDetail:
    assert ticket.id is not None
    events = ticket_store.events(session=session, ticket_id=ticket.id)
    reporters = ticket_store.reporters(session=session, ticket_id=ticket.id)
    attachments = session.exec(
        select(TicketAttachment)
        .where(TicketAttachment.ticket_id == ticket.id)
        .order_by(col(TicketAttachment.id))
    ).all()
    merged_in = session.exec(
        select(Ticket.id).where(Ticket.merged_into_id == ticket.id).order_by(col(Ticket.id))
    ).all()
    staff = staff_names(settings, ticket.grid_code)
    ids = {*staff, *(r.contact_id for r in reporters), *(e.actor_id for e in events)}
    return TicketDetail(
        **ticket_out(ticket, settings, client, now, ids).model_dump(),
        reporters=[
            ReporterOut(
                reporter=api_keys.pseudonym(client.key, r.contact_id),
                at=r.at.astimezone(tz),
                first=r.contact_id == ticket.reporter_id,
            )
            for r in reporters
        ],
        attachments=[AttachmentOut(type=a.type, at=a.at.astimezone(tz)) for a in attachments],
        timeline=[
            EventOut(
                at=e.at.astimezone(tz),
                action=e.action,
                action_name=action_label(e.action),
                by=client.pseudonym(e.actor_id),
                by_name=staff.get(e.actor_id) if e.actor_id else None,
                from_status=e.from_status,
                to_status=e.to_status,
                note=client.said(e.note, ids),
            )
            for e in events
        ],
        merged_in=[n for n in merged_in if n is not None],
    )


@router.get(
    "/grids",
    summary="网格",
    description="密钥能读的网格：编码、名称、所属社区、标签。",
    response_model=list[GridOut],
)
def grid_list(request: Request, client: Client) -> list[GridOut]:
    """The grids the key reads, as the config lists them."""
    settings = console_of(request).settings
    return [
        GridOut(code=g.code, name=g.name, community=g.community, tags=list(g.tags))
        for g in settings.grids
        if client.actor.may_act_on(g.code)
    ]


@router.get(
    "/categories",
    summary="类别",
    description="工单的类别及其办理期限。",
    response_model=list[CategoryOut],
)
def category_list(request: Request, client: Client) -> list[CategoryOut]:
    """The categories tickets are filed under, with their deadlines."""
    settings = console_of(request).settings
    return [
        CategoryOut(
            code=code,
            name=c.name,
            time_limit_hours=c.time_limit_hours,
            urgent_time_limit_hours=c.urgent_time_limit_hours,
        )
        for code, c in categories(settings).items()
    ]


@router.get(
    "/statistics",
    summary="统计（按网格、按类别、按周）",
    description="这段时间受理的工单的受理、办结、办结率、按时办结率、平均办结用时、"
    "满意率、重新办理，合计、按网格、按类别、按周；默认本月。"
    "口径与群里的 /统计、后台的统计页相同。",
    response_model=Statistics,
)
def statistics(
    request: Request,
    client: Client,
    grid: GridParam = None,
    date_from: FromParam = None,
    date_to: ToParam = None,
) -> Statistics:
    """The figures of the tickets opened in the days given (this month by default), with the
    definitions of the chat's /统计 and the console's 统计 page."""
    console = console_of(request)
    settings = console.settings
    tz = settings.tz
    today = console.clock.now().astimezone(tz).date()
    _grid_asked(client, settings, grid, "the statistics")
    # this month by default, as /统计 and the 统计 page; the month of `to` when only it is given
    first = _day(date_from, "开始日期") or (_day(date_to, "结束日期") or today).replace(day=1)
    last = _day(date_to, "结束日期") or max(today, first)
    if first > last:
        raise HTTPException(422, "开始日期晚于结束日期")
    with console.db.session() as session:
        try:
            found = report(
                session,
                settings,
                client.actor,
                _start(first, tz),
                _start(last + timedelta(days=1), tz),
                grid=grid,
            )
        except NotAllowed as exc:  # checked above; the domain's word all the same
            raise _refuse(client, f"the statistics of grid {grid!r}") from exc
    names = {g.code: g.name for g in settings.grids}
    return Statistics(
        first=first,
        last=last,
        grid=grid,
        total=FiguresOut(**_figures(found.total)),
        grids=[
            GridFigures(grid=code, grid_name=names.get(code, code), **_figures(f))
            for code, f in sorted(found.grids.items())
        ],
        categories=[
            CategoryFigures(
                category=code, category_name=category_name(settings, code), **_figures(f)
            )
            for code, f in sorted(found.categories.items())
        ],
        weeks=[WeekFigures(week=monday, **_figures(f)) for monday, f in found.weeks],
    )


# --- the application ---------------------------------------------------------------------------


def create_api(console: Console) -> FastAPI:
    """The API as an application of its own, mounted at ``/api/v1`` by web/app.py: its errors
    are JSON (``{"detail": …}``), not the console's pages, and its schema is its own."""
    api = FastAPI(
        title="网格助手 API",
        version="1",
        description=DESCRIPTION,
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    api.state.console = console
    api.include_router(router)

    @api.get("/docs", include_in_schema=False)
    def docs(request: Request) -> Response:
        return render(
            request,
            "api_docs.html",
            {
                "title": "数据接口说明",
                "endpoints": _endpoints(api.openapi()),
                "base": _base(console),
            },
        )

    return api


def _base(console: Console) -> str:
    return f"{console.settings.web.url}/api/v1"


def _endpoints(schema: dict[str, Any]) -> list[dict[str, Any]]:
    """The schema's operations, as the docs page lists them."""
    listed = []
    for path, methods in schema.get("paths", {}).items():
        for method, operation in methods.items():
            listed.append(
                {
                    "method": method.upper(),
                    "path": path,
                    "summary": operation.get("summary", ""),
                    "description": operation.get("description", ""),
                    "parameters": [
                        {
                            "name": p["name"],
                            "where": {"query": "查询参数", "path": "路径"}.get(p["in"], p["in"]),
                            "required": p.get("required", False),
                            "description": p.get("description", ""),
                        }
                        for p in operation.get("parameters", [])
                    ],
                }
            )
    return listed
