"""`gridbot run --channel wechaty` as a process, against the Node test gateway on 127.0.0.1."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import socket
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from sqlmodel import col, func, select

from storage.db import Database
from storage.models import InboundMessage, MessageStatus, OutboundMessage, OutboundStatus
from tests.auxil.wechat import (
    FOURTH_ROOM,
    GRID_ROOM,
    LEADER,
    QIAN,
    WANG,
    ZHANG,
    east_world,
)
from tests.conftest import SETTINGS
from tests.gateway import harness

pytestmark = pytest.mark.integration

# The installed entry point, as an operator runs it (`python -m bot.cli` where there is none).
_SCRIPT = Path(sys.executable).with_name("gridbot")
GRIDBOT = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "bot.cli"]
ROOT = Path(__file__).resolve().parents[2]


def write_config(tmp_path: Path, more: dict[str, Any]) -> Path:
    path = tmp_path / "city.yaml"
    # Two residents ask 积分 34 times in a burst here, to load the channel: over the anti-flood
    # limit (tested in tests/bot/test_flood.py), which is lifted for this test.
    config = {**SETTINGS, "limits": {"replies": 100}, **more}
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    return path


@contextlib.asynccontextmanager
async def gridbot_run(
    tmp_path: Path, env: dict[str, str], *args: str, config: dict[str, Any] | None = None
) -> AsyncIterator[asyncio.subprocess.Process]:
    """`gridbot run ...` with its stderr in tmp_path/stderr.log; killed if still running.
    ``config``: keys to add to the test settings."""
    full_env = {**os.environ, "GRIDBOT_CACHE_DIR": str(tmp_path / "cache"), **env}
    with (tmp_path / "stderr.log").open("wb") as stderr:
        proc = await asyncio.create_subprocess_exec(
            *GRIDBOT,
            "run",
            "--config",
            str(write_config(tmp_path, config or {})),
            "--db",
            f"sqlite:///{tmp_path}/bot.db",
            *args,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=stderr,
            cwd=tmp_path,  # the SDK must leave nothing in the working directory
            env={**full_env, "PYTHONPATH": str(ROOT)},
        )
        try:
            yield proc
        finally:
            if proc.returncode is None:
                proc.kill()
            await proc.wait()


def files_in(path: Path) -> list[str]:
    return sorted(p.name for p in path.iterdir())


def stderr_of(tmp_path: Path) -> str:
    return (tmp_path / "stderr.log").read_text(encoding="utf-8", errors="replace")


async def test_a_hundred_messages_in_a_row(gateway: harness.Gateway, tmp_path: Path) -> None:
    """Every message stored, every reply sent, nothing else; then SIGTERM stops it cleanly."""
    async with gridbot_run(tmp_path, gateway.sdk_env(), "--channel", "wechaty") as proc:
        await gateway.wait_for("login", within=60)
        await gateway.wait_for("client", state="connected", within=60)
        started = time.perf_counter()
        expected: list[str] = []
        # Stamped a second apart: the same words from the same person in the same second
        # are one message (a double tap; see Inbound.idempotency_key).
        now_ms = int(time.time() * 1000)
        for i in range(100):
            kind = i % 3
            ts = now_ms + i * 1000
            if kind == 0:  # a points query from a resident: answered
                await gateway.say(ZHANG if i % 2 else WANG, "积分", room=GRID_ROOM, timestamp_ms=ts)
                expected.append("积分")
            elif kind == 1:  # chatter: stored, never answered
                await gateway.say(WANG, f"收到，谢谢大家{i}", room=GRID_ROOM, timestamp_ms=ts)
            else:  # a leader's command: answered
                await gateway.say(LEADER, "/状态", room=GRID_ROOM, timestamp_ms=ts)
                expected.append("状态")
        sent = [await gateway.next_sent(within=60) for _ in expected]
        elapsed = time.perf_counter() - started
        await gateway.assert_nothing_sent(within=1.0)
        print(f"100 messages, {len(sent)} replies in {elapsed:.2f} s")
        for what, message in zip(expected, sent, strict=True):
            if what == "积分":
                assert "您现有积分" in message["text"], message
            else:
                assert "幸福社区第3网格（G03）：已登记群成员" in message["text"], message
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 30) == 0, stderr_of(tmp_path)

    db = Database.from_url(f"sqlite:///{tmp_path}/bot.db")
    try:
        with db.session() as session:
            inbound = session.exec(select(InboundMessage)).all()
            assert len(inbound) == 100
            assert {m.status for m in inbound} == {MessageStatus.HANDLED}
            outbound = session.exec(
                select(func.count())
                .select_from(OutboundMessage)
                .where(col(OutboundMessage.status) == OutboundStatus.SENT)
            ).one()
            assert outbound == len(expected) == 67
    finally:
        db.dispose()
    log = stderr_of(tmp_path)
    assert "Traceback" not in log
    assert gateway.token not in log  # the SDK logs the token; it must be masked
    # The SDK's files went to the cache folder: nothing else in the working directory.
    assert files_in(tmp_path) == ["bot.db", "cache", "city.yaml", "stderr.log"]


async def test_sigint_stops_it_with_130(gateway: harness.Gateway, tmp_path: Path) -> None:
    async with gridbot_run(tmp_path, gateway.sdk_env()) as proc:  # the token picks the channel
        await gateway.wait_for("client", state="connected", within=60)
        await gateway.say(WANG, "积分", room=GRID_ROOM)
        sent = await gateway.next_sent(within=30)
        assert sent["text"].startswith("@王大爷 您现有积分")
        proc.send_signal(signal.SIGINT)
        assert await asyncio.wait_for(proc.wait(), 30) == 130
    await gateway.wait_for("client", state="disconnected", within=10)
    assert "wechaty: stopped" in stderr_of(tmp_path)


async def test_a_wrong_token_exits_with_2_and_one_line(
    gateway: harness.Gateway, tmp_path: Path
) -> None:
    env = {**gateway.sdk_env(), "WECHATY_PUPPET_SERVICE_TOKEN": "not-the-token"}
    async with gridbot_run(tmp_path, env, "--channel", "wechaty") as proc:
        assert await asyncio.wait_for(proc.wait(), 60) == 2
    log = stderr_of(tmp_path)
    assert "Traceback" not in log
    assert log.splitlines()[-1] == (
        f"gridbot: the puppet service at {gateway.endpoint} refused the token "
        "(check WECHATY_PUPPET_SERVICE_TOKEN)"
    )
    assert "not-the-token" not in log


async def test_one_process_serves_the_configured_accounts(
    gateway: harness.Gateway, tmp_path: Path
) -> None:
    """Two accounts in the config, each with its own gateway and token variable: no
    WECHATY_PUPPET_SERVICE_TOKEN and no --channel; both answer, and SIGTERM stops both."""
    async with harness.Gateway(world=east_world(tmp_path)) as east:
        accounts = [
            {"name": "west", "token_env": "GRIDBOT_TOKEN_WEST", "endpoint": gateway.endpoint},
            {"name": "east", "token_env": "GRIDBOT_TOKEN_EAST", "endpoint": east.endpoint},
        ]
        env = {
            "WECHATY_PUPPET_SERVICE_TOKEN": "",
            "GRIDBOT_TOKEN_WEST": gateway.token,
            "GRIDBOT_TOKEN_EAST": east.token,
        }
        async with gridbot_run(tmp_path, env, config={"wechat": {"accounts": accounts}}) as proc:
            for gw in (gateway, east):
                await gw.wait_for("client", state="connected", within=60)
            await gateway.say(ZHANG, "积分", room=GRID_ROOM)
            await east.say(QIAN, "积分", room=FOURTH_ROOM)
            assert (await gateway.next_sent(within=30))["text"].startswith("@张阿姨 您现有积分")
            assert (await east.next_sent(within=30))["text"].startswith("@钱奶奶 您现有积分")
            proc.send_signal(signal.SIGTERM)
            assert await asyncio.wait_for(proc.wait(), 30) == 0, stderr_of(tmp_path)
    log = stderr_of(tmp_path)
    assert "Traceback" not in log
    assert gateway.token not in log
    assert east.token not in log
    assert "wechaty[west]: stopped" in log
    assert "wechaty[east]: stopped" in log


async def test_every_configured_token_refused_exits_with_2_naming_its_variable(
    gateway: harness.Gateway, tmp_path: Path
) -> None:
    accounts = [
        {"name": "west", "token_env": "GRIDBOT_TOKEN_WEST", "endpoint": gateway.endpoint},
        {"name": "east", "token_env": "GRIDBOT_TOKEN_EAST", "endpoint": gateway.endpoint},
    ]
    env = {"GRIDBOT_TOKEN_WEST": "wrong-west", "GRIDBOT_TOKEN_EAST": "wrong-east"}
    async with gridbot_run(tmp_path, env, config={"wechat": {"accounts": accounts}}) as proc:
        assert await asyncio.wait_for(proc.wait(), 60) == 2
    last = stderr_of(tmp_path).splitlines()[-1]
    assert re.fullmatch(
        rf"gridbot: the puppet service at {re.escape(gateway.endpoint)} refused the token "
        r"\(check GRIDBOT_TOKEN_(WEST|EAST)\)",
        last,
    ), last


async def test_the_web_console_runs_beside_the_wechat_channel(
    gateway: harness.Gateway, tmp_path: Path
) -> None:
    """`web.enabled`: the console on the bot's event loop while it serves WeChat; a leader's
    /后台 in a private chat gets a link that logs in, and SIGTERM stops both."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    web = {"web": {"enabled": True, "port": port}}
    async with gridbot_run(tmp_path, gateway.sdk_env(), "--channel", "wechaty", config=web) as proc:
        await gateway.wait_for("client", state="connected", within=60)
        await gateway.say(LEADER, "/后台")
        sent = await gateway.next_sent(within=30)
        link = re.search(rf"http://127\.0\.0\.1:{port}/login/\S+", sent["text"])
        assert link is not None, sent
        async with httpx.AsyncClient() as client:
            assert (await client.get(link.group(0))).status_code == 200  # the button's page
            response = await client.post(link.group(0))
            assert response.status_code == 303
            assert (await client.get(f"http://127.0.0.1:{port}/tickets")).status_code == 200
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 30) == 0, stderr_of(tmp_path)
    log = stderr_of(tmp_path)
    assert f"指挥中心后台：http://127.0.0.1:{port}" in log
    assert "Traceback" not in log
    assert link.group(0).split("/login/")[1] not in log  # no access log keeps the secret
