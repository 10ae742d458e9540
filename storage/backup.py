"""Backups of the bot's database and their restoring (`gridbot backup`, `gridbot restore`, the
daily backup job).

SQLite is copied with its online backup API: one step reads a consistent snapshot while the
bot goes on writing (WAL lets readers and the writer pass each other), into a file of its own
(no -wal beside it). PostgreSQL is dumped with `pg_dump` in its custom format and restored
with `pg_restore`; their major version must not be older than the server's, which pg_dump
would refuse with a longer story. A backup is written under a temporary name in its folder and
renamed when complete, so a file with a backup's name is a whole backup; it is readable by its
owner only, as the database is.
"""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, inspect, literal, select, table, text
from sqlalchemy.engine import URL, make_url

from storage.db import create_db_engine, reporting_failures, shown_url, sqlite_path

__all__ = [
    "BackupError",
    "backup",
    "check_file",
    "default_path",
    "nonempty_tables",
    "prune",
    "restore",
]

SQLITE_SUFFIX, PG_SUFFIX = ".db", ".dump"
_SQLITE_MAGIC = b"SQLite format 3\x00"
_PG_MAGIC = b"PGDMP"
# gridbot-20261122-033000.db: what `default_path` names, and all that `prune` deletes
_NAME = re.compile(r"^\.?gridbot-(\d{8}-\d{6})(?:\.db|\.dump)(?:\.[A-Za-z0-9_]+\.partial)?$")
_STAMP = "%Y%m%d-%H%M%S"
# A schema's own rows: a database `gridbot db upgrade` just made holds nothing else.
_SCHEMA_ROWS = frozenset({"alembic_version", "counter"})
_TOLD_FIRST = {name: i for i, name in enumerate(("inbound_message", "ticket", "points_entry"))}
_VERSION = re.compile(r"\(PostgreSQL\)\s+(\d+)")


class BackupError(Exception):
    """Why a backup or a restore could not be made, in one line for the operator.

    ``cannot_run``: the command can't run here as things are (a program missing or too old,
    a file of the other database's kind), rather than failed while running."""

    def __init__(self, message: str, *, cannot_run: bool = False) -> None:
        super().__init__(message)
        self.cannot_run = cannot_run


def _is_sqlite(url: str | URL) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def default_path(folder: Path, url: str | URL, at: datetime) -> Path:
    """Where a backup of ``url`` made at ``at`` (local time) goes in ``folder``."""
    suffix = SQLITE_SUFFIX if _is_sqlite(url) else PG_SUFFIX
    return folder / f"gridbot-{at.strftime(_STAMP)}{suffix}"


def backup(url: str | URL, out: Path) -> int:
    """Back the database at ``url`` up into ``out`` (replaced if there); its size in bytes."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with _partial(out) as partial:
        if _is_sqlite(url):
            _sqlite_backup(_sqlite_file(url), partial)
        else:
            _pg_dump(make_url(url), partial)
    return out.stat().st_size


@contextmanager
def _partial(out: Path) -> Iterator[Path]:
    """A private file beside ``out``, renamed to it if the block succeeds, else removed. Its
    name is unique: two processes backing up at the same moment don't write into one."""
    fd, name = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".partial", dir=out.parent)
    os.close(fd)  # mkstemp made it 0600: residents' messages are in it
    partial = Path(name)
    try:
        yield partial
        os.replace(partial, out)
    finally:
        partial.unlink(missing_ok=True)


def _sqlite_file(url: str | URL) -> Path:
    path = sqlite_path(make_url(url))
    if path is None:
        raise BackupError("an in-memory database can't be backed up", cannot_run=True)
    if not path.exists():
        raise BackupError(f"no database at {path}", cannot_run=True)
    return path


def _sqlite_error(exc: sqlite3.Error, path: Path) -> BackupError:
    return BackupError(f"{path}: {exc}")


def _sqlite_backup(path: Path, out: Path) -> None:
    try:
        source = sqlite3.connect(path, timeout=30)
        try:
            target = sqlite3.connect(out)
            try:
                # All pages in one step: one read transaction, so a consistent snapshot;
                # in steps, each write of the bot would restart the copy.
                source.backup(target)
                # One self-contained file: a copy in WAL mode would want its -wal beside it.
                target.execute("PRAGMA journal_mode=DELETE")
            finally:
                target.close()
        finally:
            source.close()
    except sqlite3.Error as exc:
        raise _sqlite_error(exc, path) from None


def _check_sqlite_file(file: Path) -> None:
    """That ``file`` is a whole SQLite database, before anything is overwritten with it."""
    try:
        connection = sqlite3.connect(f"{file.resolve().as_uri()}?mode=ro", uri=True)
        try:
            result = connection.execute("PRAGMA quick_check").fetchone()
        finally:
            connection.close()
    except sqlite3.Error as exc:
        raise BackupError(f"{file} is not a usable SQLite backup: {exc}") from None
    if result is None or result[0] != "ok":
        problem = result[0] if result else "no answer"
        raise BackupError(f"{file} is damaged (SQLite's quick_check: {problem})")


def _sqlite_restore(file: Path, url: str | URL) -> None:
    path = sqlite_path(make_url(url))
    if path is None:
        raise BackupError("can't restore into an in-memory database", cannot_run=True)
    if path.exists() and path.resolve() == file.resolve():
        raise BackupError(f"{file} is the database itself", cannot_run=True)
    _check_sqlite_file(file)
    if not path.exists():
        create_db_engine(make_url(url)).dispose()  # the file, private, as the bot makes it
    try:
        source = sqlite3.connect(f"{file.resolve().as_uri()}?mode=ro", uri=True)
        try:
            target = sqlite3.connect(path, timeout=30)
            try:
                # Through SQLite's locking, not a file copy: a process that has the database
                # open sees the restored one, not a file pulled from under it.
                source.backup(target)
            finally:
                target.close()
        finally:
            source.close()
    except sqlite3.Error as exc:
        raise _sqlite_error(exc, path) from None


def check_file(file: Path, url: str | URL) -> None:
    """That ``file`` is a backup of the kind the database at ``url`` is restored from."""
    try:
        with file.open("rb") as handle:
            head = handle.read(len(_SQLITE_MAGIC))
    except OSError as exc:
        raise BackupError(f"can't read {file}: {exc.strerror or exc}", cannot_run=True) from None
    sqlite = _is_sqlite(url)
    if head.startswith(_SQLITE_MAGIC if sqlite else _PG_MAGIC):
        return
    if head.startswith(_PG_MAGIC if sqlite else _SQLITE_MAGIC):
        kinds = ("a PostgreSQL dump", "SQLite") if sqlite else ("a SQLite file", "PostgreSQL")
        raise BackupError(
            f"{file} is {kinds[0]}: it can't be restored into a {kinds[1]} database",
            cannot_run=True,
        )
    raise BackupError(
        f"{file} is no backup of gridbot's (neither a SQLite file nor a pg_dump custom archive)",
        cannot_run=True,
    )


def restore(file: Path, url: str | URL) -> None:
    """Replace the database at ``url`` with the backup ``file``."""
    check_file(file, url)
    if _is_sqlite(url):
        _sqlite_restore(file, url)
    else:
        _pg_restore(file, make_url(url))


def nonempty_tables(url: str | URL) -> list[str]:
    """The tables of the database at ``url`` that hold rows (a schema's own aside); [] for
    none, and for a SQLite file that isn't there (it is not created)."""
    if _is_sqlite(url):
        path = sqlite_path(make_url(url))
        if path is None or not path.exists():
            return []
    engine = create_db_engine(url)
    try:
        with engine.connect() as conn:
            names = [n for n in inspect(conn).get_table_names() if n not in _SCHEMA_ROWS]
            found = [
                name
                for name in sorted(names)
                if conn.execute(select(literal(1)).select_from(table(name)).limit(1)).first()
            ]
    finally:
        engine.dispose()
    # what an operator recognises first: residents' messages, tickets, points
    return sorted(found, key=lambda name: (_TOLD_FIRST.get(name, len(_TOLD_FIRST)), name))


def prune(folder: Path, *, before: datetime, tz: ZoneInfo, keep: Path) -> list[Path]:
    """Delete the backups in ``folder`` named as made before ``before`` (and what stopped
    backups left there then), except ``keep``; the files deleted. Other files are not
    touched: only names ``default_path`` gives are a backup's."""
    deleted: list[Path] = []
    try:
        entries = sorted(folder.iterdir())
    except FileNotFoundError:
        return deleted
    for path in entries:
        match = _NAME.match(path.name)
        if match is None or path == keep or not path.is_file():
            continue
        made = datetime.strptime(match.group(1), _STAMP).replace(tzinfo=tz)
        if made < before:
            path.unlink(missing_ok=True)
            deleted.append(path)
    return deleted


# --- PostgreSQL ---------------------------------------------------------------------------


def _libpq(url: URL) -> tuple[str, dict[str, str]]:
    """The connection string for pg_dump and pg_restore, and the environment that carries
    the password (not on their command line, which every user of the machine can read)."""
    params: dict[str, str] = {}
    for key, value in url.query.items():  # ?host=/run/postgresql, ?sslmode=require, …
        params[key] = value if isinstance(value, str) else value[-1]
    given = {"host": url.host, "port": url.port, "user": url.username, "dbname": url.database}
    params.update({key: str(value) for key, value in given.items() if value})
    env = dict(os.environ)
    if url.password is not None:
        env["PGPASSWORD"] = str(url.password)
    conninfo = " ".join(f"{key}={_quoted(value)}" for key, value in params.items())
    return conninfo, env


def _quoted(value: str) -> str:
    """A value of a libpq connection string: quoted, its quotes and backslashes escaped."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _program(name: str, server: int | None) -> str:
    found = shutil.which(name)
    client = f"postgresql-client-{server}" if server else "postgresql-client"
    if found is None:
        raise BackupError(
            f"{name} not found: install PostgreSQL's client programs of the server's version "
            f"or newer (Debian/Ubuntu: apt install {client}) or put them on PATH",
            cannot_run=True,
        )
    if server is not None:
        ours = _major(found)
        if ours is not None and ours < server:
            raise BackupError(
                f"{found} is version {ours}, older than the server (PostgreSQL {server}): "
                f"install the client programs of version {server} or newer "
                f"(Debian/Ubuntu: apt install {client}) and put them first on PATH",
                cannot_run=True,
            )
    return found


def _major(program: str) -> int | None:
    try:
        out = subprocess.run(
            [program, "--version"], capture_output=True, text=True, timeout=30, check=False
        ).stdout
    except OSError:
        return None
    match = _VERSION.search(out)
    return int(match.group(1)) if match else None


def _server_major(url: URL) -> int:
    with reporting_failures(url):
        engine: Engine = create_db_engine(url)
        try:
            with engine.connect() as conn:
                number = int(conn.execute(text("SHOW server_version_num")).scalar_one())
        finally:
            engine.dispose()
    # 150004 is 15.4; before 10, 90624 was 9.6.24 (older than any client that could matter)
    return number // 10000


def _run(args: list[str], env: dict[str, str], what: str) -> str:
    """Run a PostgreSQL client program; what it wrote on stdout."""
    done = subprocess.run(args, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        # its last words say why; the lines before are context ("pg_dump: error: …")
        lines = [line.strip() for line in done.stderr.splitlines() if line.strip()]
        reason = lines[-1] if lines else f"exit code {done.returncode}"
        raise BackupError(f"{what} failed: {reason}")
    return done.stdout


def _pg_dump(url: URL, out: Path) -> None:
    program = _program("pg_dump", _server_major(url))
    conninfo, env = _libpq(url)
    # Without owners and grants: it restores into a server whose roles have other names.
    _run(
        [program, "--format=custom", "--no-owner", "--no-acl", f"--file={out}",
         f"--dbname={conninfo}"],
        env,
        f"pg_dump of {shown_url(url)}",
    )  # fmt: skip


def _pg_restore(file: Path, url: URL) -> None:
    program = _program("pg_restore", None)
    conninfo, env = _libpq(url)
    # Read through first: a file that is no whole archive changes nothing.
    listing = _run([program, "--list", str(file)], env, f"reading {file}")
    archived = {(m.group(1), m.group(2)) for m in _ARCHIVED_TABLE.finditer(listing)}
    # One transaction: a restore that fails leaves the database as it was.
    _run(
        [program, "--clean", "--if-exists", "--no-owner", "--no-acl", "--single-transaction",
         f"--dbname={conninfo}", str(file)],
        env,
        f"pg_restore into {shown_url(url)}",
    )  # fmt: skip
    _drop_tables_not_in(archived, url)


# A table in `pg_restore --list`: "215; 1259 16386 TABLE public ticket owner"
_ARCHIVED_TABLE = re.compile(r"^\d+; \d+ \d+ TABLE (\S+) (\S+)(?: |$)", re.MULTILINE)


def _drop_tables_not_in(archived: set[tuple[str, str]], url: URL) -> None:
    """Drop the tables the backup doesn't have. --clean replaces only what the archive holds:
    a backup from before an upgrade, restored over the upgraded database, would leave the newer
    release's tables beside an older schema version, and `gridbot db upgrade` would then fail
    to create them."""
    schemas = {schema for schema, _name in archived}
    engine = create_db_engine(url)
    try:
        with engine.begin() as conn:
            inspector = inspect(conn)
            for schema in sorted(schemas):
                for name in inspector.get_table_names(schema=schema):
                    if (schema, name) not in archived:
                        quoted = conn.dialect.identifier_preparer.quote
                        conn.execute(text(f"DROP TABLE {quoted(schema)}.{quoted(name)} CASCADE"))
    finally:
        engine.dispose()
