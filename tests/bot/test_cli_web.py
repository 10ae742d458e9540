from __future__ import annotations

import copy
import io
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from fastapi.testclient import TestClient

from bot.cli import EXIT_OK, EXIT_USAGE, main
from bot.cli_web import beside_bot
from bot.clock import ManualClock
from bot.settings import Settings
from storage.db import Database
from tests.conftest import SETTINGS
from web.app import create_app

ROOT = Path(__file__).resolve().parents[2]
LINK = re.compile(r"^http://127\.0\.0\.1:(\d+)(/login/[A-Za-z0-9_-]{43})$")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def _config(tmp_path: Path, **web: Any) -> Path:
    data = copy.deepcopy(SETTINGS) | {"database": f"sqlite:///{tmp_path}/gridbot.db", "web": web}
    path = tmp_path / "gridbot.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def _settings(**web: Any) -> Settings:
    return Settings.model_validate(copy.deepcopy(SETTINGS) | {"web": web})


def test_web_link_prints_a_link_that_logs_in(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], clock: ManualClock
) -> None:
    config = _config(tmp_path)
    assert main(["web-link", "wxid_street_admin", "--config", str(config)]) == EXIT_OK
    out, err = capsys.readouterr()
    found = LINK.match(out.strip())
    assert found is not None, out
    assert "web login link for wxid_street_admin made on the command line" in err
    db = Database.from_url(f"sqlite:///{tmp_path}/gridbot.db")
    client = TestClient(create_app(_settings(), db, clock), follow_redirects=False)
    assert client.post(found.group(2)).status_code == 303
    db.dispose()


def test_web_link_refuses_someone_who_leads_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _config(tmp_path)
    assert main(["web-link", "wxid_resident_zhang", "--config", str(config)]) == EXIT_USAGE
    out, err = capsys.readouterr()
    assert out == ""
    assert "wxid_resident_zhang is neither an administrator" in err


def test_gridbot_web_serves_until_interrupted(tmp_path: Path) -> None:
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "web", "--config", str(_config(tmp_path)),
         "--port", str(port)],
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "GRIDBOT_CONFIG": "", "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    assert process.stderr is not None
    try:
        # said after the log's lines of making the database
        said = next(line for line in process.stderr if "指挥中心后台" in line or "Error" in line)
        assert said == f"指挥中心后台：http://127.0.0.1:{port}（按 Ctrl-C 停止）\n"
        response = None
        deadline = time.monotonic() + 20
        while response is None and time.monotonic() < deadline:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/")
            except httpx.ConnectError:
                time.sleep(0.05)
        assert response is not None
        assert response.status_code == 200
        assert "/后台" in response.text
        process.send_signal(signal.SIGINT)
        assert process.wait(20) == 130  # as `gridbot run` stopped by Ctrl-C
    finally:
        process.kill()
        process.wait()
        process.stderr.close()


def test_gridbot_web_on_a_port_taken_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        code = main(["web", "--config", str(_config(tmp_path)), "--port", port])
    assert code == EXIT_USAGE
    assert f"gridbot web: can't listen on 127.0.0.1:{port}" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("args", "expected"),
    [(["--port", "70000"], "not a port (1-65535)"), (["--host", "a b"], "is not a host name")],
)
def test_gridbot_web_refuses_an_address_that_is_none(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], expected: str
) -> None:
    try:
        code = main(["web", "--config", str(_config(tmp_path)), *args])
    except SystemExit as exc:  # argparse's own refusal
        code = int(str(exc.code))
    assert code == EXIT_USAGE
    assert expected in capsys.readouterr().err


async def test_beside_the_bot_when_enabled(
    sqlite_db: Database, clock: ManualClock, capsys: pytest.CaptureFixture[str]
) -> None:
    port = _free_port()
    settings = _settings(enabled=True, port=port)
    async with beside_bot(settings, sqlite_db, clock), httpx.AsyncClient() as client:
        response = await client.get(f"http://127.0.0.1:{port}/")
        assert response.status_code == 200
    assert f"指挥中心后台：http://127.0.0.1:{port}" in capsys.readouterr().err
    with pytest.raises(httpx.ConnectError):
        async with httpx.AsyncClient() as client:
            await client.get(f"http://127.0.0.1:{port}/")


@pytest.mark.parametrize(("enabled", "wanted"), [(False, True), (True, False)])
async def test_not_beside_the_bot_when_off_or_served_elsewhere(
    sqlite_db: Database, clock: ManualClock, enabled: bool, wanted: bool
) -> None:
    port = _free_port()
    async with (
        beside_bot(_settings(enabled=enabled, port=port), sqlite_db, clock, wanted=wanted),
        httpx.AsyncClient() as client,
    ):
        with pytest.raises(httpx.ConnectError):
            await client.get(f"http://127.0.0.1:{port}/")


async def test_a_port_taken_leaves_the_bot_running(
    sqlite_db: Database, clock: ManualClock, capsys: pytest.CaptureFixture[str]
) -> None:
    ran = False
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        async with beside_bot(_settings(enabled=True, port=port), sqlite_db, clock):
            ran = True
    assert ran
    assert f"the web console is not served: can't listen on 127.0.0.1:{port}" in (
        capsys.readouterr().err
    )


@pytest.mark.parametrize("no_web", [False, True])
def test_gridbot_run_serves_the_console_unless_told_not_to(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    no_web: bool,
) -> None:
    monkeypatch.delenv("GRIDBOT_CONFIG", raising=False)
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    port = _free_port()
    config = _config(tmp_path, enabled=True, port=port)
    args = ["run", "--channel", "console", "--config", str(config)]
    assert main(args + (["--no-web"] if no_web else [])) == EXIT_OK
    said = f"指挥中心后台：http://127.0.0.1:{port}" in capsys.readouterr().err
    assert said is not no_web


def test_a_bot_that_serves_no_console_never_imports_it() -> None:
    """A start pays for FastAPI, uvicorn and Jinja2 only when it serves the console."""
    script = (
        "import sys\n"
        "from bot.cli import main\n"
        "import bot.app, handlers\n"
        "print(sorted(m for m in ('fastapi', 'uvicorn', 'jinja2', 'web') if m in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert result.stdout.strip() == "[]"
