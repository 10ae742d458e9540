from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text, update
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError

from storage import migrate
from storage.db import (
    Database,
    UnusableDatabase,
    create_db_engine,
    reporting_failures,
    sqlite_path,
)
from storage.grids import GridSpec, sync_grids
from storage.models import Grid


def test_sqlite_is_private_wal_and_enforces_foreign_keys(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "bot.db"
    engine = create_db_engine(f"sqlite:///{path}")
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert conn.execute(text("PRAGMA busy_timeout")).scalar() == 10000
    engine.dispose()


def test_an_existing_file_keeps_its_mode(tmp_path: Path) -> None:
    path = tmp_path / "bot.db"
    path.touch(mode=0o640)
    path.chmod(0o640)
    create_db_engine(f"sqlite:///{path}").dispose()
    assert oct(path.stat().st_mode & 0o777) == "0o640"


def test_sqlite_path() -> None:
    assert sqlite_path(make_url("sqlite:///a/b.db")) == Path("a/b.db")
    assert sqlite_path(make_url("sqlite://")) is None
    assert sqlite_path(make_url("sqlite:///:memory:")) is None
    assert sqlite_path(make_url("postgresql+psycopg://u@h/db")) is None


def test_database_sessions_work_on_each_backend(db: Database) -> None:
    with db.session() as session:
        assert session.exec(text("SELECT 1")).scalar() == 1  # type: ignore[call-overload]


def test_commits_that_wrote_a_table_are_counted_per_process_and_url(db_url: str) -> None:
    db = Database.from_url(db_url)
    migrate.upgrade(db.engine)
    other = Database.from_url(db_url)  # a second object on the same database sees the count
    try:
        before = db.commits("grid")
        with db.session() as s:
            sync_grids(session=s, specs=[GridSpec("G03", "三", "三群")])  # ORM rows
            s.commit()
            assert db.commits("grid") == other.commits("grid") == before + 1
            s.execute(update(Grid).values(name="三（新）"))  # DML through the session
            s.commit()
            assert db.commits("grid") == before + 2
            s.execute(update(Grid).values(name="x"))
            s.rollback()  # what did not commit is not counted
            s.commit()
        assert db.commits("grid") == before + 2
        assert db.commits("outbound_message", "member") == other.commits("outbound_message")
    finally:
        other.dispose()
        db.dispose()


def test_a_database_that_cannot_be_opened_is_said_in_one_line(tmp_path: Path) -> None:
    """Issue 18 item 7: the driver's traceback reached the operator."""
    server = "postgresql+psycopg://bot:secret@127.0.0.1:1/city"
    with pytest.raises(UnusableDatabase) as caught, reporting_failures(server):
        Database.from_url(server).engine.connect()
    message = str(caught.value)
    assert message.startswith("can't open the database postgresql+psycopg://bot:***@127.0.0.1")
    assert "\n" not in message
    assert "secret" not in message
    assert "Connection refused" in message
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"\x00garbage" * 512)
    with (
        pytest.raises(UnusableDatabase, match="file is not a database"),
        reporting_failures(f"sqlite:///{junk}"),
    ):
        Database.from_url(f"sqlite:///{junk}").engine.connect()
    # a file where the folder must be: creating the database file fails
    with (
        pytest.raises(UnusableDatabase, match=r"^can't create the database sqlite:///.*junk"),
        reporting_failures(f"sqlite:///{junk}/bot.db"),
    ):
        Database.from_url(f"sqlite:///{junk}/bot.db")


def test_errors_past_opening_are_not_dressed_up(tmp_path: Path) -> None:
    # a constraint broken by a migration is a bug: its traceback is wanted
    url = f"sqlite:///{tmp_path}/bot.db"
    db = Database.from_url(url)
    with db.engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (x INTEGER UNIQUE)"))
        conn.execute(text("INSERT INTO t VALUES (1)"))
    with pytest.raises(IntegrityError), reporting_failures(url), db.engine.begin() as conn:
        conn.execute(text("INSERT INTO t VALUES (1)"))
    db.dispose()


def test_listeners_hear_each_commit_and_rollback_until_stopped(db: Database) -> None:
    heard: list[str] = []
    stop_commits = db.listen("after_commit", lambda session: heard.append("commit"))
    stop_rollbacks = db.listen("after_rollback", lambda session: heard.append("rollback"))
    with db.session() as session:
        session.execute(text("SELECT 1"))
        session.commit()
        session.execute(text("SELECT 1"))
        session.rollback()
    stop_commits()
    stop_rollbacks()
    with db.session() as session:
        session.execute(text("SELECT 1"))
        session.commit()
    assert heard == ["commit", "rollback"]
