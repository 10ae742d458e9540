"""Putting the bot together: settings → database → services → dispatcher, for any channel."""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass, field, replace
from datetime import datetime

from bot.alerts import Alerts
from bot.channels.base import Sender
from bot.clock import Clock, ManualClock
from bot.context import Services
from bot.dispatcher import Dispatcher
from bot.events import Inbound
from bot.models import build_classifier
from bot.outbox import OutboxSender
from bot.scheduler import Scheduler
from bot.settings import Settings
from handlers import all_jobs, all_routers, maintenance
from nlp.classifier import Classifier
from storage import grids as grid_store
from storage import migrate
from storage.accounts import DEFAULT_ACCOUNT
from storage.db import Database, sqlite_path

log = logging.getLogger(__name__)


class SchemaOutOfDate(Exception):
    def __init__(self, url: str) -> None:
        super().__init__(
            f"the database {url} is not at the current schema: run `gridbot db upgrade` first"
        )


def open_database(url: str, *, auto_upgrade: bool | None = None) -> Database:
    """Open the database and make sure its schema is current.

    An embedded SQLite file is upgraded on the spot; a shared server database is only
    checked, because upgrading it is the operator's deliberate step (`gridbot db upgrade`)
    when several bot processes use it.
    """
    db = Database.from_url(url)
    if auto_upgrade is None:
        auto_upgrade = db.url.get_backend_name() == "sqlite"
    if auto_upgrade:
        migrate.upgrade_if_behind(db.engine)
    elif not migrate.is_up_to_date(db.engine):
        db.dispose()
        raise SchemaOutOfDate(db.url.render_as_string(hide_password=True))
    path = sqlite_path(db.url)
    if path is not None:
        log.info("database: %s", path)
    return db


@dataclass
class _Shared:
    """What the apps of one process's accounts share past their services: every account's
    outbox (a scheduled notice may go from any of them), and how many of them are started,
    because the scheduler and the recovery of the previous run's leftovers run once."""

    outboxes: list[OutboxSender] = field(default_factory=list)
    started: int = 0
    # operations alerts and the escalation room's copy to 企业微信: one per process
    alerts: Alerts | None = None

    def notify_all(self) -> None:
        for outbox in self.outboxes:
            outbox.notify()

    def serves(self, account: str, *, besides: OutboxSender | None = None) -> bool:
        """Whether an outbox other than ``besides`` sends as ``account``."""
        return any(o.account == account for o in self.outboxes if o is not besides)


@dataclass
class App:
    """The bot as one account serves it. Several accounts in one process are sibling apps
    (:meth:`add_account`): one dispatcher, scheduler, classifier and database, an outbox
    sender each."""

    services: Services
    dispatcher: Dispatcher
    outbox: OutboxSender
    scheduler: Scheduler
    _shared: _Shared = field(default_factory=_Shared, repr=False)

    def __post_init__(self) -> None:
        if self.outbox not in self._shared.outboxes:
            self._shared.outboxes.append(self.outbox)

    @property
    def account(self) -> str:
        """The bot account this process serves (see :class:`OutboxSender`)."""
        return self.outbox.account

    @property
    def alerts(self) -> Alerts:
        """The process's operations alerts (bot/alerts.py), shared by sibling apps."""
        shared = self._shared
        if shared.alerts is None:
            services = self.services
            shared.alerts = Alerts(services.settings, services.clock, services.db)
        return shared.alerts

    def set_account(self, account: str) -> None:
        """Serve as ``account`` from now on: the WeChat channel learns it at login."""
        if self._shared.serves(account, besides=self.outbox):
            # Two tokens of one WeChat account: both send, each message once (a claim).
            log.error("account %s is logged in twice in this process", account)
        self.outbox.account = account

    def saw(self, event: Inbound) -> None:
        """Record that this process's account received ``event`` (is in its group, can
        write to its sender) without handling it: a message handled before."""
        if event.account is None:
            event = replace(event, account=self.account)
        self.dispatcher.note_reach(event, self.services.clock.now())

    async def feed(self, event: Inbound, *, answer: bool = True) -> None:
        """Handle one inbound message and deliver what it made due (see Dispatcher.feed).
        The message was received by this process's account unless it names another."""
        if event.account is None:
            event = replace(event, account=self.account)
        await self.dispatcher.feed(event, answer=answer)
        self.outbox.notify()

    def add_account(self, sender: Sender, account: str) -> App:
        """A sibling app serving ``account`` through ``sender`` in this process: it shares
        this app's dispatcher, scheduler and services, and has an outbox sender of its own.

        One process serves many accounts this way at the cost of one connection each, where
        a process per account would load the classifier (most of a process's memory) again."""
        if self._shared.serves(account):
            raise ValueError(f"account {account!r} is already served by this process")
        outbox = OutboxSender(
            self.services.db,
            self.services.clock,
            sender,
            self.services.settings.sending,
            rng=_jitter(self.services.clock, seed=len(self._shared.outboxes)),
            account=account,
        )
        return App(self.services, self.dispatcher, outbox, self.scheduler, self._shared)

    async def start(self) -> None:
        """Start the scheduler, then finish what a previous run left: messages stored but
        not handled, replies not sent. Of sibling apps the first to start does the first two
        for all; each sends its own account's leftovers."""
        shared = self._shared
        shared.started += 1
        if shared.started == 1:
            self.alerts.start()
            # a scheduled backup or purge that fails is an operations alert
            maintenance.set_failure_alert(self.alerts.on_failure)
            with self.services.db.session() as session:
                jobs = all_jobs(self.services.settings, session)
            self.scheduler.start(jobs)
            recovered = await self.dispatcher.recover()
            if recovered:
                log.warning("handled %d message(s) left over from the previous run", recovered)
        await self.outbox.flush()

    def stop(self) -> None:
        """Stop; the scheduler stops with the last of the sibling apps that were started."""
        shared = self._shared
        was = shared.started
        shared.started = max(0, was - 1)
        if shared.started == 0:
            self.scheduler.shutdown()
            if was == 1:
                maintenance.set_failure_alert(None)
                self.alerts.stop()

    async def drain(self, clock: ManualClock) -> None:
        """Move a manual clock on until every queued message has gone (the end of a replay:
        the throttle may have spaced the last replies past the last event)."""
        while (send_at := self.outbox.next_send_at()) is not None:
            before = clock.now()
            await self.advance(clock, max(send_at, before))
            if self.outbox.next_send_at() == send_at and clock.now() == before:
                break  # nothing moved: a send keeps failing and waits for its retry

    async def advance(self, clock: ManualClock, until: datetime) -> None:
        """Move a manual clock forward to ``until``: scheduled jobs run and queued messages
        go out on the way, each at the time it falls due, in time order. Runs that would find
        nothing to do are skipped (see Scheduler.skip_idle): a tick a year ahead is quick."""
        while True:
            self.scheduler.skip_idle(until)
            send_at = self.outbox.next_send_at()
            run_at = self.scheduler.next_run_time()
            due = [t for t in (send_at, run_at) if t is not None and t <= until]
            if not due:
                break
            at = min(due)
            if at > clock.now():
                clock.set(at)
            ran = await self.scheduler.run_due(at)
            sent = await self.outbox.flush()
            if not ran and not sent:
                break  # a send due now failed and waits for its retry time
        if until > clock.now():
            clock.set(until)
        await self.scheduler.run_due(until)
        await self.outbox.flush()


def _jitter(clock: Clock, *, seed: int) -> random.Random:
    # On a manual clock the throttle's jitter is drawn from a fixed seed: replays repeat.
    return random.Random(seed) if isinstance(clock, ManualClock) else random.Random()


def build_app(
    settings: Settings,
    *,
    clock: Clock,
    db: Database,
    sender: Sender,
    classifier: Classifier | None = None,
    account: str | None = None,
    alerts: Alerts | None = None,
) -> App:
    """The bot, serving as ``account`` (None: the one account of a lone process); its alerts
    go where the config's ``alerts`` says unless ``alerts`` is given."""
    with db.session() as session:
        grid_store.sync_grids(
            session=session,
            specs=(
                grid_store.GridSpec(g.code, g.name, g.room, g.community) for g in settings.grids
            ),
        )
        session.commit()
    services = Services(
        settings=settings,
        clock=clock,
        db=db,
        classifier=classifier or build_classifier(settings),
    )
    dispatcher = Dispatcher(services, all_routers())
    outbox = OutboxSender(
        db,
        clock,
        sender,
        settings.sending,
        rng=_jitter(clock, seed=0),
        account=account or DEFAULT_ACCOUNT,
    )
    # A manual clock only moves when told: then the scheduler is stepped along with it.
    stepped = isinstance(clock, ManualClock)
    if alerts is None:
        # A replay (on a manual clock) of a city's config must not post to its real robot.
        alerts = (
            Alerts(settings, clock, db) if stepped else Alerts.from_settings(settings, clock, db)
        )
    shared = _Shared([outbox], alerts=alerts)
    # A job's messages (a notice to many groups) may go from any account's outbox.
    scheduler = Scheduler(services, clock, stepped=stepped, on_done=shared.notify_all)
    dispatcher.scheduler = scheduler
    return App(services, dispatcher, outbox, scheduler, shared)
