from __future__ import annotations

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
