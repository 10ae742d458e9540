"""上级政策宣传: notices to the grids' groups — from config on a schedule, or written by a leader.

Every (notice, occurrence, grid) is recorded before its message is queued, under a uniqueness
constraint: a restart, a retried job or a second bot process on the same database can't send
it twice. The outbox spaces the sends (they queue behind replies); quiet hours hold non-urgent
notices until morning, and a leader is told so, with the time, when he writes one (`紧急`
overrides them: "明天停水" written at 23:00 can't wait until "明天" is wrong).

The rules (who may send to which grids, the text, the time, who may cancel) and the planning
are domain/notices.py's, shared with the web console; here the commands are parsed and
answered, and the scheduled tasks run. A notice written where no scheduler runs (the web
console, in a process of its own) has no job: the sweep (:data:`DUE_TASK`) sends it.
"""

from __future__ import annotations

import logging
from datetime import datetime

from apscheduler.triggers.date import DateTrigger
from sqlmodel import Session

from bot.commands import long_number, parse_ticket_number
from bot.context import ONCE, Context, Services
from bot.cron import cron_trigger
from bot.routing import Role, Router, Scope, UserError
from bot.scheduler import JobSpec, TaskContext, idle_until, on_missed, task
from bot.settings import Settings
from domain import notices as domain_notices
from domain.errors import NotFound
from domain.notices import (
    config_key,
    leader_key,
    notice_grids,
    plan,
    record_missed_deliveries,
    send_time,
    target_grids,
)
from handlers.acting import actor_of, replies_to_refusals
from handlers.ticket_format import when
from storage import notices as notice_store
from storage.models import Notice

log = logging.getLogger(__name__)

router = Router("broadcasts")

CONFIG_TASK = "notices.config"
LEADER_TASK = "notices.leader"
DUE_TASK = "notices.due"
GRACE_SECONDS = int(domain_notices.GRACE.total_seconds())
LIST_LIMIT = 10
EVERYONE = "全部"  # the word before a notice's text that sends it to every grid
URGENT = "紧急"  # ... and the one that sends it in quiet hours too

__all__ = [
    "CONFIG_TASK",
    "DUE_TASK",
    "LEADER_TASK",
    "config_key",
    "jobs",
    "leader_jobs",
    "leader_key",
    "notice_grids",
    "plan",
    "router",
    "send_time",
    "target_grids",
]


def jobs(settings: Settings) -> list[JobSpec]:
    specs = []
    for notice in settings.notices:
        specs.append(
            JobSpec(
                f"notice:{notice.id}",
                CONFIG_TASK,
                domain_notices.config_trigger(notice, settings),
                args=(notice.id,),
                misfire_grace_time=GRACE_SECONDS,
            )
        )
    # Every minute (a notice's time is a whole minute); a sweep catches up on whatever is due,
    # so missed sweeps need not run again.
    specs.append(
        JobSpec(DUE_TASK, DUE_TASK, cron_trigger("* * * * *", settings.tz), misfire_grace_time=60)
    )
    return specs


@task(CONFIG_TASK)
async def send_config_notice(ctx: TaskContext) -> None:
    settings = ctx.services.settings
    (notice_id,) = ctx.args
    notice = next((n for n in settings.notices if n.id == notice_id), None)
    if notice is None:
        log.warning("notice %s is no longer in config", notice_id)
        return
    plan(
        ctx.session,
        settings,
        key=config_key(notice.id),
        occurrence=ctx.at,
        text=notice.text,
        grid_codes=target_grids(settings, notice),
        urgent=notice.urgent,
        now=ctx.now,
    )


@on_missed(CONFIG_TASK)
def record_missed(services: Services, job_id: str, args: tuple[object, ...], at: datetime) -> None:
    """The bot was down when a notice was due, past the grace time: recorded, not sent late."""
    settings = services.settings
    notice = next((n for n in settings.notices if n.id == args[0]), None)
    if notice is None:
        return
    now = services.clock.now()
    with services.db.session() as session:
        record_missed_deliveries(
            session, config_key(notice.id), target_grids(settings, notice), at=at, now=now
        )
        session.commit()


def _leader_notice_job(notice: Notice) -> JobSpec:
    assert notice.id is not None
    return JobSpec(
        f"{ONCE}notice:{notice.id}",
        LEADER_TASK,
        DateTrigger(notice.send_at),
        args=(notice.id,),
        misfire_grace_time=GRACE_SECONDS,
    )


def leader_jobs(session: Session) -> list[JobSpec]:
    """The jobs of the leaders' notices still to go, as stored.

    The handler adds a notice's job only after its transaction commits; a process stopped in
    between leaves the notice without one. Declared again at every start (an unchanged job
    keeps its stored state), so such a notice still goes, or is recorded missed."""
    return [
        _leader_notice_job(notice)
        for notice in notice_store.scheduled(session=session, grid_code=None)
    ]


@task(LEADER_TASK)
async def send_leader_notice(ctx: TaskContext) -> None:
    notice = ctx.session.get(Notice, ctx.args[0])
    if notice is not None:  # else gone: nothing to send
        domain_notices.send_scheduled(ctx.session, ctx.services.settings, notice, now=ctx.now)


@on_missed(LEADER_TASK)
def record_missed_leader_notice(
    services: Services, job_id: str, args: tuple[object, ...], at: datetime
) -> None:
    with services.db.session() as session:
        notice = session.get(Notice, args[0])
        if notice is None:
            return
        domain_notices.record_missed(
            session, services.settings, notice, at=at, now=services.clock.now()
        )
        session.commit()


@task(DUE_TASK)
async def send_due_notices(ctx: TaskContext) -> None:
    """The scheduled notices whose time has come, whoever wrote them and wherever: those of
    the web console have no job of their own. One whose job ran first is sent already; one
    due longer ago than the grace time (the bot was down) is recorded missed, as its job's
    would be."""
    settings = ctx.services.settings
    for notice in notice_store.due(session=ctx.session, now=ctx.now):
        if ctx.now - notice.send_at > domain_notices.GRACE:
            domain_notices.record_missed(
                ctx.session, settings, notice, at=notice.send_at, now=ctx.now
            )
        else:
            domain_notices.send_scheduled(ctx.session, settings, notice, now=ctx.now)


@idle_until(DUE_TASK)
def due_notices_at(services: Services, session: Session) -> datetime | None:
    """When the sweep next has work: a replay skips the minutes before it."""
    return notice_store.next_send_at(session=session)


# --- commands ------------------------------------------------------------------------------


def _audience(ctx: Context, words: list[str]) -> tuple[list[str], bool, bool, list[str]]:
    """(grid codes, every grid, urgent, the remaining words): `全部` reaches every grid, for
    administrators; `紧急` sends in quiet hours too. Either order, before the text."""
    flags: set[str] = set()
    while words and words[0] in (EVERYONE, URGENT) and words[0] not in flags:
        flags.add(words[0])
        words = words[1:]
    urgent = URGENT in flags
    if EVERYONE in flags:
        # who may is the domain's to say, before the rest of the command is read
        domain_notices.audience(ctx.settings, actor_of(ctx), grids=(), everyone=True)
        return [], True, urgent, words
    if ctx.grid is None:
        raise UserError("在私聊里请写明“全部”，例如：/公告 全部 明天上午停水")
    return [ctx.grid.code], False, urgent, words


def _text_of(words: list[str], usage: str) -> str:
    text = " ".join(words).strip()
    if not text:
        raise UserError(f"请写上公告内容，例如：{usage}")
    return domain_notices.check_text(text)


def _registered(ctx: Context, written: domain_notices.Written, *, now: bool) -> str:
    """The answer to a notice just written: when it goes, and, when quiet hours hold it, that
    they do, until when, and how to send it on time instead (while there is still time)."""
    tz = ctx.settings.tz
    notice, go_at = written.notice, written.go_at
    what = ("紧急" if notice.urgent else "") + ("公告" if now else "定时公告")
    done = f"{what} #{notice.id} {'已安排' if now else '已登记'}"
    grids = len(written.grids)
    where = "本群" if grids == 1 else f"{grids}个网格群"
    quiet = ctx.settings.sending.quiet_hours
    if not written.held or quiet is None:
        return f"{done}，{when(go_at, tz)}发到{where}。"
    hours = f"{quiet.start:%H:%M}–{quiet.end:%H:%M}"
    everyone = f"{EVERYONE} " if not notice.grid_codes else ""
    if now:
        held = f"现在是休息时段（{hours}），{when(go_at, tz)}才发到{where}"
        override = f"要现在就发，请先 /取消公告 {notice.id}，再发 /公告 {everyone}{URGENT} <内容>"
    else:
        at = f"{notice.send_at.astimezone(tz):%Y-%m-%d %H:%M}"
        held = (
            f"{when(notice.send_at, tz)}在休息时段（{hours}），推迟到{when(go_at, tz)}发到{where}"
        )
        override = (
            f"要按时发出，请先 /取消公告 {notice.id}，再发 /定时公告 {everyone}{URGENT} {at} <内容>"
        )
    return f"{done}。{held}。{override}。"


def _in_grid(ctx: Context) -> str | None:
    return ctx.grid.code if ctx.grid is not None else None


@router.command(
    "公告",
    role=Role.LEADER,
    scope=Scope.GROUP,
    usage="/公告 <内容>",
    summary="向本群发通知（管理员：/公告 全部 <内容>）",
)
@replies_to_refusals
async def announce(ctx: Context) -> None:
    assert ctx.command is not None
    grids, everyone, urgent, words = _audience(ctx, ctx.command.args.split(" "))
    text = _text_of(words, "/公告 明天上午9点到12点停水，请提前储水")
    written = domain_notices.announce(
        ctx.session, ctx.settings, actor_of(ctx), text, grids=grids, everyone=everyone,
        urgent=urgent, now=ctx.now, in_grid=_in_grid(ctx),
    )  # fmt: skip
    ctx.reply(_registered(ctx, written, now=True))


def _parse_time(ctx: Context, day: str, clock: str) -> datetime:
    try:
        moment = datetime.strptime(f"{day} {clock}", "%Y-%m-%d %H:%M")
    except ValueError:
        raise UserError(
            "时间请写成 年-月-日 时:分，例如：/定时公告 2026-12-01 09:00 内容"
        ) from None
    return moment.replace(tzinfo=ctx.settings.tz)


@router.command(
    "定时公告",
    role=Role.LEADER,
    scope=Scope.GROUP,
    usage="/定时公告 <YYYY-MM-DD HH:MM> <内容>",
    summary="定时向本群发通知",
)
@replies_to_refusals
async def schedule_notice(ctx: Context) -> None:
    assert ctx.command is not None
    words = [w for w in ctx.command.args.split(" ") if w]
    grids, everyone, urgent, words = _audience(ctx, words)
    if len(words) < 2:
        raise UserError("用法：/定时公告 2026-12-01 09:00 明天上午停水")
    send_at = _parse_time(ctx, words[0], words[1])
    text = _text_of(words[2:], "/定时公告 2026-12-01 09:00 明天上午停水")
    written = domain_notices.schedule_notice(
        ctx.session, ctx.settings, actor_of(ctx), text, send_at=send_at, grids=grids,
        everyone=everyone, urgent=urgent, now=ctx.now, in_grid=_in_grid(ctx),
    )  # fmt: skip
    ctx.schedule(_leader_notice_job(written.notice))
    ctx.reply(_registered(ctx, written, now=False))


@router.command("公告列表", role=Role.LEADER, scope=Scope.GROUP, summary="待发的定时公告")
async def list_notices(ctx: Context) -> None:
    grid_code = ctx.grid.code if ctx.grid is not None else None
    pending = notice_store.scheduled(session=ctx.session, grid_code=grid_code)
    if not pending:
        ctx.reply("没有待发的定时公告。")
        return
    tz = ctx.settings.tz
    lines = [f"待发的定时公告 {len(pending)} 条："]
    for notice in pending[:LIST_LIMIT]:
        scope = "全部网格" if not notice.grid_codes else "、".join(notice.grid_codes)
        snippet = notice.text if len(notice.text) <= 20 else notice.text[:20] + "…"
        # when it will really go: a time in quiet hours is held to their end
        go_at = send_time(ctx.settings, notice.send_at, urgent=notice.urgent)
        at = when(go_at, tz)
        if go_at != notice.send_at:
            at += f"（原定{when(notice.send_at, tz)}，避开休息时段）"
        elif notice.urgent:
            at += f"（{URGENT}）"
        lines.append(f"#{notice.id} {at}｜{scope}｜{snippet}")
    ctx.reply("\n".join(lines))


@router.command(
    "取消公告",
    role=Role.LEADER,
    scope=Scope.GROUP,
    usage="/取消公告 <编号>",
    summary="取消还没发出的公告",
)
@replies_to_refusals
async def cancel_notice(ctx: Context) -> None:
    assert ctx.command is not None
    token = ctx.command.args
    number = parse_ticket_number(token)  # not str.isdigit: it takes "²", which int() refuses
    if number is None:
        too_long = long_number(token)
        if too_long is not None:
            raise UserError(f"没有找到本网格的公告 #{too_long}。")
        raise UserError("请写上公告编号，例如：/取消公告 3（编号见 /公告列表）")
    try:
        done = domain_notices.cancel_notice(
            ctx.session, actor_of(ctx), number, now=ctx.now, in_grid=_in_grid(ctx)
        )
    except NotFound:
        # in a group or privately, the chat speaks of the notices it can cancel
        raise UserError(f"没有找到本网格的公告 #{number}。") from None
    if done.withdrawn is None:
        ctx.reply(f"已取消定时公告 #{done.notice.id}，它不会发出。")
    else:
        ctx.reply(f"公告 #{done.notice.id} 已取消，还没发出的 {done.withdrawn} 个群不会再收到。")
