"""How fast the bot may send: a gap between messages with random jitter, and a cap per minute.

It works on the injected clock and never sleeps itself: it says when the next message may go,
and the outbox waits (live) or the replay's clock moves there (stepped).
"""

from __future__ import annotations

import random
from collections import deque
from datetime import datetime, timedelta

from bot.settings import SendingSettings

MINUTE = timedelta(minutes=1)


class Throttle:
    def __init__(self, settings: SendingSettings, rng: random.Random) -> None:
        self._interval = timedelta(seconds=settings.interval_seconds)
        self._jitter = settings.jitter_seconds
        self._per_minute = settings.per_minute
        self._rng = rng
        self._gap_until: datetime | None = None
        self._recent: deque[datetime] = deque()

    def next_slot(self, now: datetime) -> datetime:
        """The earliest time, ``now`` or later, the next message may go."""
        while self._recent and self._recent[0] <= now - MINUTE:
            self._recent.popleft()
        slot = now
        if self._gap_until is not None and self._gap_until > slot:
            slot = self._gap_until
        if len(self._recent) >= self._per_minute:
            slot = max(slot, self._recent[len(self._recent) - self._per_minute] + MINUTE)
        return slot

    def sent(self, at: datetime) -> None:
        """A message went at ``at``: the next waits a gap, jittered so sends don't tick."""
        jitter = (
            timedelta(seconds=self._rng.uniform(0, self._jitter)) if self._jitter else timedelta()
        )
        self._gap_until = at + self._interval + jitter
        self._recent.append(at)
