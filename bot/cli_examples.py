"""`gridbot examples export|delete`: the training examples kept from leaders' corrections
(storage/examples.py), read out for training and deleted under the retention policy."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, TextIO

from bot.cli_args import OpenDatabase, SettingsOf, database_missing, day, handle_with
from bot.settings import Settings

if TYPE_CHECKING:
    from storage.db import Database

__all__ = ["add_parsers"]

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2

audit = logging.getLogger("gridbot.audit")


def _example_id(text: str) -> int:
    """An example's id as exported (``c12``) or its number (``12``)."""
    from storage.examples import ID_PREFIX

    digits = text.removeprefix(ID_PREFIX)
    # nine digits at most: no id is longer, and a longer one overflows PostgreSQL's integer
    if not digits.isascii() or not digits.isdigit() or len(digits) > 9:
        raise argparse.ArgumentTypeError(f"not an example id (12 or {ID_PREFIX}12): {text!r}")
    return int(digits)


def add_parsers(
    sub: Any, with_db: argparse.ArgumentParser, settings_of: SettingsOf, open_database: OpenDatabase
) -> None:
    examples = sub.add_parser(
        "examples",
        help="training examples kept from leaders' corrections (masked)",
        description="Messages leaders labelled by /改类, /驳回 … 不是诉求, /受理 and /补录, "
        "kept masked to teach the classifier.",
    )
    actions = examples.add_subparsers(dest="examples_command", metavar="ACTION", required=True)
    export = actions.add_parser(
        "export",
        parents=[with_db],
        help="write the examples as JSON lines, in the labelled data sets' format",
        description="Write one JSON object per example ({id, text, is_request, category, "
        "urgent, script}), oldest first; a text corrected more than once is written once, as "
        "last corrected.",
    )
    export.add_argument("--out", metavar="FILE", help="write here instead of stdout")
    export.add_argument(
        "--since", type=day, metavar="DATE", help="only examples kept on or after DATE"
    )
    delete = actions.add_parser(
        "delete",
        parents=[with_db],
        help="delete examples, by date or one by id",
        description="Delete the examples kept before DATE (in the config's timezone), or one.",
    )
    which = delete.add_mutually_exclusive_group(required=True)
    which.add_argument("--before", type=day, metavar="DATE", help="every example kept before DATE")
    which.add_argument(
        "--id", type=_example_id, metavar="N", help="the example N (as exported: c12)"
    )
    handle_with(examples, _run, settings_of, open_database)


def _start(day: date, settings: Settings) -> datetime:
    """The first moment of ``day`` where the grids are."""
    return datetime.combine(day, datetime.min.time(), tzinfo=settings.tz)


def _run(args: argparse.Namespace, settings: Settings, open_database: OpenDatabase) -> int:
    from bot.logs import setup_logging

    # a deletion's log line is its record, shown unless asked not to be
    deleting = args.examples_command == "delete"
    setup_logging(args.log_level or ("INFO" if deleting else "WARNING"))
    if database_missing(settings, "gridbot"):
        return EXIT_USAGE
    db = open_database(settings.database)
    try:
        return _delete(args, settings, db) if deleting else _export(args, settings, db)
    finally:
        db.dispose()


@contextmanager
def _output(name: str | None) -> Iterator[TextIO]:
    if name is None:
        yield sys.stdout
        return
    with open(name, "w", encoding="utf-8") as handle:
        yield handle


def _export(args: argparse.Namespace, settings: Settings, db: Database) -> int:
    from storage import examples

    since = _start(args.since, settings) if args.since else None
    with db.session() as session:
        rows = examples.rows(session=session, since=since)
    try:
        with _output(args.out) as out:
            for row in rows:
                out.write(json.dumps(row, ensure_ascii=False) + "\n")
    except OSError as exc:
        print(f"gridbot examples: can't write {args.out}: {exc.strerror}", file=sys.stderr)
        return EXIT_USAGE
    if args.out is not None:
        print(f"{len(rows)} example(s) written to {args.out}", file=sys.stderr)
    return EXIT_OK


def _delete(args: argparse.Namespace, settings: Settings, db: Database) -> int:
    from storage import examples

    with db.session() as session:
        if args.id is not None:
            found = examples.delete_one(session=session, example_id=args.id)
            session.commit()
            if not found:
                print(
                    f"gridbot examples: no example {examples.ID_PREFIX}{args.id}", file=sys.stderr
                )
                return EXIT_FAILED
            audit.info("training example %s%d deleted", examples.ID_PREFIX, args.id)
            print(f"deleted example {examples.ID_PREFIX}{args.id}")
            return EXIT_OK
        before = _start(args.before, settings)
        count = examples.delete_before(session=session, before=before)
        session.commit()
    audit.info("%d training example(s) kept before %s deleted", count, before.isoformat())
    print(f"deleted {count} example(s) kept before {args.before.isoformat()}")
    return EXIT_OK
