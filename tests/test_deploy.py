"""deploy/ and docs/部署指南.md, so that the guide cannot drift from the code.

- every `gridbot …` command line of the guide and of deploy/ parses with the real CLI parser,
  every config the guide shows validates, and every config key it names exists;
- the paths the units, the wrapper, logrotate and the guide use are the same ones;
- the units pass `systemd-analyze verify` and keep their hardening (where systemd-analyze is
  installed), logrotate rotates the units' log file (where logrotate is);
- the wrapper runs the real command with the street's config, from its own folder;
- (integration) the guide's street config, run by the unit's own command line with the test
  gateway standing in for a provider's, answers in a grid's group, lists contact ids, and is
  healthy for `gridbot status` and /healthz.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import types
import typing
from pathlib import Path
from typing import Any

import httpx
import pydantic
import pytest
import yaml

from bot.cli import _parser
from bot.settings import Settings, deep_merge, load_settings
from tests.gateway import harness

ROOT = Path(__file__).resolve().parents[1]
GUIDE = ROOT / "docs" / "部署指南.md"
DEPLOY = ROOT / "deploy"
UNITS = sorted(DEPLOY.glob("*.service"))
WRAPPER = DEPLOY / "gridbot-cli.sh"
LOGROTATE = DEPLOY / "gridbot.logrotate"

# Where the guide installs things; the files in deploy/ must say the same.
INSTALLED = "/opt/gridbot/.venv/bin/gridbot"
CONFIG = "/etc/gridbot/gridbot.yaml"
ENV_FILE = "/etc/gridbot/gridbot.env"
STATE_DIR = "/var/lib/gridbot"
CACHE_DIR = "/var/cache/gridbot"
LOG_DIR = "/var/log/gridbot"

# This checkout's installed entry point, standing in for INSTALLED.
_SCRIPT = Path(sys.executable).with_name("gridbot")
GRIDBOT = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "bot.cli"]

# --- reading the guide -------------------------------------------------------------------------

_FENCE = re.compile(r"^(\s*)```(\S*)\s*$")
_SEPARATORS = {"&&", "||", ";", "|", "&"}
_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")


def code_blocks(text: str) -> list[tuple[str, str]]:
    """The fenced blocks of a Markdown text as (language, body), the body unindented (blocks
    inside list items are indented)."""
    blocks: list[tuple[str, str]] = []
    language: str | None = None
    indent = 0
    lines: list[str] = []
    for line in text.splitlines():
        fence = _FENCE.match(line)
        if language is None:
            if fence:
                language, indent, lines = fence.group(2), len(fence.group(1)), []
        elif fence:
            blocks.append((language, "\n".join(lines)))
            language = None
        else:
            lines.append(line[indent:] if not line[:indent].strip() else line)
    assert language is None, "a code block is not closed"
    return blocks


def inline_code(text: str) -> list[str]:
    """The `…` spans of a Markdown text outside its fenced blocks."""
    prose = re.sub(r"^\s*```.*?^\s*```\s*$", "", text, flags=re.DOTALL | re.MULTILINE)
    return re.findall(r"`([^`\n]+)`", prose)


def _is_gridbot(token: str) -> bool:
    return token == "gridbot" or token.endswith("/bin/gridbot")


def gridbot_commands(line: str) -> list[list[str]]:
    """The arguments of each `gridbot …` a shell line (or a unit's ExecStart=) runs: a word
    `gridbot` (or …/bin/gridbot) where a command starts, not as another command's argument
    (`createuser gridbot`, `runuser -u gridbot`)."""
    line = line.strip().removeprefix("ExecStart=")
    lexer = shlex.shlex(line, posix=True, punctuation_chars=";&|")
    lexer.whitespace_split = True
    lexer.commenters = "#"
    tokens = list(lexer)
    found: list[list[str]] = []
    at_start = True
    i = 0
    while i < len(tokens):
        token = tokens[i]
        if token in _SEPARATORS:
            at_start = True
        elif at_start and _ASSIGNMENT.match(token):
            pass  # VAR=value before a command
        elif at_start and _is_gridbot(token):
            args: list[str] = []
            i += 1
            while i < len(tokens) and tokens[i] not in _SEPARATORS:
                args.append(tokens[i])
                i += 1
            found.append(args)
            continue
        else:
            at_start = False
        i += 1
    return found


def guide_commands(text: str) -> list[tuple[str, list[str]]]:
    """Every `gridbot …` of the guide: in its shell and unit blocks (not in example output,
    ```text), and in its inline code."""
    found: list[tuple[str, list[str]]] = []
    for language, body in code_blocks(text):
        if language in ("text", "yaml", "nginx"):
            continue
        for line in body.splitlines():
            found.extend((line.strip(), args) for args in gridbot_commands(line))
    for span in inline_code(text):
        # a span that names the program (`gridbot`, `gridbot …`) is no command line
        if _is_gridbot(span.split(" ", 1)[0]) and span.split()[1:] not in ([], ["…"]):
            found.extend((span, args) for args in gridbot_commands(span))
    return found


def deploy_commands() -> list[tuple[str, list[str]]]:
    found: list[tuple[str, list[str]]] = []
    for path in [*UNITS, WRAPPER]:
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.lstrip().startswith("#"):
                continue
            found.extend((f"{path.name}: {line}", args) for args in gridbot_commands(line))
    return found


def parse_problem(args: list[str]) -> str | None:
    """What the CLI parser says about a command line, None when it takes it."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            _parser().parse_args(args)
        except SystemExit as exc:  # --version and --help exit 0
            return None if exc.code == 0 else err.getvalue().strip() or f"exit {exc.code}"
    return None


# --- the guide's commands and configs ----------------------------------------------------------


def test_the_helpers_find_what_they_should() -> None:
    # the checks below are only as good as these
    assert gridbot_commands("cd /opt/gridbot && gridbot db upgrade # x") == [["db", "upgrade"]]
    assert gridbot_commands("runuser -u postgres -- createuser gridbot") == []
    assert gridbot_commands("useradd --system --home-dir /var/lib/gridbot gridbot") == []
    assert gridbot_commands(f"ExecStart={INSTALLED} run --no-web") == [["run", "--no-web"]]
    assert gridbot_commands("X=1 gridbot status; gridbot backup") == [["status"], ["backup"]]
    assert parse_problem(["backup", "--out", "x.db"]) is None
    assert parse_problem(["--version"]) is None
    assert parse_problem(["backup", "--outt", "x.db"])
    assert parse_problem(["members", "--grid"])
    assert parse_problem(["restore"])
    assert parse_problem(["db"])


def test_every_gridbot_command_in_the_guide_and_in_deploy_parses() -> None:
    commands = guide_commands(GUIDE.read_text(encoding="utf-8")) + deploy_commands()
    problems = [f"{line}: {p}" for line, args in commands if (p := parse_problem(args))]
    assert problems == []
    # not vacuous: the guide shows each command an IT person needs
    shown = {args[0] for _, args in commands if args}
    shown |= {" ".join(args[:2]) for _, args in commands if args[:1] in (["db"], ["points"])}
    needed = {
        "run", "web", "check-config", "db upgrade", "db current", "members", "status",
        "backup", "restore", "purge", "points verify", "web-link", "--version",
    }  # fmt: skip
    assert needed <= shown, needed - shown


def _street_config(text: str) -> dict[str, Any]:
    configs = [
        yaml.safe_load(body)
        for language, body in code_blocks(text)
        if language == "yaml" and "grids:" in body
    ]
    assert len(configs) == 1, "the guide shows one whole config, the street's"
    config = configs[0]
    assert isinstance(config, dict)
    return config


def test_every_config_in_the_guide_validates(tmp_path: Path) -> None:
    text = GUIDE.read_text(encoding="utf-8")
    street = _street_config(text)
    fragments = [
        yaml.safe_load(body)
        for language, body in code_blocks(text)
        if language == "yaml" and "grids:" not in body
    ]
    assert fragments, "the guide's config fragments (PostgreSQL, accounts) were not found"
    for i, fragment in enumerate([{}, *fragments]):
        path = tmp_path / f"config-{i}.yaml"
        path.write_text(yaml.safe_dump(deep_merge(street, fragment), allow_unicode=True), "utf-8")
        settings = load_settings(path)  # raises ConfigError naming the key
        assert [g.code for g in settings.grids] == ["XF01", "XF02", "TY01"]
    # what the guide says about the street's config holds
    settings = Settings.model_validate(street)
    assert settings.web.enabled
    assert settings.backup.enabled
    assert settings.alerts.wecom is not None
    assert settings.grids[0].leader_names == {"wxid_leader_li": "李明"}


def _field_type(model: type[pydantic.BaseModel], name: str) -> Any:
    annotation = model.model_fields[name].annotation
    # Annotated[...] and X | None: the model inside, if any
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (typing.Union, types.UnionType):
            models = [a for a in typing.get_args(annotation) if a is not type(None)]
            annotation = models[0] if len(models) == 1 else None
        else:
            return annotation


def config_key_problem(key: str) -> str | None:
    """Whether a dotted key (`alerts.gateway_down_minutes`) is a key of the config."""
    model: Any = Settings
    for part in key.split("."):
        if not (isinstance(model, type) and issubclass(model, pydantic.BaseModel)):
            return f"{key}: {part} is under a value, not a section"
        if part not in model.model_fields:
            return f"{key}: no key {part}"
        model = _field_type(model, part)
    return None


def test_every_config_key_the_guide_names_exists() -> None:
    assert config_key_problem("alerts.gatway_down_minutes")  # the check can fail
    spans = inline_code(GUIDE.read_text(encoding="utf-8"))
    keys = {
        span
        for span in spans
        if re.fullmatch(r"[a-z_]+(\.[a-z_]+)+", span)
        and span.split(".")[0] in Settings.model_fields
    }
    assert len(keys) >= 8, keys
    assert [p for key in sorted(keys) if (p := config_key_problem(key))] == []


def test_the_deploy_files_the_guide_installs_are_there() -> None:
    text = GUIDE.read_text(encoding="utf-8")
    named = set(re.findall(r"/opt/gridbot/deploy/([\w.-]+)", text))
    assert {unit.name for unit in UNITS} | {LOGROTATE.name, WRAPPER.name} <= named
    assert [name for name in sorted(named) if not (DEPLOY / name).is_file()] == []


# --- deploy/ ----------------------------------------------------------------------------------


def _directives(unit: Path) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for line in unit.read_text(encoding="utf-8").splitlines():
        if "=" in line and not line.startswith(("#", "[")):
            key, value = line.split("=", 1)
            found.setdefault(key.strip(), []).append(value.strip())
    return found


def test_the_units_the_wrapper_and_logrotate_agree_on_paths() -> None:
    log_glob = LOGROTATE.read_text(encoding="utf-8").split("{", 1)[0].split()[-1]
    for unit in UNITS:
        d = _directives(unit)
        (exec_start,) = d["ExecStart"]
        argv = shlex.split(exec_start)
        assert argv[0] == INSTALLED, unit.name
        assert argv[argv.index("--config") + 1] == CONFIG, unit.name
        assert d["User"] == d["Group"] == ["gridbot"], unit.name
        assert d["WorkingDirectory"] == [STATE_DIR], unit.name
        assert d["Environment"].count(f"GRIDBOT_CACHE_DIR={CACHE_DIR}") == 1, unit.name
        assert d["StateDirectory"] == d["CacheDirectory"] == d["LogsDirectory"] == ["gridbot"]
        logs = {v.removeprefix("append:") for v in d["StandardOutput"] + d["StandardError"]}
        assert len(logs) == 1, unit.name
        (log,) = logs
        assert Path(log).match(log_glob), (log, log_glob)
        assert Path(log).parent == Path(LOG_DIR)
        assert d["Restart"] == ["on-failure"], unit.name
        for hardening in ("NoNewPrivileges", "PrivateTmp", "ProtectHome"):
            assert d[hardening] == ["yes"], (unit.name, hardening)
        assert d["ProtectSystem"] == ["strict"], unit.name
    bot = _directives(DEPLOY / "gridbot.service")
    assert bot["EnvironmentFile"] == [ENV_FILE]
    assert "--channel" in bot["ExecStart"][0]  # never the console on a service
    assert bot["ReadWritePaths"] == ["-/var/backups/gridbot"]
    # the console alone copies its 上报 to the 企业微信 robot: it reads the robot's address too
    assert _directives(DEPLOY / "gridbot-web.service")["EnvironmentFile"] == [ENV_FILE]
    wrapper = WRAPPER.read_text(encoding="utf-8")
    for path in (INSTALLED, CONFIG, STATE_DIR, CACHE_DIR):
        assert path in wrapper
    # the guide's street config backs up where the unit may write
    street = _street_config(GUIDE.read_text(encoding="utf-8"))
    assert f"-{street['backup']['dir']}" in bot["ReadWritePaths"]
    assert street["database"] == f"sqlite:///{STATE_DIR}/gridbot.db"  # in StateDirectory=


def _verify(folder: Path, *units: str) -> str:
    """What `systemd-analyze verify` says of the units (it exits 0 on unknown directives and
    values it can't parse, with a warning: those are problems too)."""
    run = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", *units],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    said = [
        line
        for line in (run.stdout + run.stderr).splitlines()
        if any(unit in line for unit in units) or str(folder) in line
    ]
    if run.returncode != 0:
        said.append(f"exit {run.returncode}: {run.stderr.strip()}")
    return "\n".join(said)


def _copy_units(folder: Path) -> list[str]:
    """The units with ExecStart pointing at this checkout's gridbot: verify wants it there."""
    if not _SCRIPT.exists():
        pytest.skip(f"no installed gridbot entry point at {_SCRIPT}")
    for unit in UNITS:
        text = unit.read_text(encoding="utf-8")
        assert INSTALLED in text
        (folder / unit.name).write_text(text.replace(INSTALLED, str(_SCRIPT)), encoding="utf-8")
    return [unit.name for unit in UNITS]


needs_systemd_analyze = pytest.mark.skipif(
    shutil.which("systemd-analyze") is None,
    reason="systemd-analyze is not installed here (Debian: apt-get install systemd)",
)


@needs_systemd_analyze
def test_the_units_pass_systemd_analyze_verify(tmp_path: Path) -> None:
    names = _copy_units(tmp_path)
    assert names == ["gridbot-web.service", "gridbot.service"]
    assert _verify(tmp_path, *names) == ""


@needs_systemd_analyze
def test_systemd_analyze_verify_finds_a_misspelt_directive(tmp_path: Path) -> None:
    _copy_units(tmp_path)
    unit = tmp_path / "gridbot.service"
    unit.write_text(unit.read_text().replace("ProtectSystem=strict", "ProtectSytem=strict"))
    assert "ProtectSytem" in _verify(tmp_path, "gridbot.service")


@needs_systemd_analyze
def test_the_units_stay_hardened(tmp_path: Path) -> None:
    names = _copy_units(tmp_path)
    for name in names:
        run = subprocess.run(
            ["systemd-analyze", "security", "--offline=yes", name],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        if "--offline" in run.stderr:
            pytest.skip(f"this systemd-analyze has no security --offline: {run.stderr.strip()}")
        found = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", run.stdout)
        assert found, run.stdout + run.stderr
        # 1.7 when written; 10 is a unit without any hardening
        assert float(found.group(1)) <= 2.5, (name, run.stdout)


@pytest.mark.skipif(shutil.which("logrotate") is None, reason="logrotate is not installed here")
def test_logrotate_rotates_the_units_log(tmp_path: Path) -> None:
    logs = tmp_path / "log"
    logs.mkdir()
    conf = tmp_path / "gridbot.logrotate"
    text = LOGROTATE.read_text(encoding="utf-8")
    assert f"{LOG_DIR}/" in text
    conf.write_text(text.replace(f"{LOG_DIR}/", f"{logs}/"), encoding="utf-8")
    (logs / "gridbot.log").write_text("2026-12-08 03:30:00,000 INFO bot.app: line\n")
    run = subprocess.run(
        ["logrotate", "--force", "--state", str(tmp_path / "state"), str(conf)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    # copied and emptied in place: the file systemd holds open goes on being written
    assert (logs / "gridbot.log").read_text() == ""
    rotated = [p for p in logs.iterdir() if p.name.startswith("gridbot.log-")]
    assert [p.read_text() for p in rotated] == ["2026-12-08 03:30:00,000 INFO bot.app: line\n"]


@pytest.mark.skipif(not _SCRIPT.exists(), reason=f"no installed gridbot entry point at {_SCRIPT}")
def test_the_wrapper_runs_gridbot_with_the_streets_config_in_its_folder(tmp_path: Path) -> None:
    state, cache = tmp_path / "lib", tmp_path / "cache"
    state.mkdir()
    config = tmp_path / "gridbot.yaml"
    street = _street_config(GUIDE.read_text(encoding="utf-8"))
    street["database"] = "sqlite:///gridbot.db"  # relative: in the folder the wrapper enters
    config.write_text(yaml.safe_dump(street, allow_unicode=True), encoding="utf-8")
    text = WRAPPER.read_text(encoding="utf-8")
    swaps = {
        # as root it becomes the gridbot user first; here, whoever runs the tests goes on
        'if [ "$(id -u)" = 0 ]; then\n    exec runuser -u gridbot': "if false; then\n    exec",
        INSTALLED: str(_SCRIPT),
        CONFIG: str(config),
        STATE_DIR: str(state),
        CACHE_DIR: str(cache),
    }
    for old, new in swaps.items():
        assert old in text, old
        text = text.replace(old, new)
    wrapper = tmp_path / "gridbot"
    wrapper.write_text(text, encoding="utf-8")
    wrapper.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRIDBOT_")}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(wrapper), *args],
            cwd="/",
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    checked = run("check-config")
    assert checked.returncode == 0, checked.stderr
    assert checked.stdout.startswith("config OK: 3 grid(s), 3 leader(s), 1 admin(s)")
    assert run("db", "upgrade").returncode == 0
    assert (state / "gridbot.db").exists()  # its folder, not the caller's
    current = run("db", "current")
    assert "(up to date)" in current.stdout, current.stderr


# --- the guide, end to end (the test gateway standing in for a provider's) ------------------


def _world(folder: Path, settings: Settings, people: dict[str, str]) -> Path:
    everyone = ["wxid_gridbot_street", *people]
    rooms = [g.room for g in settings.grids]
    assert settings.escalation.room is not None
    world = {
        "self": {"id": "wxid_gridbot_street", "name": settings.bot.name},
        "contacts": [{"id": cid, "name": name} for cid, name in people.items()],
        "rooms": [
            {
                "id": f"{30001 + i}@chatroom",
                "topic": topic,
                "owner": settings.admins[0],
                "members": everyone,
            }
            for i, topic in enumerate([*rooms, settings.escalation.room])
        ],
        "autoLogin": True,
        "echoSelf": True,
    }
    path = folder / "world.json"
    path.write_text(json.dumps(world, ensure_ascii=False), encoding="utf-8")
    return path


def _guide_config_here(tmp_path: Path, web_port: int) -> Path:
    """The guide's street config, its files and its console's port moved to this test's."""
    street = deep_merge(
        _street_config(GUIDE.read_text(encoding="utf-8")),
        {
            "database": f"sqlite:///{tmp_path}/gridbot.db",
            "backup": {"dir": str(tmp_path / "backups")},
            "web": {"port": web_port},
        },
    )
    config = tmp_path / "gridbot.yaml"
    config.write_text(yaml.safe_dump(street, allow_unicode=True), encoding="utf-8")
    return config


async def _healthy(status: Any, web_port: int) -> None:
    """`gridbot status` exits 0 within a minute, and then /healthz answers 200."""
    for _ in range(60):
        run = await asyncio.to_thread(status)
        if run.returncode == 0:
            break
        await asyncio.sleep(1)
    assert run.returncode == 0, run.stdout + run.stderr
    async with httpx.AsyncClient() as client:
        health = await client.get(f"http://127.0.0.1:{web_port}/healthz")
    assert health.status_code == 200, health.text
    assert health.json()["healthy"] is True


@pytest.mark.integration
async def test_the_guides_street_answers_in_its_group(gateway_ready: None, tmp_path: Path) -> None:
    web_port = harness.free_port()
    config = _guide_config_here(tmp_path, web_port)
    settings = load_settings(config)
    grid = settings.grids[0]
    admin, (leader,), resident = settings.admins[0], grid.leaders, "wxid_resident_zhang"
    people = {admin: "街道小陈", leader: "李明", resident: "张阿姨"}
    # the unit's own command line, on this config
    (exec_start,) = _directives(DEPLOY / "gridbot.service")["ExecStart"]
    argv = shlex.split(exec_start)
    argv = [*GRIDBOT, *argv[1:]]
    argv[argv.index("--config") + 1] = str(config)
    env = {**os.environ, "GRIDBOT_CACHE_DIR": str(tmp_path / "cache"), "PYTHONPATH": str(ROOT)}
    env.pop("GRIDBOT_WECOM_WEBHOOK", None)  # unset: alerts go to the log

    def gridbot(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*GRIDBOT, *args, "--config", str(config)],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    assert [gridbot(*c).returncode for c in (["check-config"], ["db", "upgrade"])] == [0, 0]
    async with harness.Gateway(world=_world(tmp_path, settings, people)) as gw:
        with (tmp_path / "gridbot.log").open("wb") as log:
            proc = await asyncio.create_subprocess_exec(
                *argv,
                env={**env, **gw.sdk_env()},
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                cwd=tmp_path,
            )
        try:
            await gw.wait_for("client", state="connected", within=60)
            # 第 5 节: a resident's /帮助, a leader's /状态
            await gw.say(resident, "/帮助", room=grid.room)
            helped = await gw.next_sent(within=30)
            assert (helped["room"], helped["mentions"]) == (grid.room, [resident])
            assert "可用命令" in helped["text"]
            await gw.say(leader, "/状态", room=grid.room)
            status_reply = await gw.next_sent(within=30)
            assert f"{grid.name}（{grid.code}）" in status_reply["text"]
            # 第 6 节: /成员 answered privately, gridbot members on the command line
            await gw.say(admin, "/成员", room=grid.room)
            listed = await gw.next_sent(within=30)
            assert (listed["to"], listed["room"]) == (admin, None)
            assert resident in listed["text"]
            members = await asyncio.to_thread(gridbot, "members", "--grid", grid.code)
            assert resident in members.stdout, members.stderr
            # 第 5 and 12 节: healthy once the account's heartbeat is in
            await _healthy(lambda: gridbot("status"), web_port)
            proc.send_signal(signal.SIGTERM)
            assert await asyncio.wait_for(proc.wait(), 30) == 0
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
    logged = (tmp_path / "gridbot.log").read_text(encoding="utf-8", errors="replace")
    # what 第 5 and 13 节 say the log shows
    assert "wechaty: online as wxid_gridbot_street" in logged
    assert f"room '30001@chatroom' bound to grid {grid.code}" in logged
    assert "Traceback" not in logged
    assert gw.token not in logged
