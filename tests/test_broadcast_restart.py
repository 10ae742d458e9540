"""A bot process stopped in the middle of a fan-out and started again on the same database:
every group gets the notice, none twice — beyond, after a SIGKILL, the one message that was
being sent at that instant (it can't be known to have gone)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml

GRIDS = 12
NOTICE = "【演练通知】明天上午10点消防演练"


def write_config(tmp_path: Path, at: datetime) -> Path:
    config = {
        "timezone": "Asia/Shanghai",
        "admins": ["wxid_street_admin"],
        "grids": [
            {"code": f"G{i:02}", "name": f"网格{i}", "room": f"网格群{i}"} for i in range(GRIDS)
        ],
        # one second apart: the fan-out takes ~12 s, long enough to stop it in the middle
        "sending": {
            "interval_seconds": 1,
            "jitter_seconds": 0,
            "per_minute": 600,
            "claim_seconds": 5,
        },
        "notices": [
            {
                "id": "drill",
                "title": "演练",
                "text": NOTICE,
                "targets": {"all": True},
                "at": at.strftime("%Y-%m-%d %H:%M:%S"),
                "urgent": True,
            },
        ],
    }
    path = tmp_path / "gridbot.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    return path


def start(config: Path, db: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bot.cli",
            "run",
            "--config",
            str(config),
            "--db",
            f"sqlite:///{db}",
            "--throttle",  # the console's sending paced as configured: a fan-out takes time
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "GRIDBOT_CONFIG": ""},
    )


def notices_seen(proc: subprocess.Popen[str], count: int, timeout: float) -> list[str]:
    """Read the console until ``count`` notice lines came; return their groups."""
    assert proc.stdout is not None
    rooms: list[str] = []
    deadline = time.monotonic() + timeout
    while len(rooms) < count and time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        if NOTICE in line:
            rooms.append(line.split("]")[0].lstrip("["))
    return rooms


@pytest.mark.slow
@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGKILL], ids=["sigint", "sigkill"])
def test_a_restart_in_the_middle_of_a_fan_out(tmp_path: Path, stop: signal.Signals) -> None:
    at = datetime.now(ZoneInfo("Asia/Shanghai")).replace(microsecond=0) + timedelta(seconds=3)
    config, db = write_config(tmp_path, at), tmp_path / "bot.db"

    first = start(config, db)
    before = notices_seen(first, 4, timeout=60)
    first.send_signal(stop)
    first.communicate(timeout=30)
    assert len(before) == 4

    second = start(config, db)
    after = notices_seen(second, GRIDS - len(before), timeout=90)
    rest, _ = second.communicate(input="", timeout=60)  # end of input: it drains and exits
    after += [line.split("]")[0].lstrip("[") for line in rest.splitlines() if NOTICE in line]

    sent = Counter(before + after)
    assert set(sent) == {f"网格群{i}" for i in range(GRIDS)}  # none lost
    doubled = [room for room, n in sent.items() if n > 1]
    assert doubled == [] if stop == signal.SIGINT else len(doubled) <= 1
