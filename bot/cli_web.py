"""`gridbot web` and `gridbot web-link`, and the console served beside `gridbot run`.

The web package (FastAPI, uvicorn, Jinja2) is imported only here, and only when the console
is served: a bot without it starts as fast as before.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from bot.cli_args import OpenDatabase, SettingsOf, handle_with
from bot.settings import Settings

if TYPE_CHECKING:
    from bot.clock import Clock
    from storage.db import Database

__all__ = ["add_parsers", "beside_bot"]

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2

audit = logging.getLogger("gridbot.audit")


def _port(text: str) -> int:
    if not text.isascii() or not text.isdigit() or not 1 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"not a port (1-65535): {text!r}")
    return int(text)


def add_parsers(
    sub: Any, with_db: argparse.ArgumentParser, settings_of: SettingsOf, open_database: OpenDatabase
) -> None:
    web = sub.add_parser(
        "web",
        parents=[with_db],
        help="serve the web console (指挥中心后台) in a process of its own",
        description="Serve the web console on the bot's database until Ctrl-C, beside a "
        "`gridbot run --no-web` (or a bot that serves none). Listens on the config's "
        "web.host and web.port (127.0.0.1:8080 unless told otherwise).",
    )
    web.add_argument("--host", help="the address to listen on (default: the config's web.host)")
    web.add_argument(
        "--port", type=_port, help="the port to listen on (default: the config's web.port)"
    )
    link = sub.add_parser(
        "web-link",
        parents=[with_db],
        help="print a one-time login link to the web console for a leader or administrator",
        description="Print the link /后台 would send CONTACT_ID: it logs in once, within "
        "10 minutes. For the IT person setting the console up; it is in the audit log.",
    )
    link.add_argument("contact_id", metavar="CONTACT_ID", help="e.g. wxid_street_admin")
    handle_with(web, _cmd_web, settings_of, open_database)
    handle_with(link, _cmd_link, settings_of, open_database)


def _with_address(settings: Settings, host: str | None, port: int | None) -> Settings:
    changes: dict[str, Any] = {}
    if host is not None:
        changes["host"] = host
    if port is not None:
        changes["port"] = port
    if not changes:
        return settings
    # validated as the config's own would be (a host with spaces is refused here too)
    web = type(settings.web).model_validate({**settings.web.model_dump(), **changes})
    return settings.model_copy(update={"web": web})


def _cmd_web(args: argparse.Namespace, settings: Settings, open_database: OpenDatabase) -> int:
    from bot.clock import SystemClock
    from bot.logs import setup_logging

    setup_logging(args.log_level or "INFO")  # a service: its log is how one watches it
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)  # as `gridbot db`
    try:
        settings = _with_address(settings, args.host, args.port)
    except ValueError as exc:
        print(f"gridbot web: {exc}", file=sys.stderr)
        return EXIT_USAGE
    from web.serve import bind, serve_forever

    web = settings.web
    try:
        sock = bind(web.host, web.port)
    except OSError as exc:
        print(
            f"gridbot web: can't listen on {web.host}:{web.port}: {exc.strerror or exc}",
            file=sys.stderr,
        )
        return EXIT_USAGE
    db = open_database(settings.database)
    try:
        print(f"指挥中心后台：{web.url}（按 Ctrl-C 停止）", file=sys.stderr, flush=True)
        if not web.enabled:
            print(
                "gridbot web: web.enabled is false in the config, so /后台 sends no login "
                "links: use `gridbot web-link CONTACT_ID`, or enable it and run the bot with "
                "`gridbot run --no-web`",
                file=sys.stderr,
            )
        serve_forever(settings, db, SystemClock(settings.tz), sock)
    finally:
        sock.close()
        db.dispose()
    return EXIT_OK


def _cmd_link(args: argparse.Namespace, settings: Settings, open_database: OpenDatabase) -> int:
    from bot.clock import SystemClock
    from bot.logs import setup_logging
    from domain.actor import actor_for
    from storage import web_auth

    setup_logging(args.log_level or "INFO")  # the audit line is the link's record
    db = open_database(settings.database)
    try:
        with db.session() as session:
            if actor_for(session, settings, args.contact_id) is None:
                print(
                    f"gridbot web-link: {args.contact_id} is neither an administrator (admins) "
                    "nor a grid leader (grids[].leaders, or the role in the database)",
                    file=sys.stderr,
                )
                return EXIT_USAGE
            token = web_auth.create_login_token(
                session=session,
                contact_id=args.contact_id,
                now=SystemClock(settings.tz).now(),
            )
            session.commit()
    finally:
        db.dispose()
    audit.info("web login link for %s made on the command line", args.contact_id)
    print(settings.web.login_link(token))
    print(
        f"(logs in {args.contact_id} once, within {web_auth.TOKEN_MINUTES} minutes)",
        file=sys.stderr,
    )
    return EXIT_OK


@asynccontextmanager
async def beside_bot(
    settings: Settings, db: Database, clock: Clock, *, wanted: bool = True
) -> AsyncIterator[None]:
    """Serve the console on the running event loop while the block runs, when the config
    enables it (and ``wanted``: not `gridbot run --no-web`). A port that can't be had is
    said, and the bot runs on without its console."""
    web = settings.web
    if not (web.enabled and wanted):
        yield
        return
    from web.serve import bind, serving

    try:
        sock = bind(web.host, web.port)
    except OSError as exc:
        print(
            f"gridbot: the web console is not served: can't listen on {web.host}:{web.port} "
            f"({exc.strerror or exc}); the bot runs without it",
            file=sys.stderr,
            flush=True,
        )
        yield
        return
    async with serving(settings, db, clock, sock):
        print(
            f"指挥中心后台：{web.url}（私聊机器人发送 /后台 获取登录链接）",
            file=sys.stderr,
            flush=True,
        )
        yield
