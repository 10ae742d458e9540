"""The monthly 公示 (登记 → 审核 → 公示): each grid's group gets the past month's totals and
top earners, its leaders the full list privately.

The job runs on ``points.notice.cron``; each run covers the month before its scheduled time
(``ctx.at``), so a run that is late still reports the right month. A grid's 公示 for a month
is claimed in the database before it is queued: a job run twice sends it once.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

from apscheduler.triggers.cron import CronTrigger

from bot.events import Outbound
from bot.scheduler import JobSpec, TaskContext, task
from bot.settings import Settings
from handlers.periods import month_key, month_label, previous_month
from handlers.points_text import KIND_NAMES, signed
from storage import grids as grid_store
from storage import points
from storage.models import EntryKind

log = logging.getLogger(__name__)

TASK = "points.monthly_notice"
LINES_PER_MESSAGE = 50  # a leader's full list is split into messages of this many lines
# A month's 公示 is still worth sending days late (the bot was down on the 1st).
GRACE_SECONDS = 3 * 24 * 3600


def jobs(settings: Settings) -> list[JobSpec]:
    cron = settings.points.notice.cron
    if cron is None:
        return []
    trigger = CronTrigger.from_crontab(cron, timezone=settings.tz)
    return [JobSpec(TASK, TASK, trigger, misfire_grace_time=GRACE_SECONDS)]


def _totals_line(summary: points.MonthSummary) -> str:
    parts = []
    for kind in (EntryKind.BASE, EntryKind.AWARD, EntryKind.PENALTY, EntryKind.ADJUST):
        total = summary.kinds.get(kind)
        if total is not None:
            parts.append(f"{KIND_NAMES[kind]} {total.count} 笔共 {signed(total.points)} 分")
    redeemed = summary.kinds.get(EntryKind.REDEEM)
    if redeemed is not None:
        refunded = summary.kinds.get(EntryKind.REFUND)
        back = f"（退回 {refunded.count} 件）" if refunded else ""
        parts.append(f"兑换 {redeemed.count} 件共 {-redeemed.points} 分{back}")
    return "，".join(parts) + "。"


def group_text(grid_name: str, month: str, summary: points.MonthSummary, top: int) -> str:
    lines = [f"【积分公示】{grid_name} {month}", f"本月{_totals_line(summary)}"]
    earners = points.competition_ranks(
        (m.member_id, m.name, m.earned) for m in summary.members if m.earned > 0
    )
    shown = [r for r in earners if r.rank <= top]
    if shown:
        lines.append(f"本月积分前 {top} 名：")
        lines += [f"{r.rank}. {r.name} {signed(r.points)}" for r in shown]
    lines.append("完整名单已发给网格长，有疑问请找网格长核对。")
    return "\n".join(lines)


def leader_texts(grid_name: str, month: str, summary: points.MonthSummary) -> Iterator[str]:
    rows = [
        f"{m.name}：本月 {signed(m.change)}，可用 {m.balance}，累计 {m.earned_total}"
        for m in summary.members
    ]
    head = f"【积分公示·明细】{grid_name} {month}，共 {len(rows)} 人："
    for start in range(0, len(rows), LINES_PER_MESSAGE):
        chunk = rows[start : start + LINES_PER_MESSAGE]
        yield "\n".join(([head] if start == 0 else []) + chunk)


@task(TASK)
async def monthly_notice(ctx: TaskContext) -> None:
    settings = ctx.services.settings
    if settings.points.notice.cron is None:
        return  # switched off since the job was stored
    tz = settings.tz
    since, until = previous_month(ctx.at, tz)
    period, month = month_key(since, tz), month_label(since, tz)
    for row in grid_store.active_grids(session=ctx.session):
        grid = settings.grid(row.code)
        if grid is None or row.room_id is None:
            continue  # the bot has not seen the group yet: nowhere to post
        summary = points.month_summary(
            session=ctx.session, grid_code=grid.code, since=since, until=until
        )
        if not summary.members:
            continue  # a month without entries needs no 公示
        if not points.mark_notice_sent(
            session=ctx.session, grid_code=grid.code, period=period, at=ctx.now
        ):
            continue
        ctx.send(
            Outbound(
                text=group_text(grid.name, month, summary, settings.points.notice.top),
                room_id=row.room_id,
                room_topic=row.room_topic,
            )
        )
        leaders = dict.fromkeys(
            [*grid.leaders, *points.leaders_in_db(session=ctx.session, grid_code=grid.code)]
        )
        for text in leader_texts(grid.name, month, summary):
            for leader in leaders:
                ctx.send(Outbound(text=text, to=leader))
        log.info("points 公示 for %s %s: %d member(s)", grid.code, period, len(summary.members))
