"""统计: the figures the street office reads — 办结率, on time, satisfaction — from the tickets
themselves, so they can be traced back ticket by ticket. One set of definitions for the chat's
/统计 and the web console's 统计 page.

Definitions (also in docs/使用手册.md):
- 受理: tickets opened in the period (merged duplicates counted once, in the ticket they joined)
- 已办结: resolved (awaiting a rating or archived after one); 办结率 = 已办结 / (受理 − 驳回)
- 按时办结率: resolved by their deadline / 已办结
- 平均办结用时: from opening to the last resolution
- 满意率: (满意 + 基本满意) / tickets rated (未评价 not counted)
- 重新办理: tickets a resident's 不满意 sent back to be handled again, at least once
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TypeVar

from sqlmodel import Session

from bot.settings import Settings
from domain.actor import Actor
from domain.errors import NotAllowed
from storage import tickets as ticket_store
from storage.models import TicketStatus
from storage.tickets import ACTIVE, TicketFacts

__all__ = [
    "DONE",
    "Figures",
    "Report",
    "figures",
    "percent",
    "period_start",
    "report",
    "worst_grids",
]

DONE = (TicketStatus.RESOLVED, TicketStatus.ARCHIVED)
_K = TypeVar("_K")
_RATED = ("satisfied", "basic", "unsatisfied")


@dataclass(frozen=True, slots=True)
class Figures:
    accepted: int
    done: int
    working: int
    dismissed: int
    on_time: int
    hours_to_resolve: float | None
    rated: int
    satisfied: int
    by_category: Counter[str]
    reopened: int = 0

    @property
    def done_rate(self) -> float | None:
        base = self.accepted - self.dismissed
        return self.done / base if base else None

    @property
    def on_time_rate(self) -> float | None:
        return self.on_time / self.done if self.done else None

    @property
    def satisfaction(self) -> float | None:
        return self.satisfied / self.rated if self.rated else None


def figures(facts: Sequence[TicketFacts]) -> Figures:
    done = [f for f in facts if f.status in DONE and f.resolved_at is not None]
    hours = [(f.resolved_at - f.created_at).total_seconds() / 3600 for f in done if f.resolved_at]
    rated = [f for f in facts if f.rating in _RATED]
    return Figures(
        accepted=len(facts),
        done=len(done),
        working=sum(f.status in ACTIVE for f in facts),
        dismissed=sum(f.status == TicketStatus.DISMISSED for f in facts),
        on_time=sum(f.resolved_at is not None and f.resolved_at <= f.due_at for f in done),
        hours_to_resolve=sum(hours) / len(hours) if hours else None,
        rated=len(rated),
        satisfied=sum(f.rating in ("satisfied", "basic") for f in rated),
        by_category=Counter(f.category for f in facts),
        reopened=sum(f.reopened > 0 for f in facts),
    )


def percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def period_start(now: datetime, option: str) -> tuple[datetime, str]:
    """The start of /统计's period (``now`` in the grids' time zone): this week's Monday for
    本周, else the first of the month."""
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    if option == "本周":
        return midnight - timedelta(days=now.weekday()), "本周"
    return midnight.replace(day=1), "本月"


@dataclass(frozen=True, slots=True)
class Report:
    """The figures of the tickets opened in [``start``, ``end``): in all, per grid, per
    category, and per week (each week by its Monday, in the grids' time zone)."""

    start: datetime
    end: datetime
    total: Figures
    grids: dict[str, Figures]
    categories: dict[str, Figures]
    weeks: list[tuple[date, Figures]]


def report(
    session: Session,
    settings: Settings,
    actor: Actor,
    start: datetime,
    end: datetime,
    *,
    grid: str | None = None,
) -> Report:
    """The figures ``actor`` may read for [``start``, ``end``): of ``grid``, else of every
    grid they lead (every grid for an administrator)."""
    if grid is not None and not actor.may_act_on(grid):
        raise NotAllowed("这不是您负责的网格，看不到它的统计。")
    facts = ticket_store.created_between(
        session=session,
        start=start,
        end=end,
        grid_code=grid,
        grids=None if actor.is_admin else actor.grids,
    )
    tz = settings.tz
    first_monday = _monday(start.astimezone(tz).date())
    last_monday = _monday((end - timedelta(microseconds=1)).astimezone(tz).date())
    weeks = _grouped(facts, lambda f: _monday(f.created_at.astimezone(tz).date()))
    every_week = [
        first_monday + timedelta(weeks=n) for n in range((last_monday - first_monday).days // 7 + 1)
    ]
    return Report(
        start=start,
        end=end,
        total=figures(facts),
        grids=_grouped(facts, lambda f: f.grid_code),
        categories=_grouped(facts, lambda f: f.category),
        weeks=[(monday, weeks.get(monday) or figures([])) for monday in every_week],
    )


def worst_grids(grids: dict[str, Figures], count: int) -> list[tuple[str, Figures]]:
    """The ``count`` grids with the lowest 办结率 (then the lowest 按时办结率, then the most
    tickets): where the street office chases first. Grids with nothing to resolve are left
    out."""
    rated = [(code, f) for code, f in grids.items() if f.done_rate is not None]
    rated.sort(key=lambda item: (item[1].done_rate, item[1].on_time_rate or 0, -item[1].accepted))
    return rated[:count]


def _monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def _grouped(facts: Iterable[TicketFacts], key: Callable[[TicketFacts], _K]) -> dict[_K, Figures]:
    groups: dict[_K, list[TicketFacts]] = {}
    for fact in facts:
        groups.setdefault(key(fact), []).append(fact)
    return {k: figures(group) for k, group in groups.items()}
