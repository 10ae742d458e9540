"""Serving the console with uvicorn: beside the bot on its event loop (`gridbot run` with
`web.enabled`), or alone (`gridbot web`).

The socket is bound here, before uvicorn starts: uvicorn ends the whole process
(``sys.exit``) when its port is taken, and the bot must go on chatting without its console.
Beside the bot, signals stay the bot's: uvicorn would otherwise take over Ctrl-C.

What the console sends the escalation room (上报 on a ticket's page) is copied to the
企业微信 robot by bot/alerts.py, as the bot's own are, once it is committed: beside the bot by
the bot's alerts (the same database object, so each is copied once); alone, by the
process's own, started for the copy only.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import AsyncIterator, Generator

import uvicorn

from bot.alerts import Alerts
from bot.clock import Clock
from bot.settings import Settings
from storage.db import Database
from web.app import create_app

__all__ = ["bind", "serve_forever", "serving"]

log = logging.getLogger(__name__)

# Stopping waits this long for open connections (a browser's keep-alive) before closing them:
# the bot's own stop must not wait on a tab left open on a desk.
SHUTDOWN_SECONDS = 3
_STARTUP_SECONDS = 10


class _Server(uvicorn.Server):
    """A uvicorn server that leaves signals to the process it runs in, when told to, and
    copies the escalation room's messages to the robot while it serves, when given
    ``alerts`` (a console with no bot beside it)."""

    def __init__(
        self, config: uvicorn.Config, *, signals: bool, alerts: Alerts | None = None
    ) -> None:
        super().__init__(config)
        self._signals = signals
        self._alerts = alerts

    async def serve(self, sockets: list[socket.socket] | None = None) -> None:
        alerts = self._alerts
        if alerts is None:
            await super().serve(sockets)
            return
        alerts.start(checks=False)  # on the loop it serves on: the robot's worker is a task
        try:
            await super().serve(sockets)
        finally:
            alerts.stop()

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        if self._signals:
            with super().capture_signals():
                yield
        else:
            yield


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on ``host``:``port`` (OSError when it can't be had: taken, not an
    address of this machine, a port below 1024 without the right)."""
    family, kind, proto, _name, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(128)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


def _server(
    settings: Settings, db: Database, clock: Clock, *, signals: bool, alerts: Alerts | None = None
) -> uvicorn.Server:
    config = uvicorn.Config(
        create_app(settings, db, clock),
        lifespan="off",
        # the login links carry their secret in the path: an access log would keep them
        access_log=False,
        log_config=None,  # the process's logging (bot/logs.py masks what it writes)
        server_header=False,
        timeout_graceful_shutdown=SHUTDOWN_SECONDS,
    )
    return _Server(config, signals=signals, alerts=alerts)


@contextlib.asynccontextmanager
async def serving(
    settings: Settings, db: Database, clock: Clock, sock: socket.socket
) -> AsyncIterator[None]:
    """Serve the console on ``sock`` as a task of the running event loop while the block
    runs; stop it, and close the socket, when the block ends."""
    server = _server(settings, db, clock, signals=False)
    task = asyncio.create_task(server.serve(sockets=[sock]), name="web console")
    try:
        async with asyncio.timeout(_STARTUP_SECONDS):
            # uvicorn says it started by a flag, not an event
            while not server.started and not task.done():  # noqa: ASYNC110
                await asyncio.sleep(0.01)
        if task.done():
            task.result()  # its failure, raised here
        yield
    finally:
        server.should_exit = True
        try:
            await asyncio.wait_for(task, SHUTDOWN_SECONDS + 2)
        except TimeoutError:
            log.warning("the web console did not stop in time")
        except Exception:
            log.exception("the web console failed")
        sock.close()


def serve_forever(settings: Settings, db: Database, clock: Clock, sock: socket.socket) -> None:
    """Serve the console on ``sock`` until SIGINT or SIGTERM (`gridbot web`), with the
    escalation room's copy to the robot the config's ``alerts.wecom`` names."""
    alerts = Alerts.from_settings(settings, clock, db)
    _server(settings, db, clock, signals=True, alerts=alerts).run(sockets=[sock])
