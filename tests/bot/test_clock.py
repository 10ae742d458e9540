from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.clock import ManualClock, SystemClock

SHANGHAI = ZoneInfo("Asia/Shanghai")


def test_system_clock_is_aware_in_its_timezone() -> None:
    now = SystemClock(SHANGHAI).now()
    assert now.tzinfo is SHANGHAI
    assert abs(now - datetime.now(UTC)) < timedelta(seconds=5)


def test_manual_clock_moves_only_when_set_and_keeps_its_timezone() -> None:
    clock = ManualClock(datetime(2026, 1, 1, 9, tzinfo=SHANGHAI))
    assert clock.now() == clock.now()
    clock.set(datetime(2026, 1, 1, 2, tzinfo=UTC))
    assert clock.now().tzinfo is SHANGHAI
    assert clock.now().hour == 10


def test_manual_clock_rejects_naive_times() -> None:
    with pytest.raises(ValueError, match="aware"):
        ManualClock(datetime(2026, 1, 1))
    clock = ManualClock(datetime(2026, 1, 1, tzinfo=UTC))
    with pytest.raises(ValueError, match="aware"):
        clock.set(datetime(2026, 1, 1))
