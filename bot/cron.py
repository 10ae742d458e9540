"""Crontab expressions as people write them, for APScheduler 3."""

from __future__ import annotations

from datetime import datetime, tzinfo

from apscheduler.triggers.cron import CronTrigger

_WEEKDAYS = {
    str(n): name for n, name in enumerate(("sun", "mon", "tue", "wed", "thu", "fri", "sat"))
}
_WEEKDAYS["7"] = "sun"


def _cron_weekdays(field: str) -> str:
    # Standard cron counts weekdays from Sunday = 0; APScheduler 3 from Monday = 0 (its
    # from_crontab warns about this). Names mean the same to both.
    def name(part: str) -> str:
        return "-".join(_WEEKDAYS.get(p, p) for p in part.split("-"))

    out = []
    for item in field.split(","):
        base, slash, step = item.partition("/")
        out.append(name(base) + (slash + step if slash else ""))
    return ",".join(out)


def cron_trigger(
    expr: str, tz: tzinfo, *, start: datetime | None = None, end: datetime | None = None
) -> CronTrigger:
    """A trigger for a standard crontab expression ("minute hour day month weekday", Sunday
    = 0 or 7), optionally only between ``start`` and ``end``."""
    fields = expr.split()
    if len(fields) != 5:
        raise ValueError(f"a cron expression has 5 fields, this has {len(fields)}")
    minute, hour, day, month, weekday = fields
    return CronTrigger(
        minute=minute,
        hour=hour,
        day=day,
        month=month,
        day_of_week=_cron_weekdays(weekday),
        start_date=start,
        end_date=end,
        timezone=tz,
    )


# The Gregorian calendar repeats itself, weekdays included, every 400 years: a time that a
# cron expression names at all comes within any 400 years.
_CALENDAR_CYCLE_YEARS = 400


def fires(
    expr: str, tz: tzinfo, *, start: datetime | None = None, end: datetime | None = None
) -> bool:
    """Whether ``expr`` names any time between ``start`` and ``end``, or without them any
    time at all: "0 9 30 2 *" (30 February) never does, yet is a valid expression."""
    begin = start or datetime(2000, 1, 1, tzinfo=tz)
    stop = end or begin.replace(year=begin.year + _CALENDAR_CYCLE_YEARS)
    # Bounded: unbounded, APScheduler looks for 30 February up to the year 9999 (~0.3 s).
    trigger = cron_trigger(expr, tz, start=begin, end=stop)
    return trigger.get_next_fire_time(None, begin) is not None
