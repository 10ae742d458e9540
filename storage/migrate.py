"""Alembic, driven from code: `gridbot db upgrade` and the embedded-SQLite auto-upgrade.

Developers make a new revision after changing storage/models.py with
``python -m storage.migrate revision "what changed"`` (it autogenerates against a scratch
SQLite database upgraded to head); read and fix the generated file before committing it.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, inspect, text

from storage.db import create_db_engine

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
# The newest revision in migrations/versions (a test checks it against alembic's reading).
# Known here, a start learns that the schema is current with one query, without importing
# alembic and loading every revision (a fifth of a bot's start): alembic is imported only
# when there is something to upgrade.
HEAD = "0016"


def _config(engine: Engine) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["engine"] = engine
    return cfg


def head_revision() -> str | None:
    """The newest revision, as alembic reads the migrations."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory(str(MIGRATIONS_DIR)).get_current_head()


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at, None for an empty one."""
    with engine.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return None
        return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


def is_up_to_date(engine: Engine) -> bool:
    return current_revision(engine) == HEAD


def upgrade(engine: Engine, revision: str = "head") -> None:
    from alembic import command

    command.upgrade(_config(engine), revision)


def upgrade_if_behind(engine: Engine) -> bool:
    """Upgrade to the newest revision unless the database is there; whether it upgraded."""
    if is_up_to_date(engine):
        return False
    upgrade(engine)
    return True


def downgrade(engine: Engine, revision: str) -> None:
    from alembic import command

    command.downgrade(_config(engine), revision)


def _make_revision(message: str) -> None:
    from alembic import command

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
