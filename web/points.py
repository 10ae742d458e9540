"""积分: a grid's ranking, a resident's ledger (every entry: when, how many, the balance it
left, who gave it and why), the redemption orders waiting for 核销, a form to award or deduct
points, and the 积分台账 as Excel.

The writes go through domain/points.py, the code of the chat's /加分, /扣分 and /核销: the
same rules, caps and rights, the same group messages, queued into the outbox in the same
transaction. A form is answered with a redirect to the page it came from, which says what
was done; a refusal is the domain's sentence, the page again with it beside the form.

An award form carries a one-off key: the same form posted twice (a double click, a reload
that posts again) records once, as a chat message delivered twice does. A leader sees his
own grids only, residents and orders typed into the address bar included; an
administrator sees every grid.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Mapping, Sized
from dataclasses import asdict, dataclass, replace
from datetime import date, datetime, time, timedelta
from io import BytesIO
from typing import Annotated, Any, TypeVar
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Request
from pydantic import BaseModel
from sqlmodel import Session
from starlette.responses import RedirectResponse, Response

from bot.settings import GridSettings, Settings
from domain import points as domain_points
from domain.errors import DomainError, Invalid, NotAllowed, NotFound
from domain.points import AWARD, PENALTY, Asked, Givers, Way, kind_name, rule_caps, rules_in
from storage import points as point_store
from storage import redemption
from storage.models import Member
from web import flash, workbook
from web import points_ledger as ledger
from web.auth import Viewer, check_csrf, current_viewer
from web.base import (
    PageError,
    audit,
    committed,
    console_of,
    download,
    page_number,
    render,
    status_of,
)
from web.labels import local_time, shown
from web.tickets import PAGE_SIZE, read_day

__all__ = ["router"]

router = APIRouter()

WORDS_CHARS = 30
_NONCE = re.compile(r"^[A-Za-z0-9_-]{16,32}$")
_Rows = TypeVar("_Rows", bound=Sized)


def _pages(total: int) -> int:
    return max(1, (total - 1) // PAGE_SIZE + 1)


def _paged(fetch: Callable[[int], tuple[int, _Rows]], page: int) -> tuple[int, int, _Rows]:
    """Page ``page`` of what ``fetch(offset)`` reads (how many in all, and the rows): the
    last page for a page past it."""
    total, rows = fetch((page - 1) * PAGE_SIZE)
    if not rows and total:
        page = _pages(total)
        total, rows = fetch((page - 1) * PAGE_SIZE)
    return page, total, rows


def _not_his(viewer: Viewer, what: str, exc: NotFound | NotAllowed, missing: str) -> PageError:
    """The page a refusal of ``what`` ends in: 404 for nothing there (``missing`` its title),
    403 (logged) for another grid's."""
    if isinstance(exc, NotFound):
        return PageError(404, missing, exc.reply)
    audit.warning("web: %s refused %s: not his grid", viewer.actor.contact_id, what)
    return PageError(403, "无权查看", exc.reply)


def _refuse(viewer: Viewer, what: str, grid_code: str) -> PageError:
    return _not_his(
        viewer,
        f"{what} of grid {grid_code}",
        NotAllowed("这不是你负责的网格。后台只显示你负责的网格的积分。"),
        "",
    )


def _visible(viewer: Viewer, settings: Settings) -> list[GridSettings]:
    return [g for g in settings.grids if viewer.actor.may_act_on(g.code)]


def _chosen_grid(
    params: Mapping[str, str], viewer: Viewer, settings: Settings, what: str, problems: list[str]
) -> GridSettings:
    """The grid a page is about: the one asked for (another's a 403 page), else the first of
    the viewer's."""
    code = params.get("grid", "").strip()
    if code:
        grid = settings.grid(code)
        if grid is None:
            problems.append(f"没有这个网格「{code[:20]}」，已显示你负责的网格")
        elif not viewer.actor.may_act_on(grid.code):
            raise _refuse(viewer, what, grid.code)
        else:
            return grid
    visible = _visible(viewer, settings)
    if not visible:
        raise PageError(403, "无权查看", "你没有负责的网格。")
    return visible[0]


def _member(session: Session, viewer: Viewer, member_id: int, what: str) -> Member:
    """Resident ``member_id`` if the viewer may see them: a 404 or 403 page otherwise."""
    try:
        return domain_points.find_member(session, viewer.actor, member_id)
    except (NotFound, NotAllowed) as exc:
        raise _not_his(viewer, f"{what} of member {member_id}", exc, "没有这位居民") from exc


def _number(text: str, missing: str, hint: str) -> int:
    """The number in an address (``12``, or ``#12``); a 404 page for anything else."""
    digits = text.removeprefix("#")
    if not (digits.isascii() and digits.isdigit() and len(digits) <= 9):
        raise PageError(404, missing, hint)
    return int(digits)


def _resident_number(text: str) -> int:
    return _number(text, "没有这位居民", "居民编号是数字。请从积分排行里点开居民。")


def _orders(
    session: Session, viewer: Viewer, settings: Settings, **which: Any
) -> tuple[int, list[dict[str, Any]]]:
    total, found = redemption.waiting(session=session, **which)
    return total, [
        {
            "id": order.id,
            "item": order.item_name,
            "points": order.points,
            "name": shown(viewer.actor, name),
            "member": order.member_id,
            "at": local_time(order.created_at, settings.tz),
        }
        for order, name in found
    ]


def _done(request: Request, viewer: Viewer, page: str, text: str, query: str = "") -> Response:
    """Back to ``page`` (a path; ``query`` its query string), which says ``text`` once: a
    reload must not post the form again."""
    response = RedirectResponse(f"{page}?{query}" if query else page, status_code=303)
    flash.remember(request, response, viewer, page, text)
    return response


def _dates(console_today: date) -> dict[str, str]:
    """The days the 积分台账 form offers: this month."""
    return {"month_start": console_today.replace(day=1).isoformat(), "today": str(console_today)}


# --- the ranking and the orders waiting ---


@router.get("/points")
def ranking(request: Request, viewer: Annotated[Viewer, Depends(current_viewer)]) -> Response:
    console = console_of(request)
    settings = console.settings
    params = request.query_params
    problems: list[str] = []
    grid = _chosen_grid(params, viewer, settings, "the points ranking", problems)
    words = " ".join("".join(c for c in params.get("q", "") if c.isprintable()).split())
    words = words[:WORDS_CHARS]
    with console.db.session() as session:
        page, total, found = _paged(
            lambda offset: point_store.standings(
                session=session, grid_code=grid.code, words=words, offset=offset, limit=PAGE_SIZE
            ),
            page_number(params.get("page", "")),
        )
        waiting, _none = redemption.waiting(session=session, grid_code=grid.code, limit=0)

    def link(**changes: Any) -> str:
        """The address of this ranking's page ``page`` (first, by default)."""
        values = {"grid": grid.code, "q": words} | changes
        return urlencode({key: value for key, value in values.items() if value})

    return render(
        request,
        "points.html",
        {
            "title": "积分",
            "viewer": viewer,
            "nav": "points",
            "tab": "ranking",
            "grid": grid,
            "grids": _visible(viewer, settings),
            "problems": problems,
            "words": words,
            "rows": [asdict(s) | {"name": shown(viewer.actor, s.name)} for s in found],
            "total": total,
            "page": page,
            "pages": _pages(total),
            "link": link,
            "first": (page - 1) * PAGE_SIZE + 1,
            "waiting": waiting,
            **_dates(console.clock.now().astimezone(settings.tz).date()),
        },
    )


@router.get("/points/orders")
def orders(request: Request, viewer: Annotated[Viewer, Depends(current_viewer)]) -> Response:
    return _orders_page(request, viewer)


def _orders_page(
    request: Request,
    viewer: Viewer,
    grid_code: str | None = None,
    refused: DomainError | None = None,
) -> Response:
    """A grid's orders waiting for 核销; after a refused 核销, ``grid_code``'s, with why."""
    console = console_of(request)
    settings = console.settings
    params: Mapping[str, str] = request.query_params if grid_code is None else {"grid": grid_code}
    problems: list[str] = []
    grid = _chosen_grid(params, viewer, settings, "the orders", problems)
    with console.db.session() as session:
        page, total, rows = _paged(
            lambda offset: _orders(
                session, viewer, settings, grid_code=grid.code, offset=offset, limit=PAGE_SIZE
            ),
            page_number(params.get("page", "")),
        )
    path = f"{console.root}/points/orders"
    done = flash.read(request, viewer, path) if refused is None else None
    response = render(
        request,
        "points_orders.html",
        {
            "title": "待核销的兑换",
            "viewer": viewer,
            "nav": "points",
            "tab": "orders",
            "grid": grid,
            "grids": _visible(viewer, settings),
            "problems": problems,
            "orders": rows,
            "waiting": total,
            "total": total,
            "page": page,
            "pages": _pages(total),
            "link": lambda **changes: urlencode({"grid": grid.code} | changes),
            "first": (page - 1) * PAGE_SIZE + 1,
            "done": done,
            "failed": refused.reply if refused else None,
        },
        status=status_of(refused) if refused else 200,
    )
    if done is not None:
        flash.forget(request, response)
    return response


class RedeemForm(BaseModel):
    """A 核销 button's form: its CSRF token, and "resident" in ``back`` when it is on the
    resident's page (the answer goes back there)."""

    csrf: str | None = None
    back: str = ""


@router.post("/points/orders/{number}/redeem")
def redeem(
    request: Request,
    number: str,
    viewer: Annotated[Viewer, Depends(current_viewer)],
    form: Annotated[RedeemForm, Form()],
) -> Response:
    """核销: the same as /核销 in the group, which hears the same message."""
    check_csrf(request, viewer, form.csrf)
    back = form.back
    order_id = _number(number, "没有这个兑换单", "单号是数字，例如 12。")
    console = console_of(request)
    settings, now, who = console.settings, console.clock.now(), viewer.actor.contact_id
    with console.db.session() as session:
        try:
            order = domain_points.find_order(session, viewer.actor, order_id, "核销")
        except (NotFound, NotAllowed) as exc:
            raise _not_his(viewer, f"核销 of order {order_id}", exc, "没有这个兑换单") from exc
        grid_code, member_id = order.grid_code, order.member_id
        closed = committed(
            session,
            now,
            lambda: domain_points.redeem(session, settings, viewer.actor, order_id, now=now),
        )
    if isinstance(closed, DomainError):
        refused = closed
        audit.warning("web: %s refused 核销 of order %d: %s", who, order_id, type(refused).__name__)
        if back == "resident":
            return _resident_page(request, viewer, member_id, Said(refused=refused))
        return _orders_page(request, viewer, grid_code, refused)
    audit.info("web: %s did 核销 of order %d in %s", who, order_id, grid_code)
    if back == "resident":
        return _done(
            request, viewer, f"{console.root}/points/residents/{member_id}", closed.confirmation
        )
    query = urlencode({"grid": grid_code})
    return _done(request, viewer, f"{console.root}/points/orders", closed.confirmation, query)


# --- a resident's ledger, and points given on the page ---


class AwardForm(BaseModel):
    """The award form as posted: its CSRF token and one-off key, the rule chosen ("rule:"
    and its code) or "award"/"penalty" by an amount, the amount and the reason."""

    csrf: str | None = None
    nonce: str = ""
    what: str = ""
    amount: str = ""
    reason: str = ""


@dataclass(frozen=True)
class Said:
    """What a resident's page says: its page of the ledger, what was just done, or a
    refusal: of the award form beside it, with what was typed (``typed``), of anything else
    (a 核销) at the top."""

    page: int = 1
    done: str | None = None
    refused: DomainError | None = None
    typed: Mapping[str, str] | None = None


def _giver(givers: Givers, viewer: Viewer, actor_id: str | None, grid: str, kind: str) -> str:
    name, role = givers.of(actor_id, grid, kind)
    name = shown(viewer.actor, name)
    return name if name == role else f"{name}（{role}）"


def _rule_choices(settings: Settings, grid_code: str) -> dict[str, list[tuple[str, str]]]:
    """The award form's rules, of the resident's grid: (value, label) by kind."""
    choices: dict[str, list[tuple[str, str]]] = {"award": [], "penalty": []}
    for code, rule in rules_in(settings, grid_code).items():
        sign = "+" if rule.kind == "award" else "-"
        label = f"{rule.name} {sign}{rule.points}{rule_caps(rule)}"
        choices[rule.kind].append((f"rule:{code}", label))
    return choices


@router.get("/points/residents/{number}")
def resident(
    request: Request, number: str, viewer: Annotated[Viewer, Depends(current_viewer)]
) -> Response:
    member_id = _resident_number(number)
    page = f"{console_of(request).root}/points/residents/{member_id}"
    done = flash.read(request, viewer, page)
    said = Said(page=page_number(request.query_params.get("page", "")), done=done)
    response = _resident_page(request, viewer, member_id, said)
    if done is not None:
        flash.forget(request, response)
    return response


def _entries(
    session: Session, viewer: Viewer, settings: Settings, member_id: int, page: int
) -> tuple[int, int, list[dict[str, Any]]]:
    """Page ``page`` of a member's ledger, as the page shows it."""
    givers = Givers(session, settings)
    page, count, lines = _paged(
        lambda offset: (
            point_store.entry_count(session=session, member_id=member_id),
            point_store.ledger(
                session=session, member_id=member_id, offset=offset, limit=PAGE_SIZE
            ),
        ),
        page,
    )
    rules = settings.points.rules
    return (
        page,
        count,
        [
            {
                "at": local_time(line.entry.at, settings.tz),
                "delta": line.entry.delta,
                "balance": line.balance,
                "kind": kind_name(line.entry.kind),
                # a rule removed from the config since still shows its code
                "rule": rules[code].name if (code := line.entry.rule_code or "") in rules else code,
                "reason": shown(viewer.actor, line.entry.reason),
                "order": line.entry.order_id,
                "who": _giver(
                    givers, viewer, line.entry.actor_id, line.entry.grid_code, line.entry.kind
                ),
            }
            for line in lines
        ],
    )


def _resident_page(request: Request, viewer: Viewer, member_id: int, said: Said) -> Response:
    console = console_of(request)
    settings = console.settings
    with console.db.session() as session:
        member = _member(session, viewer, member_id, "the ledger")
        totals = point_store.totals(session=session, member_id=member_id)
        page, count, entries = _entries(session, viewer, settings, member_id, said.page)
        waiting, orders_rows = _orders(session, viewer, settings, member_id=member_id, limit=50)
    grid = settings.grid(member.grid_code)
    caps = settings.points.caps
    name = shown(viewer.actor, member.display_name)
    return render(
        request,
        "points_resident.html",
        {
            "title": f"积分明细 · {name}",
            "viewer": viewer,
            "nav": "points",
            "member": {
                "id": member_id,
                "name": name,
                "grid": grid.name if grid is not None else member.grid_code,
                "grid_code": member.grid_code,
                "balance": totals.balance,
                "earned": totals.earned,
            },
            "entries": entries,
            "total": count,
            "page": page,
            "pages": _pages(count),
            "pager_link": lambda **changes: urlencode(changes),
            "orders": orders_rows,
            "waiting": waiting,
            "rules": _rule_choices(settings, member.grid_code),
            "max_award": caps.award.per_command,
            "max_penalty": caps.penalty.per_command,
            "reason_chars": domain_points.REASON_CHARS,
            "nonce": secrets.token_urlsafe(16),
            "done": said.done,
            "refused": said.refused.reply if said.refused else None,
            "typed": said.typed if said.refused else None,
            **_dates(console.clock.now().astimezone(settings.tz).date()),
        },
        status=status_of(said.refused) if said.refused else 200,
    )


def _way(settings: Settings, what: str, amount: str) -> tuple[Way, str]:
    """The way and the word for domain_points.award, from the form's choice: a rule (which
    says the way), or an amount given or taken."""
    if what.startswith("rule:"):
        code = what.removeprefix("rule:")
        rule = settings.points.rules.get(code)
        if rule is None:
            raise Invalid("没有这个积分规则，请从列表中选择。")
        return (AWARD if rule.kind == "award" else PENALTY), code
    if what in ("award", "penalty"):
        if not amount.strip():
            raise Invalid("请填写分值。")
        return (AWARD if what == "award" else PENALTY), amount.strip()
    raise Invalid("请选择积分规则，或选择按分值加分、扣分。")


@router.post("/points/residents/{number}/award")
def give(
    request: Request,
    form: Annotated[AwardForm, Form()],
    number: str,
    viewer: Annotated[Viewer, Depends(current_viewer)],
) -> Response:
    """加分 or 扣分 to one resident: the same as /加分, /扣分 @them in the group."""
    check_csrf(request, viewer, form.csrf)
    member_id = _resident_number(number)
    if not _NONCE.match(form.nonce):
        raise PageError(400, "请求无效", "页面已过期。请刷新积分明细页面后重新操作。")
    console = console_of(request)
    settings, now, who = console.settings, console.clock.now(), viewer.actor.contact_id
    typed = {"what": form.what[:64], "amount": form.amount[:12], "reason": form.reason[:200]}
    with console.db.session() as session:
        member = _member(session, viewer, member_id, "an award")
        asked = Asked(viewer.actor, member.grid_code, [member], now, key=f"web:{form.nonce}")

        def award() -> domain_points.Awarded:
            way, word = _way(settings, form.what, form.amount)
            return domain_points.award(
                session, settings, asked, way=way, word=word, reason=form.reason
            )

        awarded = committed(session, now, award)
    if isinstance(awarded, DomainError):
        refused = awarded
        audit.warning(
            "web: %s refused points to member %d (%s): %s",
            who,
            member_id,
            typed["what"],
            type(refused).__name__,
        )
        return _resident_page(request, viewer, member_id, Said(refused=refused, typed=typed))
    for posted in awarded.posted:
        audit.info(
            "web: %s gave %+d (%s %s) to %s in %s: balance %d",
            who,
            awarded.delta,
            awarded.kind.value,
            awarded.rule_code or "-",
            posted.member.contact_id,
            posted.member.grid_code,
            posted.balance,
        )
    page = f"{console.root}/points/residents/{member_id}"
    return _done(request, viewer, page, awarded.confirmation)


# --- the 积分台账 ---


@dataclass(frozen=True)
class LedgerFilters:
    """Which entries a 积分台账 holds: a grid's (None: every grid the viewer sees), one
    resident's, of the days from ``first`` to ``last`` (both included, local)."""

    grid: str | None = None
    member_id: int | None = None
    first: date | None = None
    last: date | None = None


def _ledger_filters(request: Request, viewer: Viewer) -> LedgerFilters:
    """The filters of a download; a file of other entries than asked for would mislead, so
    what can't be read is an error page, not dropped, and another's grid a 403 page."""
    params, settings = request.query_params, console_of(request).settings
    problems: list[str] = []
    grid = params.get("grid", "").strip() or None
    if grid is not None and settings.grid(grid) is None:
        raise PageError(404, "没有这个网格", f"没有编码为「{grid[:20]}」的网格。")
    if grid is not None and not viewer.actor.may_act_on(grid):
        raise _refuse(viewer, "the points ledger", grid)
    resident_text = params.get("resident", "").strip()
    member_id = _resident_number(resident_text) if resident_text else None
    first = read_day(params.get("from", "").strip(), "开始日期", problems)
    last = read_day(params.get("to", "").strip(), "结束日期", problems)
    if problems:
        raise PageError(400, "请求有误", f"{problems[0]}。请回到积分页面重新选择日期。")
    if first and last and first > last:
        first, last = last, first
    return LedgerFilters(grid, member_id, first, last)


def _start(day: date, settings: Settings) -> datetime:
    return datetime.combine(day, time.min, tzinfo=settings.tz)


def _described(scope: str, filters: LedgerFilters, resident_name: str | None) -> str:
    """The filters in words, for the 台账's 说明 sheet."""
    first = filters.first.isoformat() if filters.first else "最早"
    last = filters.last.isoformat() if filters.last else "最近"
    dates = f"记账日期 {first} 至 {last}"
    return "，".join(x for x in (scope, resident_name and f"居民 {resident_name}", dates) if x)


@router.get("/points.xlsx")
def points_ledger(request: Request, viewer: Annotated[Viewer, Depends(current_viewer)]) -> Response:
    """积分台账: every entry the filters find (grid, resident, dates), oldest first."""
    filters = _ledger_filters(request, viewer)
    console = console_of(request)
    settings, now = console.settings, console.clock.now()
    out = BytesIO()
    with console.db.session() as session:
        name = None
        if filters.member_id is not None:
            member = _member(session, viewer, filters.member_id, "the points ledger")
            filters = replace(filters, grid=member.grid_code)
            name = shown(viewer.actor, member.display_name)
        grid = settings.grid(filters.grid) if filters.grid else None
        mine = "全部网格" if viewer.actor.is_admin else "我负责的网格"
        query = point_store.LedgerQuery(
            grids=(
                frozenset({filters.grid})
                if filters.grid
                else None
                if viewer.actor.is_admin
                else viewer.actor.grids
            ),
            member_id=filters.member_id,
            since=_start(filters.first, settings) if filters.first else None,
            until=_start(filters.last + timedelta(days=1), settings) if filters.last else None,
        )
        count = ledger.write(
            out,
            point_store.each_entry(session=session, query=query),
            settings=settings,
            givers=Givers(session, settings),
            masked=not viewer.actor.is_admin,
            now=now,
            about=[
                ("导出人", f"{viewer.name}（{viewer.role_label}）"),
                ("筛选条件", _described(grid.name if grid else mine, filters, name)),
            ],
        )
    audit.info(
        "web: %s exported %d points entr%s as Excel (%s)",
        viewer.actor.contact_id,
        count,
        "y" if count == 1 else "ies",
        urlencode({k: v for k, v in request.query_params.items() if v}) or "no filter",
    )
    return download(
        out.getvalue(),
        workbook.MEDIA_TYPE,
        ledger.file_name(now, settings.tz),
        fallback=f"points-{now:%Y%m%d-%H%M}.xlsx",
    )
