"""`gridbot status`: is the bot healthy (bot/health.py)? For monitoring and for the IT person:
exit 0 when it is, 1 when not; `--json` prints what the web console's /healthz answers."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import Any

from bot.settings import Settings

__all__ = ["add_parsers"]

EXIT_OK, EXIT_FAILED = 0, 1


def add_parsers(
    sub: Any,
    with_db: argparse.ArgumentParser,
    settings_of: Callable[[argparse.Namespace], Settings],
) -> None:
    status = sub.add_parser(
        "status",
        parents=[with_db],
        help="is the bot healthy? exit 0 if so, 1 if not (for monitoring)",
        description="Check the database (reachable, schema current), each WeChat account "
        "(online: its heartbeat is recent), the outbox (messages unsent long after they were "
        "due) and the messages handled, with the thresholds of the config's `alerts` "
        "section. Exit 0 when all is well, 1 when not.",
    )
    status.add_argument(
        "--json", action="store_true", help="print JSON, as the web console's /healthz"
    )

    def run(args: argparse.Namespace) -> int:
        return _run(args, settings_of(args))

    status.set_defaults(handler=run)


def _report(settings: Settings) -> dict[str, Any]:
    from sqlalchemy.engine import make_url

    from bot import health
    from bot.clock import SystemClock
    from storage.db import Database, UnusableDatabase, reporting_failures, sqlite_path

    now = SystemClock(settings.tz).now()
    path = sqlite_path(make_url(settings.database))
    if path is not None and not path.exists():  # don't leave an empty file behind
        return health.unreachable(f"no database at {path}", settings, now)
    try:
        with reporting_failures(settings.database):
            db = Database.from_url(settings.database)
    except UnusableDatabase as exc:
        return health.unreachable(str(exc), settings, now)
    try:
        return health.report(settings, db, now)
    finally:
        db.dispose()


def _run(args: argparse.Namespace, settings: Settings) -> int:
    from bot.logs import setup_logging
    from storage.db import shown_url

    setup_logging(args.log_level or "ERROR")  # the report is the output
    report = _report(settings)
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=2))
    else:
        state = "healthy" if report["healthy"] else "NOT HEALTHY"
        print(f"gridbot {state} ({shown_url(settings.database)}, {report['at']})")
        for name, check in report["checks"].items():
            print(f"  {name:<11}{'ok' if check['ok'] else 'FAIL':<6}{check['detail']}")
    sys.stdout.flush()
    return EXIT_OK if report["healthy"] else EXIT_FAILED
