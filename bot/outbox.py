"""Delivering the outbox: every queued message goes to the channel once it is due, in order.

A row is marked sent right after the channel took it, one at a time, so a crash re-sends at
most the one message that was in flight.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlmodel import Session

from bot.channels.base import Sender, SendError
from bot.clock import Clock
from bot.events import Outbound
from storage import outbox as outbox_store
from storage.db import Database
from storage.models import OutboundMessage

log = logging.getLogger(__name__)

RETRY_DELAYS = (timedelta(seconds=5), timedelta(seconds=30), timedelta(minutes=2))


def queue_outbound(
    session: Session,
    outgoing: Iterable[Outbound],
    *,
    now: datetime,
    inbound_id: int | None = None,
    not_before: datetime | None = None,
) -> None:
    """Put messages in the outbox, in the caller's transaction."""
    for out in outgoing:
        outbox_store.enqueue(
            session=session,
            message=OutboundMessage(
                inbound_id=inbound_id,
                room_id=out.room_id,
                room_topic=out.room_topic,
                to_id=out.to,
                text=out.text,
                mentions=list(out.mentions),
                created_at=now,
                not_before=not_before or now,
            ),
        )


def to_outbound(row: OutboundMessage) -> Outbound:
    return Outbound(
        text=row.text,
        room_id=row.room_id,
        room_topic=row.room_topic,
        to=row.to_id,
        mentions=tuple(row.mentions),
    )


class OutboxSender:
    def __init__(self, db: Database, clock: Clock, sender: Sender) -> None:
        self._db = db
        self._clock = clock
        self._sender = sender
        self._wake = asyncio.Event()

    def notify(self) -> None:
        """Something was queued: a running :meth:`serve` looks at once."""
        self._wake.set()

    async def flush(self) -> int:
        """Send everything due now; return how many were sent."""
        sent = 0
        while True:
            with self._db.session() as session:
                rows = outbox_store.due(session=session, now=self._clock.now(), limit=50)
            if not rows:
                return sent
            for row in rows:
                assert row.id is not None
                sent += await self._deliver(row.id, to_outbound(row), row.attempts)

    async def _deliver(self, row_id: int, message: Outbound, attempts: int) -> int:
        try:
            await self._sender.send(message)
        except SendError as exc:
            self._failed(row_id, str(exc), attempts, transient=exc.transient)
            return 0
        except Exception as exc:
            log.exception("sending outbox message %d failed", row_id)
            self._failed(row_id, repr(exc), attempts, transient=True)
            return 0
        with self._db.session() as session:
            outbox_store.mark_sent(session=session, message_id=row_id, at=self._clock.now())
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
        """Deliver for as long as the bot runs: on every notify, and at least every ``idle``
        seconds for retries and messages queued by another process."""
        while True:
            self._wake.clear()
            await self.flush()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=idle)
