"""Delivering the outbox: every queued message goes to the channel once it is due, in order.

A row is marked sent right after the channel took it, one at a time, so a crash re-sends at
most the one message that was in flight.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlmodel import Session

from bot.channels.base import Sender, SendError
from bot.clock import Clock
from bot.events import Outbound
from bot.settings import SendingSettings
from bot.throttle import Throttle
from storage import outbox as outbox_store
from storage.accounts import DEFAULT_ACCOUNT
from storage.db import Database

log = logging.getLogger(__name__)

# The tables whose rows decide what is due for this process's account.
_OUTBOX_TABLES = ("outbound_message", "room_account", "contact_account")
RETRY_DELAYS = (timedelta(seconds=5), timedelta(seconds=30), timedelta(minutes=2))
# How often a process says that messages wait for another account (that account's process
# is down, or no running account is in the group): they are kept, and a leader would ask.
STRANDED_REPORT_EVERY = timedelta(minutes=10)
# On a server database, how long (seconds, real time) a due time read stays good for this
# process's own steps: a replay steps the outbox several times per message, and the rows
# other processes queue meanwhile wait at most this long (serve() reads afresh anyway).
SHARED_DUE_FRESH = 0.05
# session.info key: the messages queued in the session's transaction
QUEUED = "gridbot_queued_outbound"


def queue_outbound(
    session: Session,
    outgoing: Iterable[Outbound],
    *,
    now: datetime,
    inbound_id: int | None = None,
    not_before: datetime | None = None,
    account: str | None = None,
) -> None:
    """Put messages in the outbox, in the caller's transaction. ``account``: the bot account
    that should send them (a reply goes out from the account that received the message).
    They are also noted on the session (:func:`queued_in`) for what must follow a commit."""
    outgoing = tuple(outgoing)
    if outgoing:
        session.info.setdefault(QUEUED, []).extend(outgoing)
    outbox_store.enqueue_values(
        session=session,
        rows=[
            {
                "inbound_id": inbound_id,
                "room_id": out.room_id,
                "room_topic": out.room_topic,
                "to_id": out.to,
                "text": out.text,
                "mentions": list(out.mentions),
                "created_at": now,
                "not_before": not_before or now,
                "account": account,
            }
            for out in outgoing
        ],
    )


def queued_in(session: Session) -> list[Outbound]:
    """The messages queued in ``session`` since this was last asked (its commit or rollback
    is the time to ask: bot/alerts.py copies the escalation room's to 企业微信 after a commit)."""
    queued: list[Outbound] = session.info.pop(QUEUED, [])
    return queued


def to_outbound(row: outbox_store.Claimed) -> Outbound:
    return Outbound(
        text=row.text,
        room_id=row.room_id,
        room_topic=row.room_topic,
        to=row.to_id,
        mentions=tuple(row.mentions),
    )


class OutboxSender:
    """Sends what the outbox holds, one message at a time, as fast as the throttle allows.

    Any number of processes may serve one database: a message is claimed before it is sent,
    and only by a process whose ``account`` can deliver it (is in the group, has the
    contact). A message meant for another account (a reply to what that account received)
    is taken over after ``claim_seconds`` if its process doesn't send it.
    """

    def __init__(
        self,
        db: Database,
        clock: Clock,
        sender: Sender,
        sending: SendingSettings,
        *,
        rng: random.Random | None = None,
        account: str = DEFAULT_ACCOUNT,
    ) -> None:
        self.account = account
        self._db = db
        self._clock = clock
        self._sender = sender
        self._throttle = Throttle(sending, rng or random.Random())
        self._claim_time = timedelta(seconds=sending.claim_seconds)
        self._wake = asyncio.Event()
        self._progress = asyncio.Event()  # set whenever a send succeeded or failed
        self._stranded_reported_at: datetime | None = None
        # What the outbox's next due time was when last read: (the database's count of this
        # process's writes to the tables it depends on, the account, the time, when it was
        # read by the monotonic clock). While the count stands, a replay's every step need
        # not ask again (on a server database: for SHARED_DUE_FRESH); serve() always asks,
        # for the rows other processes queue.
        self._known_due: tuple[int, str, datetime | None, float] | None = None
        self._shared_db = db.url.get_backend_name() != "sqlite"

    def notify(self) -> None:
        """Something was queued: a running :meth:`serve` looks at once."""
        self._wake.set()

    def _cached_due_at(self) -> tuple[bool, datetime | None]:
        """(True, the next due time) when nothing this process wrote since could change it."""
        known = self._known_due
        if known is None or known[:2] != (self._db.commits(*_OUTBOX_TABLES), self.account):
            return False, None
        if self._shared_db and time.monotonic() - known[3] > SHARED_DUE_FRESH:
            # A server database is there to be shared: another bot process (another account)
            # may have queued messages for this one, which this process's count can't see.
            return False, None
        return True, known[2]

    def _read_due_at(self) -> datetime | None:
        # Counted before reading: a write that lands meanwhile makes the next look ask again.
        stamp = self._db.commits(*_OUTBOX_TABLES)
        with self._db.engine.connect() as connection:
            # On a server database in autocommit: the SELECT alone, without BEGIN and
            # ROLLBACK round trips.
            reader = (
                connection.execution_options(isolation_level="AUTOCOMMIT")
                if self._shared_db
                else connection
            )
            due_at = outbox_store.next_due_at(
                connection=reader, account=self.account, handover=self._claim_time
            )
        self._known_due = (stamp, self.account, due_at, time.monotonic())
        return due_at

    def next_send_at(self) -> datetime | None:
        """When the next message can go (its own time, or the throttle's), None if none waits."""
        known, due_at = self._cached_due_at()
        if not known:
            due_at = self._read_due_at()
        if due_at is None:
            return None
        return self._throttle.next_slot(max(due_at, self._clock.now()))

    async def flush(self) -> int:
        """Send what is due and the throttle allows now; return how many were sent."""
        now = self._clock.now()
        if self._throttle.next_slot(now) > now:
            return 0
        known, due_at = self._cached_due_at()
        if known and (due_at is None or due_at > now):
            return 0
        sent = 0
        with self._db.session() as session:
            while True:
                if not known:
                    # Asked before claiming: most looks find nothing due, and a read is
                    # cheaper than a claim (an UPDATE and a commit).
                    due_at = self._read_due_at()
                if due_at is None or due_at > now:
                    self._report_stranded(session, now)
                    return sent
                claimed = outbox_store.claim_next(
                    session=session,
                    now=now,
                    until=now + self._claim_time,
                    account=self.account,
                    handover=self._claim_time,
                )
                if claimed is None:  # another process took it, or it waits for another account
                    self._report_stranded(session, now)
                    self._read_due_at()
                    return sent
                message = to_outbound(claimed)
                sent += await self._deliver(session, claimed.id, message, claimed.attempts)
                now = self._clock.now()
                if self._throttle.next_slot(now) > now:
                    return sent
                known = False

    def _report_stranded(self, session: Session, now: datetime) -> None:
        last = self._stranded_reported_at
        if last is not None and now - last < STRANDED_REPORT_EVERY:
            return
        self._stranded_reported_at = now
        # Past the handover time too: until then the account meant to send it may yet.
        waiting = outbox_store.stranded(
            session=session, now=now - self._claim_time, account=self.account
        )
        if not waiting:
            return
        where = sorted({row.room_topic or row.room_id or row.to_id or "?" for row in waiting})
        log.warning(
            "%d message(s) wait for a bot account in %s; this account (%s) is not there: "
            "they go once a process of an account in that group runs",
            len(waiting),
            ", ".join(where[:10]) + (" …" if len(where) > 10 else ""),
            self.account,
        )

    async def wait_until_empty(self, *, due_by: datetime | None = None) -> None:
        """Return once nothing waits in the outbox, or with ``due_by`` nothing due by then
        (a notice held until the morning stays for a later run); needs :meth:`serve`
        running."""
        while True:
            known, due_at = self._cached_due_at()
            if not known:
                due_at = self._read_due_at()
            if due_at is None or (due_by is not None and due_at > due_by):
                return
            self._progress.clear()
            await self._progress.wait()

    async def _deliver(
        self, session: Session, row_id: int, message: Outbound, attempts: int
    ) -> int:
        try:
            return await self._send(session, row_id, message, attempts)
        finally:
            self._progress.set()

    async def _send(self, session: Session, row_id: int, message: Outbound, attempts: int) -> int:
        try:
            await self._sender.send(message)
        except SendError as exc:
            self._failed(row_id, str(exc), attempts, transient=exc.transient)
            return 0
        except Exception as exc:
            log.exception("sending outbox message %d failed", row_id)
            self._failed(row_id, repr(exc), attempts, transient=True)
            return 0
        now = self._clock.now()
        self._throttle.sent(now)
        outbox_store.mark_sent(session=session, message_id=row_id, at=now)
        session.commit()
        return 1

    def _failed(self, row_id: int, error: str, attempts: int, *, transient: bool) -> None:
        retry_at: datetime | None = None
        if transient and attempts < len(RETRY_DELAYS):
            retry_at = self._clock.now() + RETRY_DELAYS[attempts]
        log.warning(
            "outbox message %d not sent (%s); %s",
            row_id,
            error,
            f"retrying at {retry_at:%H:%M:%S}" if retry_at else "giving up",
        )
        with self._db.session() as session:
            outbox_store.mark_attempt_failed(
                session=session, message_id=row_id, error=error, retry_at=retry_at
            )
            session.commit()

    async def serve(self, idle: float = 5.0) -> None:
        """Deliver for as long as the bot runs: on every notify, when the throttle next allows,
        and at least every ``idle`` seconds (retries, messages queued by another process)."""
        while True:
            self._wake.clear()
            self._known_due = None  # other processes' rows are not in this process's count
            await self.flush()
            timeout = idle
            next_at = self.next_send_at()
            if next_at is not None:
                timeout = min(idle, max(0.0, (next_at - self._clock.now()).total_seconds()))
            # asyncio.timeout, not wait_for: wait_for can swallow a cancel that lands as the
            # event is set (Python 3.11), and then this loop never stops.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout):
                    await self._wake.wait()
