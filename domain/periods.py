"""Days, months and base-point periods in the configured timezone: the points caps, the
monthly 公示, 基础分 and the web's 积分台账 count by the local calendar, not by UTC."""

from __future__ import annotations

from datetime import datetime, time, tzinfo
from typing import Literal

BasePeriod = Literal["month", "quarter", "year"]


def day_start(now: datetime, tz: tzinfo) -> datetime:
    local = now.astimezone(tz)
    return datetime.combine(local.date(), time.min, tzinfo=tz)


def month_start(now: datetime, tz: tzinfo) -> datetime:
    return day_start(now, tz).replace(day=1)


def previous_month(now: datetime, tz: tzinfo) -> tuple[datetime, datetime]:
    """[start, end) of the month before the one ``now`` is in."""
    end = month_start(now, tz)
    year, month = (end.year, end.month - 1) if end.month > 1 else (end.year - 1, 12)
    return end.replace(year=year, month=month), end


def month_key(when: datetime, tz: tzinfo) -> str:
    return f"{when.astimezone(tz):%Y-%m}"


def month_label(when: datetime, tz: tzinfo) -> str:
    local = when.astimezone(tz)
    return f"{local.year}年{local.month}月"


def base_period(now: datetime, tz: tzinfo, period: BasePeriod) -> tuple[str, str]:
    """The key (kept in the ledger's idempotency keys) and the label of ``now``'s period."""
    local = now.astimezone(tz)
    if period == "month":
        return f"{local:%Y-%m}", f"{local.year}年{local.month}月"
    if period == "quarter":
        quarter = (local.month - 1) // 3 + 1
        return f"{local.year}Q{quarter}", f"{local.year}年第{quarter}季度"
    return f"{local.year}", f"{local.year}年"
