"""The connection to the puppet service: one ``Wechaty`` object, kept connected.

The numbers are the findings in tests/gateway/README.md.

* One ``Wechaty`` object for the life of the process, in "direct mode": its puppet is started
  here, not by ``Wechaty.start()``, which sleeps 60 s after a broken connection, gives up for
  good if the gateway is still down then, and stops the whole event loop when nothing listens
  (findings 1-3). :meth:`PuppetConnection.run` reconnects with a short backoff instead; a
  refused token ends it with :class:`WechatyAuthError` (finding 4).
* The SDK's event bridge (``init_puppet_event_bridge``) is not used: it starts the plugin
  manager (a port check, and a scheduler that fails the second login) and handles every
  message in a task of its own, so that replies could overtake one another. The puppet's
  events are listened to here, synchronously, and message ids handed on in arrival order.
* "Online" means connected and logged in: only then can anything be sent.
* A connection quiet for ``probe_interval`` seconds is probed with a ``ding``: a half-open TCP
  connection (a frozen gateway, a dropped NAT mapping) would otherwise go unnoticed for hours.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import time
from collections.abc import Callable
from typing import Any, Final

from grpclib.const import Status
from grpclib.exceptions import GRPCError, ProtocolError, StreamTerminatedError

from bot.channels.wechaty_config import WechatyConfig
from bot.wechaty_compat import load_wechaty, own_object_pools, route_sdk_logging

# The channel's logger: every "wechaty: ..." line comes from one place, whichever module.
log = logging.getLogger("bot.channels.wechaty")

RECONNECT_DELAYS: Final = (0.5, 1.0, 2.0, 5.0, 10.0, 30.0)  # then 30 s for as long as it takes

# gRPC statuses that say "try again later" rather than "this can't be done".
_TRANSIENT_STATUSES: Final = frozenset(
    {
        Status.UNAVAILABLE,
        Status.DEADLINE_EXCEEDED,
        Status.RESOURCE_EXHAUSTED,
        Status.ABORTED,
        Status.CANCELLED,
        Status.INTERNAL,
    }
)


class WechatyAuthError(Exception):
    """The puppet service refused the token."""


class _ProbeFailed(Exception):
    pass


def transient(exc: BaseException) -> bool:
    """Whether a failed call may work later (a connection problem), or never will."""
    if isinstance(exc, GRPCError):
        # The gateway refuses calls while the account is logged out; that passes.
        return exc.status in _TRANSIENT_STATUSES or "not logged in" in str(exc.message or "")
    if isinstance(exc, (OSError, TimeoutError, StreamTerminatedError, ProtocolError)):
        return True
    # The SDK's "puppet_stub should not be none": the connection was being re-established.
    return type(exc).__name__ in {"WechatyPuppetError", "WechatyPuppetGrpcError"}


def describe(exc: BaseException) -> str:
    if isinstance(exc, GRPCError):
        # A Node gateway puts its stack trace in the message: the first line says it.
        first_line = str(exc.message or "").strip().splitlines()[:1]
        return f"gRPC {exc.status.name}" + (f": {first_line[0]}" if first_line else "")
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class PuppetConnection:
    """The ``Wechaty`` object (:attr:`bot`) and its connection to the puppet service.

    ``on_message(message_id)`` and ``on_renamed(room_id)`` are called from the SDK's event
    emitter, in order, and must not block; ``on_online()`` each time the bot is online again;
    ``on_logout(reason)`` when the account logs out, ``on_error(text)`` when the puppet service
    reports an error (for the operations alerts, bot/alerts.py).
    """

    def __init__(
        self,
        config: WechatyConfig,
        *,
        on_message: Callable[[str], None],
        on_renamed: Callable[[str], None],
        on_online: Callable[[], None],
        on_logout: Callable[[str], None] | None = None,
        on_error: Callable[[str], None] | None = None,
    ) -> None:
        self.config = config
        self.bot: Any = None
        self._on_message_id = on_message
        self._on_renamed = on_renamed
        self._on_online = on_online
        self._on_logged_out = on_logout
        self._on_puppet_error = on_error
        self._online = asyncio.Event()
        self._offline = asyncio.Event()
        self._offline.set()
        self._stream_up = False
        self._self_id: str | None = None
        self._logged_in_before = False
        self._last_event = time.monotonic()
        self._offline_since = time.monotonic()
        self._failures = 0  # connection attempts failed in a row
        self._last_qr: str | None = None

    # --- state -----------------------------------------------------------------------------------

    @property
    def online(self) -> bool:
        """Connected and logged in: messages can be sent."""
        return self._online.is_set()

    @property
    def connected(self) -> bool:
        """The puppet service's event stream is up (logged in or not)."""
        return self._stream_up

    @property
    def self_id(self) -> str | None:
        """The bot account's contact id, once it has logged in."""
        return self._self_id

    async def wait_online(self) -> None:
        await self._online.wait()

    async def wait_offline(self) -> None:
        await self._offline.wait()

    def state(self) -> str:
        """Online or not, for the health line."""
        if self.online:
            return f"online as {self._self_id}"
        if self._stream_up:
            return "connected, the WeChat account is not logged in"
        down = time.monotonic() - self._offline_since
        return f"offline for {down:.0f} s, {self._failures} failed attempt(s) to connect"

    def _go_online(self) -> None:
        if self._online.is_set():
            return
        self._online.set()
        self._offline.clear()
        if self._logged_in_before:
            down = time.monotonic() - self._offline_since
            log.warning("wechaty: online again as %s (offline %.1f s)", self._self_id, down)
        else:
            log.info("wechaty: online as %s", self._self_id)
        self._logged_in_before = True
        self._on_online()

    def go_offline(self, reason: str, *, expected: bool = False) -> None:
        self._stream_up = False
        if not self._online.is_set():
            return
        self._online.clear()
        self._offline.set()
        self._offline_since = time.monotonic()
        log.log(logging.INFO if expected else logging.WARNING, "wechaty: offline (%s)", reason)

    # --- the puppet's events (called synchronously by the SDK's event emitter) --------------------

    def _saw_event(self) -> None:
        self._stream_up = True
        self._last_event = time.monotonic()

    def _on_login(self, payload: Any) -> None:
        self._saw_event()
        self._self_id = payload.contact_id
        self._go_online()

    def _on_logout(self, payload: Any) -> None:
        self._saw_event()
        self.go_offline(f"the account {payload.contact_id} logged out")
        if self._on_logged_out is not None:
            self._on_logged_out(str(getattr(payload, "data", None) or ""))

    def _on_message(self, payload: Any) -> None:
        self._saw_event()
        self._on_message_id(payload.message_id)

    def _on_room_topic(self, payload: Any) -> None:
        self._saw_event()
        log.info(
            "wechaty: room %s renamed from %r to %r",
            payload.room_id,
            payload.old_topic,
            payload.new_topic,
        )
        self._on_renamed(payload.room_id)

    def _on_scan(self, payload: Any) -> None:
        self._saw_event()
        qrcode = getattr(payload, "qrcode", None)
        status = getattr(payload.status, "name", payload.status)
        if qrcode and qrcode != self._last_qr:
            self._last_qr = qrcode
            log.warning("wechaty: the account is not logged in (%s); QR code: %s", status, qrcode)
        else:
            log.info("wechaty: login scan status %s", status)

    def _on_error(self, payload: Any) -> None:
        self._saw_event()
        log.warning("wechaty: the puppet service reports an error: %s", payload)
        if self._on_puppet_error is not None:
            self._on_puppet_error(str(getattr(payload, "data", None) or payload))

    def _on_any(self, payload: Any) -> None:
        del payload
        self._saw_event()

    def _listen(self, puppet: Any) -> None:
        handlers: dict[str, Callable[[Any], None]] = {
            "login": self._on_login,
            "logout": self._on_logout,
            "message": self._on_message,
            "room-topic": self._on_room_topic,
            "scan": self._on_scan,
            # Without a listener, the event emitter raises on an "error" event.
            "error": self._on_error,
            "heartbeat": self._on_any,
            "dong": self._on_any,
            "ready": self._on_any,
            "room-join": self._on_any,
            "room-leave": self._on_any,
        }
        for name, handler in handlers.items():
            puppet.on(name, handler)

    # --- connecting ----------------------------------------------------------------------------

    async def create(self) -> None:
        """Make the ``Wechaty`` object (no connection yet)."""
        wechaty = load_wechaty(cache_dir=self.config.cache_dir)
        # ERROR: the SDK's warnings are about its own state ("set payload more than once").
        route_sdk_logging(logging.ERROR, secrets=[self.config.token])
        puppet_module = importlib.import_module("wechaty_puppet")
        scheduler_module = importlib.import_module("apscheduler.schedulers.asyncio")
        options = wechaty.WechatyOptions(
            # A fresh PuppetOptions: the class default is one shared instance (compat fix 1).
            puppet_options=puppet_module.PuppetOptions(
                end_point=self.config.endpoint, token=self.config.token
            ),
            # Port 0 skips the plugin manager's "is 127.0.0.1:5000 taken" login check, and an
            # in-memory scheduler avoids a never-closed SQLite job store (finding 14).
            host="127.0.0.1",
            port=0,
            scheduler=scheduler_module.AsyncIOScheduler(),
        )
        bot = wechaty.Wechaty(options)
        await bot.init_puppet()  # binds bot.Room, bot.Contact, bot.Message to its puppet
        own_object_pools(bot)  # other instances in this process (accounts) cache their own
        self._listen(bot.puppet)
        self.bot = bot

    async def _reachable(self) -> None:
        """Raise OSError unless the endpoint accepts TCP connections. The SDK checks this
        too, with a blocking connect that would freeze the event loop for up to 3 s."""
        host, _, port = self.config.endpoint.rpartition(":")
        # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow a cancel.
        async with asyncio.timeout(5.0):
            _, writer = await asyncio.open_connection(host, int(port))
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()

    def close(self) -> None:
        """Close the SDK's gRPC channel: after a broken connection nobody else does, and an
        unclosed one is a ResourceWarning (finding 2)."""
        puppet = self.bot._puppet if self.bot is not None else None
        if puppet is None:
            return
        channel, puppet.channel = puppet.channel, None
        puppet._puppet_stub = None
        if channel is not None:
            channel.close()

    async def _probe(self, puppet: Any) -> None:
        """Return (as a failure) when a quiet connection does not answer a ``ding``."""
        interval = self.config.probe_interval
        while True:
            quiet = time.monotonic() - self._last_event
            if quiet < interval:
                await asyncio.sleep(interval - quiet)
                continue
            try:
                async with asyncio.timeout(self.config.probe_timeout):
                    await puppet.ding("gridbot")
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                raise _ProbeFailed(f"no answer to a ding after {quiet:.0f} s of silence") from exc
            self._last_event = time.monotonic()

    async def _connect_once(self) -> None:
        """Connect, then stream events until the connection ends (by an exception)."""
        await self._reachable()
        puppet = self.bot.puppet
        self.close()
        self._last_event = time.monotonic()
        stream = asyncio.create_task(puppet.start(), name="wechaty-events")
        probe = asyncio.create_task(self._probe(puppet), name="wechaty-probe")
        try:
            done, _ = await asyncio.wait({stream, probe}, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                task.result()
            raise ConnectionError("the puppet service closed the event stream")
        finally:
            for task in (stream, probe):
                task.cancel()
            for task in (stream, probe):
                with contextlib.suppress(BaseException):
                    await task
            self.close()

    async def run(self) -> None:
        """Stay connected for as long as this runs; only a refused token ends it."""
        while True:
            try:
                await self._connect_once()
                reason = "the connection ended"  # not reached: _connect_once() always raises
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if isinstance(exc, GRPCError) and exc.status == Status.UNAUTHENTICATED:
                    self.go_offline("token refused")
                    raise WechatyAuthError(
                        f"the puppet service at {self.config.endpoint} refused the token "
                        f"(check {self.config.token_env})"
                    ) from None
                if not isinstance(exc, (OSError, GRPCError, StreamTerminatedError, _ProbeFailed)):
                    log.debug("wechaty: connection failed", exc_info=exc)
                reason = describe(exc)
            was_online = self.online
            self.go_offline(reason)
            self._failures = 0 if was_online else self._failures + 1
            delay = RECONNECT_DELAYS[min(self._failures, len(RECONNECT_DELAYS) - 1)]
            if self._failures == 1 and not self._logged_in_before:
                log.warning(
                    "wechaty: can't connect to the puppet service at %s (%s); retrying",
                    self.config.endpoint,
                    reason,
                )
            else:
                log.info("wechaty: reconnecting in %.1f s (%s)", delay, reason)
            await asyncio.sleep(delay)
