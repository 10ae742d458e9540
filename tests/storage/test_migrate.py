from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect
from sqlmodel import SQLModel

import storage.models  # noqa: F401  (the tables)
from storage import migrate
from storage.db import Database


def test_upgrade_from_empty_reaches_head_and_matches_the_models(db_url: str) -> None:
    db = Database.from_url(db_url)
    assert migrate.current_revision(db.engine) is None
    migrate.upgrade(db.engine)
    assert migrate.current_revision(db.engine) == migrate.head_revision()
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        drift = compare_metadata(context, SQLModel.metadata)
    # A model changed without a migration shows up here.
    assert drift == []
    db.dispose()


def test_downgrade_to_nothing_and_up_again(db_url: str) -> None:
    db = Database.from_url(db_url)
    migrate.upgrade(db.engine)
    migrate.downgrade(db.engine, "base")
    assert set(inspect(db.engine).get_table_names()) <= {"alembic_version"}
    migrate.upgrade(db.engine)
    assert migrate.is_up_to_date(db.engine)
    db.dispose()


def test_upgrade_twice_is_harmless(db: Database) -> None:
    migrate.upgrade(db.engine)
    assert migrate.is_up_to_date(db.engine)


def test_the_head_known_to_the_code_is_alembics() -> None:
    # A new revision must move migrate.HEAD with it: starts compare the database to HEAD.
    assert migrate.head_revision() == migrate.HEAD


def test_upgrade_if_behind_upgrades_once(db_url: str) -> None:
    db = Database.from_url(db_url)
    assert migrate.upgrade_if_behind(db.engine)
    assert migrate.is_up_to_date(db.engine)
    assert not migrate.upgrade_if_behind(db.engine)
    db.dispose()


def test_a_start_on_a_current_database_does_not_load_alembic(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/gridbot.db"
    script = (
        "import sys\n"
        "from bot.app import open_database\n"
        f"open_database({url!r}).dispose()\n"
        "print('alembic' in sys.modules)\n"
    )
    runs = [
        subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
        for _ in range(2)
    ]
    # the first start makes the schema (alembic), the second finds it current
    assert [run.stdout.strip() for run in runs] == ["True", "False"]
