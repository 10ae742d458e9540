"""`gridbot purge [--dry-run]`: the retention policy (config `retention:`) applied now, as
the daily purge job does (storage/retention.py does the work)."""

from __future__ import annotations

import argparse
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from bot.cli_args import OpenDatabase, SettingsOf, database_missing, handle_with
from bot.settings import Settings

if TYPE_CHECKING:
    from storage.retention import PurgeReport

__all__ = ["add_parsers"]

EXIT_OK, EXIT_USAGE = 0, 2

audit = logging.getLogger("gridbot.audit")


def add_parsers(
    sub: Any, with_db: argparse.ArgumentParser, settings_of: SettingsOf, open_database: OpenDatabase
) -> None:
    purge = sub.add_parser(
        "purge",
        parents=[with_db],
        help="apply the retention policy: mask old phone and ID numbers, clear old tickets' text",
        description="Mask the phone and ID-card numbers in what is older than "
        "retention.mask_numbers_after_days, and replace the free text of tickets closed (and "
        "of messages sent) more than retention.archived_text_after_days ago; print the rows "
        "changed per table. The daily purge job does the same. Safe to run again.",
    )
    purge.add_argument(
        "--dry-run", action="store_true", help="count what would change, change nothing"
    )
    handle_with(purge, _run, settings_of, open_database)


def _run(args: argparse.Namespace, settings: Settings, open_database: OpenDatabase) -> int:
    from bot.logs import setup_logging
    from storage import retention

    # what a purge did is logged on gridbot.audit: shown unless asked not to be
    setup_logging(args.log_level or ("WARNING" if args.dry_run else "INFO"))
    rules = settings.retention
    mask_days, text_days = rules.mask_numbers_after_days, rules.archived_text_after_days
    if mask_days is None and text_days is None:
        print(
            "nothing to do: retention.mask_numbers_after_days and "
            "retention.archived_text_after_days are both null"
        )
        return EXIT_OK
    if database_missing(settings, "gridbot"):
        return EXIT_USAGE
    db = open_database(settings.database)
    try:
        report = retention.purge(
            db,
            now=datetime.now(UTC),
            mask_after=timedelta(days=mask_days) if mask_days is not None else None,
            text_after=timedelta(days=text_days) if text_days is not None else None,
            dry_run=args.dry_run,
        )
    finally:
        db.dispose()
    for line in _lines(report, settings):
        print(line)
    if not args.dry_run and report.total:
        audit.info(
            "retention purge: numbers masked in %d row(s), free text replaced in %d row(s)",
            sum(report.masked.values()),
            sum(report.replaced.values()),
        )
    return EXIT_OK


def _lines(report: PurgeReport, settings: Settings) -> Iterator[str]:
    rules = settings.retention

    def local(moment: datetime) -> str:
        return moment.astimezone(settings.tz).strftime("%Y-%m-%d %H:%M")

    if report.dry_run:
        yield "dry run: nothing is changed"
    if report.mask_before is not None:
        yield (
            f"phone and ID numbers: masked where older than {rules.mask_numbers_after_days} "
            f"days (before {local(report.mask_before)})"
        )
    else:
        yield "phone and ID numbers: kept (retention.mask_numbers_after_days is null)"
    if report.text_before is not None:
        yield (
            "free text: replaced for tickets closed, and messages sent, more than "
            f"{rules.archived_text_after_days} days ago (before {local(report.text_before)})"
        )
    else:
        yield "free text: kept (retention.archived_text_after_days is null)"
    width = max(len(name) for name in report.masked)
    yield f"  {'table':<{width}}  {'masked':>8}  {'replaced':>8}"
    for name, masked in report.masked.items():
        yield f"  {name:<{width}}  {masked:>8}  {report.replaced[name]:>8}"
    verb = "would change" if report.dry_run else "changed"
    yield f"{report.total} row(s) {verb}"
