"""The clock the bot's logic reads instead of the wall clock.

Every handler, deadline and schedule asks an injected :class:`Clock` for the time, so a replay
can run a week of group life in a second and tests can stand still at any instant.
"""

from __future__ import annotations

from datetime import datetime, tzinfo
from typing import Protocol


class Clock(Protocol):
    @property
    def tz(self) -> tzinfo: ...

    def now(self) -> datetime:
        """The current time, timezone-aware, in the configured timezone."""
        ...


class SystemClock:
    def __init__(self, tz: tzinfo) -> None:
        self._tz = tz

    @property
    def tz(self) -> tzinfo:
        return self._tz

    def now(self) -> datetime:
        return datetime.now(self._tz)


class ManualClock:
    """A clock that only moves when told to: replays set it to each event's timestamp."""

    def __init__(self, start: datetime, tz: tzinfo | None = None) -> None:
        if start.tzinfo is None:
            raise ValueError("ManualClock needs a timezone-aware start time")
        self._tz = tz or start.tzinfo
        self._now = start.astimezone(self._tz)

    @property
    def tz(self) -> tzinfo:
        return self._tz

    def now(self) -> datetime:
        return self._now

    def set(self, when: datetime) -> None:
        if when.tzinfo is None:
            raise ValueError("ManualClock.set needs a timezone-aware time")
        self._now = when.astimezone(self._tz)
