"""Alembic, driven from code: `gridbot db upgrade` and the embedded-SQLite auto-upgrade.

Developers make a new revision after changing storage/models.py with
``python -m storage.migrate revision "what changed"`` (it autogenerates against a scratch
SQLite database upgraded to head); read and fix the generated file before committing it.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

from storage.db import create_db_engine

MIGRATIONS_DIR = Path(__file__).with_name("migrations")


def _config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["engine"] = engine
    return cfg


def head_revision() -> str | None:
    return ScriptDirectory(str(MIGRATIONS_DIR)).get_current_head()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def is_up_to_date(engine: Engine) -> bool:
    return current_revision(engine) == head_revision()


def upgrade(engine: Engine, revision: str = "head") -> None:
    command.upgrade(_config(engine), revision)


def downgrade(engine: Engine, revision: str) -> None:
    command.downgrade(_config(engine), revision)


def _make_revision(message: str) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        engine = create_db_engine(f"sqlite:///{scratch}/scratch.db")
        upgrade(engine)
        command.revision(_config(engine), message=message, autogenerate=True)
        engine.dispose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="GridBot migration tools for developers")
    sub = parser.add_subparsers(dest="cmd", required=True)
    rev = sub.add_parser("revision", help="autogenerate a revision from storage/models.py")
    rev.add_argument("message")
    args = parser.parse_args()
    _make_revision(args.message)
