"""Building the engine from a database URL, and sessions on it.

The engine is made from settings and passed in; there is no module-level engine, so tests and
two bot instances in one process never share one by accident.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DatabaseError, InterfaceError, OperationalError
from sqlalchemy.orm import ORMExecuteState, sessionmaker
from sqlmodel import Session, create_engine


class UnusableDatabase(Exception):
    """The database can't be opened or reached: which one and why, in one line for the
    operator (the command exits with code 2)."""


def shown_url(url: str | URL) -> str:
    """``url`` as it may be printed: the password hidden."""
    return make_url(url).render_as_string(hide_password=True)


@contextmanager
def reporting_failures(url: str | URL) -> Iterator[None]:
    """Failures to open the database at ``url`` (a server down or refusing, a file that
    can't be created or is no database) raised as one :class:`UnusableDatabase` line, not a
    driver's traceback. Wrap the opening only: later errors are the bot's, not the URL's."""
    try:
        yield
    except (OperationalError, InterfaceError, DatabaseError) as exc:
        # DatabaseError itself: SQLite's "file is not a database". Its other kinds (a
        # constraint or SQL error in a migration) are bugs, whose traceback is wanted.
        if type(exc) is not DatabaseError and not isinstance(
            exc, (OperationalError, InterfaceError)
        ):
            raise
        if make_url(url).get_backend_name() == "sqlite":
            hint = "is it the bot's SQLite file, and may this user write to it?"
        else:
            hint = "check that the server runs and the URL in `database` or --db is right"
        # the driver's words, on one line: psycopg's run over two
        reason = " ".join(str(exc.orig or exc).split()) or type(exc.orig).__name__
        raise UnusableDatabase(
            f"can't open the database {shown_url(url)}: {reason} ({hint})"
        ) from None
    except OSError as exc:  # creating the SQLite file or its folder
        raise UnusableDatabase(
            f"can't create the database {shown_url(url)}: {exc.strerror or exc} "
            f"({exc.filename or 'its folder'})"
        ) from None


def sqlite_path(url: URL) -> Path | None:
    """The file behind a SQLite URL, or None for other backends and in-memory databases."""
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    return Path(url.database)


def _create_private_file(path: Path) -> None:
    # Residents' messages and phone numbers live in this file: readable by its owner only.
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o600)
    os.close(fd)


def _on_sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    # WAL lets readers (a second process, `gridbot points verify`) run beside the writer.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def _note_flushed(session: Session, _context: Any) -> None:
    # after_flush still sees the flushed objects as new, dirty or deleted.
    written = session.info.setdefault(_WRITTEN, set())
    for obj in (*session.new, *session.dirty, *session.deleted):
        table = getattr(obj, "__tablename__", None)
        written.add(table if isinstance(table, str) else _ANY_TABLE)


def _note_statement(state: ORMExecuteState) -> None:
    if not (state.is_insert or state.is_update or state.is_delete):
        return
    table = getattr(state.statement, "table", None)
    name = getattr(table, "name", None)
    state.session.info.setdefault(_WRITTEN, set()).add(
        name if isinstance(name, str) else _ANY_TABLE
    )


def insert_for(dialect: str) -> Callable[[Any], postgresql.Insert | sqlite.Insert]:
    """The INSERT of ``dialect``, PostgreSQL's or SQLite's (the two the bot runs on): both
    have ON CONFLICT, which SQLAlchemy's generic one lacks."""
    return postgresql.insert if dialect == "postgresql" else sqlite.insert


def note_written(session: Session, table: str) -> None:
    """Count ``table`` as written by ``session``'s transaction, for a write made past the ORM."""
    session.info.setdefault(_WRITTEN, set()).add(table)


def _forget_written(session: Session) -> None:
    session.info.pop(_WRITTEN, None)


def create_db_engine(url: str | URL) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        path = sqlite_path(parsed)
        if path is not None and not path.exists():
            _create_private_file(path)
        engine = create_engine(parsed, connect_args={"check_same_thread": False})
        event.listen(engine, "connect", _on_sqlite_connect)
        return engine
    return create_engine(parsed, pool_pre_ping=True)


_WRITTEN = "gridbot_written_tables"
_ANY_TABLE = "*"
# Per database URL, shared by every Database object of this process on it (tests and a
# restarted app in one process open the same file twice).
_COMMITS: dict[str, Counter[str]] = {}


class Database:
    """An engine and the sessions made on it.

    It counts, per table, the commits of this process's sessions that wrote to it (ORM rows
    or DML statements run through a session): a reader that caches what it last read (the
    outbox's next due time) knows from an unchanged count that nothing it cares about was
    written since, without asking the database. Writes by other processes are not counted:
    such a reader must still look at the database itself now and then.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessions = sessionmaker(engine, class_=Session, expire_on_commit=False)
        self._commits = _COMMITS.setdefault(engine.url.render_as_string(False), Counter())
        event.listen(self._sessions, "after_flush", _note_flushed)
        event.listen(self._sessions, "do_orm_execute", _note_statement)
        event.listen(self._sessions, "after_commit", self._count_commit)
        event.listen(self._sessions, "after_rollback", _forget_written)

    def commits(self, *tables: str) -> int:
        """How many committed transactions of this process wrote to any of ``tables``."""
        return self._commits[_ANY_TABLE] + sum(self._commits[table] for table in tables)

    def listen(self, name: str, listener: Callable[[Session], None]) -> Callable[[], None]:
        """Call ``listener(session)`` on the event ``name`` ("after_commit", "after_rollback")
        of every session of this database; returns what stops it."""
        event.listen(self._sessions, name, listener)
        return lambda: event.remove(self._sessions, name, listener)

    def _count_commit(self, session: Session) -> None:
        for table in session.info.pop(_WRITTEN, ()):
            self._commits[table] += 1

    @classmethod
    def from_url(cls, url: str | URL) -> Database:
        return cls(create_db_engine(url))

    @property
    def url(self) -> URL:
        return self.engine.url

    @contextmanager
    def session(self) -> Iterator[Session]:
        with self._sessions() as session:
            yield session

    def dispose(self) -> None:
        self.engine.dispose()
