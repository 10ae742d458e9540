from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import inspect

from bot.app import SchemaOutOfDate, build_app, open_database
from bot.clock import ManualClock
from bot.settings import Settings
from nlp.classifier import Classifier
from storage import migrate
from storage import outbox as outbox_store
from storage.db import Database
from storage.models import Grid, OutboundMessage
from tests.auxil.chat import RecordingSender
from tests.auxil.postgres import PostgresServer


def test_an_embedded_sqlite_database_is_created_at_the_current_schema(tmp_path: object) -> None:
    db = open_database(f"sqlite:///{tmp_path}/new.db")
    assert migrate.is_up_to_date(db.engine)
    assert "inbound_message" in inspect(db.engine).get_table_names()
    db.dispose()


def test_a_server_database_is_checked_not_upgraded(pg_server: PostgresServer) -> None:
    name = pg_server.create_database()
    try:
        with pytest.raises(SchemaOutOfDate, match="gridbot db upgrade"):
            open_database(pg_server.url(name))
        upgraded = Database.from_url(pg_server.url(name))
        migrate.upgrade(upgraded.engine)
        upgraded.dispose()
        db = open_database(pg_server.url(name))
        assert migrate.is_up_to_date(db.engine)
        db.dispose()
    finally:
        pg_server.drop_database(name)


def test_build_app_mirrors_config_grids_and_deactivates_dropped_ones(
    settings: Settings, clock: ManualClock, db: Database, classifier: Classifier
) -> None:
    build_app(settings, clock=clock, db=db, sender=RecordingSender(), classifier=classifier)
    with db.session() as s:
        s.get_one(Grid, "G03").room_id = "room@1"
        s.commit()
    fewer = settings.model_copy(update={"grids": settings.grids[:1]})
    build_app(fewer, clock=clock, db=db, sender=RecordingSender(), classifier=classifier)
    with db.session() as s:
        g03, g04 = s.get_one(Grid, "G03"), s.get_one(Grid, "G04")
    assert (g03.active, g03.room_id) == (True, "room@1")
    assert g04.active is False


async def test_advance_delivers_each_message_at_its_own_time(
    settings: Settings, clock: ManualClock, sqlite_db: Database, classifier: Classifier
) -> None:
    stamps: list[str] = []

    class StampingSender(RecordingSender):
        async def send(self, message: object) -> None:
            stamps.append(f"{clock.now():%H:%M} {message.text}")  # type: ignore[attr-defined]

    app = build_app(
        settings, clock=clock, db=sqlite_db, sender=StampingSender(), classifier=classifier
    )
    start = clock.now()
    with sqlite_db.session() as s:
        for minutes, text in [(30, "b"), (10, "a"), (90, "c")]:
            at = start + timedelta(minutes=minutes)
            outbox_store.enqueue(
                session=s,
                message=OutboundMessage(
                    room_topic="群", text=text, created_at=start, not_before=at
                ),
            )
        s.commit()
    await app.advance(clock, start + timedelta(hours=1))
    assert stamps == ["09:10 a", "09:30 b"]
    assert clock.now() == start + timedelta(hours=1)
    await app.advance(clock, start + timedelta(hours=2))
    assert stamps[-1] == "10:30 c"
