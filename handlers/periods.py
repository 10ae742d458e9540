"""Days, months and base-point periods: they live in domain/periods.py (the web counts caps
and ledgers by the same calendar); kept importable here for the chat's handlers."""

from domain.periods import (
    BasePeriod,
    base_period,
    day_start,
    month_key,
    month_label,
    month_start,
    previous_month,
)

__all__ = [
    "BasePeriod",
    "base_period",
    "day_start",
    "month_key",
    "month_label",
    "month_start",
    "previous_month",
]
