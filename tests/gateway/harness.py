"""Drive the Node test gateway (``tests/gateway/gateway.mjs``) from asyncio tests.

The gateway is a Wechaty puppet-service (gRPC, no TLS, 127.0.0.1) serving a mock puppet with a
fixture world; the Python ``wechaty`` SDK connects to it as it would to a real WeChat gateway.
This module only starts, drives and stops that process; it has no pytest fixtures.

Requirements: ``node`` (>= 18) on PATH and ``tests/gateway/node_modules`` installed. The harness
never installs anything by itself; call :func:`ensure_node_modules` (e.g. once per session in
``conftest.py``), which runs ``npm ci`` from the committed ``package-lock.json`` when
``node_modules`` is missing, or raises :class:`GatewayUnavailable` saying exactly why it cannot.

Typical use::

    gw = Gateway()                       # free loopback port, random token
    await gw.start()                     # returns once the gRPC server listens
    ...  # point the SDK at gw.endpoint with gw.token, then:
    await gw.wait_for("login")           # the SDK connected and the bot logged in
    await gw.say("wxid_resident_zhang", "3栋路灯坏了", room="幸福社区第3网格")
    sent = await gw.next_sent(within=5) # what the bot replied
    await gw.restart(down_for=1.0)       # same port and token
    await gw.stop()                      # always, e.g. in a fixture's finally

``async with Gateway() as gw:`` does start/stop. Orphan protection, in depth: ``stop()`` closes the
gateway's stdin then escalates to SIGTERM and SIGKILL; the gateway exits by itself when its stdin
reaches EOF (so it dies with the test process, even on SIGKILL of pytest); and a
``weakref.finalize`` kills the process at interpreter exit if ``stop()`` was never awaited.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import weakref
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, Self

GATEWAY_DIR = Path(__file__).resolve().parent
GATEWAY_SCRIPT = GATEWAY_DIR / "gateway.mjs"
DEFAULT_WORLD = GATEWAY_DIR / "fixtures" / "default-world.json"
MIN_NODE_MAJOR = 18
# A module every gateway start needs; its absence means node_modules is missing or incomplete.
_MARKER_MODULE = GATEWAY_DIR / "node_modules" / "wechaty-puppet-service" / "package.json"
# Exactly the committed lock file, which stays as it is (`npm install` re-resolves and
# rewrites it, leaving the clone dirty). scripts/test.sh runs the same.
NPM_INSTALL = ("ci", "--no-audit", "--no-fund")

Event = dict[str, Any]


class GatewayError(RuntimeError):
    """The gateway process failed (did not start, died, or reported a fatal error)."""


class GatewayUnavailable(GatewayError):
    """The gateway cannot run on this machine (no node, no node_modules, npm ci failed)."""


class GatewayCommandError(GatewayError):
    """A control command was answered with ``{"event": "error"}``."""

    def __init__(self, command: Mapping[str, Any], reply: Event) -> None:
        super().__init__(f"{command.get('op')!r} failed: {reply.get('error')} (command: {command})")
        self.command = dict(command)
        self.reply = reply


# ------------------------------------------------------------------------------------------------
# Prerequisites
# ------------------------------------------------------------------------------------------------


def node_modules_installed() -> bool:
    return _MARKER_MODULE.is_file()


def _node_major(node: str) -> int:
    out = subprocess.run(
        [node, "--version"], capture_output=True, text=True, timeout=30, check=True
    ).stdout.strip()
    return int(out.lstrip("v").split(".")[0])


def check_node() -> str:
    """Return the path of a usable ``node`` or raise :class:`GatewayUnavailable`."""
    node = shutil.which("node")
    if node is None:
        raise GatewayUnavailable(
            f"`node` is not on PATH: the gateway needs Node.js >= {MIN_NODE_MAJOR}"
        )
    try:
        major = _node_major(node)
    except (OSError, subprocess.SubprocessError, ValueError) as exc:
        raise GatewayUnavailable(f"cannot run `{node} --version`: {exc}") from exc
    if major < MIN_NODE_MAJOR:
        raise GatewayUnavailable(f"Node.js {major} at {node} is too old: need >= {MIN_NODE_MAJOR}")
    return node


def ensure_node_modules(*, timeout: float = 600.0) -> None:
    """Install ``tests/gateway/node_modules`` with ``npm ci`` if it is missing.

    Installs exactly the committed ``package-lock.json`` and leaves it unchanged. Needs the
    npm registry. Raises :class:`GatewayUnavailable` with the reason when it cannot.
    Blocking: call it from synchronous code (a session fixture) or via ``asyncio.to_thread``.
    """
    if node_modules_installed():
        return
    check_node()
    npm = shutil.which("npm")
    if npm is None:
        raise GatewayUnavailable(
            f"{GATEWAY_DIR / 'node_modules'} is missing and `npm` is not on PATH to install it "
            f"(run `npm ci` in {GATEWAY_DIR})"
        )
    if not (GATEWAY_DIR / "package-lock.json").is_file():
        raise GatewayUnavailable(f"{GATEWAY_DIR / 'package-lock.json'} is missing")
    try:
        result = subprocess.run(
            [npm, *NPM_INSTALL],
            cwd=GATEWAY_DIR,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise GatewayUnavailable(
            f"`npm ci` in {GATEWAY_DIR} did not finish within {timeout:.0f} s "
            "(is the npm registry reachable?)"
        ) from exc
    if result.returncode != 0 or not node_modules_installed():
        tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-15:])
        raise GatewayUnavailable(
            f"`npm ci` in {GATEWAY_DIR} failed (exit {result.returncode}); "
            f"is the npm registry reachable? Last output:\n{tail}"
        )


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _kill_quietly(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, signal.SIGKILL)


# ------------------------------------------------------------------------------------------------
# The gateway process
# ------------------------------------------------------------------------------------------------


class Gateway:
    """One gateway process (restartable on the same port and token).

    Every line the gateway prints is kept, in order, in :attr:`events`. Bot messages
    (``"event": "sent"``) are also queued for :meth:`next_sent`.
    """

    def __init__(
        self,
        *,
        port: int | None = None,
        token: str | None = None,
        world: Path | str | None = None,
        trace_rpc: bool = False,
        start_timeout: float = 30.0,
        extra_env: Mapping[str, str] | None = None,
    ) -> None:
        self.port = port if port is not None else free_port()
        self.token = token if token is not None else f"gridbot-test-{secrets.token_hex(8)}"
        self.world = Path(world) if world is not None else DEFAULT_WORLD
        self.trace_rpc = trace_rpc
        self.start_timeout = start_timeout
        self.extra_env = dict(extra_env or {})
        self.events: list[Event] = []
        self.stderr_tail: collections.deque[str] = collections.deque(maxlen=200)
        self.starts = 0
        self._proc: asyncio.subprocess.Process | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._new_event: asyncio.Condition | None = None
        self._sent: asyncio.Queue[Event] | None = None
        self._run_start_index = 0
        self._req = 0
        self._finalizer: weakref.finalize[[int], Gateway] | None = None

    # --- properties ------------------------------------------------------------------------------

    @property
    def endpoint(self) -> str:
        """``host:port`` for ``WECHATY_PUPPET_SERVICE_ENDPOINT``."""
        return f"127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.returncode is None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def sdk_env(self) -> dict[str, str]:
        """The environment variables that point the Python SDK at this gateway."""
        return {
            "WECHATY_PUPPET_SERVICE_ENDPOINT": self.endpoint,
            "WECHATY_PUPPET_SERVICE_TOKEN": self.token,
        }

    # --- lifecycle -------------------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    async def start(self) -> Event:
        """Start the gateway and wait for its ``ready`` event (which is returned)."""
        if self.running:
            raise GatewayError("gateway already running")
        if not node_modules_installed():
            raise GatewayUnavailable(
                f"{GATEWAY_DIR / 'node_modules'} is missing: call ensure_node_modules() "
                f"or run `npm ci` in {GATEWAY_DIR}"
            )
        node = check_node()
        if self._new_event is None:
            self._new_event = asyncio.Condition()
            self._sent = asyncio.Queue()
        argv = [node, str(GATEWAY_SCRIPT), "--port", str(self.port), "--token", self.token]
        argv += ["--world", str(self.world)]
        if self.trace_rpc:
            argv.append("--trace-rpc")
        env = {**os.environ, **self.extra_env}
        env.pop("NODE_OPTIONS", None)  # a debugger/loader flag from the outside would break it
        self._run_start_index = len(self.events)
        self._proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            cwd=GATEWAY_DIR,
            env=env,
        )
        self.starts += 1
        self._finalizer = weakref.finalize(self, _kill_quietly, self._proc.pid)
        proc = self._proc
        assert proc.stdout is not None
        assert proc.stderr is not None
        self._tasks = [
            asyncio.create_task(self._read_stdout(proc.stdout), name="gateway-stdout"),
            asyncio.create_task(self._read_stderr(proc.stderr), name="gateway-stderr"),
        ]
        try:
            first = await self.wait_for(
                lambda e: e.get("event") == "ready" or bool(e.get("fatal")),
                within=self.start_timeout,
            )
        except BaseException:
            await self.stop()
            raise
        if first.get("event") != "ready":
            await self.stop()
            raise GatewayError(
                f"gateway failed to start: {first.get('error')}; {self.diagnostics()}"
            )
        return first

    async def stop(self, grace: float = 5.0) -> int | None:
        """Stop the gateway: EOF on stdin, then SIGTERM, then SIGKILL. Returns the exit code."""
        proc = self._proc
        if proc is None:
            return None
        if proc.returncode is None and proc.stdin is not None:
            with contextlib.suppress(OSError):
                proc.stdin.close()
        for sig in (None, signal.SIGTERM, signal.SIGKILL):
            if proc.returncode is not None:
                break
            if sig is not None:
                with contextlib.suppress(ProcessLookupError):
                    proc.send_signal(sig)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(proc.wait(), grace)
        await proc.wait()
        if proc.stdin is not None:
            with contextlib.suppress(OSError):
                await proc.stdin.wait_closed()
        # The readers end at EOF; give them a moment, then cancel what is left.
        if self._tasks:
            _, pending = await asyncio.wait(self._tasks, timeout=2.0)
            for task in pending:
                task.cancel()
            for task in pending:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._tasks = []
        if self._finalizer is not None:
            self._finalizer.detach()
            self._finalizer = None
        self._proc = None
        return proc.returncode

    async def kill(self) -> None:
        """Crash the gateway (SIGKILL, no clean shutdown), e.g. to test the channel's recovery."""
        if self._proc is not None and self._proc.returncode is None:
            self._proc.kill()
        await self.stop()

    async def restart(self, *, down_for: float = 0.0, crash: bool = False) -> Event:
        """Stop (or with ``crash=True`` SIGKILL) the gateway, wait ``down_for`` seconds, start
        it again on the same port with the same token. The world is rebuilt from the spec: the
        bot is logged out and back in, as after a real gateway restart."""
        if crash:
            await self.kill()
        else:
            await self.stop()
        if down_for > 0:
            await asyncio.sleep(down_for)
        return await self.start()

    # --- reading ---------------------------------------------------------------------------------

    async def _read_stdout(self, stream: asyncio.StreamReader) -> None:
        assert self._new_event is not None
        assert self._sent is not None
        while True:
            line = await stream.readline()
            if not line:
                break
            text = line.decode("utf-8", "replace").strip()
            if not text:
                continue
            try:
                event: Event = json.loads(text)
            except json.JSONDecodeError:
                event = {"event": "garbage", "line": text}
            if not isinstance(event, dict):
                event = {"event": "garbage", "line": text}
            self.events.append(event)
            if event.get("event") == "sent":
                self._sent.put_nowait(event)
            async with self._new_event:
                self._new_event.notify_all()
        async with self._new_event:  # wake waiters so they notice the exit
            self._new_event.notify_all()

    async def _read_stderr(self, stream: asyncio.StreamReader) -> None:
        while True:
            line = await stream.readline()
            if not line:
                break
            self.stderr_tail.append(line.decode("utf-8", "replace").rstrip("\n"))

    def _last_matching(self, predicate: Callable[[Event], bool]) -> Event | None:
        for event in reversed(self.events[self._run_start_index :]):
            if predicate(event):
                return event
        return None

    def mark(self) -> int:
        """A position in :attr:`events`; pass it as ``after=`` to wait only for newer events."""
        return len(self.events)

    async def wait_for(
        self,
        match: str | Callable[[Event], bool],
        /,
        *,
        within: float = 10.0,
        after: int | None = None,
        check_alive: bool = True,
        **fields: Any,
    ) -> Event:
        """Wait for an event and return it.

        ``match`` is an event name (then ``fields`` must match too, e.g.
        ``wait_for("client", state="connected")``) or a predicate. Events already received
        count: the search starts at ``after`` (default: the last (re)start of the gateway).
        Waits at most ``within`` seconds, then raises ``TimeoutError`` (the message has the
        recent events and stderr); raises :class:`GatewayError` if the gateway exits first and
        ``check_alive`` is true.
        """
        if callable(match):
            predicate = match
        else:

            def predicate(event: Event) -> bool:
                return event.get("event") == match and all(
                    event.get(k) == v for k, v in fields.items()
                )

        condition = self._new_event
        if condition is None:
            raise GatewayError("gateway was never started")
        start = self._run_start_index if after is None else after
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        index = start
        async with condition:
            while True:
                while index < len(self.events):
                    event = self.events[index]
                    index += 1
                    if predicate(event):
                        return event
                reader_done = not self._tasks or self._tasks[0].done()
                if check_alive and reader_done:
                    raise GatewayError(f"gateway exited while waiting; {self.diagnostics()}")
                remaining = deadline - loop.time()
                if remaining <= 0:
                    raise TimeoutError(
                        f"no matching gateway event in {within} s; {self.diagnostics()}"
                    )
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(condition.wait(), remaining)

    async def next_sent(self, within: float = 5.0) -> Event:
        """The next message the bot sent (FIFO, each returned once)."""
        assert self._sent is not None, "gateway was never started"
        try:
            return await asyncio.wait_for(self._sent.get(), within)
        except TimeoutError:
            raise TimeoutError(
                f"the bot sent nothing within {within} s; {self.diagnostics()}"
            ) from None

    def drain_sent(self) -> list[Event]:
        """Return (and forget) every queued bot message without waiting."""
        drained: list[Event] = []
        while self._sent is not None and not self._sent.empty():
            drained.append(self._sent.get_nowait())
        return drained

    async def assert_nothing_sent(self, within: float = 0.5) -> None:
        """Fail if the bot sends anything within ``within`` seconds."""
        with contextlib.suppress(TimeoutError):
            event = await self.next_sent(within=within)
            raise AssertionError(f"the bot sent an unexpected message: {event}")

    def diagnostics(self) -> str:
        recent = "\n  ".join(json.dumps(e, ensure_ascii=False) for e in self.events[-15:])
        stderr = "\n  ".join(list(self.stderr_tail)[-15:])
        code = self._proc.returncode if self._proc is not None else "not running"
        return f"exit code: {code}\nlast events:\n  {recent}\nlast stderr:\n  {stderr}"

    # --- commands --------------------------------------------------------------------------------

    async def command(self, op: str, /, *, within: float = 10.0, **fields: Any) -> Event:
        """Send one control command and return its ``ok`` reply (raises on ``error``)."""
        proc = self._proc
        if proc is None or proc.returncode is not None or proc.stdin is None:
            raise GatewayError(f"gateway is not running; {self.diagnostics()}")
        self._req += 1
        req = f"r{self._req}"
        payload = {"op": op, "req": req, **{k: v for k, v in fields.items() if v is not None}}
        after = self.mark()
        proc.stdin.write((json.dumps(payload, ensure_ascii=False) + "\n").encode())
        await proc.stdin.drain()
        reply = await self.wait_for(
            lambda e: e.get("req") == req and e.get("event") in ("ok", "error"),
            within=within,
            after=after,
        )
        if reply["event"] == "error":
            raise GatewayCommandError(payload, reply)
        return reply

    async def say(
        self,
        sender: str,
        text: str,
        *,
        room: str | None = None,
        mentions: list[str] | None = None,
        to: str | None = None,
        timestamp_ms: int | None = None,
    ) -> str:
        """A text message from ``sender`` into ``room`` (id or topic), or privately to ``to``
        (default: the bot). Returns the message id."""
        fields: dict[str, Any] = {"from": sender, "text": text, "room": room, "to": to}
        fields.update(mentions=mentions, timestamp=timestamp_ms)
        reply = await self.command("say", **fields)
        return str(reply["message_id"])

    async def image(
        self,
        sender: str,
        *,
        room: str | None = None,
        to: str | None = None,
        base64: str | None = None,
        name: str = "photo.png",
    ) -> str:
        """An image message (default: a 1x1 PNG). Keep images under 20 KB: larger ones are
        sent as UUID file boxes, which the Python SDK cannot read."""
        fields: dict[str, Any] = {"from": sender, "room": room, "to": to, "name": name}
        fields["base64"] = base64
        reply = await self.command("image", **fields)
        return str(reply["message_id"])

    async def topic(self, room: str, topic: str, *, by: str | None = None) -> Event:
        return await self.command("topic", room=room, topic=topic, by=by)

    async def join(self, room: str, members: list[str], *, by: str | None = None) -> Event:
        return await self.command("join", room=room, members=members, by=by)

    async def leave(self, room: str, members: list[str], *, by: str | None = None) -> Event:
        return await self.command("leave", room=room, members=members, by=by)

    async def login(self) -> Event:
        return await self.command("login")

    async def logout(self, reason: str | None = None) -> Event:
        return await self.command("logout", reason=reason)

    async def state(self) -> Event:
        return await self.command("state")

    async def ping(self) -> Event:
        return await self.command("ping")
