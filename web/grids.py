"""网格: the grids, their groups (connected or not), leaders and last activity, and the bot's
health as `gridbot status` reports it.

What a group's connection is, is what the database knows: the room bound to the grid (by its
topic, the first time the bot saw a message there, or by /绑定), the bot accounts seen in
that room and when each last said it was serving (bot/health.py decides online), and when
anyone last spoke there (a member's ``last_seen``). A leader sees his own grids; an
administrator every grid.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from sqlmodel import col, select
from starlette.responses import Response

from bot import health
from bot.settings import GridSettings, Settings
from domain.grids import Leader, leaders_of
from storage import accounts as account_store
from storage import grids as grid_store
from storage.models import Grid, RoomAccount
from web.auth import Viewer, current_viewer
from web.base import PageError, audit, console_of, known_grid, page_number, render
from web.labels import local_time, shown

__all__ = ["PAGE_SIZE", "router"]

router = APIRouter()

PAGE_SIZE = 20

# `gridbot status`'s checks, as the page names them
CHECKS = {
    "database": "数据库",
    "migrations": "数据库结构",
    "accounts": "微信号",
    "outbox": "待发消息",
    "messages": "收到的消息",
}


@dataclass(frozen=True)
class Filters:
    grid: str | None = None
    unbound: bool = False
    page: int = 1

    def params(self, **changes: Any) -> str:
        chosen = replace(self, **changes)
        values = {
            "grid": chosen.grid,
            "unbound": "1" if chosen.unbound else None,
            "page": str(chosen.page) if chosen.page != 1 else None,
        }
        return urlencode({k: v for k, v in values.items() if v})


def read_filters(params: Mapping[str, str], settings: Settings) -> tuple[Filters, list[str]]:
    problems: list[str] = []
    grid = known_grid(params.get("grid", ""), settings, problems)
    page = page_number(params.get("page", ""))
    unbound = params.get("unbound", "") not in ("", "0")
    return Filters(grid=grid, unbound=unbound, page=page), problems


def _ago(now: datetime, then: datetime | None) -> str:
    """`3 分钟前`, `2 小时前`, `5 天前`: how long ago, as a person says it."""
    if then is None:
        return ""
    seconds = max(0, int((now - then).total_seconds()))
    if seconds < 120:
        return "刚刚"
    if seconds < 2 * 3600:
        return f"{seconds // 60} 分钟前"
    if seconds < 2 * 86400:
        return f"{seconds // 3600} 小时前"
    return f"{seconds // 86400} 天前"


def _leader(viewer: Viewer, leader: Leader) -> dict[str, Any]:
    return {
        # a name from the group may hold a phone number: masked for a leader, as on every page
        "name": shown(viewer.actor, leader.name) if leader.name else "（未命名）",
        "id": leader.contact_id if viewer.actor.is_admin else "",
        "source": "配置" if leader.configured else "/设网格长",
        "seen": leader.seen,
    }


def _accounts(settings: Settings, rows: list[RoomAccount], now: datetime) -> list[dict[str, Any]]:
    return [
        {
            "account": row.account,
            "online": health.online(settings, row.seen_at, now),
            "seen": local_time(row.seen_at, settings.tz),
            "ago": _ago(now, row.seen_at),
            "topic": row.topic or "",
        }
        for row in rows
    ]


def _line(
    grid: GridSettings,
    row: Grid | None,
    *,
    settings: Settings,
    viewer: Viewer,
    now: datetime,
    accounts: list[RoomAccount],
    leaders: list[Leader],
    last: datetime | None,
    members: int,
) -> dict[str, Any]:
    room_id = row.room_id if row is not None else None
    shown_accounts = _accounts(settings, accounts, now)
    if room_id is None:
        state, label = "unbound", "未接入"
    elif not shown_accounts:
        state, label = "bound", "已接入"
    elif any(a["online"] for a in shown_accounts):
        state, label = "online", "已接入 · 在线"
    else:
        state, label = "offline", "已接入 · 微信号离线"
    return {
        "code": grid.code,
        "name": grid.name,
        "community": grid.community or "",
        "topic": grid.room,
        "room_id": room_id or "",
        "state": state,
        "label": label,
        "accounts": shown_accounts,
        "leaders": [_leader(viewer, leader) for leader in leaders],
        "members": members,
        "last": local_time(last, settings.tz),
        "last_ago": _ago(now, last),
    }


def _health(settings: Settings, report: Mapping[str, Any]) -> list[dict[str, Any]]:
    """`gridbot status`'s checks in Chinese, from the report's data (its details are for the
    IT person, in English: shown where the data says nothing)."""
    tz = settings.tz

    def at(text: str | None) -> str:
        return local_time(datetime.fromisoformat(text), tz) if text else ""

    out = []
    for name, label in CHECKS.items():
        check = report["checks"][name]
        ok = bool(check["ok"])
        said = ""
        if name == "database":
            said = "可以连接" if ok else "无法连接：" + check["detail"]
        elif name == "migrations" and "head" in check:
            said = (
                f"已是最新（{check['head']}）"
                if ok
                else f"需要升级（现在 {check['current'] or '无'}，最新 {check['head']}）："
                "请信息化人员运行 gridbot db upgrade"
            )
        elif name == "accounts" and "accounts" in check:
            parts = [
                f"{a['account']} {'在线' if a['online'] else '离线'}（最近 {at(a['last_seen'])}）"
                for a in check["accounts"]
            ]
            said = "；".join(parts) or "最近 7 天没有微信号在这个数据库上运行"
        elif name == "outbox" and "pending" in check:
            said = (
                f"等待发送 {check['pending']} 条，其中超过 {check['late_minutes']} 分钟"
                f"还没发出的 {check['late']} 条"
            )
        elif name == "messages" and "waiting" in check:
            last = at(check["last_handled"])
            said = f"最近处理 {last}" if last else "还没有处理过消息"
            if check["waiting"]:
                said += f"；{check['waiting']} 条收到后很久还没处理"
            elif ok:
                said += "；没有积压"
        out.append({"name": label, "ok": ok, "said": said or check["detail"]})
    return out


@router.get("/grids")
def grid_list(request: Request, viewer: Annotated[Viewer, Depends(current_viewer)]) -> Response:
    console = console_of(request)
    settings, now = console.settings, console.clock.now()
    filters, problems = read_filters(request.query_params, settings)
    actor = viewer.actor
    if filters.grid is not None and not actor.may_act_on(filters.grid):
        audit.warning("web: %s refused grid %s", actor.contact_id, filters.grid)
        raise PageError(403, "无权查看", "这不是你负责的网格。后台只显示你负责的网格。")
    mine = [g for g in settings.grids if actor.may_act_on(g.code)]
    with console.db.session() as session:
        rows = {
            g.code: g
            for g in session.exec(
                select(Grid).where(col(Grid.code).in_([g.code for g in mine]))
            ).all()
        }
        bound = {code for code, row in rows.items() if row.room_id}
        # the groups still to connect first: they are what an administrator acts on
        listed = [g for g in mine if g.code not in bound] + [g for g in mine if g.code in bound]
        if filters.grid is not None:
            listed = [g for g in listed if g.code == filters.grid]
        if filters.unbound:
            listed = [g for g in listed if g.code not in bound]
        total = len(listed)
        pages = max(1, (total - 1) // PAGE_SIZE + 1)
        filters = replace(filters, page=min(filters.page, pages))
        page = listed[(filters.page - 1) * PAGE_SIZE : filters.page * PAGE_SIZE]
        codes = [g.code for g in page]
        room_ids = [r.room_id for c in codes if (r := rows.get(c)) is not None and r.room_id]
        accounts = account_store.room_accounts(session=session, room_ids=room_ids)
        leaders = leaders_of(session, settings, codes)
        last = grid_store.last_seen_by_grid(session=session, grid_codes=codes)
        members = grid_store.member_counts(session=session, grid_codes=codes)
    report = health.report(settings, console.db, now)
    lines = []
    for grid in page:
        row = rows.get(grid.code)
        room_id = row.room_id if row is not None else None
        lines.append(
            _line(
                grid,
                row,
                settings=settings,
                viewer=viewer,
                now=now,
                accounts=accounts.get(room_id, []) if room_id else [],
                leaders=leaders.get(grid.code, []),
                last=last.get(grid.code),
                members=members.get(grid.code, 0),
            )
        )
    return render(
        request,
        "grids.html",
        {
            "title": "网格",
            "viewer": viewer,
            "nav": "grids",
            "filters": filters,
            "problems": problems,
            "choices": mine,
            "lines": lines,
            "total": total,
            "unbound": sum(1 for g in mine if g.code not in bound),
            "pages": pages,
            "healthy": report["healthy"],
            "checks": _health(settings, report),
            "checked": local_time(now, settings.tz),
        },
    )
