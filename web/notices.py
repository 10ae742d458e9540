"""公告: the notices of one's grids, scheduled and past, each occurrence's delivery to each
grid's group, a form to schedule one and a button to cancel one.

Writing and cancelling go through domain/notices.py, the code of /定时公告 and /取消公告,
with its rules and its refusals. A notice written here has no job of its own (the console may
run in a process without the bot's scheduler): the bot's sweep of due notices sends it, at
its minute. The notices of the config (the street office's seasonal ones) are shown, not
changed: they are the config's.

What a delivery's state says is read from what is recorded: the delivery row
(``notice_delivery``: planned, missed, cancelled) and its message in the outbox (pending,
sending, sent, failed, cancelled). "Sent" is the channel's word that WeChat took the message;
whether the group saw it, nothing records.

A leader sees the notices that reach his grids (a notice to every grid reaches them all) and
those he wrote, and each one's deliveries to his own grids only; an administrator all.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Request
from sqlmodel import Session, col, select
from starlette.responses import Response

from bot.settings import MAX_MESSAGE_CHARS, NoticeSettings, Settings
from domain import notices as domain_notices
from domain.errors import DomainError, Invalid, NotAllowed, NotFound
from domain.ticket_format import when
from storage import notices as notice_store
from storage.models import (
    DeliveryStatus,
    Member,
    Notice,
    NoticeDelivery,
    NoticeStatus,
    OutboundMessage,
    OutboundStatus,
)
from web import flash
from web.auth import Viewer, check_csrf, current_viewer
from web.base import (
    PageError,
    audit,
    console_of,
    known_grid,
    page_number,
    render,
    settled,
    status_of,
)
from web.labels import local_time, shown

__all__ = ["NOTICE_STATUSES", "PAGE_SIZE", "STATES", "router"]

router = APIRouter()

PAGE_SIZE = 20
OCCURRENCES_PER_PAGE = 10
SNIPPET_CHARS = 60

NOTICE_STATUSES: dict[str, str] = {
    NoticeStatus.SCHEDULED: "待发送",
    NoticeStatus.SENT: "已发出",
    NoticeStatus.MISSED: "错过未发",
    NoticeStatus.CANCELLED: "已取消",
}

# A delivery's state, as read from its row and its message (see the module's docstring).
STATES: dict[str, str] = {
    "sent": "已发送",
    "waiting": "等待发送",
    "sending": "发送中",
    "retrying": "等待重发",
    "failed": "发送失败",
    "scheduled": "待发送",
    "missed": "错过未发",
    "withdrawn": "已撤回",
    "cancelled": "已取消",
    "unrecorded": "无记录",
}


@dataclass(frozen=True)
class Filters:
    """The list's filters as the address bar has them; what can't be read is said."""

    status: str | None = None
    grid: str | None = None
    page: int = 1
    problems: list[str] = field(default_factory=list, compare=False)

    def params(self, **changes: Any) -> str:
        chosen = replace(self, **changes)
        values = {"status": chosen.status, "grid": chosen.grid}
        values["page"] = str(chosen.page) if chosen.page != 1 else None
        return urlencode({k: v for k, v in values.items() if v})


def read_filters(params: Mapping[str, str], settings: Settings) -> Filters:
    problems: list[str] = []
    status = params.get("status", "").strip() or None
    if status is not None and status not in NOTICE_STATUSES:
        problems.append(f"没有这个状态「{status[:20]}」，已忽略")
        status = None
    grid = known_grid(params.get("grid", ""), settings, problems)
    return Filters(status, grid, page_number(params.get("page", "")), problems)


@dataclass(frozen=True)
class Typed:
    """The form as it was posted, to fill it again beside a refusal."""

    text: str = ""
    send_at: str = ""
    grids: tuple[str, ...] = ()
    everyone: bool = False
    urgent: bool = False


@dataclass(frozen=True)
class Refusal:
    message: str
    typed: Typed


def _refuse_grid(viewer: Viewer, grid_code: str) -> PageError:
    audit.warning("web: %s refused the notices of grid %s", viewer.actor.contact_id, grid_code)
    return PageError(403, "无权查看", "这不是你负责的网格。后台只显示你负责的网格的公告。")


def _notice_number(request: Request, number: str) -> int:
    digits = number.removeprefix("#")
    if not (digits.isascii() and digits.isdigit() and len(digits) <= 9):
        root = console_of(request).root
        raise PageError(404, "没有这个公告", f"公告编号是数字，例如 {root}/notices/3。")
    return int(digits)


def _snippet(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= SNIPPET_CHARS else flat[:SNIPPET_CHARS] + "…"


def _names(session: Session, settings: Settings, ids: set[str]) -> dict[str, str]:
    """Who wrote or cancelled notices: the config's names of leaders, 街道管理员, else the
    name they last had in a group."""
    names: dict[str, str] = {}
    if ids:
        rows = session.exec(
            select(Member.contact_id, Member.display_name)
            .where(col(Member.contact_id).in_(sorted(ids)))
            .order_by(col(Member.last_seen))
        ).all()
        names.update(dict(rows))  # the latest name last, so it wins
    for grid in settings.grids:
        names.update({c: n for c, n in grid.leader_names.items() if c in ids})
    for contact_id in ids & set(settings.admins):
        names.setdefault(contact_id, "街道管理员")
    return names


def _grids_label(settings: Settings, codes: Sequence[str]) -> str:
    if not codes:
        return "全部网格"
    names = [g.name if (g := settings.grid(c)) else c for c in codes]
    return "、".join(names) if len(names) <= 3 else f"{'、'.join(names[:3])}等 {len(names)} 个网格"


def _targets(settings: Settings, viewer: Viewer, codes: Sequence[str]) -> str:
    """The grids of ``codes`` ``viewer`` leads, in words (a config notice's targets)."""
    mine = [c for c in codes if viewer.actor.may_act_on(c)]
    if viewer.actor.is_admin and len(mine) == len(settings.grids):
        return "全部网格"
    return _grids_label(settings, mine)


def _state(
    delivery: NoticeDelivery | None, message: OutboundMessage | None, now: datetime
) -> tuple[str, datetime | None, str]:
    """(state, its time, a note) of one delivery, from its row and its message."""
    if delivery is None:
        return "unrecorded", None, ""
    if delivery.status == DeliveryStatus.MISSED:
        return "missed", delivery.occurrence, "当时机器人没有运行，过了 1 小时不再补发"
    if delivery.status == DeliveryStatus.CANCELLED or (
        message is not None and message.status == OutboundStatus.CANCELLED
    ):
        return "withdrawn", None, "取消公告时还没发出"
    if message is None:
        return "unrecorded", None, ""
    if message.status == OutboundStatus.SENT:
        return "sent", message.sent_at, ""
    if message.status == OutboundStatus.FAILED:
        return "failed", None, f"试了 {message.attempts} 次没有发出"
    if message.status == OutboundStatus.SENDING:
        return "sending", None, ""
    if message.attempts:
        return "retrying", message.not_before, f"已失败 {message.attempts} 次"
    # planned at its time (or late, after a restart): only quiet hours put it after that
    held = message.not_before > delivery.created_at and message.not_before > now
    return "waiting", message.not_before, "避开休息时段" if held else ""


@dataclass(frozen=True)
class Row:
    """One grid's delivery of one occurrence, as the page shows it."""

    code: str
    grid: str
    state: str
    label: str
    at: str
    note: str


def _row(settings: Settings, code: str, state: str, at: datetime | None, note: str) -> Row:
    grid = settings.grid(code)
    return Row(
        code=code,
        grid=grid.name if grid is not None else code,
        state=state,
        label=STATES[state],
        at=local_time(at, settings.tz),
        note=note,
    )


def _rows(
    settings: Settings,
    viewer: Viewer,
    notice: Notice,
    found: Sequence[tuple[NoticeDelivery, OutboundMessage | None]],
    now: datetime,
) -> list[Row]:
    """Each grid's delivery of a leader's notice that ``viewer`` may see: as recorded, or,
    for a notice not planned yet, what will happen (or did not)."""
    if found:
        rows = [_row(settings, d.grid_code, *_state(d, m, now)) for d, m in found]
    elif notice.status == NoticeStatus.SCHEDULED:
        go_at = domain_notices.send_time(settings, notice.send_at, urgent=notice.urgent)
        note = "避开休息时段" if go_at != notice.send_at else ""
        grids = domain_notices.notice_grids(notice, settings)
        rows = [_row(settings, code, "scheduled", go_at, note) for code in grids]
    elif notice.status == NoticeStatus.CANCELLED:
        grids = domain_notices.notice_grids(notice, settings)
        rows = [_row(settings, code, "cancelled", None, "到时间前已取消") for code in grids]
    else:
        rows = []
    return rows


def _summary(rows: Sequence[Row]) -> list[tuple[str, str, int]]:
    """(state, label, how many) of ``rows``, in the order of :data:`STATES`."""
    counts = Counter(r.state for r in rows)
    return [(state, label, counts[state]) for state, label in STATES.items() if counts[state]]


_WAITING = frozenset({"scheduled", "waiting", "retrying"})


def _cancel_hint(viewer: Viewer, notice: Notice, rows: Sequence[Row]) -> str | None:
    """Why the page offers no button to cancel ``notice`` (None: it offers one). ``rows``:
    every grid's, the viewer's or not (a cancel withdraws them all)."""
    if notice.status == NoticeStatus.CANCELLED:
        return "这条公告已经取消了。"
    if notice.status == NoticeStatus.MISSED:
        return "这条公告错过了发送时间，没有发出，不用取消。"
    if not domain_notices.may_cancel(viewer.actor, notice):
        return "这条公告也发给其他网格，只有发布人或街道管理员可以取消。"
    if not any(r.state in _WAITING for r in rows):
        return "这条公告已经全部发出，无法撤回。"
    return None


def _notice_line(
    settings: Settings,
    viewer: Viewer,
    notice: Notice,
    names: Mapping[str, str],
    every_row: Sequence[Row],
) -> dict[str, Any]:
    """A notice as the list and its page show it, with the deliveries to ``viewer``'s grids."""
    go_at = domain_notices.send_time(settings, notice.send_at, urgent=notice.urgent)
    rows = [r for r in every_row if viewer.actor.may_act_on(r.code)]
    return {
        "id": notice.id,
        "status": notice.status,
        "status_label": NOTICE_STATUSES.get(notice.status, notice.status),
        "send_at": local_time(notice.send_at, settings.tz),
        "go_at": local_time(go_at, settings.tz) if go_at != notice.send_at else "",
        "urgent": notice.urgent,
        "grids": _grids_label(settings, notice.grid_codes),
        "author": shown(viewer.actor, names.get(notice.author_id, "网格长")),
        "text": _snippet(notice.text),
        "rows": rows,
        "summary": _summary(rows),
        "cancel_hint": _cancel_hint(viewer, notice, every_row),
    }


def _visible_config(settings: Settings, viewer: Viewer) -> list[NoticeSettings]:
    return [
        n
        for n in settings.notices
        if any(viewer.actor.may_act_on(c) for c in domain_notices.target_grids(settings, n))
    ]


_WEEKDAYS = {
    **{str(n): day for n, day in enumerate("日一二三四五六")},
    "7": "日",
    **dict(zip(("sun", "mon", "tue", "wed", "thu", "fri", "sat"), "日一二三四五六", strict=True)),
}


def _cron_words(expr: str) -> str:
    """The common crontab lines in words (`0 9 * * *`: 每天 09:00); others as written."""
    minute, hour, day, month, weekday = expr.split()
    if not (minute.isdigit() and hour.isdigit()):
        return f"按 cron「{expr}」"
    at = f"{int(hour):02}:{int(minute):02}"
    days = weekday.lower().split(",")
    if (day, month, weekday) == ("*", "*", "*"):
        return f"每天 {at}"
    if (day, month) == ("*", "*") and all(d in _WEEKDAYS for d in days):
        return f"每周{'、'.join(_WEEKDAYS[d] for d in days)} {at}"
    if day.isdigit() and (month, weekday) == ("*", "*"):
        return f"每月 {int(day)} 日 {at}"
    if day.isdigit() and month.isdigit() and weekday == "*":
        return f"每年 {int(month)} 月 {int(day)} 日 {at}"
    return f"按 cron「{expr}」"


def _schedule(notice: NoticeSettings, settings: Settings) -> str:
    """How a config notice repeats, in words a leader reads."""
    if notice.at is not None:
        at = notice.at if notice.at.tzinfo else notice.at.replace(tzinfo=settings.tz)
        return f"一次：{local_time(at, settings.tz)}"
    assert notice.cron is not None
    season = ""
    if notice.active_from or notice.active_until:
        first = notice.active_from.isoformat() if notice.active_from else "开始"
        last = notice.active_until.isoformat() if notice.active_until else "长期"
        season = f"（{first} 至 {last}）"
    return _cron_words(notice.cron) + season


def _next_time(notice: NoticeSettings, settings: Settings, now: datetime) -> str:
    trigger = domain_notices.config_trigger(notice, settings)
    # the run of this very second is under way: the next is the one after it
    following = trigger.get_next_fire_time(None, now + timedelta(seconds=1))
    if following is None or following <= now:
        return "不再发送"
    go_at = domain_notices.send_time(settings, following, urgent=notice.urgent)
    return local_time(go_at, settings.tz)


def _config_line(
    session: Session, settings: Settings, viewer: Viewer, notice: NoticeSettings, now: datetime
) -> dict[str, Any]:
    key = domain_notices.config_key(notice.id)
    last, count = notice_store.occurrences(session=session, notice_key=key, offset=0, limit=1)
    found = notice_store.deliveries_with_messages(
        session=session, notice_keys=[key], occurrences=last
    )
    rows = [
        _row(settings, d.grid_code, *_state(d, m, now))
        for d, m in found
        if viewer.actor.may_act_on(d.grid_code)
    ]
    return {
        "id": notice.id,
        "title": notice.title,
        "text": _snippet(notice.text),
        "schedule": _schedule(notice, settings),
        "next": _next_time(notice, settings, now),
        "grids": _targets(settings, viewer, domain_notices.target_grids(settings, notice)),
        "urgent": notice.urgent,
        "last": local_time(last[0], settings.tz) if last else "",
        "occurrences": count,
        "summary": _summary(rows),
    }


def _grid_choices(settings: Settings, viewer: Viewer) -> list[dict[str, str]]:
    return [
        {"code": g.code, "name": g.name} for g in settings.grids if viewer.actor.may_act_on(g.code)
    ]


def _list_page(
    request: Request,
    viewer: Viewer,
    *,
    done: str | None = None,
    refused: Refusal | None = None,
    status: int = 200,
) -> Response:
    console = console_of(request)
    settings, now = console.settings, console.clock.now()
    filters = read_filters(request.query_params, settings)
    actor = viewer.actor
    if filters.grid is not None and not actor.may_act_on(filters.grid):
        raise _refuse_grid(viewer, filters.grid)
    if filters.grid is not None:
        reaching: list[str] | None = [filters.grid]
        author = None
    else:
        reaching = None if actor.is_admin else sorted(actor.grids)
        author = None if actor.is_admin else actor.contact_id
    with console.db.session() as session:

        def page_of(number: int) -> tuple[Sequence[Notice], int]:
            return notice_store.listed(
                session=session,
                reaching=reaching,
                or_author=author,
                status=filters.status,
                offset=(number - 1) * PAGE_SIZE,
                limit=PAGE_SIZE,
            )

        notices, total = page_of(filters.page)
        if not notices and total:  # past the last page: show the last one
            filters = replace(filters, page=(total - 1) // PAGE_SIZE + 1)
            notices, total = page_of(filters.page)
        keys = {domain_notices.leader_key(n.id): n for n in notices if n.id is not None}
        found: dict[str, list[tuple[NoticeDelivery, OutboundMessage | None]]] = {}
        for delivery, message in notice_store.deliveries_with_messages(
            session=session, notice_keys=list(keys)
        ):
            found.setdefault(delivery.notice_key, []).append((delivery, message))
        names = _names(session, settings, {n.author_id for n in notices})
        lines = [
            _notice_line(
                settings, viewer, n, names, _rows(settings, viewer, n, found.get(key, []), now)
            )
            for key, n in keys.items()
        ]
        configured = [
            _config_line(session, settings, viewer, n, now)
            for n in _visible_config(settings, viewer)
        ]
    quiet = settings.sending.quiet_hours
    return render(
        request,
        "notices.html",
        {
            "title": "公告",
            "viewer": viewer,
            "nav": "notices",
            "filters": filters,
            "statuses": NOTICE_STATUSES,
            "lines": lines,
            "total": total,
            "pages": max(1, (total - 1) // PAGE_SIZE + 1),
            "first": (filters.page - 1) * PAGE_SIZE + 1,
            "configured": configured,
            "grids": _grid_choices(settings, viewer),
            "done": done,
            "refused": refused,
            "typed": refused.typed if refused is not None else Typed(),
            "quiet": f"{quiet.start:%H:%M}–{quiet.end:%H:%M}" if quiet else "",
            "earliest": f"{(now + timedelta(minutes=1)).astimezone(settings.tz):%Y-%m-%dT%H:%M}",
            "max_chars": MAX_MESSAGE_CHARS,
        },
        status=status,
    )


@router.get("/notices")
def notice_list(request: Request, viewer: Annotated[Viewer, Depends(current_viewer)]) -> Response:
    page = f"{console_of(request).root}/notices"
    return flash.shown(request, viewer, page, lambda done: _list_page(request, viewer, done=done))


def _send_at(text: str, settings: Settings) -> datetime:
    """The time typed in the form (`2026-12-01T09:00`, as a browser's field sends it, or
    `2026-12-01 09:00`), to the minute, in the configured timezone."""
    try:
        moment = datetime.fromisoformat(text.strip()[:19])
    except ValueError:
        raise Invalid("发送时间请写成 年-月-日 时:分，例如 2026-12-01 09:00。") from None
    if not 2000 <= moment.year <= 2099:
        raise Invalid("发送时间请写成 年-月-日 时:分，例如 2026-12-01 09:00。")
    return moment.replace(second=0, microsecond=0, tzinfo=settings.tz)


def _registered(settings: Settings, written: domain_notices.Written) -> str:
    """What the page says of a notice just scheduled: when it goes, and why later."""
    tz, notice = settings.tz, written.notice
    what = ("紧急" if notice.urgent else "") + "定时公告"
    count = len(written.grids)
    where = f"{count}个网格群" if count != 1 else _grids_label(settings, written.grids) + "群"
    quiet = settings.sending.quiet_hours
    if not written.held or quiet is None:
        return f"{what} #{notice.id} 已登记，{when(written.go_at, tz)}发到{where}。"
    hours = f"{quiet.start:%H:%M}–{quiet.end:%H:%M}"
    return (
        f"{what} #{notice.id} 已登记。{when(notice.send_at, tz)}在休息时段（{hours}），"
        f"推迟到{when(written.go_at, tz)}发到{where}。"
        "要按时发出，请取消这条，勾选“紧急”重新登记。"
    )


@router.post("/notices")
def schedule(
    request: Request,
    *,
    viewer: Annotated[Viewer, Depends(current_viewer)],
    csrf: Annotated[str | None, Form()] = None,
    text: Annotated[str, Form()] = "",
    send_at: Annotated[str, Form()] = "",
    grid: Annotated[list[str] | None, Form()] = None,
    everyone: Annotated[str, Form()] = "",
    urgent: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(request, viewer, csrf)
    console = console_of(request)
    settings, now, who = console.settings, console.clock.now(), viewer.actor.contact_id
    typed = Typed(
        text=text[: MAX_MESSAGE_CHARS * 2],
        send_at=send_at[:40],
        grids=tuple(g[:32] for g in (grid or [])[:1000]),
        everyone=bool(everyone),
        urgent=bool(urgent),
    )
    with console.db.session() as session:
        written = settled(
            session,
            lambda: domain_notices.schedule_notice(
                session,
                settings,
                viewer.actor,
                text,
                send_at=_send_at(send_at, settings),
                grids=typed.grids,
                everyone=typed.everyone,
                urgent=typed.urgent,
                now=now,
            ),
        )
    if isinstance(written, DomainError):
        refused = written
        audit.warning(
            "web: %s refused a notice to %s: %s",
            who,
            "every grid" if typed.everyone else ",".join(typed.grids[:20]) or "no grid",
            type(refused).__name__,
        )
        return _list_page(
            request, viewer, refused=Refusal(refused.reply, typed), status=status_of(refused)
        )
    notice = written.notice
    audit.info(
        "web: %s scheduled notice #%s to %s at %s%s",
        who,
        notice.id,
        ",".join(notice.grid_codes) or "every grid",
        notice.send_at.isoformat(),
        " (urgent)" if notice.urgent else "",
    )
    page = f"{console.root}/notices/{notice.id}"
    return flash.redirect(request, viewer, page, _registered(settings, written))


def _find(session: Session, viewer: Viewer, notice_id: int, what: str) -> Notice:
    """Notice ``notice_id`` if ``viewer`` may see it: a 404 or 403 page otherwise."""
    try:
        return domain_notices.find(session, viewer.actor, notice_id)
    except NotFound as exc:
        raise PageError(404, "没有这个公告", exc.reply) from exc
    except NotAllowed as exc:
        audit.warning(
            "web: %s refused %s of notice #%d: not his grids",
            viewer.actor.contact_id,
            what,
            notice_id,
        )
        raise PageError(
            403, "无权查看", "这条公告不是发给你负责的网格的。后台只显示你负责的网格的公告。"
        ) from exc


def _detail_page(
    request: Request,
    viewer: Viewer,
    notice_id: int,
    *,
    done: str | None = None,
    failed: str | None = None,
    status: int = 200,
) -> Response:
    console = console_of(request)
    settings, now = console.settings, console.clock.now()
    with console.db.session() as session:
        notice = _find(session, viewer, notice_id, "the page")
        found = notice_store.deliveries_with_messages(
            session=session, notice_keys=[domain_notices.leader_key(notice_id)]
        )
        every_row = _rows(settings, viewer, notice, found, now)
        names = _names(session, settings, {notice.author_id, notice.cancelled_by or ""} - {""})
    actor = viewer.actor
    line = _notice_line(settings, viewer, notice, names, every_row)
    return render(
        request,
        "notice.html",
        {
            "title": f"公告 #{notice_id}",
            "viewer": viewer,
            "nav": "notices",
            "notice": line,
            "text": notice.text,
            "created": local_time(notice.created_at, settings.tz),
            "cancelled": local_time(notice.cancelled_at, settings.tz),
            "cancelled_by": shown(actor, names.get(notice.cancelled_by or "", "")),
            "rows": line["rows"],
            "hidden": len(every_row) - len(line["rows"]),
            "done": done,
            "failed": failed,
        },
        status=status,
    )


@router.get("/notices/{number}")
def notice_detail(
    request: Request, number: str, viewer: Annotated[Viewer, Depends(current_viewer)]
) -> Response:
    notice_id = _notice_number(request, number)
    page = f"{console_of(request).root}/notices/{notice_id}"
    return flash.shown(
        request, viewer, page, lambda done: _detail_page(request, viewer, notice_id, done=done)
    )


@router.post("/notices/{number}/cancel")
def cancel(
    request: Request,
    number: str,
    viewer: Annotated[Viewer, Depends(current_viewer)],
    csrf: Annotated[str | None, Form()] = None,
) -> Response:
    check_csrf(request, viewer, csrf)
    notice_id = _notice_number(request, number)
    console = console_of(request)
    who = viewer.actor.contact_id
    with console.db.session() as session:
        _find(session, viewer, notice_id, "cancel")
        done = settled(
            session,
            lambda: domain_notices.cancel_notice(
                session, viewer.actor, notice_id, now=console.clock.now()
            ),
        )
    if isinstance(done, DomainError):
        refused = done
        audit.warning(
            "web: %s refused cancel of notice #%d: %s", who, notice_id, type(refused).__name__
        )
        return _detail_page(
            request, viewer, notice_id, failed=refused.reply, status=status_of(refused)
        )
    audit.info("web: %s cancelled notice #%d", who, notice_id)
    if done.withdrawn is None:
        said = f"已取消定时公告 #{notice_id}，它不会发出。"
    else:
        said = f"公告 #{notice_id} 已取消，还没发出的 {done.withdrawn} 个群不会再收到。"
    return flash.redirect(request, viewer, f"{console.root}/notices/{notice_id}", said)


@router.get("/notices/config/{notice_id}")
def config_detail(
    request: Request, notice_id: str, viewer: Annotated[Viewer, Depends(current_viewer)]
) -> Response:
    """A notice of the config: its schedule and each occurrence's deliveries, the latest
    first, a page of occurrences at a time."""
    console = console_of(request)
    settings, now = console.settings, console.clock.now()
    notice = next((n for n in settings.notices if n.id == notice_id), None)
    if notice is None:
        raise PageError(404, "没有这个公告", "配置里没有这条定期公告。")
    actor = viewer.actor
    grids = domain_notices.target_grids(settings, notice)
    if not any(actor.may_act_on(c) for c in grids):
        audit.warning(
            "web: %s refused config notice %s: not his grids", actor.contact_id, notice.id
        )
        raise PageError(403, "无权查看", "这条公告不发给你负责的网格。")
    page = page_number(request.query_params.get("page", ""))
    key = domain_notices.config_key(notice.id)
    with console.db.session() as session:
        times, total = notice_store.occurrences(
            session=session,
            notice_key=key,
            offset=(page - 1) * OCCURRENCES_PER_PAGE,
            limit=OCCURRENCES_PER_PAGE,
        )
        if not times and total:
            page = (total - 1) // OCCURRENCES_PER_PAGE + 1
            times, total = notice_store.occurrences(
                session=session,
                notice_key=key,
                offset=(page - 1) * OCCURRENCES_PER_PAGE,
                limit=OCCURRENCES_PER_PAGE,
            )
        found = notice_store.deliveries_with_messages(
            session=session, notice_keys=[key], occurrences=times
        )
    by_time: dict[datetime, list[Row]] = {t: [] for t in times}
    for delivery, message in found:
        if actor.may_act_on(delivery.grid_code):
            row = _row(settings, delivery.grid_code, *_state(delivery, message, now))
            by_time.setdefault(delivery.occurrence, []).append(row)
    return render(
        request,
        "notice_config.html",
        {
            "title": notice.title,
            "viewer": viewer,
            "nav": "notices",
            "notice": notice,
            "schedule": _schedule(notice, settings),
            "next": _next_time(notice, settings, now),
            "grids": _targets(settings, viewer, grids),
            "occurrences": [
                {"at": local_time(t, settings.tz), "rows": rows, "summary": _summary(rows)}
                for t, rows in by_time.items()
            ],
            "total": total,
            "page": page,
            "pages": max(1, (total - 1) // OCCURRENCES_PER_PAGE + 1),
        },
    )
