from __future__ import annotations

import argparse
import copy
from datetime import date
from pathlib import Path

import pytest

from bot.cli_args import database_missing, day
from bot.settings import Settings
from tests.conftest import SETTINGS


def test_a_day() -> None:
    assert day("2026-12-07") == date(2026, 12, 7)


@pytest.mark.parametrize("text", ["2026-13-01", "12/07/2026", "", "0001-01-01", "2100-01-01"])
def test_not_a_day_the_bot_keeps(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        day(text)


def test_a_missing_sqlite_database_is_said_and_not_made(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "gridbot.db"
    settings = Settings.model_validate(copy.deepcopy(SETTINGS) | {"database": f"sqlite:///{path}"})
    assert database_missing(settings, "gridbot purge")
    assert capsys.readouterr().err == f"gridbot purge: no database at {path}\n"
    assert not path.exists()
    path.touch()
    assert not database_missing(settings, "gridbot purge")
    assert capsys.readouterr().err == ""
