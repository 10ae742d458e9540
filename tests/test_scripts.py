"""scripts/test.sh and the test gateway's npm packages: a fresh clone's run must leave the
clone as it was (issue 18 item 9: `npm install` rewrote 134 lines of the tracked
tests/gateway/package-lock.json)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.gateway import harness

ROOT = Path(__file__).resolve().parents[1]
TEST_SH = ROOT / "scripts" / "test.sh"


def _npm_commands(script: str) -> list[str]:
    """The npm subcommands a shell script runs (comments and messages aside)."""
    commands = []
    for line in script.splitlines():
        code = line.split("#", 1)[0]
        if re.search(r"\b(echo|printf|say)\b", code):
            continue
        commands += re.findall(r"(?<![\w-])npm\s+([a-z-]+)", code)
    return commands


def test_test_sh_installs_the_gateway_from_the_lock_file_as_it_is() -> None:
    # `npm ci` installs the lock file and never writes it; `npm install` re-resolves and may.
    assert _npm_commands(TEST_SH.read_text(encoding="utf-8")) == ["ci"]


def test_the_harness_installs_with_npm_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    ran: list[list[str]] = []

    def run(argv: list[str], **_kwargs: Any) -> subprocess.CompletedProcess[str]:
        ran.append(argv)
        return subprocess.CompletedProcess(argv, 0, "", "")

    installed = iter([False, True])  # missing before the install, there after it
    monkeypatch.setattr(harness, "node_modules_installed", lambda: next(installed))
    monkeypatch.setattr(harness, "check_node", lambda: "node")
    monkeypatch.setattr(shutil, "which", lambda name: f"/usr/bin/{name}")
    monkeypatch.setattr(subprocess, "run", run)
    harness.ensure_node_modules()
    assert [argv[1] for argv in ran] == ["ci"]


def test_the_lock_file_is_complete_for_npm_ci(tmp_path: Path) -> None:
    """`npm ci` refuses a lock file that lacks any package `package.json` asks for, even
    other platforms' optional builds it would never fetch: checked offline, nothing fetched."""
    npm = shutil.which("npm")
    if npm is None:
        pytest.skip("npm is not installed")
    for name in ("package.json", "package-lock.json"):
        shutil.copy(harness.GATEWAY_DIR / name, tmp_path / name)
    lock = (tmp_path / "package-lock.json").read_bytes()
    result = subprocess.run(
        [npm, "ci", "--dry-run", "--offline", "--ignore-scripts", "--no-audit", "--no-fund",
         "--cache", str(tmp_path / "cache"), "--loglevel=error"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert (tmp_path / "package-lock.json").read_bytes() == lock
