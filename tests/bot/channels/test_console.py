from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

from bot.app import build_app
from bot.channels.console import ConsoleChannel
from bot.clock import ManualClock
from bot.settings import SendingSettings, Settings, load_settings
from nlp.classifier import Classifier
from storage.db import Database

unthrottled = SendingSettings(interval_seconds=0, jitter_seconds=0, per_minute=600)


async def run_console(
    script: str, settings: Settings, clock: ManualClock, db: Database, classifier: Classifier
) -> list[str]:
    stdout = io.StringIO()
    console = ConsoleChannel(settings, io.StringIO(script), stdout)
    app = build_app(settings, clock=clock, db=db, sender=console, classifier=classifier)
    await app.start()
    await console.run(app)
    app.stop()
    return stdout.getvalue().splitlines()


async def test_speak_as_people_in_rooms_and_see_the_replies(
    clock: ManualClock, sqlite_db: Database, classifier: Classifier
) -> None:
    # the demo config, as `gridbot run` uses it, with replies at once (no throttle gaps)
    settings = load_settings(None).model_copy(update={"sending": unthrottled})
    script = "\n".join(
        [
            "/状态",
            ":as 李网格长",
            "/状态",
            ":room G04",
            "/状态",
            ":private",
            "帮助",
            ":room 不存在的群",
            "/帮助",
            ":as wxid_new 新居民",
            ":who",
            ":quit",
            "/帮助",  # after :quit: never read
        ]
    )
    out = await run_console(script + "\n", settings, clock, sqlite_db, classifier)
    assert out[0].startswith("社区小助手 控制台。你现在是 张阿姨，在「幸福社区第3网格」")
    assert out[1] == "[幸福社区第3网格] 社区小助手：@张阿姨 抱歉，/状态 仅限本网格的网格长使用。"
    assert out[2] == "你现在是 李网格长（wxid_leader_li）。"
    assert out[3].startswith("[幸福社区第3网格] 社区小助手：@李网格长 幸福社区第3网格（G03）")
    assert out[4] == "现在在「幸福社区第4网格」。"
    assert out[5] == "[幸福社区第4网格] 社区小助手：@李网格长 抱歉，/状态 仅限本网格的网格长使用。"
    assert out[6] == "现在是与机器人的私聊。"
    assert out[7].startswith("[私聊 → 李网格长] 社区小助手：可用命令：")
    help_end = next(i for i, x in enumerate(out) if x.startswith("现在在「不存在的群」"))
    assert all(x.startswith("    ") for x in out[8:help_end])  # multi-line replies indented
    assert out[help_end] == "现在在「不存在的群」。（这个群不属于任何网格，机器人不会回复）"
    assert out[help_end + 1] == "你现在是 新居民（wxid_new）。"  # no reply in a room of no grid
    assert out[help_end + 2] == "你是 新居民（wxid_new），在「不存在的群」。"
    assert len(out) == help_end + 5


async def test_an_unknown_console_command_shows_the_console_help(
    settings: Settings, clock: ManualClock, sqlite_db: Database, classifier: Classifier
) -> None:
    out = await run_console(":nonsense\n", settings, clock, sqlite_db, classifier)
    assert out[1] == "控制台命令（其余输入都作为当前身份发出的消息）:"


def test_gridbot_run_chats_through_stdin(tmp_path: Path) -> None:
    """The README's first command ends in `gridbot run`: the console on the demo config."""
    db = tmp_path / "demo.db"
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "run", "--db", f"sqlite:///{db}"],
        input="/帮助\n:as 李网格长\n/状态\n",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=tmp_path,
        env={**os.environ, "GRIDBOT_CONFIG": ""},
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[1] == "[幸福社区第3网格] 社区小助手：@张阿姨 可用命令："
    assert "[幸福社区第3网格] 社区小助手：@李网格长 幸福社区第3网格（G03）：已登记群成员 2 人" in (
        result.stdout
    )
    assert db.exists()
    assert oct(db.stat().st_mode & 0o777) == "0o600"
