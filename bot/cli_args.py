"""Argument types and plumbing shared by the command-line modules (bot/cli_*.py)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from datetime import date
from typing import TYPE_CHECKING, TypeAlias

if TYPE_CHECKING:
    from bot.settings import Settings
    from storage.db import Database

__all__ = ["OpenDatabase", "SettingsOf", "database_missing", "day", "handle_with"]

SettingsOf: TypeAlias = "Callable[[argparse.Namespace], Settings]"
OpenDatabase: TypeAlias = "Callable[[str], Database]"


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


def handle_with(
    parser: argparse.ArgumentParser,
    run: Callable[[argparse.Namespace, Settings, OpenDatabase], int],
    settings_of: SettingsOf,
    open_database: OpenDatabase,
) -> None:
    """Make ``run``, given the settings the arguments read, the handler of ``parser``."""

    def handler(args: argparse.Namespace) -> int:
        return run(args, settings_of(args), open_database)

    parser.set_defaults(handler=handler)


def database_missing(settings: Settings, prog: str) -> bool:
    """Whether the config's SQLite database is not there (said on stderr after ``prog``):
    opening it would leave an empty one behind."""
    # imported here as in the commands: `gridbot --help` starts without SQLAlchemy
    from sqlalchemy.engine import make_url  # noqa: PLC0415

    from storage.db import sqlite_path  # noqa: PLC0415

    path = sqlite_path(make_url(settings.database))
    if path is not None and not path.exists():
        print(f"{prog}: no database at {path}", file=sys.stderr)
        return True
    return False
