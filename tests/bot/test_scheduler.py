from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime, timedelta

import pytest
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import event, text
from sqlmodel import Session

from bot.app import App
from bot.clock import ManualClock, SystemClock
from bot.context import Services
from bot.events import Outbound
from bot.scheduler import (
    JobSpec,
    Scheduler,
    TaskContext,
    idle_until,
    latest_fire_time,
    on_missed,
    task,
)
from bot.settings import Settings
from nlp.classifier import Classifier
from storage.db import Database
from tests.auxil.chat import RecordingSender
from tests.conftest import TZ

RUNS: list[tuple[str, datetime, tuple[object, ...]]] = []


@task("test.record")
async def record(ctx: TaskContext) -> None:
    RUNS.append(("record", ctx.at, ctx.args))


MISSED: list[tuple[str, datetime]] = []


@on_missed("test.record")
def record_missed(services: Services, job_id: str, args: tuple[object, ...], at: datetime) -> None:
    MISSED.append((job_id, at))


@task("test.announce")
async def announce(ctx: TaskContext) -> None:
    ctx.send(Outbound(text=f"{ctx.args[0]} {ctx.at:%m-%d %H:%M}", room_topic="幸福社区第3网格"))


@task("test.broken")
async def broken(ctx: TaskContext) -> None:
    ctx.send(Outbound(text="never", room_topic="x"))
    raise RuntimeError("task bug")


@pytest.fixture(autouse=True)
def clear_runs() -> None:
    RUNS.clear()
    MISSED.clear()


def cron(expr: str) -> CronTrigger:
    return CronTrigger.from_crontab(expr, timezone=TZ)


def test_latest_fire_time() -> None:
    trigger = cron("0 9 * * *")
    now = datetime(2026, 11, 22, 9, 30, tzinfo=TZ)
    assert latest_fire_time(trigger, now, timedelta(hours=1)) == now.replace(minute=0)
    assert latest_fire_time(trigger, now.replace(hour=8), timedelta(hours=1)) is None
    assert latest_fire_time(trigger, now, timedelta(days=3)) == now.replace(minute=0)
    once = DateTrigger(now.replace(minute=10))
    assert latest_fire_time(once, now, timedelta(hours=1)) == now.replace(minute=10)


def test_a_task_name_is_registered_once() -> None:
    with pytest.raises(ValueError, match="twice"):
        task("test.record")(announce)


async def test_stepped_jobs_run_at_their_times_and_their_messages_go_out_then(
    app: App, clock: ManualClock, sender: RecordingSender
) -> None:
    app.scheduler.add(JobSpec("daily", "test.announce", cron("0 9 * * *"), args=("早安",)))
    app.scheduler.add(JobSpec("noon", "test.announce", DateTrigger(clock.now().replace(hour=12)),
                              args=("午间",)))  # fmt: skip
    stamps: list[str] = []
    original = sender.send

    async def stamp(message: Outbound) -> None:
        stamps.append(f"{clock.now():%m-%d %H:%M}|{message.text}")
        await original(message)

    sender.send = stamp  # type: ignore[method-assign]
    await app.advance(clock, datetime(2026, 11, 24, 10, 0, tzinfo=TZ))
    assert stamps == [
        "11-22 09:00|早安 11-22 09:00",  # added at 09:00 sharp: that run is due
        "11-22 12:00|午间 11-22 12:00",
        "11-23 09:00|早安 11-23 09:00",
        "11-24 09:00|早安 11-24 09:00",
    ]
    assert clock.now() == datetime(2026, 11, 24, 10, 0, tzinfo=TZ)
    assert "daily" in app.scheduler.job_ids()
    assert "noon" not in app.scheduler.job_ids()  # the one-off is done


async def test_a_failing_task_is_rolled_back_and_does_not_stop_the_others(
    app: App, clock: ManualClock, sender: RecordingSender, caplog: pytest.LogCaptureFixture
) -> None:
    app.scheduler.add(JobSpec("bad", "test.broken", cron("*/10 * * * *")))
    app.scheduler.add(JobSpec("good", "test.record", cron("*/15 * * * *")))
    await app.advance(clock, clock.now() + timedelta(minutes=31))
    assert [r[1].strftime("%H:%M") for r in RUNS] == ["09:00", "09:15", "09:30"]
    assert sender.sent == []
    assert caplog.text.count("task test.broken scheduled for") == 4


def test_unknown_tasks_and_interval_triggers_are_refused(app: App) -> None:
    with pytest.raises(ValueError, match="unknown task"):
        app.scheduler.add(JobSpec("x", "no.such.task", cron("0 9 * * *")))
    with pytest.raises(ValueError, match="CronTrigger"):
        app.scheduler.add(JobSpec("x", "test.record", IntervalTrigger(minutes=5)))


async def test_jobs_are_kept_in_the_database_and_survive_a_restart(
    settings: Settings, clock: ManualClock, sqlite_db: Database, classifier: Classifier
) -> None:
    services = Services(settings=settings, clock=clock, db=sqlite_db, classifier=classifier)
    spec = JobSpec("daily", "test.record", cron("0 9 * * *"), args=(1,))
    first = Scheduler(services, clock, stepped=True)
    first.start([spec])
    await first.run_due(datetime(2026, 11, 23, 9, 30, tzinfo=TZ))
    first.shutdown()
    with sqlite_db.engine.connect() as conn:
        assert conn.execute(text("SELECT id FROM apscheduler_jobs")).scalars().all() == ["daily"]

    # Down for two days: the restarted scheduler still knows the next run was the 24th.
    again = Scheduler(services, clock, stepped=True)
    again.start([spec])
    assert again.next_run_time() == datetime(2026, 11, 24, 9, 0, tzinfo=TZ)
    # a changed schedule replaces the stored one
    again.add(JobSpec("daily", "test.record", cron("30 8 * * *"), args=(1,)))
    assert again.next_run_time() == datetime(2026, 11, 24, 8, 30, tzinfo=TZ)
    again.shutdown()


async def test_live_mode_fires_on_the_event_loop_with_the_scheduled_time(
    settings: Settings, sqlite_db: Database, classifier: Classifier
) -> None:
    clock = SystemClock(TZ)
    services = Services(settings=settings, clock=clock, db=sqlite_db, classifier=classifier)
    done = asyncio.Event()
    scheduler = Scheduler(services, clock, stepped=False, on_done=done.set)
    when = (clock.now() + timedelta(seconds=0.3)).replace(microsecond=0) + timedelta(seconds=1)
    scheduler.start([JobSpec("soon", "test.record", DateTrigger(when), args=("x",))])
    try:
        await asyncio.wait_for(done.wait(), timeout=5)
    finally:
        scheduler.shutdown()
    assert [("record", when, ("x",))] == RUNS


async def test_live_mode_runs_late_within_grace_and_reports_older_runs_missed(
    settings: Settings, sqlite_db: Database, classifier: Classifier
) -> None:
    clock = SystemClock(TZ)
    services = Services(settings=settings, clock=clock, db=sqlite_db, classifier=classifier)
    now = clock.now()
    late = now - timedelta(seconds=30)  # within 60 s of grace
    lost = now - timedelta(hours=2)  # beyond it
    jobs = [
        JobSpec("late", "test.record", DateTrigger(late), args=("late",), misfire_grace_time=60),
        JobSpec("lost", "test.record", DateTrigger(lost), args=("lost",), misfire_grace_time=60),
    ]
    # Stored as they were before a crash: paused, never run.
    stored = Scheduler(services, clock, stepped=True)
    stored._aps.start(paused=True)
    for spec in jobs:
        stored.add(spec)
    stored.shutdown()

    done = asyncio.Event()
    live = Scheduler(services, clock, stepped=False, on_done=done.set)
    live.start(jobs)
    try:
        await asyncio.wait_for(done.wait(), timeout=5)
        await asyncio.sleep(0.2)
    finally:
        live.shutdown()
    assert [("record", late, ("late",))] == RUNS
    assert [("lost", lost)] == MISSED


async def test_live_mode_runs_again_an_occurrence_the_store_had_moved_past(
    settings: Settings, sqlite_db: Database, classifier: Classifier
) -> None:
    """APScheduler moves a job on before its task runs: a process killed in between would
    lose that occurrence, so a live start runs the latest one within the grace time again."""
    clock = SystemClock(TZ)
    services = Services(settings=settings, clock=clock, db=sqlite_db, classifier=classifier)
    spec = JobSpec("minutely", "test.record", cron("* * * * *"), misfire_grace_time=60)
    now = clock.now()
    latest = latest_fire_time(spec.trigger, now, timedelta(seconds=60))
    assert latest is not None
    # As the store is left by a kill after the job was moved on, before its task committed.
    stored = Scheduler(services, clock, stepped=True)
    stored.start([spec])
    stored._aps.modify_job("minutely", next_run_time=latest + timedelta(minutes=1))
    stored.shutdown()

    done = asyncio.Event()
    live = Scheduler(services, clock, stepped=False, on_done=done.set)
    live.start([spec])
    try:
        await asyncio.wait_for(done.wait(), timeout=5)
    finally:
        live.shutdown()
    assert RUNS[0] == ("record", latest, ())


async def test_stepped_mode_misses_runs_older_than_their_grace_too(
    app: App, clock: ManualClock
) -> None:
    long_ago = clock.now() - timedelta(hours=2)
    app.scheduler.add(JobSpec("old", "test.record", DateTrigger(long_ago), misfire_grace_time=60))
    await app.advance(clock, clock.now() + timedelta(minutes=1))
    assert RUNS == []
    assert [("old", long_ago)] == MISSED


async def test_jobs_nobody_declares_any_more_are_dropped_at_start(
    settings: Settings, clock: ManualClock, sqlite_db: Database, classifier: Classifier
) -> None:
    services = Services(settings=settings, clock=clock, db=sqlite_db, classifier=classifier)
    first = Scheduler(services, clock, stepped=True)
    first.start([JobSpec("gone", "test.record", cron("0 9 * * *"))])
    first.shutdown()
    again = Scheduler(services, clock, stepped=True)
    again.start([])
    assert again.job_ids() == []
    again.shutdown()


class Killed(BaseException):
    """The process dying in the middle of a run: nothing after it happens."""


KILL_NEXT: list[bool] = []


@task("test.killed_once")
async def killed_once(ctx: TaskContext) -> None:
    if KILL_NEXT:
        KILL_NEXT.clear()
        raise Killed
    RUNS.append(("killed_once", ctx.at, ctx.args))


async def test_a_run_cut_short_by_a_kill_happens_after_the_restart(
    settings: Settings, clock: ManualClock, sqlite_db: Database, classifier: Classifier
) -> None:
    services = Services(settings=settings, clock=clock, db=sqlite_db, classifier=classifier)
    spec = JobSpec("daily", "test.killed_once", cron("0 9 * * *"))
    first = Scheduler(services, clock, stepped=True)
    first.start([spec])
    KILL_NEXT.append(True)
    with pytest.raises(Killed):
        await first.run_due(datetime(2026, 11, 23, 9, 30, tzinfo=TZ))

    again = Scheduler(services, clock, stepped=True)
    again.start([spec])
    # the 22nd's run, killed before it committed, is not lost
    assert await again.run_due(datetime(2026, 11, 23, 9, 30, tzinfo=TZ)) == 2
    assert [r[1] for r in RUNS] == [
        datetime(2026, 11, 22, 9, 0, tzinfo=TZ),
        datetime(2026, 11, 23, 9, 0, tzinfo=TZ),
    ]
    assert again.next_run_time() == datetime(2026, 11, 24, 9, 0, tzinfo=TZ)
    again.shutdown()
    first.shutdown()


async def test_stepped_mode_keeps_the_next_run_time_in_memory_while_no_job_changes(
    app: App, clock: ManualClock, sqlite_db: Database
) -> None:
    app.scheduler.add(JobSpec("hourly", "test.record", cron("0 * * * *")))
    await app.advance(clock, clock.now())  # what is due at the start has run
    first = app.scheduler.next_run_time()
    assert first is not None
    assert first > clock.now()
    statements: list[str] = []
    event.listen(sqlite_db.engine, "before_cursor_execute",
                 lambda *args: statements.append(args[2]))  # fmt: skip
    assert app.scheduler.next_run_time() == first
    assert await app.scheduler.run_due(first - timedelta(seconds=1)) == 0
    assert not [s for s in statements if "apscheduler_jobs" in s]
    # a job added, or a run moving a job on, is seen at once
    sooner = clock.now() + (first - clock.now()) / 2
    app.scheduler.add(JobSpec("once:soon", "test.record", DateTrigger(sooner)))
    assert app.scheduler.next_run_time() == sooner
    assert await app.scheduler.run_due(sooner) == 1
    assert app.scheduler.next_run_time() == first
    assert await app.scheduler.run_due(first) >= 1
    assert app.scheduler.next_run_time() not in (None, first)


# --- skipping runs that would find nothing to do ---------------------------------------------

WORK: list[datetime] = []  # when test.idle has something to do: its "database"


@task("test.idle")
async def idle_sweep(ctx: TaskContext) -> None:
    RUNS.append(("idle", ctx.at, ctx.args))
    WORK[:] = [at for at in WORK if at > ctx.now]  # what was due is done


@idle_until("test.idle")
def idle_work_at(services: Services, session: Session) -> datetime | None:
    return min(WORK, default=None)


@task("test.adds_work")
async def adds_work(ctx: TaskContext) -> None:
    RUNS.append(("adds_work", ctx.at, ctx.args))
    WORK.append(ctx.at + timedelta(minutes=7))


@pytest.fixture(autouse=True)
def clear_work() -> None:
    WORK.clear()


@pytest.fixture
async def bare(
    settings: Settings, clock: ManualClock, sqlite_db: Database, classifier: Classifier
) -> AsyncIterator[Scheduler]:
    """A stepped scheduler with none of the bot's jobs: each of them bounds a skip."""
    services = Services(settings=settings, clock=clock, db=sqlite_db, classifier=classifier)
    scheduler = Scheduler(services, clock, stepped=True)
    yield scheduler
    scheduler.shutdown()


async def test_runs_with_nothing_to_do_are_skipped_so_a_year_ahead_is_quick(
    bare: Scheduler, clock: ManualClock
) -> None:
    start = clock.now()  # 09:00
    WORK.extend([start + timedelta(days=3, minutes=2), start + timedelta(days=200)])
    bare.start([JobSpec("idle", "test.idle", cron("*/5 * * * *"), misfire_grace_time=300)])
    until = start + timedelta(days=365)
    # not 105,120 runs: the first at or after each time it has work, at its own time
    assert await bare.run_due(until) == 2
    assert [(name, at) for name, at, _ in RUNS] == [
        ("idle", start + timedelta(days=3, minutes=5)),
        ("idle", start + timedelta(days=200)),
    ]
    # the next run is where it would be had every run happened
    assert bare.next_run_time() == until + timedelta(minutes=5)


async def test_runs_are_skipped_no_further_than_another_jobs_run(
    bare: Scheduler, clock: ManualClock
) -> None:
    """Another job may give the skipped one work: here, for 7 minutes after it runs."""
    start = clock.now()
    adder = start + timedelta(days=10, minutes=1)
    bare.start(
        [
            JobSpec("idle", "test.idle", cron("*/5 * * * *")),
            JobSpec("once:adder", "test.adds_work", DateTrigger(adder)),
        ]
    )
    assert await bare.run_due(start + timedelta(days=30)) == 2
    assert [(name, at) for name, at, _ in RUNS] == [
        ("adds_work", adder),
        ("idle", adder + timedelta(minutes=9)),  # the first run at or after 09:08
    ]


async def test_a_late_run_is_not_skipped(bare: Scheduler, clock: ManualClock) -> None:
    """A run due before the clock (after a restart) runs late or is reported missed as
    usual: it may see what its own time would not (its ``now`` is later)."""
    bare.start([JobSpec("idle", "test.idle", cron("*/5 * * * *"), misfire_grace_time=600)])
    clock.set(clock.now() + timedelta(minutes=7))  # the 09:00 and 09:05 runs are late
    bare.skip_idle(clock.now() + timedelta(days=1))
    assert bare.next_run_time() == datetime(2026, 11, 22, 9, 0, tzinfo=TZ)
