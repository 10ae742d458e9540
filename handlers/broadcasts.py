"""上级政策宣传: notices to the grids' groups — from config on a schedule, or written by a leader.

Every (notice, occurrence, grid) is recorded before its message is queued, under a uniqueness
constraint: a restart, a retried job or a second bot process on the same database can't send
it twice. The outbox spaces the sends (they queue behind replies); quiet hours hold non-urgent
notices until morning, and a leader is told so, with the time, when he writes one (`紧急`
overrides them: "明天停水" written at 23:00 can't wait until "明天" is wrong).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, time, timedelta

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.date import DateTrigger
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from bot.commands import long_number, parse_ticket_number
from bot.context import ONCE, Context, Services
from bot.cron import cron_trigger
from bot.routing import Role, Router, Scope, UserError
from bot.scheduler import JobSpec, TaskContext, on_missed, task
from bot.settings import MAX_MESSAGE_CHARS, NoticeSettings, Settings
from handlers.rooms import grid_rooms
from handlers.ticket_format import when
from storage import notices as notice_store
from storage.models import (
    DeliveryStatus,
    Notice,
    NoticeDelivery,
    NoticeStatus,
    OutboundMessage,
    OutboundPriority,
)

log = logging.getLogger(__name__)

router = Router("broadcasts")

CONFIG_TASK = "notices.config"
LEADER_TASK = "notices.leader"
GRACE_SECONDS = 3600  # a notice may go out up to an hour late after a restart, not later
LIST_LIMIT = 10
EVERYONE = "全部"  # the word before a notice's text that sends it to every grid
URGENT = "紧急"  # ... and the one that sends it in quiet hours too


def config_key(notice_id: str) -> str:
    return f"config:{notice_id}"


def leader_key(notice_id: int) -> str:
    return f"db:{notice_id}"


def _trigger(notice: NoticeSettings, settings: Settings) -> BaseTrigger:
    tz = settings.tz
    if notice.at is not None:
        at = notice.at if notice.at.tzinfo else notice.at.replace(tzinfo=tz)
        return DateTrigger(at)
    assert notice.cron is not None
    first, last = notice.active_from, notice.active_until
    return cron_trigger(
        notice.cron,
        tz,
        start=datetime.combine(first, time.min, tz) if first else None,
        end=datetime.combine(last, time.max, tz) if last else None,
    )


def jobs(settings: Settings) -> list[JobSpec]:
    specs = []
    for notice in settings.notices:
        specs.append(
            JobSpec(
                f"notice:{notice.id}",
                CONFIG_TASK,
                _trigger(notice, settings),
                args=(notice.id,),
                misfire_grace_time=GRACE_SECONDS,
            )
        )
    return specs


def target_grids(settings: Settings, notice: NoticeSettings) -> list[str]:
    return [grid.code for grid in settings.grids if notice.targets.match(grid)]


def notice_grids(notice: Notice, settings: Settings) -> list[str]:
    """The grids a leader's notice goes to: those it names, or every grid."""
    return notice.grid_codes or [grid.code for grid in settings.grids]


def send_time(settings: Settings, at: datetime, *, urgent: bool) -> datetime:
    """``at``, or the end of the quiet hours it falls in (urgent notices don't wait)."""
    quiet = settings.sending.quiet_hours
    local = at.astimezone(settings.tz)
    if urgent or quiet is None or not quiet.holds(local):
        return at
    return quiet.end_after(local)


def plan(
    session: Session,
    settings: Settings,
    *,
    key: str,
    occurrence: datetime,
    text: str,
    grid_codes: Sequence[str],
    urgent: bool,
    now: datetime,
) -> int:
    """Queue ``text`` for every grid not yet given this occurrence; return how many were.

    All in one savepoint: two processes planning the same occurrence race on the deliveries'
    uniqueness constraint, and the loser plans nothing (the winner planned it all).
    """
    go_at = send_time(settings, max(occurrence, now), urgent=urgent)
    done = notice_store.planned_grids(session=session, notice_key=key, occurrence=occurrence)
    wanted = [code for code in grid_codes if code not in done]
    if not wanted:
        return 0
    rooms = grid_rooms(session, settings, wanted)
    try:
        with session.begin_nested():
            messages = [
                OutboundMessage(
                    room_id=rooms[code][0],
                    room_topic=rooms[code][1],
                    text=text,
                    created_at=now,
                    not_before=go_at,
                    priority=OutboundPriority.NOTICE,
                )
                for code in wanted
            ]
            session.add_all(messages)
            session.flush()
            session.add_all(
                NoticeDelivery(
                    notice_key=key,
                    occurrence=occurrence,
                    grid_code=code,
                    outbound_id=message.id,
                    created_at=now,
                )
                for code, message in zip(wanted, messages, strict=True)
            )
            session.flush()
    except IntegrityError:
        log.info("notice %s of %s was planned by another process", key, occurrence.isoformat())
        return 0
    log.info(
        "notice %s of %s: %d group(s), from %s",
        key,
        occurrence.isoformat(),
        len(wanted),
        go_at.isoformat(),
    )
    return len(wanted)


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
        for code in target_grids(settings, notice):
            notice_store.claim_delivery(
                session=session,
                notice_key=config_key(notice.id),
                occurrence=at,
                grid_code=code,
                now=now,
                status=DeliveryStatus.MISSED,
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
    settings = ctx.services.settings
    notice = ctx.session.get(Notice, ctx.args[0])
    if notice is None or notice.status != NoticeStatus.SCHEDULED:
        return  # cancelled in the meantime
    assert notice.id is not None
    grids = notice_grids(notice, settings)
    plan(
        ctx.session,
        settings,
        key=leader_key(notice.id),
        occurrence=notice.send_at,
        text=notice.text,
        grid_codes=grids,
        urgent=notice.urgent,
        now=ctx.now,
    )
    notice.status = NoticeStatus.SENT
    ctx.session.add(notice)


@on_missed(LEADER_TASK)
def record_missed_leader_notice(
    services: Services, job_id: str, args: tuple[object, ...], at: datetime
) -> None:
    with services.db.session() as session:
        notice = session.get(Notice, args[0])
        if notice is None or notice.status != NoticeStatus.SCHEDULED:
            return
        notice.status = NoticeStatus.MISSED
        session.add(notice)
        for code in notice_grids(notice, services.settings):
            notice_store.claim_delivery(
                session=session,
                notice_key=leader_key(args[0]),  # type: ignore[arg-type]
                occurrence=at,
                grid_code=code,
                now=services.clock.now(),
                status=DeliveryStatus.MISSED,
            )
        session.commit()


# --- commands ------------------------------------------------------------------------------


def _audience(ctx: Context, words: list[str]) -> tuple[list[str], bool, list[str]]:
    """(grid codes, urgent, the remaining words): `全部` reaches every grid, for
    administrators; `紧急` sends in quiet hours too. Either order, before the text."""
    flags: set[str] = set()
    while words and words[0] in (EVERYONE, URGENT) and words[0] not in flags:
        flags.add(words[0])
        words = words[1:]
    urgent = URGENT in flags
    if EVERYONE in flags:
        if ctx.role < Role.ADMIN:
            raise UserError("只有街道管理员可以向全部网格发公告。")
        return [], urgent, words
    if ctx.grid is None:
        raise UserError("在私聊里请写明“全部”，例如：/公告 全部 明天上午停水")
    return [ctx.grid.code], urgent, words


def _text_of(words: list[str], usage: str) -> str:
    text = " ".join(words).strip()
    if not text:
        raise UserError(f"请写上公告内容，例如：{usage}")
    if len(text) > MAX_MESSAGE_CHARS:
        raise UserError(
            f"公告最长 {MAX_MESSAGE_CHARS} 字，这条有 {len(text)} 字，没有发出，请分成几条发送。"
        )
    return text


def _record_notice(
    ctx: Context,
    text: str,
    grids: list[str],
    *,
    send_at: datetime,
    status: NoticeStatus,
    urgent: bool,
) -> Notice:
    """The notice the sender wrote here, stored under its author."""
    notice = notice_store.create(
        session=ctx.session,
        notice=Notice(
            text=text,
            grid_codes=grids,
            author_id=ctx.event.sender_id,
            author_grid=ctx.grid.code if ctx.grid else None,
            created_at=ctx.now,
            send_at=send_at,
            status=status,
            urgent=urgent,
        ),
    )
    if urgent:
        log.info("urgent notice %s by %s: quiet hours do not apply", notice.id, notice.author_id)
    return notice


def _registered(ctx: Context, notice: Notice, grids: int, *, now: bool) -> str:
    """The answer to a notice just written: when it goes, and, when quiet hours hold it, that
    they do, until when, and how to send it on time instead (while there is still time)."""
    tz = ctx.settings.tz
    what = ("紧急" if notice.urgent else "") + ("公告" if now else "定时公告")
    done = f"{what} #{notice.id} {'已安排' if now else '已登记'}"
    where = "本群" if grids == 1 else f"{grids}个网格群"
    go_at = send_time(ctx.settings, notice.send_at, urgent=notice.urgent)
    quiet = ctx.settings.sending.quiet_hours
    if go_at == notice.send_at or quiet is None:
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


@router.command(
    "公告",
    role=Role.LEADER,
    scope=Scope.GROUP,
    usage="/公告 <内容>",
    summary="向本群发通知（管理员：/公告 全部 <内容>）",
)
async def announce(ctx: Context) -> None:
    assert ctx.command is not None
    grids, urgent, words = _audience(ctx, ctx.command.args.split(" "))
    text = _text_of(words, "/公告 明天上午9点到12点停水，请提前储水")
    notice = _record_notice(
        ctx, text, grids, send_at=ctx.now, status=NoticeStatus.SENT, urgent=urgent
    )
    assert notice.id is not None
    targets = notice_grids(notice, ctx.settings)
    plan(
        ctx.session,
        ctx.settings,
        key=leader_key(notice.id),
        occurrence=ctx.now,
        text=text,
        grid_codes=targets,
        urgent=urgent,
        now=ctx.now,
    )
    ctx.reply(_registered(ctx, notice, len(targets), now=True))


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
async def schedule_notice(ctx: Context) -> None:
    assert ctx.command is not None
    grids, urgent, words = _audience(ctx, [w for w in ctx.command.args.split(" ") if w])
    if len(words) < 2:
        raise UserError("用法：/定时公告 2026-12-01 09:00 明天上午停水")
    send_at = _parse_time(ctx, words[0], words[1])
    text = _text_of(words[2:], "/定时公告 2026-12-01 09:00 明天上午停水")
    if send_at <= ctx.now:
        raise UserError(f"{when(send_at, ctx.settings.tz)}已经过去了，请写一个以后的时间。")
    if send_at > ctx.now + timedelta(days=366):
        raise UserError("定时公告最远只能安排到一年以后。")
    notice = _record_notice(
        ctx, text, grids, send_at=send_at, status=NoticeStatus.SCHEDULED, urgent=urgent
    )
    ctx.schedule(_leader_notice_job(notice))
    count = len(notice_grids(notice, ctx.settings))
    ctx.reply(_registered(ctx, notice, count, now=False))


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
async def cancel_notice(ctx: Context) -> None:
    assert ctx.command is not None
    token = ctx.command.args
    number = parse_ticket_number(token)  # not str.isdigit: it takes "²", which int() refuses
    if number is None:
        too_long = long_number(token)
        if too_long is not None:
            raise UserError(f"没有找到本网格的公告 #{too_long}。")
        raise UserError("请写上公告编号，例如：/取消公告 3（编号见 /公告列表）")
    notice = ctx.session.get(Notice, number)
    here = notice is not None and (
        ctx.role == Role.ADMIN or (ctx.grid is not None and notice.author_grid == ctx.grid.code)
    )
    if notice is None or not here:
        raise UserError(f"没有找到本网格的公告 #{number}。")
    # Written in this group is not enough when it reaches other grids too (an
    # administrator's street-wide notice): only its author or an administrator decides.
    here_only = ctx.grid is not None and notice.grid_codes == [ctx.grid.code]
    if not here_only and ctx.role != Role.ADMIN and notice.author_id != ctx.event.sender_id:
        raise UserError(f"公告 #{notice.id} 也发给其他网格，只有发布人或街道管理员可以取消。")
    if notice.status == NoticeStatus.CANCELLED:
        raise UserError(f"公告 #{notice.id} 已经取消过了。")
    assert notice.id is not None
    withdrawn = notice_store.cancel(
        session=ctx.session, notice=notice, by=ctx.event.sender_id, at=ctx.now
    )
    if withdrawn is None:
        ctx.reply(f"已取消定时公告 #{notice.id}，它不会发出。")
    elif withdrawn:
        ctx.reply(f"公告 #{notice.id} 已取消，还没发出的 {withdrawn} 个群不会再收到。")
    else:
        raise UserError(f"公告 #{notice.id} 已经全部发出，无法撤回。")
