"""A stand-in for a 企业微信 group robot (群机器人): a real HTTP server on 127.0.0.1 that records
every POST it receives and answers as the robot does (``{"errcode": 0, "errmsg": "ok"}``), or
with the answers a test scripts (an error code, an HTTP error)."""

from __future__ import annotations

import asyncio
import json
import threading
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from bot.clock import ManualClock

OK: dict[str, Any] = {"errcode": 0, "errmsg": "ok"}
RATE_LIMITED: dict[str, Any] = {"errcode": 45009, "errmsg": "api freq out of limit"}
KEY = "693a91f6-7xxx-4bc4-97a0-0ec2sifa5aaa"


@dataclass
class Received:
    path: str
    key: str | None
    body: Any
    taken: bool  # answered HTTP 200 and errcode 0
    at: Any = None  # what ``on_request`` returned (a test's clock reading)

    @property
    def content(self) -> str:
        text: str = self.body["text"]["content"]
        return text

    @property
    def mentioned(self) -> list[str]:
        mentioned: list[str] = self.body["text"].get("mentioned_list", [])
        return mentioned


@dataclass
class RobotServer:
    port: int = 0
    received: list[Received] = field(default_factory=list)
    # (HTTP status, body) answered in turn before the default OK
    answers: deque[tuple[int, Any]] = field(default_factory=deque)
    on_request: Callable[[], Any] | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, key: str = KEY) -> str:
        return f"http://127.0.0.1:{self.port}/cgi-bin/webhook/send?key={key}"

    def answer(self, *answers: tuple[int, Any]) -> None:
        with self._lock:
            self.answers.extend(answers)

    def taken(self) -> list[Received]:
        """What the robot took (answered errcode 0)."""
        with self._lock:
            return [r for r in self.received if r.taken]

    def contents(self) -> list[str]:
        return [r.content for r in self.taken()]

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length)
        try:
            body = json.loads(raw)
        except ValueError:
            body = raw.decode("utf-8", "replace")
        with self._lock:
            status, answer = self.answers.popleft() if self.answers else (200, OK)
            parts = urlsplit(handler.path)
            key = parse_qs(parts.query).get("key", [None])[0]
            at = self.on_request() if self.on_request is not None else None
            taken = status == 200 and isinstance(answer, dict) and answer.get("errcode") == 0
            self.received.append(Received(parts.path, key, body, taken, at))
        data = answer if isinstance(answer, bytes) else json.dumps(answer).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)


@contextmanager
def robot_server() -> Iterator[RobotServer]:
    """A :class:`RobotServer` listening on 127.0.0.1 (a free port) while the block runs."""
    robot = RobotServer()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            robot._handle(self)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # quiet: the test reads ``robot.received``

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    robot.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield robot
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def stepping_sleep(clock: ManualClock) -> Callable[[float], Any]:
    """A sleep that moves ``clock`` on instead of waiting: a minute of rate limit passes at
    once, and the clock says how long was waited."""

    async def sleep(seconds: float) -> None:
        clock.set(clock.now() + timedelta(seconds=seconds))
        await asyncio.sleep(0)

    return sleep


async def until(condition: Callable[[], bool], within: float = 10.0) -> None:
    """Poll ``condition()`` (what the robot received, the webhook's counts) until true."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not condition():
        if loop.time() > deadline:
            raise TimeoutError(f"not met within {within} s")
        await asyncio.sleep(0.01)
