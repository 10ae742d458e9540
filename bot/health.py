"""Is the bot healthy? What `gridbot status` prints and the web console's /healthz answers:
the database reachable, its schema current, each WeChat account online, the outbox not
behind, messages handled. The thresholds are the config's ``alerts`` section, so what is
unhealthy here is what bot/alerts.py raises an alert for.

How an account is known to be online: while logged in, the WeChat channel stamps its groups'
rows (``room_account.seen_at``) every minute (storage/accounts.py ``heartbeat``); an account
whose newest stamp is older than ``alerts.account_stale_minutes`` is offline, whatever
process serves it (several may share a PostgreSQL database). An account not seen for
:data:`FORGET_ACCOUNT_AFTER` is no longer counted: it was replaced or retired.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, col, func, select

from bot.settings import AlertSettings, Settings
from storage import accounts as account_store
from storage import migrate
from storage.db import Database
from storage.models import InboundMessage, MessageStatus, OutboundMessage, OutboundStatus

__all__ = [
    "FORGET_ACCOUNT_AFTER",
    "Backlog",
    "Check",
    "backlog",
    "online",
    "report",
    "unreachable",
]

FORGET_ACCOUNT_AFTER: Final = timedelta(days=7)
CHECKS: Final = ("database", "migrations", "accounts", "outbox", "messages")
_WAITING: Final = (OutboundStatus.PENDING, OutboundStatus.SENDING)


@dataclass
class Check:
    ok: bool
    detail: str
    data: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "detail": self.detail, **self.data}


@dataclass(frozen=True)
class Backlog:
    late: int  # unsent `late_minutes` or more after they were due
    pending: int  # every message waiting, due or not
    oldest_due: datetime | None  # the earliest due time among the late


def backlog(session: Session, now: datetime, late_minutes: int) -> Backlog:
    """What waits in the outbox: shared by the status and the backlog alert."""
    before = now - timedelta(minutes=late_minutes)
    waiting = col(OutboundMessage.status).in_(_WAITING)
    late, oldest = session.exec(
        select(func.count(), func.min(OutboundMessage.not_before)).where(
            waiting, col(OutboundMessage.not_before) <= before
        )
    ).one()
    pending = session.exec(select(func.count()).select_from(OutboundMessage).where(waiting)).one()
    return Backlog(late=late, pending=pending, oldest_due=oldest)


def _ago(now: datetime, then: datetime) -> str:
    seconds = max(0, int((now - then).total_seconds()))
    if seconds < 120:
        return f"{seconds} s ago"
    if seconds < 2 * 3600:
        return f"{seconds // 60} min ago"
    if seconds < 2 * 86400:
        return f"{seconds // 3600} h ago"
    return f"{seconds // 86400} days ago"


def _iso(moment: datetime | None, settings: Settings) -> str | None:
    return moment.astimezone(settings.tz).isoformat(timespec="seconds") if moment else None


def _migrations(db: Database) -> Check:
    current = migrate.current_revision(db.engine)
    head = migrate.HEAD
    data = {"current": current, "head": head}
    if current == head:
        return Check(True, f"schema at {head} (current)", data)
    return Check(
        False, f"schema at {current or 'none'}, current is {head}: run `gridbot db upgrade`", data
    )


def online(settings: Settings, seen_at: datetime, now: datetime) -> bool:
    """Whether an account whose newest stamp is ``seen_at`` is online at ``now``: for this
    report and for the web console's page of grids, whose groups show their accounts."""
    return now - seen_at <= timedelta(minutes=settings.alerts.account_stale_minutes)


def _accounts(session: Session, settings: Settings, now: datetime) -> Check:
    seen = {
        account: at
        for account, at in account_store.last_seen(session=session).items()
        if now - at <= FORGET_ACCOUNT_AFTER
    }
    rows = [
        {"account": account, "online": online(settings, at, now), "last_seen": _iso(at, settings)}
        for account, at in sorted(seen.items())
    ]
    if not rows:
        return Check(
            False,
            "no WeChat account has served on this database in the last "
            f"{FORGET_ACCOUNT_AFTER.days} days",
            {"accounts": rows},
        )
    offline = [account for account, at in sorted(seen.items()) if not online(settings, at, now)]
    parts = [
        f"{account} {'online' if online(settings, at, now) else 'OFFLINE'} (seen {_ago(now, at)})"
        for account, at in sorted(seen.items())
    ]
    return Check(not offline, "; ".join(parts), {"accounts": rows})


def _outbox(session: Session, settings: Settings, now: datetime) -> Check:
    alerts: AlertSettings = settings.alerts
    found = backlog(session, now, alerts.outbox_late_minutes)
    ok = found.late < alerts.outbox_backlog
    detail = (
        f"{found.late} message(s) unsent {alerts.outbox_late_minutes} min after due "
        f"(unhealthy from {alerts.outbox_backlog}); {found.pending} waiting in all"
    )
    data = {
        "late": found.late,
        "pending": found.pending,
        "oldest_due": _iso(found.oldest_due, settings),
        "threshold": alerts.outbox_backlog,
        "late_minutes": alerts.outbox_late_minutes,
    }
    return Check(ok, detail, data)


def _messages(session: Session, settings: Settings, now: datetime) -> Check:
    alerts = settings.alerts
    before = now - timedelta(minutes=alerts.outbox_late_minutes)
    last = session.exec(select(func.max(InboundMessage.handled_at))).one()
    waiting = session.exec(
        select(func.count())
        .select_from(InboundMessage)
        .where(
            col(InboundMessage.status) == MessageStatus.PENDING,
            col(InboundMessage.received_at) <= before,
        )
    ).one()
    problems = []
    if waiting:
        problems.append(
            f"{waiting} message(s) received over {alerts.outbox_late_minutes} min ago "
            "still unhandled"
        )
    hours = alerts.handled_within_hours
    if hours is not None and (last is None or now - last > timedelta(hours=hours)):
        problems.append(f"none handled in the last {hours} h")
    said = f"last handled {_ago(now, last)}" if last is not None else "none handled yet"
    detail = "; ".join([said, *problems]) if problems else f"{said}; none waiting"
    data = {"last_handled": _iso(last, settings), "waiting": waiting}
    return Check(not problems, detail, data)


def unreachable(reason: str, settings: Settings, now: datetime) -> dict[str, Any]:
    """The report when the database can't be opened at all."""
    checks = {"database": Check(False, reason)}
    return _report(checks, settings, now)


def _report(checks: dict[str, Check], settings: Settings, now: datetime) -> dict[str, Any]:
    for name in CHECKS:
        checks.setdefault(name, Check(False, "not checked: the database can't be read"))
    return {
        "healthy": all(check.ok for check in checks.values()),
        "at": _iso(now, settings),
        "checks": {name: checks[name].as_json() for name in CHECKS},
    }


def report(settings: Settings, db: Database, now: datetime) -> dict[str, Any]:
    """Every check, as JSON-ready data: ``{"healthy": bool, "at": …, "checks": {name: {"ok",
    "detail", …}}}``. Never raises for the database's sake: what fails is a failed check."""
    checks: dict[str, Check] = {}
    try:
        with db.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        reason = " ".join(str(getattr(exc, "orig", None) or exc).split())
        checks["database"] = Check(False, f"unreachable: {reason[:300]}")
        return _report(checks, settings, now)
    checks["database"] = Check(True, "reachable")
    try:
        checks["migrations"] = _migrations(db)
    except SQLAlchemyError as exc:
        checks["migrations"] = Check(False, f"can't be read: {type(exc).__name__}")
    parts = (("accounts", _accounts), ("outbox", _outbox), ("messages", _messages))
    for name, check in parts:
        try:
            with db.session() as session:
                checks[name] = check(session, settings, now)
        except SQLAlchemyError as exc:
            # an old schema lacks a table or column: the migrations check says why
            checks[name] = Check(False, f"can't be read: {type(exc).__name__}")
    return _report(checks, settings, now)
