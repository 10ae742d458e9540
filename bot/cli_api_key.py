"""`gridbot api-key create|list|revoke`: the keys the city's platform (12345, 平安) reads the
grids' tickets with, through /api/v1/ and Open311 (storage/api_keys.py, web/api.py).

A key is printed once, when it is made, and kept only as its hash: whoever loses it gets a
new one (`revoke`, then `create` with the same name: the residents' pseudonymous ids stay).
Each key made or revoked is logged on `gridbot.audit`.
"""

from __future__ import annotations

import argparse
import getpass
import logging
import sys
from datetime import datetime
from typing import TYPE_CHECKING, Any

from bot.cli_args import OpenDatabase, SettingsOf, database_missing, handle_with
from bot.settings import Settings

if TYPE_CHECKING:
    from storage.db import Database
    from storage.models import ApiKey

__all__ = ["add_parsers"]

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2

audit = logging.getLogger("gridbot.audit")


def add_parsers(
    sub: Any, with_db: argparse.ArgumentParser, settings_of: SettingsOf, open_database: OpenDatabase
) -> None:
    api_key = sub.add_parser(
        "api-key",
        help="keys for the API the city's platform reads tickets with (/api/v1/, Open311)",
        description="Keys for /api/v1/ and /open311/v2/: made, listed and revoked here; "
        "kept as their SHA-256 only.",
    )
    actions = api_key.add_subparsers(dest="api_key_command", metavar="ACTION", required=True)
    create = actions.add_parser(
        "create",
        parents=[with_db],
        help="make a key and print it (once: it is not kept)",
        description="Make a key named NAME and print it on stdout. It is shown only now: "
        "give it to the platform at once. A name of a revoked key keeps that key's "
        "pseudonymous ids of residents.",
    )
    create.add_argument("name", metavar="NAME", help="whose key it is, e.g. 12345平台")
    create.add_argument(
        "--grid",
        action="append",
        metavar="CODE",
        help="the key reads this grid only (repeat for several; default: every grid)",
    )
    actions.add_parser(
        "list",
        parents=[with_db],
        help="list the keys: name, prefix, grids, made, last used, revoked",
        description="Every key, revoked ones too, oldest first (times in the config's "
        "timezone). Keys themselves are not kept, and not shown.",
    )
    revoke = actions.add_parser(
        "revoke",
        parents=[with_db],
        help="revoke a key, by its name or its prefix",
        description="Revoke the live key named NAME, or whose prefix (gbk_…, as `list` "
        "shows) is PREFIX: it opens nothing from its next request on.",
    )
    revoke.add_argument("which", metavar="NAME|PREFIX")
    handle_with(api_key, _run, settings_of, open_database)


def _who() -> str:
    """Who runs the command, as the key's record says it."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no user name for this uid (a container)
        return "cli"


def _run(args: argparse.Namespace, settings: Settings, open_database: OpenDatabase) -> int:
    from bot.clock import SystemClock
    from bot.logs import setup_logging

    command = args.api_key_command
    # a key made or revoked is logged: its line is the record
    setup_logging(args.log_level or ("WARNING" if command == "list" else "INFO"))
    if command == "create":
        problem = _create_problem(args, settings)
        if problem is not None:
            print(f"gridbot api-key: {problem}", file=sys.stderr)
            return EXIT_USAGE
    if database_missing(settings, "gridbot api-key"):
        return EXIT_USAGE
    now = SystemClock(settings.tz).now()
    db = open_database(settings.database)
    try:
        if command == "create":
            return _create(args, db, now)
        if command == "revoke":
            return _revoke(args, db, now)
        return _list(db, settings)
    finally:
        db.dispose()


def _create_problem(args: argparse.Namespace, settings: Settings) -> str | None:
    from storage.api_keys import check_name

    problem = check_name(args.name)
    if problem is not None:
        return problem
    known = {grid.code for grid in settings.grids}
    unknown = sorted({code for code in args.grid or () if code not in known})
    if unknown:
        return (
            f"no grid {', '.join(unknown)} in the config "
            f"(grids: {', '.join(sorted(known)) or 'none'})"
        )
    return None


def _grids(key: ApiKey) -> str:
    return f"grids {', '.join(key.grids)}" if key.grids else "every grid"


def _create(args: argparse.Namespace, db: Database, now: datetime) -> int:
    from storage import api_keys

    who = _who()
    with db.session() as session:
        try:
            made = api_keys.create(
                session=session, name=args.name, grids=args.grid or (), created_by=who, now=now
            )
        except api_keys.NameTaken:
            print(
                f"gridbot api-key: a live key is named {args.name!r} already; revoke it first "
                f"(`gridbot api-key revoke {args.name}`) or choose another name",
                file=sys.stderr,
            )
            return EXIT_USAGE
        session.commit()
        row = made.row
        prefix, grids = row.prefix, _grids(row)
    audit.info("api key %s (%s) created by %s for %s", args.name, prefix, who, grids)
    print(made.key)
    print(
        f"API key {args.name!r} ({prefix}) made for {grids}.\n"
        "This is the only time it is shown: only its hash is kept. Give it to the platform "
        "now, by a safe way; whoever has it reads these grids' tickets.\n"
        f"Revoke it with: gridbot api-key revoke {prefix}",
        file=sys.stderr,
    )
    return EXIT_OK


def _revoke(args: argparse.Namespace, db: Database, now: datetime) -> int:
    from storage import api_keys

    who = _who()
    with db.session() as session:
        gone = api_keys.revoke(session=session, which=args.which, by=who, now=now)
        if gone is None:
            print(
                f"gridbot api-key: no live key is named {args.which!r} or has that prefix "
                "(`gridbot api-key list` shows them)",
                file=sys.stderr,
            )
            return EXIT_USAGE
        session.commit()
        name, prefix = gone.name, gone.prefix
    audit.info("api key %s (%s) revoked by %s", name, prefix, who)
    print(f"API key {name!r} ({prefix}) revoked: it opens nothing from now on.", file=sys.stderr)
    return EXIT_OK


def _list(db: Database, settings: Settings) -> int:
    from storage import api_keys

    with db.session() as session:
        keys = api_keys.list_keys(session=session)
    if not keys:
        print("no API keys (make one: gridbot api-key create NAME)", file=sys.stderr)
        return EXIT_OK
    tz = settings.tz

    def at(moment: datetime | None) -> str:
        return "" if moment is None else f"{moment.astimezone(tz):%Y-%m-%d %H:%M}"

    for key in keys:
        state = (
            f"revoked {at(key.revoked_at)} by {key.revoked_by}"
            if key.revoked_at is not None
            else "live"
        )
        used = f"last used {at(key.last_used_at)}" if key.last_used_at else "never used"
        print(
            f"{key.name}  {key.prefix}  {state}; {_grids(key)}; "
            f"made {at(key.created_at)} by {key.created_by}; {used}"
        )
    return EXIT_OK
