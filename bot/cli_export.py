"""`gridbot export tickets` and `gridbot export points`: the 工单台账 and the 积分台账 as Excel
files, for the IT person or a scheduled job (the console's pages download the same files
with their filters).

Whoever runs it reads the database itself, so the file is an administrator's: phone and ID
numbers in full, unless ``--mask`` asks for a file a grid leader may be given.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from bot.cli_args import OpenDatabase, SettingsOf, database_missing, day
from bot.settings import Settings

if TYPE_CHECKING:
    from sqlmodel import Session


__all__ = ["add_parsers"]

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2

audit = logging.getLogger("gridbot.audit")


@dataclass(frozen=True)
class _Scope:
    """What the command line asked for: the grids (None: every grid), the times [since,
    until) of the days given, masked or not, and the 说明 sheet's lines."""

    grids: frozenset[str] | None
    since: datetime | None
    until: datetime | None
    masked: bool
    now: datetime
    about: list[tuple[str, str]]


@dataclass(frozen=True)
class _Ledger:
    """One ledger the command writes: its name on the command line and in words, and how
    its rows are read and written."""

    name: str
    help: str
    description: str
    unit: str  # what a row is: "ticket(s)", "entr(ies)"
    dates: str  # what the dates are the dates of, in the 说明 sheet
    write: Callable[[Session, IO[bytes], _Scope, Settings], int]


def _write_tickets(session: Session, handle: IO[bytes], scope: _Scope, settings: Settings) -> int:
    from storage.ticket_search import Sort, TicketQuery, each
    from web import ticket_ledger

    query = TicketQuery(
        grids=scope.grids, created_from=scope.since, created_before=scope.until, sort=Sort.OLDEST
    )
    tickets = each(session=session, query=query, columns=ticket_ledger.FIELDS)
    return ticket_ledger.write(
        handle, tickets, settings=settings, masked=scope.masked, now=scope.now, about=scope.about
    )


def _write_points(session: Session, handle: IO[bytes], scope: _Scope, settings: Settings) -> int:
    from domain.points import Givers
    from storage.points import LedgerQuery, each_entry
    from web import points_ledger

    query = LedgerQuery(grids=scope.grids, since=scope.since, until=scope.until)
    return points_ledger.write(
        handle,
        each_entry(session=session, query=query),
        settings=settings,
        givers=Givers(session, settings),
        masked=scope.masked,
        now=scope.now,
        about=scope.about,
    )


LEDGERS = (
    _Ledger(
        "tickets",
        "工单台账: one row per ticket opened in the dates given",
        "One row per ticket opened from --from to --to (both days included, in the config's "
        "timezone), of the grids given (default: every grid), oldest first. Phone and ID "
        "numbers are in full unless --mask.",
        "ticket(s)",
        "受理日期",
        _write_tickets,
    ),
    _Ledger(
        "points",
        "积分台账: one row per points entry written in the dates given",
        "One row per points entry (awards, deductions, corrections, base points, "
        "redemptions) written from --from to --to (both days included, in the config's "
        "timezone), of the grids given (default: every grid), oldest first, each with the "
        "balance it left and who gave it. Phone and ID numbers are in full unless --mask.",
        "entr(ies)",
        "记账日期",
        _write_points,
    ),
)


def add_parsers(
    sub: Any, with_db: argparse.ArgumentParser, settings_of: SettingsOf, open_database: OpenDatabase
) -> None:
    export = sub.add_parser(
        "export",
        help="write a ledger (台账) as an Excel file",
        description="Write a ledger as an .xlsx file with Chinese headers and local times.",
    )
    kinds = export.add_subparsers(dest="export_kind", metavar="LEDGER", required=True)
    for ledger in LEDGERS:
        parser = kinds.add_parser(
            ledger.name, parents=[with_db], help=ledger.help, description=ledger.description
        )
        parser.add_argument(
            "--from", dest="first", type=day, metavar="DATE", help="first day (default: any)"
        )
        parser.add_argument(
            "--to", dest="last", type=day, metavar="DATE", help="last day (default: any)"
        )
        parser.add_argument(
            "--grid",
            action="append",
            metavar="CODE",
            help="only this grid (repeat for several; default: every grid)",
        )
        parser.add_argument(
            "--mask",
            action="store_true",
            help="mask phone and ID numbers, as a grid leader's download from the console is",
        )
        parser.add_argument("--out", required=True, metavar="FILE.xlsx", help="where to write")

        def run(args: argparse.Namespace, ledger: _Ledger = ledger) -> int:
            return _export(args, ledger, settings_of(args), open_database)

        parser.set_defaults(handler=run)


def _start(day: date, settings: Settings) -> datetime:
    return datetime.combine(day, time.min, tzinfo=settings.tz)


def _export(
    args: argparse.Namespace,
    ledger: _Ledger,
    settings: Settings,
    open_database: OpenDatabase,
) -> int:
    from bot.clock import SystemClock
    from bot.logs import setup_logging

    setup_logging(args.log_level or "INFO")  # the audit line is the export's record
    out = Path(args.out)
    if out.suffix.lower() != ".xlsx":
        print(f"gridbot export: {out} should end in .xlsx (an Excel file)", file=sys.stderr)
        return EXIT_USAGE
    known = {grid.code for grid in settings.grids}
    unknown = [code for code in args.grid or () if code not in known]
    if unknown:
        print(
            f"gridbot export: no grid {', '.join(unknown)} in the config "
            f"(grids: {', '.join(sorted(known)) or 'none'})",
            file=sys.stderr,
        )
        return EXIT_USAGE
    if database_missing(settings, "gridbot export"):
        return EXIT_USAGE
    first, last = args.first, args.last
    if first is not None and last is not None and first > last:
        print("gridbot export: --from is after --to", file=sys.stderr)
        return EXIT_USAGE
    scope = "、".join(args.grid) if args.grid else "全部网格"
    dates = f"{ledger.dates} {first or '最早'} 至 {last or '最近'}"
    asked = _Scope(
        grids=frozenset(args.grid) if args.grid else None,
        since=_start(first, settings) if first else None,
        until=_start(last + timedelta(days=1), settings) if last else None,
        masked=args.mask,
        now=SystemClock(settings.tz).now(),
        about=[("导出人", "命令行（gridbot export）"), ("筛选条件", f"{scope}，{dates}")],
    )
    db = open_database(settings.database)
    try:
        with db.session() as session, open(out, "wb") as handle:
            count = ledger.write(session, handle, asked, settings)
    except OSError as exc:
        print(f"gridbot export: can't write {out}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_USAGE
    finally:
        db.dispose()
    audit.info(
        "%d %s exported to %s on the command line (%s, %s%s)",
        count,
        ledger.unit,
        out,
        scope,
        dates,
        ", masked" if args.mask else "",
    )
    print(f"{count} {ledger.unit} written to {out}", file=sys.stderr)
    return EXIT_OK
