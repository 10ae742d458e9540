"""/统计: the figures the street office reads — 办结率, on time, satisfaction — from the tickets
themselves, so they can be traced back ticket by ticket.

Definitions (also in docs/使用手册.md):
- 受理: tickets opened in the period (merged duplicates counted once, in the ticket they joined)
- 已办结: resolved (awaiting a rating or archived after one); 办结率 = 已办结 / (受理 − 驳回)
- 按时办结率: resolved by their deadline / 已办结
- 平均办结用时: from opening to the last resolution
- 满意率: (满意 + 基本满意) / tickets rated (未评价 not counted)
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.context import Context
from bot.routing import Role, Router, Scope, UserError
from handlers.ticket_format import category_name
from storage import tickets as ticket_store
from storage.models import TicketStatus
from storage.tickets import ACTIVE, TicketFacts

router = Router("ticket_stats")

DONE = (TicketStatus.RESOLVED, TicketStatus.ARCHIVED)
GRID_LINES = 20


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
    rated = [f for f in facts if f.rating in ("satisfied", "basic", "unsatisfied")]
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
    )


def percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def period_start(now: datetime, option: str) -> tuple[datetime, str]:
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    if option == "本周":
        return midnight - timedelta(days=now.weekday()), "本周"
    return midnight.replace(day=1), "本月"


@router.command(
    "统计",
    role=Role.LEADER,
    scope=Scope.GROUP,
    usage="/统计 [本周|本月]",
    summary="工单统计：办结率、按时率、满意率",
)
async def statistics(ctx: Context) -> None:
    assert ctx.command is not None
    option = ctx.command.args
    if option not in ("", "本周", "本月"):
        raise UserError("用法：/统计、/统计 本周 或 /统计 本月")
    start, label = period_start(ctx.now, option)
    grid_code = ctx.grid.code if ctx.grid is not None else None
    facts = ticket_store.created_between(
        session=ctx.session,
        start=start,
        end=ctx.now + timedelta(microseconds=1),
        grid_code=grid_code,
    )
    span = f"{start:%m-%d} 至 {ctx.now:%m-%d}"
    if ctx.grid is not None:
        title = f"{ctx.grid.name}{label}工单统计（{span}）："
        ctx.reply("\n".join([title, *_report(ctx, figures(facts))]))
        return
    lines = [f"全部网格{label}工单统计（{span}）：", *_report(ctx, figures(facts))]
    per_grid: dict[str, list[TicketFacts]] = {}
    for fact in facts:
        per_grid.setdefault(fact.grid_code, []).append(fact)
    ranked = sorted(per_grid.items(), key=lambda item: -len(item[1]))
    for code, grid_facts in ranked[:GRID_LINES]:
        f = figures(grid_facts)
        rates = f"办结率 {percent(f.done_rate)}，满意率 {percent(f.satisfaction)}"
        lines.append(f"{code}：受理 {f.accepted}，{rates}")
    if len(ranked) > GRID_LINES:
        lines.append(f"……另有 {len(ranked) - GRID_LINES} 个网格")
    ctx.reply("\n".join(lines))


def _report(ctx: Context, f: Figures) -> list[str]:
    if not f.accepted:
        return ["这段时间没有受理工单。"]
    hours = "—" if f.hours_to_resolve is None else f"{f.hours_to_resolve:.1f} 小时"
    kinds = "、".join(
        f"{category_name(ctx.settings, code)} {n}" for code, n in f.by_category.most_common()
    )
    return [
        f"受理 {f.accepted} 件：已办结 {f.done}，处理中 {f.working}，已驳回 {f.dismissed}",
        f"办结率 {percent(f.done_rate)}，按时办结率 {percent(f.on_time_rate)}，"
        f"平均办结用时 {hours}",
        f"满意率 {percent(f.satisfaction)}（已评价 {f.rated} 件）",
        f"分类：{kinds}",
    ]
