from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import pytest
from sqlmodel import select

from bot.cli import EXIT_OK, EXIT_USAGE, main
from storage import migrate
from storage.db import Database
from storage.models import ApiKey


@pytest.fixture
def url(tmp_path: Path) -> str:
    """An empty database of the demo config's grids (G03, G04), at the current schema."""
    db_url = f"sqlite:///{tmp_path}/gridbot.db"
    database = Database.from_url(db_url)
    migrate.upgrade(database.engine)
    database.dispose()
    return db_url


def _keys(url: str) -> list[ApiKey]:
    database = Database.from_url(url)
    try:
        with database.session() as session:
            return list(session.exec(select(ApiKey).order_by(ApiKey.id)).all())
    finally:
        database.dispose()


def test_create_prints_the_key_once_with_a_warning_and_keeps_its_hash(
    url: str, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    capsys.readouterr()
    with caplog.at_level(logging.INFO, logger="gridbot.audit"):
        code = main(["api-key", "create", "12345平台", "--grid", "G03", "--db", url])
    assert code == EXIT_OK
    out, err = capsys.readouterr()
    key = out.strip()
    assert key.startswith("gbk_")
    assert "\n" not in key  # stdout is the key alone, for a script to read
    assert "only time it is shown" in err
    [row] = _keys(url)
    assert row.key_hash == hashlib.sha256(key.encode()).hexdigest()
    assert (row.name, row.grids, row.prefix) == ("12345平台", ["G03"], key[:12])
    assert row.created_by.startswith("cli")
    # the audit line names the key by its prefix, never the key
    [record] = [r for r in caplog.records if r.name == "gridbot.audit"]
    assert row.prefix in record.getMessage()
    assert key not in record.getMessage()
    assert "grids G03" in record.getMessage()
    # list shows it without the key
    assert main(["api-key", "list", "--db", url]) == EXIT_OK
    listed = capsys.readouterr().out
    assert f"12345平台  {row.prefix}  live; grids G03;" in listed
    assert key not in listed
    assert "never used" in listed


def test_revoke_by_name_or_prefix_is_audited_and_a_name_is_free_again(
    url: str, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    assert main(["api-key", "create", "平安平台", "--db", url]) == EXIT_OK
    assert main(["api-key", "create", "12345平台", "--db", url]) == EXIT_OK
    # a second live key of one name is refused
    assert main(["api-key", "create", "12345平台", "--db", url]) == EXIT_USAGE
    assert "revoke it first" in capsys.readouterr().err
    first, second = _keys(url)
    with caplog.at_level(logging.INFO, logger="gridbot.audit"):
        assert main(["api-key", "revoke", "平安平台", "--db", url]) == EXIT_OK
        assert main(["api-key", "revoke", second.prefix, "--db", url]) == EXIT_OK
    lines = [
        r.getMessage()
        for r in caplog.records
        if r.name == "gridbot.audit" and "revoked" in r.getMessage()
    ]
    assert len(lines) == 2
    assert first.prefix in lines[0]
    assert second.prefix in lines[1]
    assert all("revoked by cli" in line for line in lines)
    assert all(k.revoked_at is not None for k in _keys(url))
    # nothing live to revoke any more
    assert main(["api-key", "revoke", "平安平台", "--db", url]) == EXIT_USAGE
    assert "no live key" in capsys.readouterr().err
    assert main(["api-key", "create", "12345平台", "--db", url]) == EXIT_OK
    assert main(["api-key", "list", "--db", url]) == EXIT_OK
    listed = capsys.readouterr().out.splitlines()
    assert [("revoked" in line, "live" in line) for line in listed[-3:]] == [
        (True, False), (True, False), (False, True),
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (["create", "平台", "--grid", "G99"], "no grid G99 in the config"),
        (["create", "gbk_x"], "must not start with gbk_"),
        (["create", " "], "must not be empty"),
        (["create", "x" * 65], "at most 64"),
    ],
)
def test_create_refuses_what_makes_no_key(
    url: str, argv: list[str], said: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["api-key", *argv, "--db", url]) == EXIT_USAGE
    assert said in capsys.readouterr().err
    assert _keys(url) == []


def test_no_database_is_said_and_none_is_made(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nothing.db"
    assert main(["api-key", "list", "--db", f"sqlite:///{missing}"]) == EXIT_USAGE
    assert "no database at" in capsys.readouterr().err
    assert not missing.exists()
