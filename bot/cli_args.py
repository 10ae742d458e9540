"""Argument types shared by the command-line modules."""

from __future__ import annotations

import argparse
from datetime import date

__all__ = ["day"]


def day(text: str) -> date:
    """A ``YYYY-MM-DD`` argument, as a date."""
    try:
        parsed = date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None
    # the years the bot's clock keeps to (as the replay's); 0001-01-01 in Shanghai is no UTC time
    if not 2000 <= parsed.year <= 2099:
        raise argparse.ArgumentTypeError(f"the year must be from 2000 to 2099: {text!r}")
    return parsed
