from __future__ import annotations

from datetime import UTC, datetime

import pytest

from handlers.periods import base_period, day_start, month_key, month_start, previous_month
from tests.conftest import TZ

# 16:30 UTC on Nov 30 is already Dec 1 in Shanghai: the local calendar decides.
LATE = datetime(2026, 11, 30, 16, 30, tzinfo=UTC)


def test_days_and_months_start_at_local_midnight() -> None:
    assert day_start(LATE, TZ) == datetime(2026, 12, 1, tzinfo=TZ)
    assert month_start(LATE, TZ) == datetime(2026, 12, 1, tzinfo=TZ)
    assert month_key(LATE, TZ) == "2026-12"


def test_the_previous_month_across_a_year() -> None:
    assert previous_month(datetime(2027, 1, 1, 9, tzinfo=TZ), TZ) == (
        datetime(2026, 12, 1, tzinfo=TZ),
        datetime(2027, 1, 1, tzinfo=TZ),
    )
    assert previous_month(LATE, TZ)[0] == datetime(2026, 11, 1, tzinfo=TZ)


@pytest.mark.parametrize(
    ("period", "expected"),
    [
        ("month", ("2026-12", "2026年12月")),
        ("quarter", ("2026Q4", "2026年第4季度")),
        ("year", ("2026", "2026年")),
    ],
)
def test_base_point_periods(period: str, expected: tuple[str, str]) -> None:
    assert base_period(LATE, TZ, period) == expected  # type: ignore[arg-type]
