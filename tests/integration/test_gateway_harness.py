"""The real Python ``wechaty`` SDK against the Node test gateway (tests/gateway).

Proves the round trip the WeChat channel depends on, and pins the SDK behaviour recorded in
tests/gateway/README.md ("Findings"), so that a change of SDK or gateway shows up here.

Two ways of running the SDK appear below:

* ``bot.start()`` -- the SDK's own loop: blocks while connected; on a broken connection it logs,
  sleeps 60 s and reconnects by itself; when nothing listens it calls ``loop.stop()`` on the
  running event loop (so that case is only run on a throw-away loop in a thread here).
* "direct": ``init_puppet()``, ``init_puppet_event_bridge()``, ``puppet.start()`` -- the same
  steps without ``Wechaty.start``'s error handling: every failure is an exception, and the
  caller decides when to reconnect.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import os
import statistics
import sys
import tempfile
import time
import types
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.wechaty_compat import load_wechaty, reset_object_pools

pytestmark = pytest.mark.integration

SDK_CACHE_DIR = Path(tempfile.gettempdir()) / "gridbot-wechaty-cache"
_HARNESS_PATH = Path(__file__).resolve().parents[1] / "gateway" / "harness.py"


def _load_harness() -> types.ModuleType:
    name = "gridbot_tests_gateway_harness"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, _HARNESS_PATH)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


harness = _load_harness()
# The SDK creates its cache folder (CACHE_DIR, default ./.wechaty) on import: not in the repo.
wechaty = load_wechaty(cache_dir=os.environ.get("CACHE_DIR") or SDK_CACHE_DIR)
wechaty_puppet = importlib.import_module("wechaty_puppet")
MessageType = wechaty.MessageType

GRID_ROOM = "幸福社区第3网格"
GRID_ROOM_ID = "10001@chatroom"
BOT_ID = "wxid_gridbot"
ZHANG = "wxid_resident_zhang"
WANG = "wxid_resident_wang"
LEADER = "wxid_leader_li"
TINY_PNG = (  # 1x1 PNG
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJ"
    "AAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)


# ------------------------------------------------------------------------------------------------
# Fixtures and helpers
# ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def node_gateway_ready() -> None:
    try:
        harness.check_node()
    except harness.GatewayUnavailable as exc:
        pytest.skip(str(exc))
    harness.ensure_node_modules()  # raises GatewayUnavailable with the reason if it cannot


@pytest.fixture
async def gw(node_gateway_ready: None) -> AsyncIterator[Any]:
    gateway = harness.Gateway()
    await gateway.start()
    try:
        yield gateway
    finally:
        await gateway.stop()


def make_options(endpoint: str, token: str) -> Any:
    return wechaty.WechatyOptions(
        # A fresh PuppetOptions every time: the class-level default is one shared instance.
        puppet_options=wechaty_puppet.PuppetOptions(end_point=endpoint, token=token),
        # The plugin web server (started only if a plugin has a blueprint) stays local, and
        # port 0 skips the "is 127.0.0.1:5000 in use" check that fails the login otherwise.
        host="127.0.0.1",
        port=0,
        # An in-memory scheduler instead of the SQLite job store <CACHE_DIR>/job.db, whose
        # connection is never closed (ResourceWarning on Python 3.13).
        scheduler=AsyncIOScheduler(),
    )


class ReplyBot(wechaty.Wechaty):  # type: ignore[misc]
    """Replies in the room with a mention of the talker, privately to private messages."""

    def __init__(self, options: Any) -> None:
        super().__init__(options)
        self.received: list[Any] = []
        self.errors: list[BaseException] = []
        self.logins = 0
        self.readies = 0
        self.heartbeats = 0
        self.topic_events: list[tuple[str, str]] = []

    async def on_login(self, contact: Any) -> None:
        self.logins += 1

    async def on_ready(self, payload: Any) -> None:
        self.readies += 1

    async def on_heartbeat(self, payload: Any) -> None:
        self.heartbeats += 1

    async def on_room_topic(
        self, room: Any, new_topic: str, old_topic: str, changer: Any, date: Any
    ) -> None:
        self.topic_events.append((old_topic, new_topic))

    async def on_message(self, msg: Any) -> None:
        self.received.append(msg)
        try:
            if msg.is_self():
                return
            room = msg.room()
            if room is not None:
                label = "图片" if msg.type() == MessageType.MESSAGE_TYPE_IMAGE else msg.text()
                await room.say(f"收到：{label}", mention_ids=[msg.talker().contact_id])
            else:
                await msg.say(f"私信收到：{msg.text()}")
        except Exception as exc:  # the SDK would swallow it as "internal error"
            self.errors.append(exc)
            raise

    def messages_from(self, contact_id: str) -> list[Any]:
        return [m for m in self.received if m.talker().contact_id == contact_id]


def new_bot(endpoint: str, token: str) -> ReplyBot:
    # Each test makes its own Wechaty instance: forget the objects cached by the previous one.
    reset_object_pools()
    return ReplyBot(make_options(endpoint, token))


async def until(condition: Callable[[], bool], within: float = 10.0) -> None:
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met")
        await asyncio.sleep(0.02)


async def start_direct(bot: Any) -> None:
    """``Wechaty.start()`` without its error handling (see the module docstring)."""
    await bot.init_puppet()
    await bot.init_puppet_event_bridge(bot.puppet)
    await bot.puppet.start()


async def shutdown_bot(bot: Any, task: asyncio.Task[None] | None) -> None:
    """Stop the SDK without leaking its gRPC channel, whatever state it is in."""
    if task is not None and not task.done():
        task.cancel()
    if task is not None:
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
    puppet = bot._puppet
    if puppet is None:
        return
    try:
        await bot.stop()  # calls the gateway's stop(); raises if the gateway is gone
    except Exception:
        if puppet.channel is not None:
            puppet.channel.close()
            puppet.channel = None
        bot._puppet = None


@contextlib.asynccontextmanager
async def running_bot(gateway: Any, *, direct: bool = False) -> AsyncIterator[Any]:
    bot = new_bot(gateway.endpoint, gateway.token)
    task = asyncio.create_task(start_direct(bot) if direct else bot.start())
    try:
        await gateway.wait_for("login", within=15)
        await gateway.wait_for("client", state="connected", within=15)
        await until(lambda: bot.logins == 1 and bot.readies == 1)
        yield bot
    finally:
        await shutdown_bot(bot, task)


# ------------------------------------------------------------------------------------------------
# Round trip
# ------------------------------------------------------------------------------------------------


async def test_room_private_and_image_round_trip(gw: Any) -> None:
    async with running_bot(gw) as bot:
        # A room message with mentions.
        msg_id = await gw.say(ZHANG, "3栋路灯坏了", room=GRID_ROOM, mentions=[LEADER, BOT_ID])
        sent = await gw.next_sent(within=10)
        assert sent["room"] == GRID_ROOM
        assert sent["room_id"] == GRID_ROOM_ID
        assert sent["to"] is None
        assert sent["type"] == "text"
        assert sent["mentions"] == [ZHANG]
        # room.say(text, mention_ids) puts "@<contact name> " in front of the text itself.
        assert sent["text"] == "@张阿姨 收到：3栋路灯坏了"

        incoming = next(m for m in bot.received if m.message_id == msg_id)
        assert incoming.type() == MessageType.MESSAGE_TYPE_TEXT
        assert incoming.text() == "3栋路灯坏了"
        assert incoming.room().room_id == GRID_ROOM_ID
        assert await incoming.room().topic() == GRID_ROOM
        assert incoming.talker().contact_id == ZHANG
        assert incoming.talker().name == "张阿姨"
        assert not incoming.is_self()
        assert [c.contact_id for c in await incoming.mention_list()] == [LEADER, BOT_ID]
        assert await incoming.mention_self()

        # A private message to the bot.
        await gw.say(WANG, "你好，请问垃圾几点收？")
        sent = await gw.next_sent(within=10)
        assert sent["room"] is None
        assert sent["room_id"] is None
        assert sent["to"] == WANG
        assert sent["text"] == "私信收到：你好，请问垃圾几点收？"
        assert sent["mentions"] == []

        # An image in the room.
        image_id = await gw.image(ZHANG, room=GRID_ROOM, base64=TINY_PNG, name="lamp.png")
        sent = await gw.next_sent(within=10)
        assert sent["text"] == "@张阿姨 收到：图片"
        assert sent["mentions"] == [ZHANG]
        image = next(m for m in bot.received if m.message_id == image_id)
        assert image.type() == MessageType.MESSAGE_TYPE_IMAGE
        file_box = await image.to_file_box()
        assert file_box.name == "lamp.png"
        assert file_box.base64 == TINY_PNG.encode()  # bytes, not str

        # The bot's own messages come back as message events; is_self() tells them apart.
        await asyncio.sleep(0.3)
        own = bot.messages_from(BOT_ID)
        assert len(own) == 3
        assert all(m.is_self() for m in own)
        assert bot.errors == []
        assert bot.logins == 1


async def test_round_trip_latency(gw: Any) -> None:
    """Room message in -> bot reply reported, measured end to end on loopback."""
    async with running_bot(gw):
        samples = []
        for i in range(30):
            started = time.perf_counter()
            await gw.say(ZHANG, f"测试{i}", room=GRID_ROOM)
            await gw.next_sent(within=10)
            samples.append(time.perf_counter() - started)
        median = statistics.median(samples)
        print(f"round trip: median {median * 1000:.1f} ms, max {max(samples) * 1000:.1f} ms")
        assert median < 0.5


async def test_sending_files_and_mentions_without_prefix(gw: Any) -> None:
    async with running_bot(gw) as bot:
        room = bot.Room.load(GRID_ROOM_ID)
        await room.ready()
        # Two mentions: names joined by U+2005, then an ASCII space.
        await room.say("请处理", mention_ids=[LEADER, ZHANG])
        sent = await gw.next_sent(within=10)
        assert sent["text"] == "@李网格长\u2005@张阿姨 请处理"
        assert sent["mentions"] == [LEADER, ZHANG]
        # Message.say(text, mention_ids) passes the ids but does NOT touch the text.
        msg_id = await gw.say(ZHANG, "在吗", room=GRID_ROOM)
        await gw.next_sent(within=10)  # ReplyBot's own reply
        incoming = next(m for m in bot.received if m.message_id == msg_id)
        await incoming.say("在的", mention_ids=[ZHANG])
        sent = await gw.next_sent(within=10)
        assert sent["text"] == "在的"
        assert sent["mentions"] == [ZHANG]
        # A file from the bot (compat fix 3 keeps this free of DeprecationWarning).
        file_box = wechaty.FileBox.from_base64(TINY_PNG.encode(), name="回执.png")
        await room.say(file_box)
        sent = await gw.next_sent(within=10)
        assert sent["type"] == "image"
        assert sent["file"]["name"] == "回执.png"
        assert sent["file"]["base64"] == TINY_PNG
        # Room aliases (group nicknames) are readable, but mentions use the contact name.
        zhang = bot.Contact.load(ZHANG)
        await zhang.ready()
        assert await room.alias(zhang) == "3栋502张阿姨"


async def test_message_type_mapping(gw: Any) -> None:
    async with running_bot(gw) as bot:
        ids = {
            "pdf": (await gw.command("file", name="a.pdf", base64="aGk=", **{"from": WANG}))[
                "message_id"
            ],
            "mp4": (await gw.command("file", name="v.mp4", base64="aGk=", **{"from": WANG}))[
                "message_id"
            ],
            "sil": (await gw.command("file", name="s.sil", base64="aGk=", **{"from": WANG}))[
                "message_id"
            ],
            "url": (
                await gw.command("url", url="https://example.org/n", title="通知", **{"from": WANG})
            )["message_id"],
            "png": await gw.image(WANG),
            "text": await gw.say(WANG, "文字"),
        }
        for _ in ids:
            await gw.next_sent(within=10)
        by_id = {m.message_id: m for m in bot.received}
        assert by_id[ids["pdf"]].type() == MessageType.MESSAGE_TYPE_ATTACHMENT
        assert by_id[ids["mp4"]].type() == MessageType.MESSAGE_TYPE_VIDEO
        assert by_id[ids["sil"]].type() == MessageType.MESSAGE_TYPE_AUDIO
        assert by_id[ids["url"]].type() == MessageType.MESSAGE_TYPE_URL
        assert by_id[ids["png"]].type() == MessageType.MESSAGE_TYPE_IMAGE
        assert by_id[ids["text"]].type() == MessageType.MESSAGE_TYPE_TEXT
        link = await by_id[ids["url"]].to_url_link()
        assert link.payload.title == "通知"
        assert link.payload.url == "https://example.org/n"


async def test_topic_change_and_stale_room_cache(gw: Any) -> None:
    async with running_bot(gw) as bot:
        room = bot.Room.load(GRID_ROOM_ID)
        assert await room.topic() == GRID_ROOM
        await gw.topic(GRID_ROOM, "幸福社区第三网格", by=LEADER)
        await asyncio.sleep(0.5)
        assert bot.topic_events == [(GRID_ROOM, "幸福社区第三网格")]
        # The SDK keeps the old payload; ready(force_sync=True) does not refresh it ...
        await room.ready(force_sync=True)
        assert await room.topic() == GRID_ROOM
        # ... dropping the payload does.
        room.payload = None
        await room.ready()
        assert await room.topic() == "幸福社区第三网格"


async def test_messages_before_login_and_old_messages(
    node_gateway_ready: None, tmp_path: Path
) -> None:
    world = tmp_path / "world.json"
    text = harness.DEFAULT_WORLD.read_text(encoding="utf-8")
    world.write_text(text.replace('"autoLogin": true', '"autoLogin": false'), encoding="utf-8")
    gateway = harness.Gateway(world=world)
    await gateway.start()
    bot: ReplyBot | None = None
    task = None
    try:
        bot = new_bot(gateway.endpoint, gateway.token)
        task = asyncio.create_task(bot.start())
        await gateway.wait_for("client", state="connected", within=15)
        # Delivered before login; is_self() raises, and the reply is refused by the puppet.
        early = await gateway.say(ZHANG, "登录前", room=GRID_ROOM)
        await asyncio.sleep(0.5)
        assert [m.message_id for m in bot.received] == [early]
        assert len(bot.errors) == 1
        assert "self_id" in repr(bot.errors[0])
        await gateway.assert_nothing_sent(within=0.3)
        assert bot.logins == 0

        await gateway.login()
        await gateway.wait_for("login")
        await asyncio.sleep(0.3)
        assert bot.logins == 1
        # A message stamped an hour ago is delivered like any other; age() is broken.
        an_hour_ago = int(time.time() * 1000) - 3_600_000
        old = await gateway.say(ZHANG, "一小时前", room=GRID_ROOM, timestamp_ms=an_hour_ago)
        await gateway.next_sent(within=10)
        message = next(m for m in bot.received if m.message_id == old)
        assert message.payload.timestamp == an_hour_ago  # milliseconds
        assert abs(message.date().timestamp() * 1000 - an_hour_ago) < 1000
        assert message.age() == 3  # (now - date).seconds // 1000: kiloseconds, not seconds
    finally:
        if bot is not None:
            await shutdown_bot(bot, task)
        await gateway.stop()


# ------------------------------------------------------------------------------------------------
# Failures: the gateway goes away, is not there, or refuses the token
# ------------------------------------------------------------------------------------------------


async def test_direct_start_raises_when_the_gateway_stops_and_reconnects_by_hand(
    gw: Any,
) -> None:
    bot = new_bot(gw.endpoint, gw.token)
    task = asyncio.create_task(start_direct(bot))
    try:
        await gw.wait_for("login", within=15)
        await gw.wait_for("client", state="connected", within=15)
        await until(lambda: bot.logins == 1 and bot.readies == 1)
        down = time.perf_counter()
        await gw.kill()
        with pytest.raises(Exception, match="Connection lost") as info:
            await asyncio.wait_for(task, 5)
        assert type(info.value).__name__ == "StreamTerminatedError"
        assert time.perf_counter() - down < 2

        # bot.stop() needs the gateway (it calls its stop()): it raises and leaks the channel.
        with pytest.raises(ConnectionRefusedError):
            await bot.stop()
        bot.puppet.channel.close()
        bot._puppet = None

        await gw.start()  # same port and token
        up = time.perf_counter()
        task = asyncio.create_task(start_direct(bot))
        await gw.wait_for("client", state="connected", within=15)
        await gw.wait_for("login", within=15)
        reconnect = time.perf_counter() - up
        print(f"manual reconnect: {reconnect * 1000:.0f} ms")
        await gw.say(ZHANG, "重连后", room=GRID_ROOM)
        sent = await gw.next_sent(within=10)
        assert sent["text"] == "@张阿姨 收到：重连后"
        await until(lambda: bot.readies == 2)  # on_ready is called again ...
        assert bot.logins == 1  # ... on_login is NOT (same Wechaty object)
    finally:
        await shutdown_bot(bot, task)


async def test_direct_start_errors_nothing_listening_and_wrong_token(gw: Any) -> None:
    nobody = new_bot(f"127.0.0.1:{harness.free_port()}", "whatever")
    with pytest.raises(wechaty_puppet.WechatyPuppetError, match="can't not ping endpoint"):
        await start_direct(nobody)

    wrong = new_bot(gw.endpoint, "wrong-token")
    try:
        with pytest.raises(Exception, match="Invalid Wechaty TOKEN") as info:
            await start_direct(wrong)
        assert type(info.value).__name__ == "GRPCError"
        assert info.value.status.name == "UNAUTHENTICATED"
        event = await gw.wait_for("auth_failed", within=5)
        assert event["method"] == "stop"
    finally:
        await shutdown_bot(wrong, None)


def test_wechaty_start_stops_the_event_loop_when_nothing_listens(
    node_gateway_ready: None,
) -> None:
    """Wechaty.start() -> WechatyPuppetConfigurationError -> loop.stop() on the RUNNING loop."""
    endpoint = f"127.0.0.1:{harness.free_port()}"
    returned: list[object] = []

    async def main() -> None:
        bot = new_bot(endpoint, "whatever")
        returned.append(await bot.start())  # returns None at once ...
        returned.append(bot.started)
        await asyncio.sleep(1)  # ... and the loop is already stopping
        returned.append("still running")

    with pytest.raises(RuntimeError, match="Event loop stopped before Future completed"):
        asyncio.run(main())
    assert returned == [None, False]


async def test_wechaty_start_with_wrong_token_returns_quietly(gw: Any) -> None:
    bot = new_bot(gw.endpoint, "wrong-token")
    result = await asyncio.wait_for(bot.start(), 10)
    assert result is None
    assert bot.started is False
    await gw.wait_for("auth_failed", within=5)
    await shutdown_bot(bot, None)


@pytest.mark.slow
async def test_wechaty_start_reconnects_60_seconds_after_a_gateway_restart(gw: Any) -> None:
    async with running_bot(gw) as bot:
        down = time.perf_counter()
        await gw.restart(down_for=1.0)
        await gw.wait_for("client", state="connected", within=90)
        delay = time.perf_counter() - down
        print(f"SDK reconnected {delay:.1f} s after the gateway restart")
        assert 59 <= delay <= 65
        await gw.wait_for("login", within=10)
        await asyncio.sleep(0.3)
        await gw.say(ZHANG, "重启后", room=GRID_ROOM)
        sent = await gw.next_sent(within=10)
        assert sent["text"] == "@张阿姨 收到：重启后"
        await until(lambda: bot.readies == 2)  # on_ready is called again ...
        assert bot.logins == 1  # ... on_login is NOT
