from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect
from sqlmodel import SQLModel, select

import storage.models  # noqa: F401  (the tables)
from storage import examples, migrate
from storage.db import Database
from storage.models import ExampleSource, Grid, Ticket


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


def test_0012_adds_the_training_examples_to_a_database_with_tickets(db_url: str) -> None:
    db = Database.from_url(db_url)
    migrate.upgrade(db.engine, "0011")
    at = datetime(2026, 11, 22, 1, 0, tzinfo=UTC)
    # the tables as 0011 left them (grid and ticket have not changed since)
    with db.engine.begin() as conn:
        conn.execute(sa.insert(Grid).values(code="G03", name="三", room_topic="三群"))
        conn.execute(
            sa.insert(Ticket).values(
                id=1, grid_code="G03", reporter_id="wxid_a", reporter_name="A",
                text="路灯坏了", category="facility", keywords=[], created_at=at, due_at=at,
            )
        )  # fmt: skip
    migrate.upgrade(db.engine)
    assert migrate.is_up_to_date(db.engine)
    with db.session() as s:
        examples.add(
            session=s,
            text="路灯坏了",
            is_request=True,
            category="environment",
            source=ExampleSource.RECLASSIFY,
            grid_code="G03",
            contact_id="wxid_leader_li",
            at=at,
            ticket_id=1,
        )
        s.commit()
        assert s.exec(select(Ticket.text)).all() == ["路灯坏了"]
        assert [r["category"] for r in examples.rows(session=s)] == ["environment"]
    migrate.downgrade(db.engine, "0011")
    assert "training_example" not in inspect(db.engine).get_table_names()
    with db.session() as s:
        assert s.exec(select(Ticket.text)).all() == ["路灯坏了"]
    db.dispose()
