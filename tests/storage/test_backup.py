from __future__ import annotations

import os
import re
import sqlite3
import stat
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.engine import make_url

from storage import backup, migrate
from storage.backup import BackupError
from storage.db import Database
from tests.auxil.postgres import PostgresServer, find_bin_dir

TZ = ZoneInfo("Asia/Shanghai")
AT = datetime(2026, 11, 22, 3, 30, tzinfo=TZ)


def sqlite_file(path: Path, rows: int = 3) -> str:
    """A SQLite database in WAL mode, as the bot keeps it, with ``rows`` rows."""
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("CREATE TABLE t (n INTEGER)")
        conn.executemany("INSERT INTO t VALUES (?)", [(n,) for n in range(rows)])
    conn.close()
    return f"sqlite:///{path}"


def count(path: Path) -> int:
    conn = sqlite3.connect(path)
    try:
        found: int = conn.execute("SELECT count(*) FROM t").fetchone()[0]
        return found
    finally:
        conn.close()


def test_default_path_names_the_time_and_the_kind(tmp_path: Path) -> None:
    assert backup.default_path(tmp_path, "sqlite:///x.db", AT) == tmp_path / (
        "gridbot-20261122-033000.db"
    )
    pg = "postgresql+psycopg://u:p@h/db"
    assert backup.default_path(tmp_path, pg, AT).name == "gridbot-20261122-033000.dump"


def test_a_sqlite_backup_is_one_private_file_and_a_snapshot_while_a_writer_writes(
    tmp_path: Path,
) -> None:
    source = tmp_path / "bot.db"
    url = sqlite_file(source, rows=0)
    stop = threading.Event()

    def write() -> None:  # the bot, writing two rows per transaction all along
        conn = sqlite3.connect(source, timeout=30)
        try:
            while not stop.is_set():
                with conn:
                    conn.executemany("INSERT INTO t VALUES (?)", [(1,), (2,)])
        finally:
            conn.close()

    writer = threading.Thread(target=write)
    writer.start()
    try:
        while count(source) < 200:
            pass
        outs = [tmp_path / "out" / f"b{i}.db" for i in range(3)]
        sizes = [backup.backup(url, out) for out in outs]
    finally:
        stop.set()
        writer.join()
    for out, size in zip(outs, sizes, strict=True):
        assert out.stat().st_size == size
        assert stat.S_IMODE(out.stat().st_mode) == 0o600
        # a transaction is in a backup whole or not at all
        assert count(out) % 2 == 0
        assert count(out) >= 200
        conn = sqlite3.connect(out)
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("delete",)
        conn.close()
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["b0.db", "b1.db", "b2.db"]


def test_a_failed_backup_leaves_no_file(tmp_path: Path) -> None:
    not_a_db = tmp_path / "bot.db"
    not_a_db.write_bytes(b"x" * 4096)
    with pytest.raises(BackupError, match=r"bot\.db: file is not a database"):
        backup.backup(f"sqlite:///{not_a_db}", tmp_path / "out" / "b.db")
    assert list((tmp_path / "out").iterdir()) == []
    with pytest.raises(BackupError, match="no database at") as missing:
        backup.backup(f"sqlite:///{tmp_path}/none.db", tmp_path / "out" / "b.db")
    assert missing.value.cannot_run
    assert not (tmp_path / "none.db").exists()


def test_restore_replaces_the_database_under_a_connection_that_has_it_open(
    tmp_path: Path,
) -> None:
    url = sqlite_file(tmp_path / "bot.db", rows=3)
    saved = tmp_path / "saved.db"
    backup.backup(url, saved)
    with sqlite3.connect(tmp_path / "bot.db") as conn:
        conn.execute("DELETE FROM t")
    conn.close()
    reader = sqlite3.connect(tmp_path / "bot.db")
    try:
        assert reader.execute("SELECT count(*) FROM t").fetchone() == (0,)
        backup.restore(saved, url)
        assert reader.execute("SELECT count(*) FROM t").fetchone() == (3,)
        # still the bot's WAL database
        assert reader.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    finally:
        reader.close()
    # into a file that is not there yet: made private, as the bot makes it
    fresh = tmp_path / "new" / "fresh.db"
    backup.restore(saved, f"sqlite:///{fresh}")
    assert count(fresh) == 3
    assert stat.S_IMODE(fresh.stat().st_mode) == 0o600


def test_a_damaged_backup_is_refused_before_anything_is_overwritten(tmp_path: Path) -> None:
    url = sqlite_file(tmp_path / "bot.db", rows=3)
    big = sqlite_file(tmp_path / "big.db", rows=5000)
    cut = tmp_path / "cut.db"
    data = Path(make_url(big).database or "").read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(BackupError, match=r"cut\.db"):
        backup.restore(cut, url)
    assert count(tmp_path / "bot.db") == 3


def test_a_backup_of_the_other_kind_or_none_is_refused(tmp_path: Path) -> None:
    url = sqlite_file(tmp_path / "bot.db")
    dump = tmp_path / "x.dump"
    dump.write_bytes(b"PGDMP\x01\x0e\x00" + b"\x00" * 100)
    text = tmp_path / "notes.txt"
    text.write_text("hello", encoding="utf-8")
    cases = [
        (dump, url, "x.dump is a PostgreSQL dump: it can't be restored into a SQLite database"),
        (tmp_path / "bot.db", "postgresql+psycopg://u@h/db",
         "bot.db is a SQLite file: it can't be restored into a PostgreSQL database"),
        (text, url, "notes.txt is no backup of gridbot's"),
        (tmp_path / "none.db", url, "can't read"),
        (tmp_path / "bot.db", url, "bot.db is the database itself"),
    ]  # fmt: skip
    for file, target, message in cases:
        with pytest.raises(BackupError, match=re.escape(message)) as caught:
            backup.restore(file, target)
        assert caught.value.cannot_run
    assert count(tmp_path / "bot.db") == 3


def test_prune_deletes_only_old_backups(tmp_path: Path) -> None:
    names = [
        "gridbot-20261101-033000.db",  # old
        "gridbot-20261108-032959.dump",  # a second before the limit
        ".gridbot-20261108-032959.db.k3j_x9.partial",  # an old run's leftover
        "gridbot-20261108-033000.db",  # at the limit
        "gridbot-20261122-033000.db",  # the one just made
        "gridbot.db",  # not a backup's name
        "gridbot-2026.db",
        "notes.txt",
    ]
    for name in names:
        (tmp_path / name).write_bytes(b"")
    keep = tmp_path / "gridbot-20261122-033000.db"
    before = AT - timedelta(days=14)
    deleted = backup.prune(tmp_path, before=before, tz=TZ, keep=keep)
    assert sorted(p.name for p in deleted) == sorted(names[:3])
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(names[3:])
    assert backup.prune(tmp_path / "none", before=before, tz=TZ, keep=keep) == []


def test_nonempty_tables_names_what_holds_rows(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/bot.db"
    assert backup.nonempty_tables(url) == []
    assert not (tmp_path / "bot.db").exists()  # not made by asking
    db = Database.from_url(url)
    migrate.upgrade(db.engine)
    db.dispose()
    assert backup.nonempty_tables(url) == []  # a new schema's own rows are no data
    with sqlite3.connect(tmp_path / "bot.db") as conn:
        conn.execute("INSERT INTO grid (code, name, room_topic, active) VALUES ('G', 'g', 'r', 1)")
    conn.close()
    assert backup.nonempty_tables(url) == ["grid"]


def test_the_password_goes_in_the_environment_not_the_command_line() -> None:
    url = make_url("postgresql+psycopg://bot:s3cr%27t@db.example:6543/grid%20bot?sslmode=require")
    conninfo, env = backup._libpq(url)
    assert conninfo == (
        "sslmode='require' host='db.example' port='6543' user='bot' dbname='grid bot'"
    )
    assert env["PGPASSWORD"] == "s3cr't"
    socket = make_url("postgresql+psycopg://bot@/gridbot?host=/run/postgresql")
    assert backup._libpq(socket)[0] == "host='/run/postgresql' user='bot' dbname='gridbot'"
    assert backup._quoted("a'b\\c") == "'a\\'b\\\\c'"


# --- PostgreSQL ---------------------------------------------------------------------------


@pytest.fixture
def pg_url(pg_server: PostgresServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A database at the current schema, with the server's own pg_dump first on PATH."""
    bin_dir = find_bin_dir()
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
    name = pg_server.create_database()
    url = pg_server.url(name)
    db = Database.from_url(url)
    migrate.upgrade(db.engine)
    db.dispose()
    yield url
    pg_server.drop_database(name)


def test_a_pg_dump_restores_into_an_empty_database(
    pg_url: str, pg_server: PostgresServer, tmp_path: Path
) -> None:
    db = Database.from_url(pg_url)
    with db.engine.begin() as conn:
        conn.exec_driver_sql("INSERT INTO grid (code, name, room_topic, active) "
                             "VALUES ('G03', '三', '三群', true)")  # fmt: skip
    db.dispose()
    out = tmp_path / "b.dump"
    assert backup.backup(pg_url, out) > 0
    assert out.read_bytes().startswith(b"PGDMP")
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    target = pg_server.url(pg_server.create_database())
    assert backup.nonempty_tables(target) == []
    backup.restore(out, target)
    assert backup.nonempty_tables(target) == ["grid"]
    restored = Database.from_url(target)
    assert migrate.current_revision(restored.engine) == migrate.HEAD
    restored.dispose()


def _fake_program(folder: Path, name: str, version: str) -> None:
    folder.mkdir(exist_ok=True)
    script = folder / name
    script.write_text(f"#!/bin/sh\necho '{name} (PostgreSQL) {version}'\n", encoding="utf-8")
    script.chmod(0o755)


def test_pg_dump_missing_or_older_than_the_server_is_said_in_one_line(
    pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = backup._server_major(make_url(pg_url))
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    with pytest.raises(BackupError) as missing:
        backup.backup(pg_url, tmp_path / "b.dump")
    assert missing.value.cannot_run
    assert str(missing.value) == (
        "pg_dump not found: install PostgreSQL's client programs of the server's version or "
        f"newer (Debian/Ubuntu: apt install postgresql-client-{server}) or put them on PATH"
    )
    old = tmp_path / "old"
    _fake_program(old, "pg_dump", "9.6.24")
    monkeypatch.setenv("PATH", str(old))
    with pytest.raises(BackupError) as older:
        backup.backup(pg_url, tmp_path / "b.dump")
    assert older.value.cannot_run
    assert str(older.value) == (
        f"{old}/pg_dump is version 9, older than the server (PostgreSQL {server}): install the "
        f"client programs of version {server} or newer (Debian/Ubuntu: apt install "
        f"postgresql-client-{server}) and put them first on PATH"
    )
    assert "\n" not in str(older.value)
    assert not list(tmp_path.glob("*.dump")) + list(tmp_path.glob(".*partial"))


def test_a_failing_pg_restore_says_why_and_changes_nothing(pg_url: str, tmp_path: Path) -> None:
    broken = tmp_path / "broken.dump"
    broken.write_bytes(b"PGDMP" + b"\x00" * 50)
    with pytest.raises(BackupError, match=r"^reading .*broken\.dump failed: pg_restore: error"):
        backup.restore(broken, pg_url)
    db = Database.from_url(pg_url)
    assert migrate.current_revision(db.engine) == migrate.HEAD
    db.dispose()
