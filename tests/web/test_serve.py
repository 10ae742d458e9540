from __future__ import annotations

import asyncio
import copy
import os
import re
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from bot.alerts import Alerts
from bot.app import build_app
from bot.clock import ManualClock
from bot.settings import Settings
from bot.wecom import WecomWebhook
from nlp.classifier import Classifier
from storage.db import Database
from tests.auxil.chat import RecordingSender
from tests.auxil.web import CSRF_FIELD, add_grids, add_ticket, login_link
from tests.auxil.wecom import RobotServer, robot_server, stepping_sleep, until
from tests.conftest import SETTINGS
from web.serve import bind, serving

ROOT = Path(__file__).resolve().parents[2]
ESCALATION = "幸福社区指挥中心"
LEADER = "wxid_leader_li"


async def test_serves_on_the_running_loop_and_stops(
    settings: Settings, sqlite_db: Database, clock: ManualClock
) -> None:
    sock = bind("127.0.0.1", 0)
    port = sock.getsockname()[1]
    async with serving(settings, sqlite_db, clock, sock):
        async with httpx.AsyncClient() as client:
            response = await client.get(f"http://127.0.0.1:{port}/")
        assert response.status_code == 200
        assert "指挥中心后台" in response.text
        assert "server" not in response.headers  # no uvicorn banner
    with pytest.raises(httpx.ConnectError):
        async with httpx.AsyncClient() as client:
            await client.get(f"http://127.0.0.1:{port}/")
    assert sock.fileno() == -1  # closed


def test_a_port_taken_is_said_not_a_crash() -> None:
    taken = bind("127.0.0.1", 0)
    try:
        with pytest.raises(OSError, match="in use"):
            bind("127.0.0.1", taken.getsockname()[1])
    finally:
        taken.close()


def test_a_host_name_is_bound_as_its_address() -> None:
    sock = bind("localhost", 0)
    try:
        assert sock.getsockname()[0] in ("::1", "127.0.0.1")
    finally:
        sock.close()


# --- the escalation room's copy to the 企业微信 robot -------------------------------------------


def with_robot(**changes: Any) -> dict[str, Any]:
    return copy.deepcopy(SETTINGS) | {
        "alerts": {"wecom": {"url_env": "GRIDBOT_TEST_WECOM"}},
        **changes,
    }


def escalate(client: httpx.Client, db: Database, now: datetime) -> None:
    """Log in as G03's leader with a fresh link and 上报 ticket #1 on its page."""
    assert client.post(login_link(db, LEADER, now)).status_code == 303
    found = CSRF_FIELD.search(client.get("/tickets/1").text)
    assert found is not None
    done = client.post("/tickets/1/escalate", data={"csrf": found.group(1), "text": "需要供电所"})
    assert done.status_code == 303, done.text


def test_the_console_alone_copies_what_it_sends_the_escalation_room(
    tmp_path: Path, sqlite_db: Database
) -> None:
    """`gridbot web`, a process of its own with no bot beside it: a ticket sent up on its
    page reaches the robot, as one sent up in the chat does."""
    config = tmp_path / "gridbot.yaml"
    data = with_robot(database=f"sqlite:///{tmp_path}/test.db")
    config.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    settings = Settings.model_validate(data)
    add_grids(sqlite_db, settings)
    now = datetime.now(UTC)  # the console runs on the real clock: its links expire on it
    add_ticket(sqlite_db, now, text="3栋楼道灯坏了，电话13812345678")
    sock = bind("127.0.0.1", 0)
    port = sock.getsockname()[1]
    sock.close()
    with robot_server() as robot:
        process = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "web", "--config", str(config), "--port", str(port)],
            stderr=subprocess.PIPE,
            text=True,
            cwd=tmp_path,
            env={
                **os.environ,
                "GRIDBOT_CONFIG": "",
                "GRIDBOT_TEST_WECOM": robot.url(),
                "NO_PROXY": "127.0.0.1",
                "PYTHONPATH": str(ROOT),
            },
        )
        assert process.stderr is not None
        try:
            said = next(
                line for line in process.stderr if "指挥中心后台" in line or "Error" in line
            )
            assert said.startswith("指挥中心后台"), said
            with httpx.Client(base_url=f"http://127.0.0.1:{port}") as client:
                escalate(client, sqlite_db, now)
            deadline = time.monotonic() + 15
            while not robot.taken() and time.monotonic() < deadline:
                time.sleep(0.05)
            [copied] = robot.contents()
            assert copied.startswith("【上报】幸福社区第3网格 #1")
            assert "需要供电所" in copied
            assert "13812345678" not in copied  # masked, as the room reads it
            process.send_signal(signal.SIGINT)
            assert process.wait(20) == 130
        finally:
            process.kill()
            process.wait()
            process.stderr.close()
    assert len(robot.received) == 1  # not the group's message, not the reporter's


@pytest.fixture
def robot() -> Any:
    with robot_server() as server:
        yield server


async def test_beside_the_bot_each_escalation_is_copied_once(
    sqlite_db: Database,
    clock: ManualClock,
    classifier: Classifier,
    robot: RobotServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`gridbot run` with the console: the bot's alerts copy what its page sends up (the
    same database), and the console copies nothing of its own."""
    # the robot's address where the config says it is, for any Alerts of the process
    monkeypatch.setenv("GRIDBOT_TEST_WECOM", robot.url())
    settings = Settings.model_validate(with_robot())
    webhook = WecomWebhook(robot.url(), clock=clock, sleep=stepping_sleep(clock))
    app = build_app(
        settings,
        clock=clock,
        db=sqlite_db,
        sender=RecordingSender(),
        classifier=classifier,
        alerts=Alerts(settings, clock, sqlite_db, webhook),
    )
    add_ticket(sqlite_db, clock.now())
    sock = bind("127.0.0.1", 0)
    port = sock.getsockname()[1]
    await app.start()
    try:
        async with serving(settings, sqlite_db, clock, sock):
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
                assert (await client.post(login_link(sqlite_db, LEADER, clock.now()))).is_redirect
                page = (await client.get("/tickets/1")).text
                found = CSRF_FIELD.search(page)
                assert found is not None
                done = await client.post(
                    "/tickets/1/escalate", data={"csrf": found.group(1), "text": "需要供电所"}
                )
                assert done.status_code == 303, done.text
            await until(lambda: len(robot.taken()) >= 1)
            await asyncio.sleep(0.5)  # (a second copy would be on its way by now)
    finally:
        app.stop()
    [copied] = robot.contents()
    assert re.match(r"【上报】幸福社区第3网格 #1", copied)
