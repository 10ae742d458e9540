"""`gridbot backup` and `gridbot restore`: backup → destroy → restore gives the same database,
and `gridbot points verify` says the same, on SQLite and on PostgreSQL."""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import MetaData, inspect, select, text
from sqlalchemy.engine import make_url

from bot.cli import EXIT_FAILED, EXIT_OK, EXIT_USAGE, main
from storage import migrate
from storage.db import Database
from tests.auxil.postgres import PostgresServer, find_bin_dir

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
ROOM = "幸福社区第3网格"


@pytest.fixture
def url(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    """An empty database on each backend (the server's own pg_dump first on PATH)."""
    monkeypatch.delenv("GRIDBOT_CONFIG", raising=False)
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/gridbot.db"
        return
    server: PostgresServer = request.getfixturevalue("pg_server")
    monkeypatch.setenv("PATH", f"{find_bin_dir()}{os.pathsep}{os.environ.get('PATH', '')}")
    name = server.create_database()
    yield server.url(name)
    server.drop_database(name)


both = pytest.mark.parametrize("url", ["sqlite", "postgresql"], indirect=True)


def with_points(url: str) -> None:
    """The points example (awards, a penalty, redemptions) replayed into ``url``."""
    assert main(["db", "upgrade", "--db", url]) == EXIT_OK
    assert main(["replay", str(EXAMPLES / "points.jsonl"), "--db", url]) == EXIT_OK


def rows(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, in primary key order."""
    db = Database.from_url(url)
    try:
        meta = MetaData()
        meta.reflect(db.engine)
        with db.engine.connect() as conn:
            return {
                name: [tuple(r) for r in conn.execute(select(t).order_by(*t.primary_key))]
                for name, t in sorted(meta.tables.items())
            }
    finally:
        db.dispose()


def verified(capsys: pytest.CaptureFixture[str], url: str) -> str:
    capsys.readouterr()
    assert main(["points", "verify", "--db", url]) == EXIT_OK
    return capsys.readouterr().out


def destroy(url: str) -> None:
    """The database lost: the SQLite file gone, the server's schema dropped."""
    path = make_url(url).database or ""
    if url.startswith("sqlite"):
        for suffix in ("", "-wal", "-shm"):
            Path(path + suffix).unlink(missing_ok=True)
        return
    db = Database.from_url(url)
    with db.engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    db.dispose()


@both
def test_backup_destroy_restore_gives_the_same_database(
    url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with_points(url)
    before, verify = rows(url), verified(capsys, url)
    assert "all agree" in verify
    assert before["points_entry"]  # something to lose
    out = tmp_path / "saved" / ("b.db" if url.startswith("sqlite") else "b.dump")
    capsys.readouterr()
    assert main(["backup", "--db", url, "--out", str(out)]) == EXIT_OK
    said = capsys.readouterr().out
    assert said.startswith("backed up ")
    assert f" to {out} (" in said

    destroy(url)
    assert main(["restore", str(out), "--db", url]) == EXIT_OK
    assert (
        capsys.readouterr()
        .out.splitlines()[-1]
        .endswith(f"schema at {migrate.HEAD}, current is {migrate.HEAD} (up to date)")
    )
    assert rows(url) == before
    assert verified(capsys, url) == verify
    # the database goes on from where it was (on a server: its sequences came back too)
    more = tmp_path / "more.jsonl"
    event = {"ts": "2026-12-01T10:00:00+08:00", "room": ROOM, "from": "wxid_leader_li",
             "name": "李网格长", "text": "/加分 @张阿姨 志愿服务 扫雪", "id": "more-1",
             "mentions": ["wxid_resident_zhang"]}  # fmt: skip
    more.write_text(json.dumps(event, ensure_ascii=False) + "\n", encoding="utf-8")
    assert main(["replay", str(more), "--db", url]) == EXIT_OK
    after = rows(url)
    assert len(after["points_entry"]) == len(before["points_entry"]) + 1
    assert "all agree" in verified(capsys, url)


@both
def test_restore_over_data_needs_force(
    url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with_points(url)
    before = rows(url)
    out = tmp_path / "b.backup"
    assert main(["backup", "--db", url, "--out", str(out)]) == EXIT_OK
    db = Database.from_url(url)
    with db.engine.begin() as conn:  # the database moves on after the backup
        conn.execute(text("DELETE FROM points_notice"))
        conn.execute(text("UPDATE grid SET name = '改过的名字'"))
    db.dispose()
    changed = rows(url)
    capsys.readouterr()
    assert main(["restore", str(out), "--db", url]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("gridbot restore: ")
    assert "holds data (inbound_message, points_entry, " in err
    assert err.endswith("stop the bot and add --force to do so\n")
    assert rows(url) == changed
    assert main(["restore", str(out), "--db", url, "--force"]) == EXIT_OK
    assert rows(url) == before


def test_a_backup_of_an_older_schema_says_to_upgrade(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old = f"sqlite:///{tmp_path}/old.db"
    db = Database.from_url(old)
    migrate.upgrade(db.engine, "0013")
    db.dispose()
    out = tmp_path / "old-backup.db"
    assert main(["backup", "--db", old, "--out", str(out)]) == EXIT_OK
    target = f"sqlite:///{tmp_path}/new.db"
    capsys.readouterr()
    assert main(["restore", str(out), "--db", target]) == EXIT_OK
    assert capsys.readouterr().out.splitlines()[-1] == (
        f"{target}: schema at 0013, current is {migrate.HEAD} (needs `gridbot db upgrade`)"
    )


@both
def test_a_backup_from_before_an_upgrade_restored_over_it_upgrades_again(
    url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The upgrade went wrong, the backup made before it goes back: the newer release's
    tables go too, or upgrading again would fail to make them."""
    db = Database.from_url(url)
    migrate.upgrade(db.engine, "0013")
    db.dispose()
    out = tmp_path / "before-upgrade.backup"
    assert main(["backup", "--db", url, "--out", str(out)]) == EXIT_OK
    assert main(["db", "upgrade", "--db", url]) == EXIT_OK
    capsys.readouterr()
    assert main(["restore", str(out), "--db", url, "--force"]) == EXIT_OK
    assert (
        capsys.readouterr()
        .out.splitlines()[-1]
        .endswith(f"schema at 0013, current is {migrate.HEAD} (needs `gridbot db upgrade`)")
    )
    db = Database.from_url(url)
    assert "retention_progress" not in inspect(db.engine).get_table_names()  # 0014's
    db.dispose()
    assert main(["db", "upgrade", "--db", url]) == EXIT_OK
    db = Database.from_url(url)
    assert migrate.current_revision(db.engine) == migrate.HEAD
    db.dispose()


def test_a_backup_from_a_newer_release_is_restored_and_said_to_be(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    newer = tmp_path / "newer.db"
    db = Database.from_url(f"sqlite:///{newer}")
    migrate.upgrade(db.engine)
    db.dispose()
    with sqlite3.connect(newer) as conn:
        conn.execute("UPDATE alembic_version SET version_num = '0099'")
    conn.close()
    target = f"sqlite:///{tmp_path}/bot.db"
    capsys.readouterr()
    assert main(["restore", str(newer), "--db", target]) == EXIT_FAILED
    # the restore's record on gridbot.audit, then why it can't be used
    first, last = capsys.readouterr().err.splitlines()
    assert first.endswith(f"INFO gridbot.audit: database {target} restored from {newer}")
    assert last == (
        f"gridbot restore: the restored schema is at 0099, which this gridbot (schema "
        f"{migrate.HEAD}) does not know: the backup is from a newer release, run it"
    )


def test_backup_names_its_file_in_the_configured_folder_and_never_overwrites(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # the folder is relative to the working directory
    config = tmp_path / "city.yaml"
    config.write_text(
        "database: sqlite:///gridbot.db\n"
        "grids: [{code: G03, name: 三网格, room: 三群}]\n"
        "backup: {dir: saved/daily}\n",
        encoding="utf-8",
    )
    assert main(["db", "upgrade", "--config", str(config)]) == EXIT_OK
    capsys.readouterr()
    assert main(["backup", "--config", str(config)]) == EXIT_OK
    [made] = (tmp_path / "saved" / "daily").iterdir()
    assert made.name.startswith("gridbot-")
    assert made.suffix == ".db"
    assert f" to saved/daily/{made.name} (" in capsys.readouterr().out
    assert main(["backup", "--config", str(config), "--out", str(made)]) == EXIT_USAGE
    assert capsys.readouterr().err == (
        f"gridbot backup: {made} is there already: give another file\n"
    )
    assert main(["backup", "--config", str(config), "--out", "gridbot.db"]) == EXIT_USAGE


def test_backup_of_no_database_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "none.db"
    assert main(["backup", "--db", f"sqlite:///{missing}", "--out", str(tmp_path / "b")]) == (
        EXIT_USAGE
    )
    assert capsys.readouterr().err == f"gridbot backup: no database at {missing}\n"
    assert not missing.exists()


def test_restore_of_the_wrong_kind_changes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dump = tmp_path / "city.dump"
    dump.write_bytes(b"PGDMP" + b"\x00" * 64)
    target = tmp_path / "bot.db"
    assert main(["restore", str(dump), "--db", f"sqlite:///{target}", "--force"]) == EXIT_USAGE
    assert capsys.readouterr().err == (
        f"gridbot restore: {dump} is a PostgreSQL dump: it can't be restored into a SQLite "
        "database\n"
    )
    assert not target.exists()


@pytest.mark.parametrize("url", ["postgresql"], indirect=True)
def test_pg_backup_without_pg_dump_exits_2_in_one_line(
    url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert main(["db", "upgrade", "--db", url]) == EXIT_OK
    monkeypatch.setenv("PATH", str(tmp_path))
    capsys.readouterr()
    assert main(["backup", "--db", url, "--out", str(tmp_path / "b.dump")]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert err.startswith("gridbot backup: pg_dump not found: install PostgreSQL's client ")
    assert err.count("\n") == 1


@pytest.mark.parametrize("args", [["restore"], ["backup", "--out"], ["restore", "f", "--bogus"]])
def test_a_malformed_use_exits_2(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(args)
    assert caught.value.code == EXIT_USAGE
    assert "usage: gridbot" in capsys.readouterr().err
