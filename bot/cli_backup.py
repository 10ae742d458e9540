"""`gridbot backup` and `gridbot restore`: a copy of the bot's database, made while the bot
runs, and the database put back from one (storage/backup.py does the work)."""

from __future__ import annotations

import argparse
import logging
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from bot.cli_args import SettingsOf
from bot.settings import Settings

__all__ = ["add_parsers"]

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2

audit = logging.getLogger("gridbot.audit")


def add_parsers(
    sub: Any,
    with_db: argparse.ArgumentParser,
    settings_of: SettingsOf,
) -> None:
    backup = sub.add_parser(
        "backup",
        parents=[with_db],
        help="back the database up into a file, while the bot runs",
        description="Copy the database into one file: SQLite with its online backup API (the "
        "bot may go on running), PostgreSQL with pg_dump's custom format (pg_dump of the "
        "server's version or newer must be on PATH). Without --out the file is "
        "gridbot-YYYYMMDD-HHMMSS.db (.dump for PostgreSQL) in the config's backup.dir.",
    )
    backup.add_argument(
        "--out", type=Path, metavar="FILE", help="write here (a file that is there is refused)"
    )
    backup.set_defaults(handler=lambda args: _backup(args, settings_of(args)))
    restore = sub.add_parser(
        "restore",
        parents=[with_db],
        help="replace the database with a backup",
        description="Put the database back as a backup made by `gridbot backup` was: a SQLite "
        "file into a SQLite database, a pg_dump archive into PostgreSQL (pg_restore --clean). "
        "A database that holds data is replaced only with --force: stop the bot first. "
        "The restored schema is then checked as `gridbot db current` does.",
    )
    restore.add_argument("file", type=Path, metavar="FILE", help="the backup")
    restore.add_argument("--force", action="store_true", help="replace a database that holds data")
    restore.set_defaults(handler=lambda args: _restore(args, settings_of(args)))


def _size(count: int) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if count < 1024 or unit == "GB":
            return f"{count} {unit}" if unit == "bytes" else f"{count:.1f} {unit}"
        count /= 1024  # type: ignore[assignment]
    raise AssertionError  # pragma: no cover


def _backup(args: argparse.Namespace, settings: Settings) -> int:
    from bot.logs import setup_logging
    from storage import backup
    from storage.db import shown_url

    setup_logging(args.log_level or "WARNING")
    url = settings.database
    out: Path = args.out or backup.default_path(settings.backup.dir, url, datetime.now(settings.tz))
    if out.exists():
        print(f"gridbot backup: {out} is there already: give another file", file=sys.stderr)
        return EXIT_USAGE
    try:
        size = backup.backup(url, out)
    except backup.BackupError as exc:
        print(f"gridbot backup: {exc}", file=sys.stderr)
        return EXIT_USAGE if exc.cannot_run else EXIT_FAILED
    except OSError as exc:  # the folder or the file
        where = exc.filename or out
        print(f"gridbot backup: can't write {where}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_USAGE
    print(f"backed up {shown_url(url)} to {out} ({_size(size)})")
    return EXIT_OK


def _restore(args: argparse.Namespace, settings: Settings) -> int:
    from bot.logs import setup_logging
    from storage import backup
    from storage.db import reporting_failures, shown_url

    # a restore's log line is its record, shown unless asked not to be
    setup_logging(args.log_level or "INFO")
    url, file = settings.database, args.file
    shown = shown_url(url)
    try:
        backup.check_file(file, url)
        with reporting_failures(url):
            holding = backup.nonempty_tables(url)
        if holding and not args.force:
            tables = ", ".join(holding[:4]) + (", …" if len(holding) > 4 else "")
            print(
                f"gridbot restore: {shown} holds data ({tables}): restoring replaces it; "
                "stop the bot and add --force to do so",
                file=sys.stderr,
            )
            return EXIT_USAGE
        backup.restore(file, url)
    except backup.BackupError as exc:
        print(f"gridbot restore: {exc}", file=sys.stderr)
        return EXIT_USAGE if exc.cannot_run else EXIT_FAILED
    audit.info("database %s restored from %s", shown, file)
    print(f"restored {shown} from {file}")
    return _schema_state(url)


def _schema_state(url: str) -> int:
    """Say where the restored schema is, as `gridbot db current` does; exit 1 if this release
    doesn't know it (the backup was made by a newer one)."""
    from storage import migrate
    from storage.db import Database, reporting_failures, shown_url

    shown = shown_url(url)
    with reporting_failures(url):
        db = Database.from_url(url)
        try:
            current = migrate.current_revision(db.engine)
        finally:
            db.dispose()
    head = migrate.HEAD
    if current is not None and current != head:
        from alembic.script import ScriptDirectory
        from alembic.util import CommandError

        logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)  # its setup
        try:
            ScriptDirectory(str(migrate.MIGRATIONS_DIR)).get_revision(current)
        except CommandError:
            print(
                f"gridbot restore: the restored schema is at {current}, which this gridbot "
                f"(schema {head}) does not know: the backup is from a newer release, run it",
                file=sys.stderr,
            )
            return EXIT_FAILED
    state = "up to date" if current == head else "needs `gridbot db upgrade`"
    print(f"{shown}: schema at {current or 'none'}, current is {head} ({state})")
    return EXIT_OK
