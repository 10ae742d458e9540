"""统计: the figures of a period, in all, per grid and per category, with charts (week by week,
by category, the grids that resolve least) drawn on the server as SVG.

The figures and their definitions are domain/ticket_stats.py's, the chat's /统计 ones: the
same tickets give the same 办结率 in a group and on this page. A leader sees his own grids.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from markupsafe import Markup
from starlette.responses import Response

from bot.settings import Settings
from domain.errors import NotAllowed
from domain.ticket_stats import Figures, Report, percent, report, worst_grids
from web.auth import Viewer, current_viewer
from web.base import PageError, audit, console_of, render
from web.charts import Bar, Series, columns, hbars
from web.labels import category_name
from web.tickets import read_day

__all__ = ["Period", "read_period", "router"]

router = APIRouter()

# a chart of more weeks than this shows the last ones (a year's: 53)
CHART_WEEKS = 53
WORST_GRIDS = 10


@dataclass(frozen=True)
class Period:
    """The days chosen (both included) and the grid, as the address bar has them; what
    could not be read is dropped and said."""

    first: date
    last: date
    grid: str | None = None
    problems: list[str] = field(default_factory=list, compare=False)

    def params(self, **changes: Any) -> str:
        values = {"from": self.first.isoformat(), "to": self.last.isoformat()}
        if self.grid:
            values["grid"] = self.grid
        values.update(changes)
        return urlencode({k: v for k, v in values.items() if v})


def presets(today: date) -> dict[str, tuple[date, date]]:
    """The periods offered by a click: as /统计 本周 and 本月 count them, and more."""
    month = today.replace(day=1)
    last_month = (month - timedelta(days=1)).replace(day=1)
    return {
        "本周": (today - timedelta(days=today.weekday()), today),
        "本月": (month, today),
        "上月": (last_month, month - timedelta(days=1)),
        "今年": (today.replace(month=1, day=1), today),
    }


def read_period(params: Mapping[str, str], settings: Settings, today: date) -> Period:
    """The period in ``params``; this month (as /统计) when none is given."""
    problems: list[str] = []
    first = read_day(params.get("from", "").strip(), "开始日期", problems)
    last = read_day(params.get("to", "").strip(), "结束日期", problems)
    default_first, default_last = presets(today)["本月"]
    first, last = first or default_first, last or max(default_last, first or default_last)
    if first > last:
        problems.append("开始日期晚于结束日期，已对调")
        first, last = last, first
    grid = params.get("grid", "").strip() or None
    if grid is not None and grid not in {g.code for g in settings.grids}:
        problems.append(f"没有这个网格「{grid[:20]}」，已忽略")
        grid = None
    return Period(first=first, last=last, grid=grid, problems=problems)


def _start(day: date, settings: Settings) -> datetime:
    return datetime.combine(day, time.min, tzinfo=settings.tz)


def _hours(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}"


def _line(name: str, f: Figures, link: str | None = None) -> dict[str, Any]:
    return {
        "name": name,
        "link": link,
        "accepted": f.accepted,
        "done": f.done,
        "working": f.working,
        "dismissed": f.dismissed,
        "done_rate": percent(f.done_rate),
        "on_time_rate": percent(f.on_time_rate),
        "hours": _hours(f.hours_to_resolve),
        "satisfaction": percent(f.satisfaction),
        "rated": f.rated,
        "reopened": f.reopened,
    }


def _charts(found: Report, settings: Settings, names: Mapping[str, str]) -> dict[str, Markup]:
    weeks = found.weeks[-CHART_WEEKS:]
    charts = {
        "weeks": columns(
            "逐周受理和办结件数",
            [f"{monday.month}/{monday.day}" for monday, _f in weeks],
            [
                Series("受理", "accepted", [f.accepted for _m, f in weeks]),
                Series("已办结", "done", [f.done for _m, f in weeks]),
            ],
        ),
        "categories": hbars(
            "各类别受理和办结件数",
            [
                Bar(category_name(settings, code), f.accepted, f"{f.accepted} / {f.done}", f.done)
                for code, f in sorted(found.categories.items(), key=lambda i: -i[1].accepted)
            ],
        ),
    }
    worst = worst_grids(found.grids, WORST_GRIDS)
    if len(found.grids) > 1 and worst:
        charts["worst"] = hbars(
            "办结率最低的网格",
            [
                Bar(names.get(code, code), (f.done_rate or 0) * 100, percent(f.done_rate))
                for code, f in worst
            ],
            top=100,
            css="low",
        )
    return charts


@router.get("/stats")
def statistics(request: Request, viewer: Annotated[Viewer, Depends(current_viewer)]) -> Response:
    console = console_of(request)
    settings = console.settings
    today = console.clock.now().astimezone(settings.tz).date()
    period = read_period(request.query_params, settings, today)
    start, end = _start(period.first, settings), _start(period.last + timedelta(days=1), settings)
    with console.db.session() as session:
        try:
            found = report(session, settings, viewer.actor, start, end, grid=period.grid)
        except NotAllowed as exc:
            audit.warning(
                "web: %s refused the statistics of grid %s", viewer.actor.contact_id, period.grid
            )
            raise PageError(403, "无权查看", exc.reply) from exc
    names = {g.code: g.name for g in settings.grids}
    # the list of the grid's tickets of the same days, a click away
    dates = {"from": period.first.isoformat(), "to": period.last.isoformat()}
    grids = [
        _line(names.get(code, code), f, urlencode({"grid": code, **dates}))
        for code, f in sorted(found.grids.items(), key=lambda i: (-i[1].accepted, i[0]))
    ]
    kinds = [
        _line(category_name(settings, code), f, urlencode({"category": code, **dates}))
        for code, f in sorted(found.categories.items(), key=lambda i: (-i[1].accepted, i[0]))
    ]
    return render(
        request,
        "stats.html",
        {
            "title": "统计",
            "viewer": viewer,
            "nav": "stats",
            "period": period,
            "presets": {
                label: Period(first, last, period.grid).params()
                for label, (first, last) in presets(today).items()
            },
            "choices": [g for g in settings.grids if viewer.actor.may_act_on(g.code)],
            "total": _line("合计", found.total),
            "grids": grids,
            "categories": kinds,
            "charts": _charts(found, settings, names) if found.total.accepted else {},
            "weeks_cut": len(found.weeks) > CHART_WEEKS,
        },
    )
