"""The database's upkeep on a schedule: the daily backup (`backup:`, off unless enabled) and
the daily retention purge (`retention:`), each as `gridbot backup` and `gridbot purge` do
by hand.

Both run in a thread: a backup or a first purge over years of messages takes minutes, and the
bot goes on answering meanwhile. Both are idempotent per occurrence: a backup is named by the
time it was scheduled for, and one already there is that occurrence's; a purge does nothing
twice. A failure is logged and told to ``on_failure`` (the operations alert, wired in by
:func:`set_failure_alert`): nobody reads a log at 03:30, and a backup that silently stopped
is found out on the day it is needed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy.engine import URL
from sqlmodel import Session

from bot.context import Services
from bot.cron import cron_trigger
from bot.scheduler import JobSpec, TaskContext, idle_until, task
from bot.settings import Settings
from storage import backup, retention
from storage.db import Database

log = logging.getLogger(__name__)
audit = logging.getLogger("gridbot.audit")

BACKUP = "maintenance.backup"
PURGE = "maintenance.purge"
# A backup still worth making hours late (the bot was down at night); later, the next day's.
BACKUP_GRACE_SECONDS = 12 * 3600
# A purge missed waits for the next day's, which does both days' work: a start within the
# grace runs the last occurrence again (bot/scheduler.py), and a purge then would compete
# with the start's own work for nothing.
PURGE_GRACE_SECONDS = 300

OnFailure = Callable[[str], Awaitable[None]]

# The alert for this process's jobs. APScheduler stores a job as a module-level function and
# arguments it can pickle, which a callback is not: the task finds it here, as run_job finds
# the live scheduler.
_on_failure: OnFailure | None = None


def set_failure_alert(on_failure: OnFailure | None) -> None:
    """Tell ``on_failure(text)`` (a short Chinese line for the operators) when a scheduled
    backup or purge of this process fails; None: only the log says so."""
    global _on_failure  # noqa: PLW0603  (see _on_failure)
    _on_failure = on_failure


def jobs(settings: Settings) -> list[JobSpec]:
    specs = []
    if settings.backup.enabled:
        trigger = cron_trigger(settings.backup.cron, settings.tz)
        specs.append(JobSpec(BACKUP, BACKUP, trigger, misfire_grace_time=BACKUP_GRACE_SECONDS))
    rules = settings.retention
    if rules.cron is not None and _rules_on(settings):
        trigger = cron_trigger(rules.cron, settings.tz)
        specs.append(JobSpec(PURGE, PURGE, trigger, misfire_grace_time=PURGE_GRACE_SECONDS))
    return specs


def _rules_on(settings: Settings) -> bool:
    rules = settings.retention
    return rules.mask_numbers_after_days is not None or rules.archived_text_after_days is not None


def _days(days: int | None) -> timedelta | None:
    return timedelta(days=days) if days is not None else None


async def _tell(on_failure: OnFailure | None, text: str) -> None:
    if on_failure is None:
        return
    try:
        await on_failure(text)
    except Exception:
        # the alert's own failure must not hide the one it was about (logged just before)
        log.exception("the failure alert could not be sent")


async def run_backup(
    settings: Settings, url: str | URL, at: datetime, *, on_failure: OnFailure | None = None
) -> Path | None:
    """Back the database at ``url`` up into ``backup.dir`` under the name of ``at`` (the
    time the run was scheduled for), then delete the backups older than ``keep_days``; the
    backup's path, or None if it failed (said to ``on_failure``)."""
    rules = settings.backup
    local = at.astimezone(settings.tz)
    out = backup.default_path(rules.dir, url, local)
    if out.exists():
        log.info("backup %s is there already: this run was made", out)
        return out
    try:
        size = await asyncio.to_thread(backup.backup, url, out)
    except Exception as exc:  # whatever it was, the operators must hear of it
        reason = str(exc) or type(exc).__name__
        log.error("the scheduled backup failed: %s", reason)
        await _tell(on_failure, f"【网格助手】数据库备份失败（{local:%Y-%m-%d %H:%M}）：{reason}")
        return None
    before = local - timedelta(days=rules.keep_days)
    try:
        deleted = await asyncio.to_thread(
            backup.prune, rules.dir, before=before, tz=settings.tz, keep=out
        )
    except OSError as exc:
        log.error("backup %s made, but old backups could not be deleted: %s", out, exc)
        await _tell(on_failure, f"【网格助手】数据库已备份，但旧备份删除失败：{exc}")
        return out
    log.info(
        "backup %s made (%d bytes); %d backup(s) older than %d days deleted",
        out,
        size,
        len(deleted),
        rules.keep_days,
    )
    return out


async def run_purge(
    settings: Settings, db: Database, now: datetime, *, on_failure: OnFailure | None = None
) -> retention.PurgeReport | None:
    """The retention purge as of ``now``; its report, or None if it failed (said to
    ``on_failure``)."""
    rules = settings.retention
    try:
        report = await asyncio.to_thread(
            retention.purge,
            db,
            now=now,
            mask_after=_days(rules.mask_numbers_after_days),
            text_after=_days(rules.archived_text_after_days),
        )
    except Exception as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        log.exception("the retention purge failed")
        await _tell(on_failure, f"【网格助手】个人信息定期清理失败：{reason}")
        return None
    if report.total:
        audit.info(
            "retention purge: numbers masked in %d row(s), free text replaced in %d row(s)",
            sum(report.masked.values()),
            sum(report.replaced.values()),
        )
    return report


@task(BACKUP)
async def scheduled_backup(ctx: TaskContext) -> None:
    settings = ctx.services.settings
    if not settings.backup.enabled:
        return  # switched off since the job was stored
    await run_backup(settings, ctx.services.db.url, ctx.at, on_failure=_on_failure)


@task(PURGE)
async def scheduled_purge(ctx: TaskContext) -> None:
    settings = ctx.services.settings
    if settings.retention.cron is None or not _rules_on(settings):
        return
    await run_purge(settings, ctx.services.db, ctx.now, on_failure=_on_failure)


@idle_until(PURGE)
def purge_work_at(services: Services, session: Session) -> datetime | None:
    """When a purge next has work: a replay a year long runs the few that do."""
    rules = services.settings.retention
    return retention.work_at(
        session,
        mask_after=_days(rules.mask_numbers_after_days),
        text_after=_days(rules.archived_text_after_days),
    )
