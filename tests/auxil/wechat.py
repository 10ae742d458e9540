"""The bot on the real WeChat channel, in this process, against the test gateway."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import tempfile
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlmodel import col, select

from bot.app import App, build_app, open_database
from bot.channels.wechaty import WechatyChannel, WechatyConfig, account_runs, run_accounts
from bot.clock import SystemClock
from bot.settings import Settings
from nlp.classifier import Classifier
from storage.db import Database
from storage.models import InboundMessage
from tests.gateway.harness import Gateway

# The SDK creates its cache folder (CACHE_DIR, default ./.wechaty) on import: not in the repo.
SDK_CACHE_DIR = Path(
    os.environ.get("CACHE_DIR") or Path(tempfile.gettempdir()) / "gridbot-wechaty-cache"
)

# The default fixture world of tests/gateway.
BOT_ID = "wxid_gridbot"
GRID_ROOM = "幸福社区第3网格"
GRID_ROOM_ID = "10001@chatroom"
ESCALATION_ROOM = "幸福社区指挥中心"
ESCALATION_ROOM_ID = "10002@chatroom"
DANCE_ROOM = "广场舞爱好者"  # in no grid
DANCE_ROOM_ID = "10003@chatroom"
ZHANG = "wxid_resident_zhang"
WANG = "wxid_resident_wang"
LEADER = "wxid_leader_li"
ADMIN = "wxid_street_admin"

# A second account's WeChat (east_world): its bot, its own group, and a resident of it.
EAST_BOT = "wxid_gridbot_east"
FOURTH_ROOM, FOURTH_ROOM_ID = "幸福社区第4网格", "10004@chatroom"
QIAN = "wxid_resident_qian"


def east_world(folder: Path) -> Path:
    """A second account's WeChat: another bot, alone in the 4th grid's group and with the
    first one in the 3rd grid's (the same group: room ids are global)."""
    world = {
        "self": {"id": EAST_BOT, "name": "网格助手二号"},
        "contacts": [
            {"id": QIAN, "name": "钱奶奶"},
            {"id": WANG, "name": "王大爷"},
            {"id": "wxid_leader_zhao", "name": "赵网格长"},
        ],
        "rooms": [
            {
                "id": FOURTH_ROOM_ID,
                "topic": FOURTH_ROOM,
                "owner": "wxid_leader_zhao",
                "members": [EAST_BOT, QIAN, "wxid_leader_zhao"],
            },
            {"id": GRID_ROOM_ID, "topic": GRID_ROOM, "members": [EAST_BOT, WANG]},
        ],
        "autoLogin": True,
        "echoSelf": True,
    }
    path = folder / "east-world.json"
    path.write_text(json.dumps(world, ensure_ascii=False), encoding="utf-8")
    return path


@dataclass
class RunningBot:
    app: App
    channel: WechatyChannel
    db: Database
    task: asyncio.Task[None]

    def inbound(self) -> list[InboundMessage]:
        with self.db.session() as session:
            return list(session.exec(select(InboundMessage).order_by(col(InboundMessage.id))))


async def wait_until(condition: Any, within: float = 15.0, what: str = "condition") -> None:
    """Poll ``condition()`` until true; fail after ``within`` seconds (a generous timeout)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not condition():
        if loop.time() > deadline:
            raise TimeoutError(f"{what} not met within {within} s")
        await asyncio.sleep(0.02)


@contextlib.asynccontextmanager
async def running_bot(
    *,
    endpoint: str,
    token: str,
    settings: Settings,
    classifier: Classifier,
    tmp_path: Path,
    wait_online: bool = True,
    health_interval: float = 600.0,
    probe_interval: float = 120.0,
    probe_timeout: float = 10.0,
) -> AsyncIterator[RunningBot]:
    """Run the channel (``WechatyChannel.run``) as a task; stop it and check it ended."""
    db = open_database(f"sqlite:///{tmp_path}/bot.db")
    channel = WechatyChannel(
        WechatyConfig(
            endpoint=endpoint,
            token=token,
            health_interval=health_interval,
            probe_interval=probe_interval,
            probe_timeout=probe_timeout,
            cache_dir=SDK_CACHE_DIR,
        )
    )
    app = build_app(
        settings, clock=SystemClock(settings.tz), db=db, sender=channel, classifier=classifier
    )
    async with _until_stopped(lambda stop: channel.run(app, stop), db, "bot") as task:
        if wait_online:
            await wait_until(lambda: channel.online or task.done(), what="the bot online")
            if task.done():
                task.result()
        yield RunningBot(app, channel, db, task)


@contextlib.asynccontextmanager
async def running_accounts(
    gateways: list[tuple[Gateway, str]],
    settings: Settings,
    classifier: Classifier,
    tmp_path: Path,
) -> AsyncIterator[tuple[list[WechatyChannel], asyncio.Task[None], Database]]:
    """One process serving an account per (gateway, token), as `gridbot run` does with
    ``wechat.accounts``: sibling apps, run together (``run_accounts``) until the block ends."""
    db = open_database(f"sqlite:///{tmp_path}/bot.db")
    channels = [
        WechatyChannel(
            WechatyConfig(
                endpoint=gw.endpoint, token=token, name=f"acct-{i}", cache_dir=SDK_CACHE_DIR
            )
        )
        for i, (gw, token) in enumerate(gateways)
    ]
    app = build_app(
        settings, clock=SystemClock(settings.tz), db=db, sender=channels[0], classifier=classifier
    )
    runs = account_runs(app, channels)
    async with _until_stopped(lambda stop: run_accounts(runs, stop), db, "accounts") as task:
        yield channels, task, db


@contextlib.asynccontextmanager
async def _until_stopped(
    run: Callable[[asyncio.Event], Coroutine[Any, Any, None]], db: Database, name: str
) -> AsyncIterator[asyncio.Task[None]]:
    """``run(stop)`` as a task; at the end ``stop`` is set, the task must end within 15 s,
    and the database is closed."""
    stop = asyncio.Event()
    task = asyncio.create_task(run(stop), name=name)
    try:
        yield task
    finally:
        stop.set()
        try:
            await asyncio.wait_for(task, 15)
        finally:
            db.dispose()
