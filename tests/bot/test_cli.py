from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from sqlalchemy import text

from bot import __version__
from bot.cli import EXIT_FAILED, EXIT_OK, EXIT_USAGE, main
from storage import migrate
from storage.db import Database
from tests.conftest import SETTINGS

ROOT = Path(__file__).resolve().parents[2]
BAD_CONFIG = """\
grids:
  - {code: G03, name: 三, room: 三群, leaders: [wxid_leader_li]}
  - {code: G04, name: 四, room: 四群, leaders: wxid_leader_zhao}
"""


def gridbot(
    *args: str, stdin: str | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=cwd,
        env={**os.environ, "GRIDBOT_CONFIG": ""},
    )


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["--version"])
    assert caught.value.code == 0
    assert capsys.readouterr().out.strip() == f"gridbot {__version__}"


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["run"],
        ["replay"],
        ["db"],
        ["db", "upgrade"],
        ["db", "current"],
        ["check-config"],
        ["classify"],
        ["points"],
        ["points", "verify"],
    ],
)
def test_every_subcommand_has_help(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main([*args, "--help"])
    assert caught.value.code == 0
    assert "usage: gridbot" in capsys.readouterr().out


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["frobnicate"])
    assert caught.value.code == EXIT_USAGE


def test_check_config_on_the_demo(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check-config"]) == EXIT_OK
    out = capsys.readouterr().out
    assert out.startswith("config OK: 2 grid(s), 2 leader(s), 1 admin(s)")
    assert "wechat" not in out


def test_check_config_says_which_accounts_tokens_are_not_set(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    accounts = [
        {"name": "east-1", "token_env": "GRIDBOT_TEST_TOKEN_1"},
        {"name": "east-2", "token_env": "GRIDBOT_TEST_TOKEN_2"},
    ]
    path = tmp_path / "city.yaml"
    path.write_text(
        yaml.safe_dump({**SETTINGS, "wechat": {"accounts": accounts}}, allow_unicode=True),
        encoding="utf-8",
    )
    monkeypatch.setenv("GRIDBOT_TEST_TOKEN_1", "t1")
    monkeypatch.delenv("GRIDBOT_TEST_TOKEN_2", raising=False)
    assert main(["check-config", "--config", str(path)]) == EXIT_OK
    lines = capsys.readouterr().out.splitlines()
    assert lines[-1] == "wechat: 2 account(s) in this process; no token in GRIDBOT_TEST_TOKEN_2"
    monkeypatch.setenv("GRIDBOT_TEST_TOKEN_2", "t2")
    assert main(["check-config", "--config", str(path)]) == EXIT_OK
    lines = capsys.readouterr().out.splitlines()
    assert lines[-1] == "wechat: 2 account(s) in this process; every token is set"


def test_check_config_says_whether_the_alert_robots_variable_is_set(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "city.yaml"
    alerts = {"wecom": {"url_env": "GRIDBOT_TEST_WECOM"}}
    path.write_text(yaml.safe_dump({**SETTINGS, "alerts": alerts}, allow_unicode=True), "utf-8")
    monkeypatch.delenv("GRIDBOT_TEST_WECOM", raising=False)
    assert main(["check-config", "--config", str(path)]) == EXIT_OK
    said = "alerts: to a 企业微信 robot, its address in GRIDBOT_TEST_WECOM"
    assert capsys.readouterr().out.splitlines()[-1] == f"{said} (not set here)"
    monkeypatch.setenv(
        "GRIDBOT_TEST_WECOM", "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k"
    )
    assert main(["check-config", "--config", str(path)]) == EXIT_OK
    assert capsys.readouterr().out.splitlines()[-1] == f"{said} (set)"


def test_a_bad_config_names_file_and_key_exits_2_without_traceback(tmp_path: Path) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text(BAD_CONFIG, encoding="utf-8")
    for args in (["check-config"], ["run"], ["replay", "-"], ["db", "upgrade"]):
        result = gridbot(*args, "--config", str(config), stdin="")
        assert result.returncode == EXIT_USAGE, args
        assert result.stderr.splitlines() == [
            f"gridbot: config error in {config}:",
            "  grids[1].leaders: expected a list of contact ids",
        ]
        assert "Traceback" not in result.stdout + result.stderr


def test_replay_of_help_from_a_resident_and_a_leader(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["replay", str(ROOT / "examples" / "help.jsonl")]) == EXIT_OK
    resident, leader = (json.loads(x) for x in capsys.readouterr().out.splitlines())
    assert resident["mentions"] == ["wxid_resident_zhang"]
    assert leader["mentions"] == ["wxid_leader_li"]
    assert resident["text"] != leader["text"]
    assert "/状态" in leader["text"]
    assert "/状态" not in resident["text"]


def test_replay_reads_stdin_and_reports_bad_lines_with_exit_1() -> None:
    good = (ROOT / "examples" / "help.jsonl").read_text(encoding="utf-8").splitlines()[0]
    result = gridbot("replay", "-", stdin=f"{good}\n{{oops\n")
    assert result.returncode == EXIT_FAILED
    assert len(result.stdout.splitlines()) == 1
    assert result.stderr.startswith("line 2: not JSON")


def test_replay_skips_a_line_that_is_not_utf8_and_reads_past_a_bom(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An undecodable byte used to end the run at that line; a BOM made line 1 "not JSON"."""
    resident, leader = (ROOT / "examples" / "help.jsonl").read_bytes().splitlines()
    broken = resident.replace("张阿姨".encode(), b"\xff\xfe")
    events = tmp_path / "events.jsonl"
    events.write_bytes(b"\xef\xbb\xbf" + resident + b"\n" + broken + b"\n" + leader + b"\n")
    assert main(["replay", str(events)]) == EXIT_FAILED
    captured = capsys.readouterr()
    assert captured.err == "line 2: not valid UTF-8: byte 0xFF at column 97; skipped\n"
    assert len(captured.out.splitlines()) == 2  # lines 1 and 3 answered
    # the same from stdin in an ASCII locale: read and written as UTF-8 all the same
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "replay", "-"],
        input=events.read_bytes(),
        capture_output=True,
        timeout=60,
        check=False,
        env={**os.environ, "GRIDBOT_CONFIG": "", "LC_ALL": "C", "PYTHONUTF8": "0"},
    )
    assert result.returncode == EXIT_FAILED
    assert result.stderr.decode() == captured.err
    assert len(result.stdout.splitlines()) == 2


def test_replay_of_a_missing_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["replay", str(tmp_path / "nope.jsonl")]) == EXIT_USAGE
    assert "can't read" in capsys.readouterr().err


def test_replay_into_a_given_database_is_idempotent(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path}/kept.db"
    example = str(ROOT / "examples" / "help.jsonl")
    assert main(["replay", example, "--db", url]) == EXIT_OK
    assert len(capsys.readouterr().out.splitlines()) == 2
    # the same messages again (same ids): already handled, nothing is sent twice
    assert main(["replay", example, "--db", url]) == EXIT_OK
    assert capsys.readouterr().out == ""


def test_db_upgrade_and_current(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path}/db.sqlite"
    (tmp_path / "db.sqlite").touch()  # there, but never upgraded
    assert main(["db", "current", "--db", url]) == EXIT_OK
    assert "schema at none" in capsys.readouterr().out
    assert main(["db", "upgrade", "--db", url]) == EXIT_OK
    assert main(["db", "current", "--db", url]) == EXIT_OK
    assert "(up to date)" in capsys.readouterr().out


def test_the_gridbot_command_is_installed() -> None:
    script = Path(sys.executable).with_name("gridbot")
    result = subprocess.run([str(script), "--version"], capture_output=True, text=True, check=False)
    assert result.stdout.strip() == f"gridbot {__version__}"


def test_classify_one_text(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["classify", "樓下那個燈黑了好幾天了，麻煩處理一下"]) == EXIT_OK
    result = json.loads(capsys.readouterr().out)
    verdict = {"is_request", "category", "urgent", "confidence", "keywords"}
    learned = {"decided_by", "p_request", "model", "features"}
    assert set(result) == verdict | learned
    assert (result["is_request"], result["category"]) == (True, "facility")
    assert result["decided_by"] in ("keywords", "model")
    assert 0.5 < result["p_request"] <= 1.0
    assert result["model"].startswith("v")
    for shown in result["features"]:
        assert shown["feature"].startswith(("w:", "c:"))
        assert shown["weight"] > 0


def test_classify_jsonl_passes_ids_through_and_reports_bad_lines() -> None:
    stdin = '{"id": "a", "text": "着火了！3栋冒烟"}\n{"text": "收到，谢谢"}\n[1]\n{"text": 5}\n'
    result = gridbot("classify", "--jsonl", "-", stdin=stdin)
    assert result.returncode == EXIT_FAILED
    first, second = (json.loads(x) for x in result.stdout.splitlines())
    assert (first["id"], first["urgent"], first["category"]) == ("a", True, "safety")
    assert (second["id"], second["is_request"]) == (None, False)
    assert result.stderr.splitlines() == [
        "line 3: expected an object with a 'text' string; skipped",
        "line 4: expected an object with a 'text' string; skipped",
    ]


def test_classify_needs_a_text_or_a_file(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["classify"])
    assert caught.value.code == EXIT_USAGE


def test_points_verify_agrees_then_finds_a_tampered_balance(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path}/points.db"
    events = tmp_path / "points.jsonl"
    events.write_text(
        "\n".join(
            json.dumps(line, ensure_ascii=False)
            for line in [
                {"ts": "2026-11-22T09:00:00+08:00", "room": "幸福社区第3网格",
                 "from": "wxid_resident_zhang", "name": "张阿姨", "text": "收到", "id": "a"},
                {"ts": "2026-11-22T09:01:00+08:00", "room": "幸福社区第3网格",
                 "from": "wxid_leader_li", "name": "李网格长", "text": "/加分 @张阿姨 志愿服务",
                 "mentions": ["wxid_resident_zhang"], "id": "b"},
            ]
        ),
        encoding="utf-8",
    )  # fmt: skip
    assert main(["replay", str(events), "--db", url]) == EXIT_OK
    capsys.readouterr()
    assert main(["points", "verify", "--db", url]) == EXIT_OK
    assert capsys.readouterr().out == "checked 1 balance(s) against 1 ledger entries: all agree\n"

    db = Database.from_url(url)
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE points_balance SET balance = 7"))
    db.dispose()
    assert main(["points", "verify", "--db", url]) == EXIT_FAILED
    assert capsys.readouterr().out.splitlines() == [
        "checked 1 balance(s) against 1 ledger entries: 1 mismatch(es)",
        "  member 1 (wxid_resident_zhang in G03): stored balance 7, earned 5, entries 1; "
        "ledger 5, 5, 1",
    ]


def test_points_verify_without_a_database_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["points", "verify", "--db", f"sqlite:///{tmp_path}/none.db"]) == EXIT_USAGE
    assert "no database at" in capsys.readouterr().err
    assert not (tmp_path / "none.db").exists()
    old = tmp_path / "old.db"
    old.touch()  # there, but never upgraded
    assert main(["points", "verify", "--db", f"sqlite:///{old}"]) == EXIT_USAGE
    assert "gridbot db upgrade" in capsys.readouterr().err


def test_run_wechaty_without_a_token_exits_2_with_one_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("WECHATY_PUPPET_SERVICE_TOKEN", raising=False)
    monkeypatch.delenv("GRIDBOT_CONFIG", raising=False)
    code = main(["run", "--channel", "wechaty", "--db", f"sqlite:///{tmp_path}/x.db"])
    assert code == EXIT_USAGE
    assert capsys.readouterr().err == (
        "gridbot: no puppet-service token: set WECHATY_PUPPET_SERVICE_TOKEN "
        "(and WECHATY_PUPPET_SERVICE_ENDPOINT)\n"
    )
    assert not (tmp_path / "x.db").exists()  # nothing was started


def test_run_picks_wechaty_when_a_token_is_set(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("WECHATY_PUPPET_SERVICE_TOKEN", "t")
    monkeypatch.setenv("WECHATY_PUPPET_SERVICE_ENDPOINT", "not an endpoint")
    monkeypatch.delenv("GRIDBOT_CONFIG", raising=False)
    assert main(["run", "--db", f"sqlite:///{tmp_path}/x.db"]) == EXIT_USAGE
    assert "is not host:port" in capsys.readouterr().err
    # ... unless the console is asked for.
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    assert main(["run", "--channel", "console", "--db", f"sqlite:///{tmp_path}/x.db"]) == 0
    assert "控制台" in capsys.readouterr().out


def test_check_config_warns_and_refuses_with_strict(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 18 item 6 and issue 17 item 15: a grid without leaders and a schedule of 30
    February passed as "config OK"."""
    grids = [*SETTINGS["grids"], {"code": "G09", "name": "九", "room": "九群"}]
    data = {**SETTINGS, "grids": grids, "tickets": {"sweep_cron": "0 9 30 2 *"}}
    path = tmp_path / "city.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    warnings = [
        "  grids[2].leaders: grid G09 (九) has no leaders: its emergencies alert no grid "
        "leader, and nobody there can use the leaders' commands",
        "  tickets.sweep_cron: '0 9 30 2 *' never fires (no such day): deadlines would never "
        "be checked",
    ]
    assert main(["check-config", "--config", str(path)]) == EXIT_OK
    out, err = capsys.readouterr()
    assert out.startswith("config OK: 3 grid(s)")
    assert err.splitlines() == [f"gridbot: warnings in {path} (errors with --strict):", *warnings]
    assert main(["check-config", "--config", str(path), "--strict"]) == EXIT_USAGE
    out, err = capsys.readouterr()
    assert out == ""
    assert err.splitlines() == [f"gridbot: config error in {path}:", *warnings]
    assert main(["check-config", "--strict"]) == EXIT_OK  # the demo has nothing to warn of
    assert capsys.readouterr().err == ""


def test_db_current_of_a_missing_file_creates_nothing(tmp_path: Path) -> None:
    """Issue 18 item 7: it created an empty gridbot.db and printed alembic's INFO lines."""
    result = gridbot("db", "current", cwd=tmp_path)
    assert result.returncode == EXIT_USAGE
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        "gridbot: no database at gridbot.db: `gridbot db upgrade` (or `gridbot run`) creates it"
    ]
    assert list(tmp_path.iterdir()) == []
    assert gridbot("db", "upgrade", cwd=tmp_path).returncode == EXIT_OK
    result = gridbot("db", "current", cwd=tmp_path)
    assert (result.returncode, result.stderr) == (EXIT_OK, "")  # one line, no log
    head = migrate.HEAD
    current = f"schema at {head}, current is {head} (up to date)"
    assert result.stdout == f"sqlite:///gridbot.db: {current}\n"


UNREACHABLE = "postgresql+psycopg://gridbot:secret@127.0.0.1:1/gridbot"


@pytest.mark.parametrize(
    "args",
    [
        ["run", "--channel", "console"],
        ["replay", "-"],
        ["db", "current"],
        ["db", "upgrade"],
        ["points", "verify"],
    ],
)
def test_an_unreachable_server_is_one_line_and_exit_2(
    args: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 18 item 7: an OperationalError traceback and exit 1, where the README promises
    one line and exit 2."""
    monkeypatch.delenv("GRIDBOT_CONFIG", raising=False)
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    assert main([*args, "--db", UNREACHABLE]) == EXIT_USAGE
    out, err = capsys.readouterr()
    [line] = err.splitlines()
    assert line.startswith(
        "gridbot: can't open the database postgresql+psycopg://gridbot:***@127.0.0.1:1/gridbot: "
    )
    assert "Connection refused" in line
    assert "check that the server runs" in line
    assert "secret" not in out + err


def test_a_database_the_bot_cannot_use_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 18 item 7: `database: mysql://x` passed check-config, then `gridbot run` died
    with 25 lines of ModuleNotFoundError."""
    monkeypatch.delenv("GRIDBOT_CONFIG", raising=False)
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    path = tmp_path / "city.yaml"
    path.write_text(yaml.safe_dump({**SETTINGS, "database": "mysql://x"}), encoding="utf-8")
    for args in (["check-config"], ["run", "--channel", "console"], ["db", "upgrade"]):
        assert main([*args, "--config", str(path)]) == EXIT_USAGE
        assert capsys.readouterr().err.splitlines() == [
            f"gridbot: config error in {path}:",
            "  database: mysql databases are not supported: use sqlite:///gridbot.db or "
            "postgresql+psycopg://user:password@host/dbname",
        ]
    assert main(["run", "--channel", "console", "--db", "mysql://x"]) == EXIT_USAGE
    assert capsys.readouterr().err.startswith("gridbot: --db: mysql databases are not supported")
    junk = tmp_path / "junk.db"
    junk.write_text("not a database\n" * 100)
    assert main(["replay", "-", "--db", f"sqlite:///{junk}"]) == EXIT_USAGE
    assert capsys.readouterr().err == (
        f"gridbot: can't open the database sqlite:///{junk}: file is not a database "
        "(is it the bot's SQLite file, and may this user write to it?)\n"
    )


def test_run_wechaty_without_the_sdk_says_how_to_install_it(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Issue 18 item 8: the hint said `pip install 'gridbot[wechat]'`, which fetches whatever
    an index holds under that name; the README says `pip install -e '.[wechat]'`."""
    monkeypatch.setitem(sys.modules, "wechaty", None)  # as if not installed
    monkeypatch.setenv("WECHATY_PUPPET_SERVICE_TOKEN", "t")
    monkeypatch.delenv("GRIDBOT_CONFIG", raising=False)
    code = main(["run", "--channel", "wechaty", "--db", f"sqlite:///{tmp_path}/x.db"])
    assert code == EXIT_USAGE
    assert capsys.readouterr().err == (
        "gridbot: the wechaty SDK is not installed (no module 'wechaty'): run "
        "`pip install -e '.[wechat]'` in GridBot's folder (the `wechat` extra)\n"
    )
    assert not (tmp_path / "x.db").exists()  # said before anything started


def test_classify_loads_no_bot_runtime() -> None:
    """`gridbot classify` is the vocabulary's author's tool, run hundreds of times: the bot's
    runtime (dispatcher, handlers, alerts, the database layer) is no part of its start
    (issue #21: ~0.45 s of imports it never used)."""
    probe = (
        "import sys, io, contextlib\n"
        "from bot.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    main(['classify', '路灯坏了'])\n"
        "print(sorted(m for m in ('bot.app', 'bot.dispatcher', 'bot.alerts', 'handlers',"
        " 'storage.db') if m in sys.modules))\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120
    )
    assert run.stdout.strip() == "[]", run.stderr
