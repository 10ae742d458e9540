"""The real WeChat channel: a Wechaty puppet service (gRPC) through the PyPI ``wechaty`` SDK.

* The connection (one ``Wechaty`` object, reconnected by us, not by the SDK) is in
  :mod:`bot.channels.wechaty_connection`; message → event mapping in
  :mod:`bot.channels.wechaty_mapping`; finding the group an outbound message names in
  :mod:`bot.channels.wechaty_rooms`; endpoint and token in :mod:`bot.channels.wechaty_config`.
* Inbound: message ids are queued in arrival order and one worker reads and feeds them to the
  app one at a time. A message sent before the bot started (a gateway may deliver what it
  held) is stored but not answered.
* Outbound: this channel is the app's one Sender, used by its OutboxSender (retries,
  throttling). The outbox is served only while online: offline, messages wait in the database
  instead of using up their retries, and go out in order once the bot is back. For the same
  reason the app is started at the first login.
* A health line is logged every ``health_interval`` seconds, online or not.
* While logged in, the account's heartbeat is written every minute (storage/accounts.py, read
  by `gridbot status`); operations alerts (bot/alerts.py) are raised when the account logs
  out or is not logged in, and when the puppet service is unreachable for
  ``alerts.gateway_down_minutes``, and cleared when that is over.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Final

from bot.channels.base import SendError
from bot.channels.wechaty_config import (
    WechatyConfig,
    WechatyConfigError,
    config_from_env,
    configs_from_env,
    token_configured,
)
from bot.channels.wechaty_connection import (
    PuppetConnection,
    WechatyAuthError,
    describe,
    transient,
)
from bot.channels.wechaty_mapping import room_topic, to_inbound
from bot.channels.wechaty_rooms import RoomDirectory, RoomNotFound
from bot.events import Outbound
from storage import accounts as account_store
from storage import outbox as outbox_store

if TYPE_CHECKING:
    from bot.app import App

__all__ = [
    "WechatyAuthError",
    "WechatyChannel",
    "WechatyConfig",
    "WechatyConfigError",
    "account_runs",
    "config_from_env",
    "configs_from_env",
    "run_accounts",
    "serve",
    "token_configured",
]

log = logging.getLogger(__name__)

HISTORY_GRACE: Final = 5.0  # seconds: timestamps are whole seconds, and clocks differ a little
SEND_TIMEOUT: Final = 30.0
READ_TIMEOUT: Final = 30.0
READ_ATTEMPTS: Final = 3
WATCH_INTERVAL: Final = 10.0  # seconds between looks at the connection for alerts
HEARTBEAT: Final = timedelta(minutes=1)  # how often a logged-in account says so
# connected but not logged in this long (a gateway waiting for a QR scan) is an alert
LOGIN_GRACE: Final = timedelta(minutes=2)


class WechatyChannel:
    """A :class:`~bot.channels.base.Sender` and the loop that feeds the app from WeChat."""

    def __init__(self, config: WechatyConfig) -> None:
        self.config = config
        # What its log lines start with: which account, when a process serves several.
        self.label = f"wechaty[{config.name}]" if config.name else "wechaty"
        self._queue: asyncio.Queue[str] = asyncio.Queue()
        self._rooms: RoomDirectory | None = None
        self._connection = PuppetConnection(
            config,
            on_message=self._queue.put_nowait,
            on_renamed=self._renamed,
            on_online=self._back_online,
            on_logout=self._logged_out,
            on_error=self._puppet_error,
        )
        self._started_at = 0.0  # POSIX time
        self._received = 0
        self._sent = 0
        self._logged_out_why: str | None = None  # since the last logout ("" if not said)
        self._last_error: str | None = None  # the puppet service's, while not logged in
        self._beat_at: datetime | None = None

    @property
    def online(self) -> bool:
        """Connected and logged in: messages can be sent."""
        return self._connection.online

    def _renamed(self, room_id: str) -> None:
        if self._rooms is not None:
            self._rooms.renamed(room_id)

    def _back_online(self) -> None:
        if self._rooms is not None:  # groups may have been renamed while the bot was away
            self._rooms.reset()

    # --- inbound -------------------------------------------------------------------------------

    async def _read(self, message_id: str) -> Any | None:
        """The SDK message with its payload, talker and room loaded, or None if it can't be
        read (then it is skipped, with a warning)."""
        bot = self._connection.bot
        for attempt in range(1, READ_ATTEMPTS + 1):
            msg = bot.Message.load(message_id)
            try:
                # asyncio.timeout, not wait_for (here and below): on Python 3.11 wait_for can
                # swallow a cancel that lands as the call completes, and a stopping worker
                # would then wait for the next message forever.
                async with asyncio.timeout(READ_TIMEOUT):
                    await msg.ready()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if not transient(exc) or attempt == READ_ATTEMPTS:
                    # A warning, not an error: after a gateway restart this is mostly the echo
                    # of the bot's own last message, which the new gateway doesn't know.
                    log.warning(
                        "%s: message %s can't be read (%s): skipped",
                        self.label,
                        message_id,
                        describe(exc),
                    )
                    return None
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(60.0):
                        await self._connection.wait_online()
                continue
            return msg
        return None

    async def _take(self, app: App, message_id: str) -> None:
        msg = await self._read(message_id)
        if msg is None:
            return
        event = await to_inbound(msg, self_id=self._connection.self_id, tz=app.services.clock.tz)
        if event is None:
            return
        self._received += 1
        if event.room_id is not None and self._rooms is not None:
            self._rooms.saw(event.room_id)
        answer = event.ts.timestamp() >= self._started_at - HISTORY_GRACE
        if not answer:
            log.info(
                "%s: message %s was sent %s, before the bot started: stored, not answered",
                self.label,
                message_id,
                event.ts.isoformat(timespec="seconds"),
            )
        await app.feed(event, answer=answer)

    async def _inbound_worker(self, app: App) -> None:
        while True:
            message_id = await self._queue.get()
            try:
                await self._take(app, message_id)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("%s: message %s could not be handled", self.label, message_id)

    # --- outbound ------------------------------------------------------------------------------

    async def send(self, message: Outbound) -> None:
        """Deliver one message, or raise SendError (transient: try again later)."""
        bot = self._connection.bot
        if bot is None or self._rooms is None or not self.online:
            raise SendError("not connected to the puppet service", transient=True)
        try:
            async with asyncio.timeout(SEND_TIMEOUT):
                if message.to is not None:
                    await bot.Contact.load(message.to).say(message.text)
                else:
                    room = await self._rooms.room_for(message)
                    # room.say() writes "@name " for each mention in front of the text itself.
                    await room.say(message.text, mention_ids=list(message.mentions) or None)
        except RoomNotFound as exc:
            raise SendError(str(exc), transient=False) from exc
        except Exception as exc:
            where = message.to or message.room_topic or message.room_id
            raise SendError(f"to {where}: {describe(exc)}", transient=transient(exc)) from exc
        self._sent += 1

    async def _take_account(self, app: App) -> None:
        """Serve as the logged-in account, in the groups it is in now: other bot processes
        on the database (other accounts) send into the groups this one is not in."""
        self_id = self._connection.self_id
        if not self_id:
            return
        app.set_account(self_id)
        try:
            async with asyncio.timeout(READ_TIMEOUT * 2):
                rooms = await self._connection.bot.Room.find_all()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning(
                "%s: the group list can't be read (%s); groups are learned from messages",
                self.label,
                describe(exc),
            )
            return
        found = {room.room_id: room_topic(room) or None for room in rooms}
        if not found:
            # An empty answer from a gateway that is still syncing must not make the bot
            # forget its groups (their messages would wait for another account).
            log.warning("%s: the group list is empty; kept the groups known before", self.label)
            return
        with app.services.db.session() as session:
            account_store.set_rooms(
                session=session, account=self_id, rooms=found, at=app.services.clock.now()
            )
            session.commit()
        log.info("%s: serving as %s in %d group(s)", self.label, self_id, len(found))

    async def _serve_outbox(self, app: App) -> None:
        """Run the outbox only while online: offline, messages wait instead of failing."""
        while True:
            await self._connection.wait_online()
            await self._take_account(app)  # a new login may be another account
            serving = asyncio.create_task(app.outbox.serve(), name="wechaty-outbox")
            offline = asyncio.create_task(self._connection.wait_offline())
            try:
                await asyncio.wait({serving, offline}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for task in (serving, offline):
                    task.cancel()
                for task in (serving, offline):
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
            failure = serving.exception() if serving.done() and not serving.cancelled() else None
            if failure is not None:
                raise failure

    # --- health --------------------------------------------------------------------------------

    def health_line(self, app: App) -> str:
        """One line: connected or not, messages in/out since the last line, outbox pending."""
        with app.services.db.session() as session:
            pending = outbox_store.pending_count(session=session)
        received, sent = self._received, self._sent
        self._received = self._sent = 0
        return (
            f"{self.label}: {self._connection.state()}; {received} in, {sent} out since last; "
            f"outbox pending {pending}"
        )

    # --- heartbeat and alerts ---------------------------------------------------------------------

    def _who(self) -> str:
        """The account as the alerts name it."""
        who = self._connection.self_id or "机器人微信账号"
        return f"{who}（{self.config.name}）" if self.config.name else who

    def _logged_out(self, reason: str) -> None:
        self._logged_out_why = reason  # said by the next watch(), a few seconds later

    def _puppet_error(self, text: str) -> None:
        if not self.online:
            self._last_error = " ".join(text.split())[:200]

    def watch(self, app: App) -> None:
        """One look at the connection: the heartbeat while logged in, and the alerts."""
        alerts, now = app.alerts, app.services.clock.now()
        connection = self._connection
        minutes = app.services.settings.alerts.gateway_down_minutes
        if connection.connected:
            alerts.resolved(
                "gateway", f"已重新连上 puppet 服务（网关）{self.config.endpoint}。", key=self.label
            )
        else:
            alerts.problem(
                "gateway",
                f"{self._who()} 连不上 puppet 服务（网关）{self.config.endpoint} 已超过 {minutes} "
                "分钟：请检查网关进程和网络。",
                key=self.label,
                after=timedelta(minutes=minutes),
            )
        if connection.online:
            self._last_error = self._logged_out_why = None
            alerts.resolved("wechat_login", f"{self._who()} 已重新登录。", key=self.label)
            if self._beat_at is None or now - self._beat_at >= HEARTBEAT:
                self._beat(app, now)
        elif self._logged_out_why is not None:
            why = f"（{self._logged_out_why}）" if self._logged_out_why else ""
            alerts.problem(
                "wechat_login",
                f"{self._who()} 已退出登录{why}：群里的消息暂时无人处理，请尽快在网关重新扫码"
                "登录。",
                key=self.label,
            )
        elif connection.connected:
            error = f"网关报告：{self._last_error}；" if self._last_error else ""
            alerts.problem(
                "wechat_login",
                f"{self._who()} 未登录：{error}请在网关扫码登录。",
                key=self.label,
                after=LOGIN_GRACE,
            )

    def _beat(self, app: App, now: datetime) -> None:
        self_id = self._connection.self_id
        if not self_id:
            return
        with app.services.db.session() as session:
            account_store.heartbeat(session=session, account=self_id, at=now)
            session.commit()
        self._beat_at = now

    async def _watch(self, app: App) -> None:
        while True:
            try:
                self.watch(app)
            except Exception:  # a database hiccup must not end the bot
                log.exception("%s: the heartbeat or an alert failed", self.label)
            await asyncio.sleep(WATCH_INTERVAL)

    async def _health(self, app: App) -> None:
        while True:
            await asyncio.sleep(self.config.health_interval)
            try:
                log.info("%s", self.health_line(app))
            except Exception:  # a database hiccup must not end the bot
                log.exception("%s: health check failed", self.label)

    # --- running -------------------------------------------------------------------------------

    async def run(self, app: App, stop: asyncio.Event) -> None:
        """Serve WeChat until ``stop`` is set; raises :class:`WechatyAuthError` if the token
        is refused. ``app`` must send through this channel.

        The app is started (scheduler, leftovers of the previous run, their replies) at the
        first login, not before: until then nothing could be sent, and a send tried offline
        would use up one of the message's retries.
        """
        self._started_at = app.services.clock.now().timestamp()
        log.info("%s: connecting to the puppet service at %s", self.label, self.config.endpoint)
        await self._connection.create()
        self._rooms = RoomDirectory(self._connection.bot.Room)
        # Started here, not with the app at the first login: a login that never comes is
        # what an alert is for.
        app.alerts.start()
        connection = asyncio.create_task(self._connection.run(), name="wechaty-connection")
        tasks = [
            connection,
            asyncio.create_task(self._health(app), name="wechaty-health"),
            asyncio.create_task(self._watch(app), name="wechaty-watch"),
        ]
        started = False
        try:
            await _first(*tasks, self._connection.wait_online(), stop.wait())
            if stop.is_set():
                return
            await self._take_account(app)
            await app.start()
            started = True
            tasks += [
                asyncio.create_task(self._inbound_worker(app), name="wechaty-inbound"),
                asyncio.create_task(self._serve_outbox(app), name="wechaty-outbox-gate"),
            ]
            await _first(*tasks, stop.wait())
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            self._connection.go_offline("stopping", expected=True)
            self._connection.close()
            if started:
                app.stop()
            app.alerts.stop()
            log.info("%s: stopped", self.label)


async def _first(*waitables: Awaitable[Any]) -> None:
    """Wait until one of ``waitables`` is done; re-raise its exception. Coroutines among them
    are wrapped in tasks, which are cancelled again."""
    tasks = [w if isinstance(w, asyncio.Future) else asyncio.ensure_future(w) for w in waitables]
    owned = [t for t, w in zip(tasks, waitables, strict=True) if t is not w]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in owned:
            task.cancel()
        for task in owned:
            with contextlib.suppress(asyncio.CancelledError):
                await task
    for task in done:
        failure = None if task.cancelled() else task.exception()
        if failure is not None:
            raise failure


def serve(
    runs: Sequence[tuple[App, WechatyChannel]],
    *,
    beside: Callable[[], contextlib.AbstractAsyncContextManager[None]] | None = None,
) -> int | None:
    """Run each channel with its app (one pair per account, the apps siblings: see
    :meth:`App.add_account`) until SIGINT or SIGTERM; return the signal's number (None if
    the runs ended otherwise). ``beside``: what else runs on the event loop for as long (the
    web console), entered before the channels start and left after they stop.

    A token refused ends only its own account's run, with an error in the log, while the
    other accounts serve on; :class:`WechatyAuthError` is raised when every account's was.
    Any other failure stops every run and is raised."""
    received: list[int] = []

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()

        def stop_on(sig: int) -> None:
            received.append(sig)
            stop.set()

        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop_on, sig)
        try:
            async with beside() if beside is not None else contextlib.nullcontext():
                await run_accounts(runs, stop)
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)

    asyncio.run(main())
    return received[0] if received else None


def account_runs(app: App, channels: Sequence[WechatyChannel]) -> list[tuple[App, WechatyChannel]]:
    """What :func:`serve` runs for ``channels``, one per account: the first with ``app`` (built
    to send through it), each further one with a sibling app named after its account in the
    config until its login names it."""
    first, *more = channels
    return [(app, first)] + [(app.add_account(c, c.config.name), c) for c in more]


async def run_accounts(runs: Sequence[tuple[App, WechatyChannel]], stop: asyncio.Event) -> None:
    """Run the channels until ``stop`` is set, as :func:`serve` does (which see)."""
    channels = {
        asyncio.create_task(channel.run(app, stop), name=channel.label): channel
        for app, channel in runs
    }
    refused: list[WechatyAuthError] = []
    running = set(channels)
    try:
        while running:
            done, running = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                failure = task.exception()
                if isinstance(failure, WechatyAuthError) and len(channels) > 1:
                    refused.append(failure)
                    if len(refused) < len(channels):
                        label = channels[task].label
                        log.error("%s: %s; the other accounts serve on", label, failure)
                elif failure is not None:
                    raise failure
    finally:
        stop.set()
        await asyncio.gather(*running, return_exceptions=True)
    if refused and len(refused) == len(channels):
        raise refused[0]
