from __future__ import annotations

from datetime import datetime

import pytest

from bot.cron import cron_trigger, fires
from tests.conftest import TZ

SUNDAY = datetime(2026, 11, 22, tzinfo=TZ)


@pytest.mark.parametrize(
    ("expr", "first"),
    [
        ("0 16 * * 5", "Fri 27 16:00"),  # cron's 5 is Friday (APScheduler 3 alone says Saturday)
        ("0 9 * * 1-5", "Mon 23 09:00"),
        ("0 8 * * 0", "Sun 22 08:00"),
        ("0 8 * * 7", "Sun 22 08:00"),
        ("0 8 * * 0,6", "Sun 22 08:00"),
        ("*/5 * * * *", "Sun 22 00:00"),
        ("0 10 1,15 * *", "Tue 01 10:00"),
    ],
)
def test_standard_crontab(expr: str, first: str) -> None:
    fire = cron_trigger(expr, TZ).get_next_fire_time(None, SUNDAY)
    assert fire is not None
    assert fire.strftime("%a %d %H:%M") == first


def test_a_window() -> None:
    trigger = cron_trigger(
        "0 9 * * *",
        TZ,
        start=datetime(2026, 12, 1, tzinfo=TZ),
        end=datetime(2026, 12, 2, 23, 59, tzinfo=TZ),
    )
    fire = trigger.get_next_fire_time(None, SUNDAY)
    assert fire == datetime(2026, 12, 1, 9, tzinfo=TZ)
    assert (
        trigger.get_next_fire_time(
            datetime(2026, 12, 2, 9, tzinfo=TZ), datetime(2026, 12, 2, 9, 1, tzinfo=TZ)
        )
        is None
    )


@pytest.mark.parametrize("expr", ["0 9 * *", "61 9 * * *", "0 9 * * mon-xyz", "nonsense"])
def test_bad_expressions_raise(expr: str) -> None:
    with pytest.raises(ValueError):  # noqa: PT011  (APScheduler words each one differently)
        cron_trigger(expr, TZ)


@pytest.mark.parametrize(
    ("expr", "ever"),
    [
        ("0 9 30 2 *", False),  # 30 February: valid, and never
        ("0 9 31 4,6,9,11 *", False),
        ("0 9 29 2 *", True),  # leap years
        ("0 9 29 2 1", True),  # 29 February on a Monday: once in 28 years or so
        ("*/5 * * * *", True),
    ],
)
def test_whether_an_expression_ever_fires(expr: str, ever: bool) -> None:
    assert fires(expr, TZ) is ever


def test_whether_an_expression_fires_in_a_window() -> None:
    november = datetime(2026, 11, 1, tzinfo=TZ), datetime(2026, 11, 30, 23, 59, tzinfo=TZ)
    assert fires("0 9 1 11 *", TZ, start=november[0], end=november[1])
    assert not fires("0 9 1 10 *", TZ, start=november[0], end=november[1])
