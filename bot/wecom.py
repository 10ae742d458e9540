"""A 企业微信 group robot (群机器人) webhook: a way to reach people that doesn't depend on the
bot's own WeChat account (bot/alerts.py says what goes there).

The robot's official interface: POST ``{"msgtype": "text", "text": {"content": …,
"mentioned_list": […]}}`` to its webhook address; it answers ``{"errcode": 0, "errmsg": "ok"}``,
or an error code (45009: more than 20 messages in a minute). Here:

* :meth:`WecomWebhook.post` only queues, at once, from any thread: the bot's message handling
  never waits for the robot.
* One worker (:meth:`WecomWebhook.run`) sends in order, at most ``per_minute`` in any minute,
  timed by the bot's clock (bot/clock.py), so a test moves a minute on without waiting it.
* When more wait than the minute has room for, the waiting texts are merged into one message
  (up to the robot's 2048 bytes): nothing is dropped, and a burst of alerts costs few sends.
* Every failure (the network, an HTTP error, an error code) is logged and the message tried
  again, after 5 s, 15 s, … up to 5 minutes, for as long as it takes; the webhook's key is
  never written to the log.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final
from urllib.parse import quote, urlsplit

import httpx

from bot.clock import Clock

__all__ = ["MAX_BYTES", "WebhookError", "WecomWebhook", "split_text", "webhook_url"]

log = logging.getLogger(__name__)

SEND_URL: Final = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send"
MAX_BYTES: Final = 2048  # the robot's limit on a text message's content, in UTF-8 bytes
WINDOW: Final = timedelta(minutes=1)
RATE_LIMITED: Final = 45009  # the robot's "too many messages this minute"
BACKOFF: Final = (5.0, 15.0, 30.0, 60.0, 120.0, 300.0)  # seconds; then 300 s for as long
TIMEOUT: Final = 10.0
SEPARATOR: Final = "\n\n"

Sleep = Callable[[float], Awaitable[None]]


def webhook_url(value: str) -> str:
    """The address to post to, from what the environment variable holds: the robot's whole
    webhook address as 企业微信 shows it, or only its key."""
    value = value.strip()
    if value.startswith(("https://", "http://")):
        return value
    return f"{SEND_URL}?key={quote(value, safe='')}"


def _utf8_len(text: str) -> int:
    return len(text.encode("utf-8"))


def split_text(text: str, limit: int = MAX_BYTES) -> list[str]:
    """``text`` in parts of at most ``limit`` UTF-8 bytes, cut after a line where one is
    near (the escalation room's messages may be 1500 Chinese characters: 4500 bytes)."""
    parts: list[str] = []
    rest = text
    while _utf8_len(rest) > limit:
        size, end = 0, 0
        for i, ch in enumerate(rest):
            size += _utf8_len(ch)
            if size > limit:
                end = i
                break
        newline = rest.rfind("\n", 0, end)
        cut = newline + 1 if newline >= end // 2 else end
        parts.append(rest[:cut].rstrip("\n"))
        rest = rest[cut:]
    if rest or not parts:
        parts.append(rest)
    return parts


@dataclass(frozen=True, slots=True)
class _Item:
    text: str
    mentions: tuple[str, ...]


class WebhookError(Exception):
    """A post the robot did not take; ``retry_after`` (seconds) when it said how long to wait,
    ``serious`` when trying again will not help until someone fixes something (a wrong key)."""

    def __init__(
        self, message: str, *, retry_after: float | None = None, serious: bool = False
    ) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.serious = serious


class WecomWebhook:
    """Posts texts to one robot, in order, within its rate limit (see the module's doc)."""

    def __init__(
        self,
        url: str,
        *,
        clock: Clock,
        mentioned_list: Iterable[str] = (),
        per_minute: int = 20,
        sleep: Sleep | None = None,
        timeout: float = TIMEOUT,
    ) -> None:
        self._url = url
        parts = urlsplit(url)
        # What the log may say about the robot: its host, never the key in its query.
        self.where = parts.hostname or "the webhook"
        self._secrets = [s for s in (url, parts.query) if s]
        self._clock = clock
        self._mentions = tuple(mentioned_list)
        self._per_minute = per_minute
        self._sleep: Sleep = sleep or asyncio.sleep
        self._timeout = timeout
        self._queue: deque[_Item] = deque()
        self._sent_at: deque[datetime] = deque()  # the posts of the last minute
        self._wake = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._failures = 0  # posts failed in a row
        self.delivered = 0  # posts the robot took

    @property
    def pending(self) -> int:
        """How many texts (or their parts) wait to be posted."""
        return len(self._queue)

    def post(self, text: str, *, mention: bool = True) -> None:
        """Queue ``text`` (cut in parts if it is longer than the robot takes), @-mentioning
        the configured ``mentioned_list`` unless ``mention`` is false. Returns at once; may
        be called from any thread."""
        mentions = self._mentions if mention else ()
        items = [_Item(part, mentions) for part in split_text(text) if part.strip()]
        if not items:
            return
        loop = self._loop
        if loop is not None and not loop.is_closed() and not _in_loop(loop):
            loop.call_soon_threadsafe(self._enqueue, items)
        else:
            self._enqueue(items)

    def _enqueue(self, items: list[_Item]) -> None:
        self._queue.extend(items)
        self._wake.set()

    # --- the rate limit ------------------------------------------------------------------------

    def _room_left(self, now: datetime) -> int:
        """How many posts the current minute still allows."""
        while self._sent_at and self._sent_at[0] <= now - WINDOW:
            self._sent_at.popleft()
        return self._per_minute - len(self._sent_at)

    def _wait(self, now: datetime) -> float:
        """Seconds until the next post is allowed (0: now)."""
        if self._room_left(now) > 0:
            return 0.0
        return max(0.0, (self._sent_at[0] + WINDOW - now).total_seconds())

    def _take(self, now: datetime) -> _Item:
        """The next message to post: the first waiting, merged with those after it when more
        wait than this minute has room for."""
        first = self._queue.popleft()
        if len(self._queue) < self._room_left(now):
            return first
        text, mentions = first.text, list(first.mentions)
        while self._queue:
            following = self._queue[0]
            merged = text + SEPARATOR + following.text
            if _utf8_len(merged) > MAX_BYTES:
                break
            self._queue.popleft()
            text = merged
            mentions += [m for m in following.mentions if m not in mentions]
        return _Item(text, tuple(mentions))

    # --- sending -------------------------------------------------------------------------------

    async def run(self) -> None:
        """Post what is queued, for as long as this runs (cancel it to stop)."""
        self._loop = asyncio.get_running_loop()
        # The environment's proxy settings count: an office may reach the internet only
        # through one.
        async with httpx.AsyncClient(timeout=self._timeout) as client:
            while True:
                if not self._queue:
                    self._wake.clear()
                    await self._wake.wait()
                    continue
                now = self._clock.now()
                wait = self._wait(now)
                if wait > 0:
                    await self._sleep(wait)
                    continue
                item = self._take(now)
                # Failed posts count too: the robot counts what it is sent, not what it took.
                self._sent_at.append(now)
                try:
                    await self._send(client, item)
                except asyncio.CancelledError:
                    self._queue.appendleft(item)  # stopped mid-post: still to be posted
                    raise
                except WebhookError as exc:
                    self._queue.appendleft(item)
                    delay = exc.retry_after or BACKOFF[min(self._failures, len(BACKOFF) - 1)]
                    self._failures += 1
                    log.log(
                        logging.ERROR if exc.serious else logging.WARNING,
                        "wecom: %s did not take a message (%s); %d waiting, trying again in %.0f s",
                        self.where,
                        self._hidden(str(exc)),
                        len(self._queue),
                        delay,
                    )
                    await self._sleep(delay)
                    continue
                if self._failures:
                    log.info("wecom: %s takes messages again", self.where)
                self._failures = 0
                self.delivered += 1

    async def _send(self, client: httpx.AsyncClient, item: _Item) -> None:
        text: dict[str, Any] = {"content": item.text}
        if item.mentions:
            text["mentioned_list"] = list(item.mentions)
        try:
            response = await client.post(self._url, json={"msgtype": "text", "text": text})
        except httpx.HTTPError as exc:
            raise WebhookError(f"{type(exc).__name__}: {exc}" if str(exc) else repr(exc)) from exc
        if response.status_code == 429:
            raise WebhookError("HTTP 429", retry_after=WINDOW.total_seconds())
        if response.status_code != 200:
            raise WebhookError(f"HTTP {response.status_code}")
        try:
            answer = response.json()
            code = int(answer.get("errcode", -1))
        except (ValueError, AttributeError, TypeError):
            raise WebhookError(f"not the robot's answer: {response.text[:100]!r}") from None
        if code == 0:
            return
        message = f"errcode {code}: {str(answer.get('errmsg', ''))[:200]}"
        if code == RATE_LIMITED:
            # another sender on the same robot, or a clock apart: its minute, not ours
            raise WebhookError(message, retry_after=WINDOW.total_seconds())
        # -1 is "system busy"; anything else (a wrong or removed key: 93000) needs a person
        raise WebhookError(message, serious=code != -1)

    def _hidden(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text


def _in_loop(loop: asyncio.AbstractEventLoop) -> bool:
    """Whether the queue may be touched here: on the worker's loop, or while no loop runs."""
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:  # another thread (the web console's), or the loop has stopped
        return not loop.is_running()
