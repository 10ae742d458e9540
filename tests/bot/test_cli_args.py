from __future__ import annotations

import argparse
from datetime import date

import pytest

from bot.cli_args import day


def test_a_day() -> None:
    assert day("2026-12-07") == date(2026, 12, 7)


@pytest.mark.parametrize("text", ["2026-13-01", "12/07/2026", "", "0001-01-01", "2100-01-01"])
def test_not_a_day_the_bot_keeps(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        day(text)
