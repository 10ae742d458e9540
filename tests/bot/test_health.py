"""bot.health on both databases: each check, and the report of a database that can't be
reached."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from bot.clock import ManualClock
from bot.events import Outbound
from bot.health import FORGET_ACCOUNT_AFTER, online, report
from bot.outbox import queue_outbound
from bot.settings import Settings
from storage import accounts as account_store
from storage import inbox
from storage.db import Database
from storage.models import MessageStatus
from tests.auxil.web import add_grids
from tests.conftest import SETTINGS


def serving(db: Database, account: str, at: datetime, rooms: tuple[str, ...] = ("r1",)) -> None:
    """``account`` logged in at ``at`` in ``rooms`` (what the WeChat channel writes)."""
    with db.session() as session:
        account_store.set_rooms(
            session=session, account=account, rooms={r: r for r in rooms}, at=at
        )
        session.commit()


def store_message(db: Database, at: datetime, *, handled: bool, n: int = 1) -> None:
    with db.session() as session:
        inbox.store(
            session=session,
            values={
                "key": f"k{n}",
                "room_id": "r1",
                "room_topic": "幸福社区第3网格",
                "sender_id": "wxid_a",
                "sender_name": "张阿姨",
                "type": "text",
                "text": "你好",
                "mentions": [],
                "sent_at": at,
                "received_at": at,
                "status": MessageStatus.HANDLED if handled else MessageStatus.PENDING,
                "handled_at": at if handled else None,
            },
        )
        session.commit()


def test_a_bot_serving_as_it_should_is_healthy(
    db: Database, settings: Settings, clock: ManualClock
) -> None:
    now = clock.now()
    serving(db, "wxid_bot", now - timedelta(minutes=1))
    store_message(db, now - timedelta(minutes=30), handled=True)
    found = report(settings, db, now)
    assert found["healthy"] is True
    assert found["at"] == "2026-11-22T09:00:00+08:00"
    checks = found["checks"]
    assert list(checks) == ["database", "migrations", "accounts", "outbox", "messages"]
    assert all(check["ok"] for check in checks.values())
    assert checks["accounts"]["accounts"] == [
        {"account": "wxid_bot", "online": True, "last_seen": "2026-11-22T08:59:00+08:00"}
    ]
    assert checks["accounts"]["detail"] == "wxid_bot online (seen 60 s ago)"
    assert checks["messages"]["last_handled"] == "2026-11-22T08:30:00+08:00"
    assert checks["messages"]["detail"] == "last handled 30 min ago; none waiting"


def test_an_account_without_a_recent_heartbeat_is_offline(
    db: Database, settings: Settings, clock: ManualClock
) -> None:
    start = clock.now()
    serving(db, "wxid_east", start, rooms=("r1", "r2"))
    serving(db, "wxid_west", start)
    later = start + timedelta(minutes=4)  # three minutes without a heartbeat: offline
    with db.session() as session:
        account_store.heartbeat(session=session, account="wxid_east", at=later)
        session.commit()
    found = report(settings, db, later)
    accounts = found["checks"]["accounts"]
    assert found["healthy"] is False
    assert accounts["ok"] is False
    assert [(a["account"], a["online"]) for a in accounts["accounts"]] == [
        ("wxid_east", True),
        ("wxid_west", False),
    ]
    assert (
        accounts["detail"] == "wxid_east online (seen 0 s ago); wxid_west OFFLINE (seen 4 min ago)"
    )
    # an account not seen for a week was replaced: no longer counted
    gone = start + FORGET_ACCOUNT_AFTER + timedelta(minutes=1)
    with db.session() as session:
        account_store.heartbeat(session=session, account="wxid_east", at=gone)
        session.commit()
    assert report(settings, db, gone)["checks"]["accounts"]["ok"] is True


def test_no_account_at_all_is_unhealthy(
    db: Database, settings: Settings, clock: ManualClock
) -> None:
    accounts = report(settings, db, clock.now())["checks"]["accounts"]
    assert accounts["ok"] is False
    assert accounts["detail"] == (
        "no WeChat account has served on this database in the last 7 days"
    )


def test_the_outbox_behind_by_the_threshold_is_unhealthy(db: Database, clock: ManualClock) -> None:
    data = copy.deepcopy(SETTINGS) | {"alerts": {"outbox_backlog": 3, "outbox_late_minutes": 5}}
    settings = Settings.model_validate(data)
    now = clock.now()
    serving(db, "wxid_bot", now)
    add_grids(db, settings)
    with db.session() as session:
        late = [Outbound(text=f"回复 {i}", to="wxid_a") for i in range(3)]
        queue_outbound(session, late[:2], now=now - timedelta(minutes=6))
        queue_outbound(session, late[2:], now=now - timedelta(minutes=1))
        session.commit()
    outbox = report(settings, db, now)["checks"]["outbox"]
    assert outbox["ok"] is True  # two late, one due a minute ago
    assert (outbox["late"], outbox["pending"]) == (2, 3)
    with db.session() as session:
        queue_outbound(session, late[:1], now=now - timedelta(minutes=5))
        session.commit()
    outbox = report(settings, db, now)["checks"]["outbox"]
    assert outbox["ok"] is False
    assert outbox["late"] == 3
    assert outbox["oldest_due"] == "2026-11-22T08:54:00+08:00"
    assert outbox["detail"] == (
        "3 message(s) unsent 5 min after due (unhealthy from 3); 4 waiting in all"
    )


def test_messages_stuck_unhandled_or_none_for_hours_are_unhealthy(
    db: Database, clock: ManualClock
) -> None:
    data = copy.deepcopy(SETTINGS) | {"alerts": {"handled_within_hours": 12}}
    settings = Settings.model_validate(data)
    now = clock.now()
    serving(db, "wxid_bot", now)
    messages = report(settings, db, now)["checks"]["messages"]
    assert messages["ok"] is False
    assert messages["detail"] == "none handled yet; none handled in the last 12 h"
    store_message(db, now - timedelta(hours=1), handled=True)
    store_message(db, now - timedelta(minutes=11), handled=False, n=2)
    messages = report(settings, db, now)["checks"]["messages"]
    assert messages["ok"] is False
    assert messages["waiting"] == 1
    assert "1 message(s) received over 10 min ago still unhandled" in messages["detail"]


def test_an_old_schema_is_unhealthy(db: Database, settings: Settings, clock: ManualClock) -> None:
    serving(db, "wxid_bot", clock.now())
    with db.engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '0001'"))
    found = report(settings, db, clock.now())
    assert found["healthy"] is False
    migrations = found["checks"]["migrations"]
    assert migrations["current"] == "0001"
    assert "run `gridbot db upgrade`" in migrations["detail"]
    assert found["checks"]["accounts"]["ok"] is True  # the rest is still checked


def test_a_database_that_cannot_be_reached(settings: Settings, clock: ManualClock) -> None:
    db = Database.from_url("postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=2")
    try:
        found = report(settings, db, clock.now())
    finally:
        db.dispose()
    assert found["healthy"] is False
    assert found["checks"]["database"]["ok"] is False
    assert found["checks"]["database"]["detail"].startswith("unreachable: ")
    assert found["checks"]["outbox"] == {
        "ok": False,
        "detail": "not checked: the database can't be read",
    }


def test_online_is_one_rule_for_the_report_and_the_grids_page() -> None:
    settings = Settings.model_validate(copy.deepcopy(SETTINGS))
    stale = timedelta(minutes=settings.alerts.account_stale_minutes)
    now = datetime(2026, 11, 22, 9, tzinfo=UTC)
    assert online(settings, now - stale, now)
    assert not online(settings, now - stale - timedelta(seconds=1), now)
