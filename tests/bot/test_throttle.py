from __future__ import annotations

import random
from datetime import datetime, timedelta

from bot.settings import SendingSettings
from bot.throttle import Throttle
from tests.conftest import TZ

T0 = datetime(2026, 11, 22, 9, tzinfo=TZ)


def test_a_gap_after_each_send() -> None:
    throttle = Throttle(
        SendingSettings(interval_seconds=3, jitter_seconds=0, per_minute=60), random.Random(0)
    )
    assert throttle.next_slot(T0) == T0
    throttle.sent(T0)
    assert throttle.next_slot(T0) == T0 + timedelta(seconds=3)
    assert throttle.next_slot(T0 + timedelta(seconds=10)) == T0 + timedelta(seconds=10)


def test_jitter_stays_within_its_bound_and_varies() -> None:
    throttle = Throttle(
        SendingSettings(interval_seconds=3, jitter_seconds=2, per_minute=600), random.Random(7)
    )
    gaps = []
    for i in range(20):
        at = T0 + timedelta(minutes=i)
        throttle.sent(at)
        gaps.append((throttle.next_slot(at) - at).total_seconds())
    assert all(3 <= gap <= 5 for gap in gaps)
    assert len(set(gaps)) > 10


def test_at_most_per_minute_sends_in_any_minute() -> None:
    throttle = Throttle(
        SendingSettings(interval_seconds=0, jitter_seconds=0, per_minute=3), random.Random(0)
    )
    for second in (0, 1, 2):
        throttle.sent(T0 + timedelta(seconds=second))
    assert throttle.next_slot(T0 + timedelta(seconds=3)) == T0 + timedelta(minutes=1)
    assert throttle.next_slot(T0 + timedelta(seconds=61)) == T0 + timedelta(seconds=61)
