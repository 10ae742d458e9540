"""`gridbot export tickets`: the 工单台账 as an Excel file, for the IT person or a scheduled job
(the console's list downloads the same file with its filters).

Whoever runs it reads the database itself, so the file is an administrator's: phone and ID
numbers in full, unless ``--mask`` asks for a file a grid leader may be given.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.cli_args import day
from bot.settings import Settings

if TYPE_CHECKING:
    from storage.db import Database

__all__ = ["add_parsers"]

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2

audit = logging.getLogger("gridbot.audit")


def add_parsers(
    sub: Any,
    with_db: argparse.ArgumentParser,
    settings_of: Callable[[argparse.Namespace], Settings],
    open_database: Callable[[str], Database],
) -> None:
    export = sub.add_parser(
        "export",
        help="write a ledger (台账) as an Excel file",
        description="Write a ledger as an .xlsx file with Chinese headers and local times.",
    )
    kinds = export.add_subparsers(dest="export_kind", metavar="LEDGER", required=True)
    tickets = kinds.add_parser(
        "tickets",
        parents=[with_db],
        help="工单台账: one row per ticket opened in the dates given",
        description="One row per ticket opened from --from to --to (both days included, in "
        "the config's timezone), of the grids given (default: every grid), oldest first. "
        "Phone and ID numbers are in full unless --mask.",
    )
    tickets.add_argument(
        "--from", dest="first", type=day, metavar="DATE", help="first day (default: any)"
    )
    tickets.add_argument(
        "--to", dest="last", type=day, metavar="DATE", help="last day (default: any)"
    )
    tickets.add_argument(
        "--grid",
        action="append",
        metavar="CODE",
        help="only this grid (repeat for several; default: every grid)",
    )
    tickets.add_argument(
        "--mask",
        action="store_true",
        help="mask phone and ID numbers, as a grid leader's download from the console is",
    )
    tickets.add_argument("--out", required=True, metavar="FILE.xlsx", help="where to write")

    def run(args: argparse.Namespace) -> int:
        return _tickets(args, settings_of(args), open_database)

    tickets.set_defaults(handler=run)


def _start(day: date, settings: Settings) -> datetime:
    return datetime.combine(day, time.min, tzinfo=settings.tz)


def _tickets(
    args: argparse.Namespace, settings: Settings, open_database: Callable[[str], Database]
) -> int:
    from sqlalchemy.engine import make_url

    from bot.clock import SystemClock
    from bot.logs import setup_logging
    from storage.db import sqlite_path
    from storage.ticket_search import Sort, TicketQuery, each
    from web import ticket_ledger

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
    path = sqlite_path(make_url(settings.database))
    if path is not None and not path.exists():  # don't leave an empty database behind
        print(f"gridbot export: no database at {path}", file=sys.stderr)
        return EXIT_USAGE
    first, last = args.first, args.last
    if first is not None and last is not None and first > last:
        print("gridbot export: --from is after --to", file=sys.stderr)
        return EXIT_USAGE
    query = TicketQuery(
        grids=frozenset(args.grid) if args.grid else None,
        created_from=_start(first, settings) if first else None,
        created_before=_start(last + timedelta(days=1), settings) if last else None,
        sort=Sort.OLDEST,
    )
    scope = "、".join(args.grid) if args.grid else "全部网格"
    dates = f"受理日期 {first or '最早'} 至 {last or '最近'}"
    db = open_database(settings.database)
    try:
        with db.session() as session, open(out, "wb") as handle:
            count = ticket_ledger.write(
                handle,
                each(session=session, query=query),
                settings=settings,
                masked=args.mask,
                now=SystemClock(settings.tz).now(),
                about=[("导出人", "命令行（gridbot export）"), ("筛选条件", f"{scope}，{dates}")],
            )
    except OSError as exc:
        print(f"gridbot export: can't write {out}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_USAGE
    finally:
        db.dispose()
    audit.info(
        "%d ticket(s) exported to %s on the command line (%s, %s%s)",
        count,
        out,
        scope,
        dates,
        ", masked" if args.mask else "",
    )
    print(f"{count} ticket(s) written to {out}", file=sys.stderr)
    return EXIT_OK
