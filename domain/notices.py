"""公告: what leaders and administrators do with notices, asked in a group or on the web console
alike, and how an occurrence of a notice is planned into the outbox.

A notice goes to the grids it names (none: every grid), now (/公告) or at a time
(/定时公告, the console's form), within the year. Quiet hours hold a non-urgent notice until
they end; an urgent one goes anyway. :func:`announce` and :func:`schedule_notice` check who
may send to which grids, the text and the time, store the notice under its author and say
when it really goes; :func:`cancel_notice` checks who may cancel it and withdraws what is
still waiting in the outbox. They write in the caller's transaction and never commit; a
refusal is a :class:`~domain.errors.DomainError` (the caller rolls back what was written).

Every (notice, occurrence, grid) is recorded (:func:`plan`) before its message is queued,
under a uniqueness constraint: a restart, a retried job or a second bot process can't send
it twice. The scheduled tasks of handlers/broadcasts.py plan a scheduled notice when its
time comes (:func:`send_scheduled`), or record it missed when the bot was down too long
(:func:`record_missed`).

``in_grid`` is the grid whose group a chat command was sent in; the web leaves it out.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.date import DateTrigger
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from bot.cron import cron_trigger
from bot.settings import MAX_MESSAGE_CHARS, NoticeSettings, Settings
from domain.actor import Actor
from domain.errors import Invalid, NotAllowed, NotFound, WrongState
from domain.grids import grid_name, grid_rooms
from domain.ticket_format import when
from storage import notices as notice_store
from storage.models import (
    DeliveryStatus,
    Notice,
    NoticeDelivery,
    NoticeStatus,
    OutboundMessage,
    OutboundPriority,
)

__all__ = [
    "GRACE",
    "MAX_AHEAD",
    "Cancelled",
    "Written",
    "announce",
    "audience",
    "cancel_notice",
    "check_text",
    "check_time",
    "config_key",
    "config_trigger",
    "find",
    "leader_key",
    "may_cancel",
    "may_see",
    "notice_grids",
    "plan",
    "record_missed",
    "schedule_notice",
    "send_scheduled",
    "send_time",
    "target_grids",
]

log = logging.getLogger(__name__)

# a notice may go out up to an hour late after a restart, not later: "明天停水" a day late
# would be wrong
GRACE = timedelta(hours=1)
MAX_AHEAD = timedelta(days=366)
# Notice ids are the database's 32-bit integers: asking PostgreSQL for a larger one fails
# instead of finding nothing.
_MAX_NOTICE_ID = 2**31 - 1


def config_key(notice_id: str) -> str:
    return f"config:{notice_id}"


def leader_key(notice_id: int) -> str:
    return f"db:{notice_id}"


def config_trigger(notice: NoticeSettings, settings: Settings) -> BaseTrigger:
    """When a notice of the config goes: once (``at``), or on its cron within its season."""
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


def target_grids(settings: Settings, notice: NoticeSettings) -> list[str]:
    """The grids a notice of the config goes to."""
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


def send_scheduled(session: Session, settings: Settings, notice: Notice, *, now: datetime) -> int:
    """A scheduled notice's time has come: plan it to its grids, once; how many groups were
    planned (0 when it was no longer scheduled, or another process planned it)."""
    if notice.status != NoticeStatus.SCHEDULED:
        return 0  # cancelled in the meantime, or sent by another run
    assert notice.id is not None
    planned = plan(
        session,
        settings,
        key=leader_key(notice.id),
        occurrence=notice.send_at,
        text=notice.text,
        grid_codes=notice_grids(notice, settings),
        urgent=notice.urgent,
        now=now,
    )
    notice.status = NoticeStatus.SENT
    session.add(notice)
    return planned


def record_missed(
    session: Session, settings: Settings, notice: Notice, *, at: datetime, now: datetime
) -> None:
    """The bot was down when a scheduled notice was due, past the grace time: it is recorded
    missed for each of its grids, not sent late."""
    if notice.status != NoticeStatus.SCHEDULED:
        return
    assert notice.id is not None
    notice.status = NoticeStatus.MISSED
    session.add(notice)
    record_missed_deliveries(
        session, leader_key(notice.id), notice_grids(notice, settings), at=at, now=now
    )


def record_missed_deliveries(
    session: Session, key: str, grid_codes: Iterable[str], *, at: datetime, now: datetime
) -> None:
    """An occurrence of a notice (``key``) recorded missed for each of ``grid_codes``."""
    for code in grid_codes:
        notice_store.claim_delivery(
            session=session,
            notice_key=key,
            occurrence=at,
            grid_code=code,
            now=now,
            status=DeliveryStatus.MISSED,
        )


# --- who may -------------------------------------------------------------------------------


def may_see(actor: Actor, notice: Notice) -> bool:
    """Whether ``actor`` may see ``notice`` on the console: an administrator every notice, a
    leader those that reach one of his grids (a notice to every grid reaches them all) and
    those he wrote."""
    if actor.is_admin or notice.author_id == actor.contact_id:
        return True
    return not notice.grid_codes or bool(actor.grids & set(notice.grid_codes))


def _reaches_beyond(actor: Actor, notice: Notice) -> bool:
    """Whether ``notice`` goes to a grid ``actor`` does not lead (a notice to every grid
    does, for anyone but an administrator)."""
    if actor.is_admin:
        return False
    return not notice.grid_codes or not set(notice.grid_codes) <= actor.grids


def may_cancel(actor: Actor, notice: Notice) -> bool:
    """Whether the console offers ``actor`` to cancel ``notice``: one of his, still to go or
    still waiting to be sent somewhere (:func:`cancel_notice` decides)."""
    if notice.status in (NoticeStatus.CANCELLED, NoticeStatus.MISSED):
        return False
    if not may_see(actor, notice):
        return False
    return not _reaches_beyond(actor, notice) or notice.author_id == actor.contact_id


def audience(
    settings: Settings, actor: Actor, *, grids: Sequence[str], everyone: bool
) -> list[str]:
    """The grids a notice ``actor`` writes goes to, as stored (empty: every grid, now and
    added later): every grid for an administrator only, else grids he leads."""
    if everyone:
        if not actor.is_admin:
            raise NotAllowed("只有街道管理员可以向全部网格发公告。")
        return []
    chosen = list(dict.fromkeys(grids))
    if not chosen:
        raise Invalid("请选择要发到哪些网格。")
    for code in chosen:
        if settings.grid(code) is None:
            raise Invalid(f"没有编码为 {code[:32]} 的网格。")
        if not actor.may_act_on(code):
            raise NotAllowed(f"{grid_name(settings, code)}不是您负责的网格，不能向它发公告。")
    return chosen


def check_text(text: str) -> str:
    """The text of a notice, stripped: some, and no longer than one message."""
    text = text.strip()
    if not text:
        raise Invalid("请写上公告内容。")
    if len(text) > MAX_MESSAGE_CHARS:
        raise Invalid(
            f"公告最长 {MAX_MESSAGE_CHARS} 字，这条有 {len(text)} 字，没有发出，请分成几条发送。"
        )
    return text


def check_time(settings: Settings, send_at: datetime, *, now: datetime) -> None:
    """A scheduled notice's time: later than now, within the year."""
    if send_at <= now:
        raise Invalid(f"{when(send_at, settings.tz)}已经过去了，请写一个以后的时间。")
    if send_at > now + MAX_AHEAD:
        raise Invalid("定时公告最远只能安排到一年以后。")


# --- writing and cancelling ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Written:
    """A notice just written, and when it really goes."""

    notice: Notice
    grids: tuple[str, ...]  # the grids it goes to
    go_at: datetime  # its time, or the end of the quiet hours that hold it

    @property
    def held(self) -> bool:
        """Whether quiet hours hold it past its time."""
        return self.go_at != self.notice.send_at


def _record(
    session: Session,
    settings: Settings,
    actor: Actor,
    text: str,
    *,
    grids: list[str],
    send_at: datetime,
    status: NoticeStatus,
    urgent: bool,
    now: datetime,
    in_grid: str | None,
) -> Written:
    notice = notice_store.create(
        session=session,
        notice=Notice(
            text=text,
            grid_codes=grids,
            author_id=actor.contact_id,
            # where it was written, whose group may cancel it (/取消公告): on the console, the
            # first grid it names
            author_grid=in_grid if in_grid is not None else (grids[0] if grids else None),
            created_at=now,
            send_at=send_at,
            status=status,
            urgent=urgent,
        ),
    )
    if urgent:
        log.info("urgent notice %s by %s: quiet hours do not apply", notice.id, notice.author_id)
    go_at = send_time(settings, send_at, urgent=urgent)
    return Written(notice, tuple(notice_grids(notice, settings)), go_at)


def announce(
    session: Session,
    settings: Settings,
    actor: Actor,
    text: str,
    *,
    grids: Sequence[str],
    everyone: bool = False,
    urgent: bool = False,
    now: datetime,
    in_grid: str | None = None,
) -> Written:
    """/公告: send ``text`` to ``grids`` (or every grid) now, or when the quiet hours end."""
    chosen = audience(settings, actor, grids=grids, everyone=everyone)
    text = check_text(text)
    written = _record(
        session, settings, actor, text, grids=chosen, send_at=now, status=NoticeStatus.SENT,
        urgent=urgent, now=now, in_grid=in_grid,
    )  # fmt: skip
    assert written.notice.id is not None
    plan(
        session,
        settings,
        key=leader_key(written.notice.id),
        occurrence=now,
        text=text,
        grid_codes=written.grids,
        urgent=urgent,
        now=now,
    )
    return written


def schedule_notice(
    session: Session,
    settings: Settings,
    actor: Actor,
    text: str,
    *,
    send_at: datetime,
    grids: Sequence[str],
    everyone: bool = False,
    urgent: bool = False,
    now: datetime,
    in_grid: str | None = None,
) -> Written:
    """/定时公告: send ``text`` to ``grids`` (or every grid) at ``send_at``, or when the
    quiet hours it falls in end. Stored as scheduled: the bot's scheduled tasks send it
    (a job the chat adds, and the sweep that finds it whoever wrote it)."""
    chosen = audience(settings, actor, grids=grids, everyone=everyone)
    text = check_text(text)
    check_time(settings, send_at, now=now)
    return _record(
        session, settings, actor, text, grids=chosen, send_at=send_at,
        status=NoticeStatus.SCHEDULED, urgent=urgent, now=now, in_grid=in_grid,
    )  # fmt: skip


def find(session: Session, actor: Actor, notice_id: int) -> Notice:
    """Notice ``notice_id`` if ``actor`` may see it (the console's rule, :func:`may_see`)."""
    notice = session.get(Notice, notice_id) if 0 < notice_id <= _MAX_NOTICE_ID else None
    if notice is None:
        raise NotFound(f"没有找到公告 #{notice_id}。")
    if not may_see(actor, notice):
        raise NotAllowed(f"公告 #{notice_id} 不是发给您负责的网格的。")
    return notice


@dataclass(frozen=True, slots=True)
class Cancelled:
    """A notice just cancelled."""

    notice: Notice
    # None: it was still to go, nothing was queued; else the groups whose copy was still
    # waiting in the outbox and is withdrawn
    withdrawn: int | None


def cancel_notice(
    session: Session, actor: Actor, notice_id: int, *, now: datetime, in_grid: str | None = None
) -> Cancelled:
    """/取消公告: cancel a notice still to go, or withdraw its copies still waiting.

    In a group (``in_grid``), a leader cancels the notices written in that group; on the
    console, those that reach his grids. A notice that reaches other grids too (an
    administrator's street-wide one) only its author or an administrator may cancel.
    """
    if in_grid is None:
        notice = find(session, actor, notice_id)
        beyond = _reaches_beyond(actor, notice)
    else:
        notice = _in_group(session, actor, notice_id, in_grid)
        beyond = notice.grid_codes != [in_grid]
    if beyond and not actor.is_admin and notice.author_id != actor.contact_id:
        raise NotAllowed(f"公告 #{notice.id} 也发给其他网格，只有发布人或街道管理员可以取消。")
    if notice.status == NoticeStatus.CANCELLED:
        raise WrongState(f"公告 #{notice.id} 已经取消过了。")
    withdrawn = notice_store.cancel(session=session, notice=notice, by=actor.contact_id, at=now)
    if withdrawn == 0:
        raise WrongState(f"公告 #{notice.id} 已经全部发出，无法撤回。")
    return Cancelled(notice, withdrawn)


def _in_group(session: Session, actor: Actor, notice_id: int, in_grid: str) -> Notice:
    """Notice ``notice_id`` as a group knows it: written there (an administrator's anywhere);
    one of another group is not said to exist."""
    notice = session.get(Notice, notice_id) if 0 < notice_id <= _MAX_NOTICE_ID else None
    if notice is None:
        raise NotFound(f"没有找到本网格的公告 #{notice_id}。")
    if not actor.is_admin and notice.author_grid != in_grid:
        raise NotAllowed(f"没有找到本网格的公告 #{notice_id}。")
    return notice
