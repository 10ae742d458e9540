"""The `gridbot` command.

Exit codes: 0 success; 1 the work ran but something failed (e.g. malformed replay lines);
2 the command can't run as given (usage, config, database schema); 130 interrupted.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import logging
import os
import signal
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from bot import __version__
from bot.cli_api_key import add_parsers as add_api_key_parsers
from bot.cli_backup import add_parsers as add_backup_parsers
from bot.cli_examples import add_parsers as add_examples_parsers
from bot.cli_export import add_parsers as add_export_parsers
from bot.cli_members import add_parsers as add_members_parsers
from bot.cli_model import add_parsers as add_model_parsers
from bot.cli_purge import add_parsers as add_purge_parsers
from bot.cli_status import add_parsers as add_status_parsers
from bot.cli_web import add_parsers as add_web_parsers
from bot.settings import (
    DEMO_CONFIG,
    ConfigError,
    Settings,
    config_warnings,
    database_url_problem,
    load_settings,
)

if TYPE_CHECKING:
    from storage.db import Database

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130

log = logging.getLogger("gridbot")


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--config",
        type=Path,
        metavar="PATH",
        help="main YAML config (default: $GRIDBOT_CONFIG, else the shipped demo config)",
    )
    common.add_argument(
        "--log-level",
        default=None,
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="log level on stderr",
    )
    with_db = argparse.ArgumentParser(add_help=False, parents=[common])
    with_db.add_argument("--db", metavar="URL", help="database URL, overriding the config's")
    as_account = argparse.ArgumentParser(add_help=False)
    as_account.add_argument(
        "--account",
        metavar="NAME",
        help="the bot account this process serves, when several share one database: it only "
        "sends into groups its account is in (default: gridbot; on WeChat the logged-in "
        "account's contact id is used)",
    )

    parser = argparse.ArgumentParser(
        prog="gridbot",
        description="网格助手 GridBot: a WeChat group bot for neighbourhood grids.",
    )
    parser.add_argument("--version", action="version", version=f"gridbot {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    run = sub.add_parser(
        "run",
        parents=[with_db, as_account],
        help="run the bot",
        description="Run the bot on a channel. An embedded SQLite database is created and "
        "upgraded on the spot; a server database must be upgraded with `gridbot db upgrade`.",
    )
    run.add_argument(
        "--channel",
        choices=["console", "wechaty"],
        default=None,
        help="console: chat with the bot in this terminal; wechaty: serve real WeChat groups "
        "through the puppet service at $WECHATY_PUPPET_SERVICE_ENDPOINT, with the token "
        "$WECHATY_PUPPET_SERVICE_TOKEN, or as each account of the config's wechat.accounts "
        "(default: wechaty if that token is set or accounts are configured, else console)",
    )
    run.add_argument(
        "--no-web",
        action="store_true",
        help="don't serve the web console here even when the config enables it (a `gridbot "
        "web` process serves it)",
    )
    run.add_argument(
        "--throttle",
        action="store_true",
        help="console: send at the pace of the config's `sending`, as on WeChat (by default "
        "the console sends at once: a terminal is not a WeChat account)",
    )

    replay = sub.add_parser(
        "replay",
        parents=[with_db, as_account],
        help="feed a JSON-lines file of events to the bot, print what it sends",
        description="Read events (one JSON object per line; '-' for stdin) and write every "
        "message the bot sends to stdout as JSON lines. Without --db a fresh temporary "
        "database is used, so runs repeat exactly. See README.md for the format.",
    )
    replay.add_argument("file", help="JSON-lines file of events, or - for stdin")

    db = sub.add_parser("db", help="database maintenance")
    db_sub = db.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    db_sub.add_parser(
        "upgrade",
        parents=[with_db],
        help="create or upgrade the database schema to the current version",
        description="Apply the schema migrations the database lacks (safe to run again).",
    )
    db_sub.add_parser(
        "current",
        parents=[with_db],
        help="print the database's schema version and the current one",
    )

    classify = sub.add_parser(
        "classify",
        parents=[common],
        help="show how the bot reads a message: request or not, category, urgency, why",
        description="Classify TEXT and print one JSON object, or with --jsonl read objects "
        "with 'text' (and 'id', passed through) and write one JSON object per line.",
    )
    source = classify.add_mutually_exclusive_group(required=True)
    source.add_argument("text", nargs="?", help="the message to classify")
    source.add_argument("--jsonl", metavar="FILE", help="JSON-lines input ('-' for stdin)")

    points = sub.add_parser("points", help="points ledger (积分) maintenance")
    points_sub = points.add_subparsers(dest="points_command", metavar="ACTION", required=True)
    points_sub.add_parser(
        "verify",
        parents=[with_db],
        help="check every stored balance against the sum of its ledger entries",
        description="Recompute every member's balance, earned total and entry count from the "
        "ledger and compare them with the stored ones. Exit 0 if all agree, 1 if any differ.",
    )

    check = sub.add_parser(
        "check-config",
        parents=[common],
        help="validate a config file and print a summary",
        description="Validate the config; exit 0 if it can be used, 2 with the problems if not. "
        "What it most likely gets wrong (a grid without leaders, a schedule that never runs) "
        "is a warning on stderr, an error with --strict.",
    )
    check.add_argument(
        "--strict", action="store_true", help="refuse a config that has warnings (exit 2)"
    )
    add_model_parsers(sub, common, with_db, _settings)
    add_examples_parsers(
        sub, with_db, _settings, lambda url: _open_database(url, auto_upgrade=False)
    )
    add_web_parsers(sub, with_db, _settings, _open_database)
    add_export_parsers(sub, with_db, _settings, lambda u: _open_database(u, auto_upgrade=False))
    add_status_parsers(sub, with_db, _settings)
    add_members_parsers(sub, with_db, _settings, lambda u: _open_database(u, auto_upgrade=False))
    add_backup_parsers(sub, with_db, _settings)
    add_purge_parsers(sub, with_db, _settings, lambda u: _open_database(u, auto_upgrade=False))
    add_api_key_parsers(sub, with_db, _settings, _open_database)
    return parser


def _config_path(args: argparse.Namespace) -> Path | None:
    path: Path | None = args.config
    if path is None and os.environ.get("GRIDBOT_CONFIG"):
        path = Path(os.environ["GRIDBOT_CONFIG"])
    return path


def _settings(args: argparse.Namespace) -> Settings:
    settings = load_settings(_config_path(args))
    if getattr(args, "db", None):
        from storage.db import UnusableDatabase

        problem = database_url_problem(args.db)
        if problem is not None:
            raise UnusableDatabase(f"--db: {problem}")
        settings = settings.model_copy(update={"database": args.db})
    return settings


def _open_database(url: str, *, auto_upgrade: bool | None = None) -> Database:
    """The bot's database, opened and its schema checked; a database that can't be opened
    is said in one line (exit 2), not with the driver's traceback."""
    from bot.app import open_database
    from storage.db import reporting_failures

    with reporting_failures(url):
        return open_database(url, auto_upgrade=auto_upgrade)


def _setup_logging(level: str | None, default: str) -> None:
    from bot.logs import setup_logging

    setup_logging(level or default)


def _console_logging(level: str | None) -> str | None:
    """Logging for the console channel. When the chat and stderr are one terminal, a log line
    would land in the conversation, in the middle of the line being typed: then the log goes
    to a file in the cache folder, and its path is returned for the console to name."""
    from bot.logs import setup_logging
    from bot.paths import cache_dir

    folder = cache_dir()
    if folder is not None and sys.stdout.isatty() and sys.stderr.isatty():
        path = folder / "console.log"
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        except OSError:
            pass
        else:
            # open for the whole run; line-buffered, so a crash loses no line
            setup_logging(level or "WARNING", open(fd, "a", encoding="utf-8", buffering=1))  # noqa: SIM115
            logging.captureWarnings(True)  # warnings.warn() writes to stderr too
            return str(path)
    setup_logging(level or "WARNING")
    return None


def _cmd_run(args: argparse.Namespace) -> int:
    from bot.app import build_app
    from bot.channels.console import ConsoleChannel, unthrottled
    from bot.channels.wechaty_config import token_configured
    from bot.cli_web import beside_bot
    from bot.clock import SystemClock

    settings = _settings(args)
    wechat = token_configured() or bool(settings.wechat.accounts)
    if args.channel == "wechaty" or (args.channel is None and wechat):
        return _run_wechaty(args, settings)
    log_file = _console_logging(args.log_level)
    db = _open_database(settings.database)
    if not args.throttle:
        settings = unthrottled(settings)  # a terminal is not a WeChat account
    console = ConsoleChannel(settings, sys.stdin, sys.stdout, log_file=log_file)
    app = build_app(
        settings, clock=SystemClock(settings.tz), db=db, sender=console, account=args.account
    )

    async def main() -> None:
        await app.start()
        try:
            async with beside_bot(settings, db, app.services.clock, wanted=not args.no_web):
                await console.run(app)
        finally:
            app.stop()

    try:
        asyncio.run(main())
    finally:
        db.dispose()
    return EXIT_OK


def _run_wechaty(args: argparse.Namespace, settings: Settings) -> int:
    from bot.app import build_app
    from bot.cli_web import beside_bot
    from bot.clock import SystemClock
    from bot.wechaty_compat import INSTALL_HINT, missing_sdk

    # Said before anything starts: the SDK is imported only once the channel connects.
    missing = missing_sdk()
    if missing is not None:
        print(f"gridbot: {missing}", file=sys.stderr)
        return EXIT_USAGE
    try:
        from bot.channels import wechaty
    except ImportError as exc:
        print(
            f"gridbot: the wechaty channel needs the `wechat` extra ({INSTALL_HINT}): {exc}",
            file=sys.stderr,
        )
        return EXIT_USAGE
    try:
        configs = wechaty.configs_from_env(settings)
    except wechaty.WechatyConfigError as exc:
        print(f"gridbot: {exc}", file=sys.stderr)
        return EXIT_USAGE
    _setup_logging(args.log_level, "INFO")  # a service: its log is how one watches it
    db = _open_database(settings.database)
    channels = [wechaty.WechatyChannel(config) for config in configs]
    # Each account serves as its logged-in contact id from login on; until then, by name.
    first = channels[0].config.name or None
    app = build_app(
        settings, clock=SystemClock(settings.tz), db=db, sender=channels[0], account=first
    )
    runs = wechaty.account_runs(app, channels)
    clock = app.services.clock
    try:
        stopped_by = wechaty.serve(
            runs, beside=lambda: beside_bot(settings, db, clock, wanted=not args.no_web)
        )
    except (wechaty.WechatyAuthError, ImportError) as exc:
        print(f"gridbot: {exc}", file=sys.stderr)
        return EXIT_USAGE
    finally:
        db.dispose()
    return EXIT_INTERRUPTED if stopped_by == signal.SIGINT else EXIT_OK


@contextmanager
def _replay_database(url: str | None) -> Iterator[str]:
    if url:
        yield url
        return
    with tempfile.TemporaryDirectory(prefix="gridbot-replay-") as scratch:
        yield f"sqlite:///{scratch}/replay.db"


@contextmanager
def _open_input(name: str, *, errors: str = "strict") -> Iterator[TextIO]:
    """The file ``name`` (``-``: stdin) as UTF-8 text. ``errors="surrogateescape"`` keeps a
    byte that is not UTF-8 as a lone surrogate for the reader to report with its line, where
    "strict" ends the reading there."""
    if name == "-":
        buffer = getattr(sys.stdin, "buffer", None)
        if buffer is None:  # replaced by a text stream (tests): no bytes to decode
            yield sys.stdin
            return
        stdin = io.TextIOWrapper(buffer, encoding="utf-8", errors=errors)
        try:
            yield stdin
        finally:
            stdin.detach()  # leave sys.stdin open
        return
    with open(name, encoding="utf-8", errors=errors) as handle:
        yield handle


def _cmd_replay(args: argparse.Namespace) -> int:
    from bot.app import build_app
    from bot.channels.replay import JsonLinesSender, replay
    from bot.clock import ManualClock

    settings = _settings(args)
    _setup_logging(args.log_level, "WARNING")
    try:
        source = _open_input(args.file, errors="surrogateescape")
        lines = source.__enter__()
    except OSError as exc:
        print(f"gridbot replay: can't read {args.file}: {exc.strerror}", file=sys.stderr)
        return EXIT_USAGE
    try:
        with _replay_database(args.db) as url:
            db = _open_database(url)
            clock = ManualClock(datetime(2000, 1, 1, tzinfo=UTC), settings.tz)
            if isinstance(sys.stdout, io.TextIOWrapper):
                # JSON lines are UTF-8: in an ASCII locale every reply failed to be written
                sys.stdout.reconfigure(encoding="utf-8")
            sender = JsonLinesSender(clock, sys.stdout)
            app = build_app(settings, clock=clock, db=db, sender=sender, account=args.account)
            try:
                return asyncio.run(replay(app, clock, lines, sys.stderr))
            finally:
                db.dispose()
    finally:
        source.__exit__(None, None, None)


def _cmd_db(args: argparse.Namespace) -> int:
    from sqlalchemy.engine import make_url

    from storage import migrate
    from storage.db import Database, reporting_failures, shown_url, sqlite_path

    settings = _settings(args)
    upgrade = args.db_command == "upgrade"
    # An upgrade's log says what it did; `current` only reports, in its one line.
    _setup_logging(args.log_level, "INFO" if upgrade else "WARNING")
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)  # alembic's setup
    shown = shown_url(settings.database)
    path = sqlite_path(make_url(settings.database))
    if not upgrade and path is not None and not path.exists():  # don't leave an empty file
        print(
            f"gridbot: no database at {path}: `gridbot db upgrade` (or `gridbot run`) creates it",
            file=sys.stderr,
        )
        return EXIT_USAGE
    with reporting_failures(settings.database):
        db = Database.from_url(settings.database)
        try:
            if upgrade:
                migrate.upgrade(db.engine)
                print(f"{shown}: schema at {migrate.current_revision(db.engine)}")
            else:
                current = migrate.current_revision(db.engine)
                head = migrate.head_revision()
                state = "up to date" if current == head else "needs `gridbot db upgrade`"
                print(f"{shown}: schema at {current or 'none'}, current is {head} ({state})")
        finally:
            db.dispose()
    return EXIT_OK


def _cmd_classify(args: argparse.Namespace) -> int:
    from bot.cli_model import classified
    from bot.models import build_classifier

    settings = _settings(args)
    _setup_logging(args.log_level, "WARNING")
    classifier = build_classifier(settings)
    if args.jsonl is None:
        print(json.dumps(classified(classifier, args.text), ensure_ascii=False))
        return EXIT_OK
    try:
        source = _open_input(args.jsonl)
        lines = source.__enter__()
    except OSError as exc:
        print(f"gridbot classify: can't read {args.jsonl}: {exc.strerror}", file=sys.stderr)
        return EXIT_USAGE
    bad = 0
    try:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
                text = item["text"]
                if not isinstance(text, str):
                    raise TypeError
            except (json.JSONDecodeError, TypeError, KeyError):
                bad += 1
                print(f"line {number}: expected an object with a 'text' string; skipped",
                      file=sys.stderr)  # fmt: skip
                continue
            result = {"id": item.get("id"), **classified(classifier, text)}
            print(json.dumps(result, ensure_ascii=False))
    finally:
        source.__exit__(None, None, None)
    return EXIT_FAILED if bad else EXIT_OK


def _cmd_points(args: argparse.Namespace) -> int:
    from sqlalchemy.engine import make_url

    from storage import points
    from storage.db import sqlite_path

    settings = _settings(args)
    _setup_logging(args.log_level, "WARNING")
    path = sqlite_path(make_url(settings.database))
    if path is not None and not path.exists():  # don't leave an empty file behind
        print(f"gridbot: no database at {path}", file=sys.stderr)
        return EXIT_USAGE
    db = _open_database(settings.database, auto_upgrade=False)
    try:
        with db.session() as session:
            result = points.verify(session=session)
    finally:
        db.dispose()
    print(
        f"checked {result.checked} balance(s) against {result.entries} ledger entries: "
        + (f"{result.mismatched} mismatch(es)" if result.mismatched else "all agree")
    )
    for m in result.mismatches:
        print(
            f"  member {m.member_id} ({m.contact_id} in {m.grid_code}): stored balance "
            f"{m.stored.balance}, earned {m.stored.earned}, entries {m.stored.entries}; "
            f"ledger {m.ledger.balance}, {m.ledger.earned}, {m.ledger.entries}"
        )
    if result.mismatched > len(result.mismatches):
        print(f"  … and {result.mismatched - len(result.mismatches)} more")
    return EXIT_FAILED if result.mismatched else EXIT_OK


def _cmd_check_config(args: argparse.Namespace) -> int:
    settings = _settings(args)
    warnings = config_warnings(settings)
    path = _config_path(args)
    shown = str(path) if path is not None else DEMO_CONFIG
    if warnings and args.strict:
        raise ConfigError(shown, warnings)
    leaders = {cid for grid in settings.grids for cid in grid.leaders}
    print(
        f"config OK: {len(settings.grids)} grid(s), {len(leaders)} leader(s), "
        f"{len(settings.admins)} admin(s); timezone {settings.timezone}"
    )
    accounts = settings.wechat.accounts
    if accounts:
        # Only said, not an error: the config may be checked away from the machine it runs on.
        unset = [a.token_env for a in accounts if not os.environ.get(a.token_env, "").strip()]
        print(
            f"wechat: {len(accounts)} account(s) in this process; "
            + (f"no token in {', '.join(unset)}" if unset else "every token is set")
        )
    wecom = settings.alerts.wecom
    if wecom is not None:
        state = "set" if os.environ.get(wecom.url_env, "").strip() else "not set here"
        print(f"alerts: to a 企业微信 robot, its address in {wecom.url_env} ({state})")
    if warnings:
        print(f"gridbot: warnings in {shown} (errors with --strict):", file=sys.stderr)
        for warning in warnings:
            print(f"  {warning}", file=sys.stderr)
    return EXIT_OK


_COMMANDS = {
    "run": _cmd_run,
    "replay": _cmd_replay,
    "db": _cmd_db,
    "check-config": _cmd_check_config,
    "classify": _cmd_classify,
    "points": _cmd_points,
}


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        # `train` and `model` (bot/cli_model.py) carry their own handler
        return (getattr(args, "handler", None) or _COMMANDS[args.command])(args)
    except ConfigError as exc:
        print(f"gridbot: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except Exception as exc:
        if not _said_in_one_line(exc):
            raise
        print(f"gridbot: {exc}", file=sys.stderr)
        return EXIT_USAGE


def _said_in_one_line(exc: Exception) -> bool:
    """Whether ``exc`` is a database or model the command can't use, said in one line. The
    modules are imported only here: `gridbot classify` needs neither the bot's runtime nor the
    database driver, and their import was a third of its time."""
    from bot.app import SchemaOutOfDate
    from bot.models import ModelError
    from storage.db import UnusableDatabase

    return isinstance(exc, (SchemaOutOfDate, UnusableDatabase, ModelError))


if __name__ == "__main__":
    sys.exit(main())
