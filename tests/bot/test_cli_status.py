"""`gridbot status` (bot/cli_status.py): exit 0 when healthy, 1 when not, human or JSON."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.cli import EXIT_FAILED, EXIT_OK, main
from storage import accounts as account_store
from storage.db import Database


@pytest.fixture
def url(tmp_path: Path) -> str:
    """A database at the current schema, one account logged in a minute ago (real time: the
    command reads the system clock)."""
    url = f"sqlite:///{tmp_path}/gridbot.db"
    assert main(["db", "upgrade", "--db", url]) == EXIT_OK
    beat(url, datetime.now(UTC) - timedelta(minutes=1))
    return url


def beat(url: str, at: datetime) -> None:
    db = Database.from_url(url)
    try:
        with db.session() as session:
            account_store.set_rooms(session=session, account="wxid_bot", rooms={"r1": "G"}, at=at)
            session.commit()
    finally:
        db.dispose()


def test_healthy_is_exit_0_with_a_line_per_check(
    url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    assert main(["status", "--db", url]) == EXIT_OK
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith(f"gridbot healthy ({url}, ")
    assert [line.split()[:2] for line in out[1:]] == [
        ["database", "ok"],
        ["migrations", "ok"],
        ["accounts", "ok"],
        ["outbox", "ok"],
        ["messages", "ok"],
    ]
    assert "wxid_bot online" in out[3]


def test_json_is_what_healthz_answers(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    beat(url, datetime.now(UTC) - timedelta(minutes=10))  # its process stopped
    capsys.readouterr()
    assert main(["status", "--json", "--db", url]) == EXIT_FAILED
    found = json.loads(capsys.readouterr().out)
    assert found["healthy"] is False
    assert found["checks"]["accounts"]["ok"] is False
    assert found["checks"]["accounts"]["accounts"][0]["online"] is False
    assert found["checks"]["database"] == {"ok": True, "detail": "reachable"}


def test_no_database_is_unhealthy_and_none_is_made(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "missing.db"
    assert main(["status", "--db", f"sqlite:///{path}"]) == EXIT_FAILED
    out = capsys.readouterr().out
    assert out.startswith("gridbot NOT HEALTHY")
    assert f"database   FAIL  no database at {path}" in out
    assert not path.exists()


def test_a_server_that_cannot_be_reached_is_unhealthy(
    capsys: pytest.CaptureFixture[str],
) -> None:
    url = "postgresql+psycopg://nobody:secret@127.0.0.1:1/none?connect_timeout=2"
    assert main(["status", "--json", "--db", url]) == EXIT_FAILED
    out = capsys.readouterr().out
    found = json.loads(out)
    assert found["checks"]["database"]["ok"] is False
    assert "secret" not in out
