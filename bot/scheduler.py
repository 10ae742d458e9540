"""The one owner of APScheduler: timed work (deadlines, notices, monthly 公示) runs here.

Features register *tasks*: module-level async functions under a name, taking a
:class:`TaskContext`. Jobs (a task, a trigger, arguments) are kept by APScheduler in the
project's database, so a restart knows which runs it missed: those within the job's
``misfire_grace_time`` run late (coalesced into one), older ones are reported missed.

Two ways to run:

- live: APScheduler's ``AsyncIOScheduler`` fires jobs on the event loop at wall-clock times;
- stepped: for replays and tests the scheduler is started paused and :meth:`Scheduler.run_due`
  runs what falls due as the injected clock is moved, at the times it falls due, using the same
  triggers and job store.

A task is told the time it was *scheduled* for (``ctx.at``), not when it happened to run:
work that must happen once per occurrence (a notice's 9:00 send) keys on that. A run is at
least once in both modes: a process killed around a run runs that occurrence again on restart
(stepped: the job is moved on after its task committed; live: APScheduler moves it on before,
so a live start runs the latest occurrence within the grace time again), so every task must be
idempotent per ``at``.

A task that runs often and mostly finds nothing to do (the 5-minute deadline sweep) can say
when it next has work (:func:`idle_until`): stepped mode then skips the runs before that
time, so a replay's tick a year ahead runs a handful of sweeps, not 100,000.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from apscheduler.events import EVENT_JOB_MISSED, JobExecutionEvent
from apscheduler.job import Job
from apscheduler.jobstores.base import BaseJobStore, JobLookupError
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlmodel import Session

from bot.clock import Clock
from bot.context import ONCE, Services
from bot.events import Outbound
from bot.outbox import queue_outbound

log = logging.getLogger(__name__)

Task = Callable[["TaskContext"], Awaitable[None]]
# (services, job id, task arguments, the time the run was scheduled for)
MissedHandler = Callable[["Services", str, tuple[Any, ...], datetime], None]
# (services, a session) -> the earliest time a run would do anything; None: no time yet
IdleUntil = Callable[["Services", Session], datetime | None]

_TASKS: dict[str, Task] = {}
_MISSED: dict[str, MissedHandler] = {}
_IDLE: dict[str, IdleUntil] = {}
# The scheduler of this process. APScheduler stores a job as a reference to a module-level
# function plus arguments (so it can be pickled into the database); that function finds the
# live scheduler here.
_running: Scheduler | None = None


def task(name: str) -> Callable[[Task], Task]:
    """Register a module-level async function as the task ``name``."""

    def register(func: Task) -> Task:
        if name in _TASKS and _TASKS[name] is not func:
            raise ValueError(f"task {name!r} is registered twice")
        _TASKS[name] = func
        return func

    return register


def on_missed(name: str) -> Callable[[MissedHandler], MissedHandler]:
    """Register what to do when a run of task ``name`` was too late to happen (the bot was
    down past the job's misfire grace time)."""

    def register(func: MissedHandler) -> MissedHandler:
        _MISSED[name] = func
        return func

    return register


def idle_until(name: str) -> Callable[[IdleUntil], IdleUntil]:
    """Register when a run of task ``name`` next has anything to do, as read from the
    database: the earliest time at which a run would change something, or None if no run
    would until a message or another job changes the state. Stepped mode skips the runs
    before that time (as if they had run and found nothing). It may answer too early (that
    costs runs), never too late (that loses work)."""

    def register(func: IdleUntil) -> IdleUntil:
        _IDLE[name] = func
        return func

    return register


@dataclass(slots=True)
class TaskContext:
    """What a task sees: like a handler's Context, without a message."""

    session: Session
    at: datetime  # the time this run was scheduled for
    now: datetime
    args: tuple[Any, ...]
    services: Services
    outgoing: list[Outbound] = field(default_factory=list)

    def send(self, message: Outbound) -> None:
        self.outgoing.append(message)


@dataclass(frozen=True, slots=True)
class JobSpec:
    """A job a feature wants: run ``task`` with ``args`` whenever ``trigger`` fires."""

    id: str
    task: str
    trigger: BaseTrigger
    args: tuple[Any, ...] = ()
    misfire_grace_time: int = 3600  # seconds a run may be late and still happen
    coalesce: bool = True  # several missed runs of the job run once


async def run_job(job_id: str, task_name: str, *args: Any) -> None:
    """The function APScheduler stores for every job: run ``task_name`` on the live scheduler."""
    scheduler = _running
    if scheduler is None:
        log.error("job %s fired with no scheduler running", job_id)
        return
    at = scheduler.occurrence(job_id)
    await scheduler.run_task(task_name, args, at)


def latest_fire_time(trigger: BaseTrigger, now: datetime, lookback: timedelta) -> datetime | None:
    """The last time ``trigger`` fired at or before ``now``, looking back at most ``lookback``."""
    latest = None
    fire = trigger.get_next_fire_time(None, now - lookback)
    while fire is not None and fire <= now:
        latest = fire
        fire = trigger.get_next_fire_time(fire, fire + timedelta(microseconds=1))
    return latest


class Scheduler:
    def __init__(
        self,
        services: Services,
        clock: Clock,
        *,
        stepped: bool,
        persist: bool = True,
        on_done: Callable[[], None] = lambda: None,
    ) -> None:
        self._services = services
        self._clock = clock
        self._stepped = stepped
        self._on_done = on_done
        self._triggers: dict[str, tuple[BaseTrigger, int]] = {}
        self._job_tasks: dict[str, tuple[str, tuple[Any, ...]]] = {}
        store: BaseJobStore = (
            SQLAlchemyJobStore(engine=services.db.engine, tablename="apscheduler_jobs")
            if persist
            else MemoryJobStore()
        )
        self._store = store
        # Stepped mode: the next run time, kept in memory while no job changes (only this
        # object changes them then), so a replay's every step does not query the job store.
        self._next_run: datetime | None = None
        self._next_run_known = False
        self._reruns: set[asyncio.Task[None]] = set()  # kept referenced until they finish
        self._aps = AsyncIOScheduler(
            timezone=clock.tz,
            jobstores={"default": store},
            job_defaults={"max_instances": 1},
        )
        self._aps.add_listener(self._missed, EVENT_JOB_MISSED)

    @property
    def stepped(self) -> bool:
        return self._stepped

    def start(self, jobs: Iterable[JobSpec]) -> None:
        """Load the stored jobs, add or update ``jobs``, and (live mode) begin firing."""
        global _running  # noqa: PLW0603  (see _running)
        self._jobs_changed()
        # Paused until the jobs are in, so a restart sees the stored next run times (and what
        # was missed) before anything is replaced.
        self._aps.start(paused=True)
        wanted = list(jobs)
        declared = {spec.id for spec in wanted}
        for job in self._aps.get_jobs():
            if job.id in declared or job.id.startswith(ONCE):
                self._remember(job)
            else:  # e.g. a notice taken out of config
                self._aps.remove_job(job.id)
        for spec in wanted:
            self.add(spec)
        if self._stepped:
            return  # run_due() runs the tasks itself; nothing needs to find this scheduler
        if _running is not None and _running is not self:
            raise RuntimeError("another live scheduler is already running in this process")
        _running = self
        self._rerun_unfinished()
        self._aps.resume()

    def _rerun_unfinished(self) -> None:
        """Live mode: run again each recurring job's latest occurrence within its grace time
        that the store has already moved past.

        APScheduler moves a job to its next run time *before* its task runs, so a process
        killed in between would lose that occurrence. Whether it finished is not known here;
        tasks are idempotent per occurrence, so running it again is safe and makes a live run
        at least once, as a stepped one is.
        """
        now = self._clock.now()
        loop = asyncio.get_running_loop()
        for job in self._aps.get_jobs():
            if job.id.startswith(ONCE) or job.next_run_time is None:
                continue  # one-off jobs are declared again from their feature's state
            grace = timedelta(seconds=job.misfire_grace_time or 0)
            latest = latest_fire_time(job.trigger, now, grace)
            if latest is None or job.next_run_time <= latest:
                continue  # not moved past it: APScheduler itself runs it late or reports it
            _job_id, task_name, *args = job.args
            log.info("job %s: running its %s occurrence again", job.id, latest.isoformat())
            rerun = loop.create_task(self.run_task(task_name, tuple(args), latest))
            self._reruns.add(rerun)
            rerun.add_done_callback(self._reruns.discard)

    def shutdown(self) -> None:
        global _running  # noqa: PLW0603  (see _running)
        self._jobs_changed()
        if self._aps.running:
            self._aps.shutdown(wait=False)
        if _running is self:
            _running = None

    def add(self, spec: JobSpec) -> None:
        """Add a job, or change it if its trigger or arguments changed.

        An unchanged job keeps its stored next run time: that is how runs missed while the
        bot was down are found.
        """
        if spec.task not in _TASKS:
            raise ValueError(f"unknown task {spec.task!r}")
        if isinstance(spec.trigger, IntervalTrigger):
            # It counts from the wall clock at creation, which a replay's clock is not.
            raise ValueError(
                f"job {spec.id}: use a CronTrigger (e.g. */5 minutes), not an interval"
            )
        self._jobs_changed()
        args = (spec.id, spec.task, *spec.args)
        existing = self._aps.get_job(spec.id)
        if (
            existing is not None
            and str(existing.trigger) == str(spec.trigger)
            and (tuple(existing.args) == args)
        ):
            self._remember(existing)
            return
        job = self._aps.add_job(
            run_job,
            trigger=spec.trigger,
            # APScheduler would take the first run time from the wall clock; a replay's clock
            # is somewhere else.
            next_run_time=spec.trigger.get_next_fire_time(None, self._clock.now()),
            args=args,
            id=spec.id,
            name=spec.task,
            misfire_grace_time=spec.misfire_grace_time,
            coalesce=spec.coalesce,
            replace_existing=True,
        )
        self._remember(job)

    def remove(self, job_id: str) -> None:
        self._jobs_changed()
        if self._aps.get_job(job_id) is not None:
            self._aps.remove_job(job_id)
        self._triggers.pop(job_id, None)
        self._job_tasks.pop(job_id, None)

    def job_ids(self) -> list[str]:
        return [job.id for job in self._aps.get_jobs()]

    def _remember(self, job: Job) -> None:
        self._triggers[job.id] = (job.trigger, job.misfire_grace_time or 3600)
        _job_id, task_name, *args = job.args
        self._job_tasks[job.id] = (task_name, tuple(args))

    def occurrence(self, job_id: str) -> datetime:
        """The time the run now under way was scheduled for (live mode)."""
        now = self._clock.now()
        trigger, grace = self._triggers.get(job_id, (None, 0))
        if trigger is None:
            return now
        lookback = timedelta(seconds=grace + 60)
        return latest_fire_time(trigger, now, lookback) or now

    def next_run_time(self) -> datetime | None:
        # The store's own query: a replay asks this at every step, and get_jobs() would
        # unpickle every job each time.
        if not self._aps.running:
            return None
        if self._stepped and self._next_run_known:
            return self._next_run
        at: datetime | None = self._store.get_next_run_time()
        self._next_run = at.astimezone(self._clock.tz) if at is not None else None
        self._next_run_known = self._stepped
        return self._next_run

    def _jobs_changed(self) -> None:
        self._next_run_known = False

    def skip_idle(self, until: datetime) -> None:
        """Stepped mode: move each job whose task says when it next has work
        (:func:`idle_until`) past its runs up to ``until`` that would find nothing to do.

        No job is moved past the first run that does something (another job's, or an idle
        one's first at or after its work time): that run may give it work. Messages come
        between steps, never within one. A run due before the clock (late, after a restart)
        is left to run or be reported missed as usual: it sees a later ``now`` than its own.
        """
        if not self._stepped or not self._aps.running:
            return
        idle = [job_id for job_id, (name, _) in self._job_tasks.items() if name in _IDLE]
        first = self.next_run_time()
        if not idle or first is None or first > until:
            return
        # The common case, a step of a few minutes, needs no database: skipping pays only if
        # a job runs at least twice by ``until``, so its trigger fires twice after ``first``.
        if not any(self._fires_twice(job_id, first, until) for job_id in idle):
            return
        due = self._store.get_due_jobs(until)
        now = self._clock.now()
        work: dict[str, datetime | None] = {}  # idle job -> when it has work
        with self._services.db.session() as session:
            for job in due:
                name = self._job_tasks.get(job.id, ("", ()))[0]
                if name in _IDLE and job.next_run_time >= now:
                    work[job.id] = _IDLE[name](self._services, session)
        busy: list[datetime | None] = []  # the runs that will do something
        for job in due:
            if job.id not in work:
                busy.append(job.next_run_time)
            elif (work_at := work[job.id]) is not None:
                busy.append(job.trigger.get_next_fire_time(None, max(work_at, job.next_run_time)))
        first_busy = min((t for t in busy if t is not None), default=None)
        for job in due:
            if job.id not in work:
                continue
            bound = min((t for t in (work[job.id], first_busy) if t is not None), default=None)
            if bound is not None and bound <= until:
                skip_to = job.trigger.get_next_fire_time(None, bound)  # its first run from then
            else:
                skip_to = job.trigger.get_next_fire_time(None, until + timedelta(microseconds=1))
            if skip_to is None or skip_to <= job.next_run_time:
                continue
            log.debug("job %s: skipping idle runs to %s", job.id, skip_to.isoformat())
            self._jobs_changed()
            self._aps.modify_job(job.id, next_run_time=skip_to)

    def _fires_twice(self, job_id: str, start: datetime, until: datetime) -> bool:
        trigger = self._triggers[job_id][0]
        first = trigger.get_next_fire_time(None, start)
        if first is None or first > until:
            return False
        second = trigger.get_next_fire_time(first, first + timedelta(microseconds=1))
        return second is not None and second <= until

    async def run_due(self, until: datetime) -> int:
        """Stepped mode: run every job due at or before ``until``, in time order, each at its
        own time (the clock is set to it). Returns how many runs happened."""
        runs = 0
        while True:
            self.skip_idle(until)
            following_run = self.next_run_time()
            if following_run is None or following_run > until:
                return runs
            jobs = self._store.get_due_jobs(until)
            if not jobs:
                return runs
            job = min(jobs, key=lambda j: (j.next_run_time, j.id))
            at: datetime = job.next_run_time.astimezone(self._clock.tz)
            set_clock = getattr(self._clock, "set", None)
            if set_clock is not None and at > self._clock.now():
                set_clock(at)
            _job_id, task_name, *args = job.args
            grace = job.misfire_grace_time
            if grace is not None and self._clock.now() - at > timedelta(seconds=grace):
                # started long after this run: as in live mode, it is missed, not run late
                self._report_missed(job.id, task_name, tuple(args), at)
            else:
                await self.run_task(task_name, tuple(args), at)
                runs += 1
            # Moved on only after the run committed: a process killed in between runs this
            # occurrence again on restart (tasks are idempotent per occurrence), where moving
            # first would lose it.
            following = job.trigger.get_next_fire_time(at, at + timedelta(microseconds=1))
            self._jobs_changed()
            with contextlib.suppress(JobLookupError):  # the task removed its own job
                if following is None:
                    self._aps.remove_job(job.id)
                else:
                    self._aps.modify_job(job.id, next_run_time=following)

    async def run_task(self, task_name: str, args: tuple[Any, ...], at: datetime) -> None:
        func = _TASKS.get(task_name)
        if func is None:
            log.error("no task %r (a job stored by another version?)", task_name)
            return
        services = self._services
        with services.db.session() as session:
            ctx = TaskContext(
                session=session, at=at, now=self._clock.now(), args=args, services=services
            )
            try:
                await func(ctx)
            except Exception:
                session.rollback()
                log.exception("task %s scheduled for %s failed", task_name, at.isoformat())
                return
            queue_outbound(session, ctx.outgoing, now=ctx.now)
            session.commit()
        self._on_done()

    def _missed(self, event: JobExecutionEvent) -> None:
        # A one-off job is gone from the store by now: its task is looked up in memory.
        task_name, args = self._job_tasks.get(event.job_id, ("", ()))
        self._report_missed(event.job_id, task_name, args, event.scheduled_run_time)

    def _report_missed(
        self, job_id: str, task_name: str, args: tuple[Any, ...], at: datetime
    ) -> None:
        log.warning("job %s missed its run at %s", job_id, at.isoformat())
        handler = _MISSED.get(task_name)
        if handler is None:
            return
        try:
            handler(self._services, job_id, args, at)
        except Exception:
            log.exception("recording the missed run of %s failed", job_id)
