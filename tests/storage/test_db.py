from __future__ import annotations

from pathlib import Path

from sqlalchemy import text, update
from sqlalchemy.engine import make_url

from storage import migrate
from storage.db import Database, create_db_engine, sqlite_path
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
