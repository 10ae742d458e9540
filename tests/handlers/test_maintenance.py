from __future__ import annotations

import copy
import sqlite3
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.app import App
from bot.clock import ManualClock
from bot.settings import Settings
from handlers import maintenance
from storage.db import Database
from storage.retention import PURGED_TEXT
from tests.auxil.chat import LEADER, RESIDENT, Chat
from tests.conftest import SETTINGS, TZ

START = datetime(2026, 11, 22, 9, 0, tzinfo=TZ)


def settings_with(**sections: Any) -> Settings:
    data = copy.deepcopy(SETTINGS)
    data.update(sections)
    return Settings.model_validate(data)


@pytest.fixture
def backups(request: pytest.FixtureRequest, tmp_path: Path) -> Path | None:
    """The backup folder; "blocked": one that can't be made (a file is in the way); "off":
    no daily backups."""
    param = getattr(request, "param", None)
    if param == "off":
        return None
    if param == "blocked":
        (tmp_path / "a-file").write_text("", encoding="utf-8")
        return tmp_path / "a-file" / "backups"
    return tmp_path / "backups"


@pytest.fixture
def settings(backups: Path | None) -> Settings:
    if backups is None:
        return settings_with()
    return settings_with(backup={"enabled": True, "dir": str(backups), "keep_days": 2})


def names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
def alerts() -> Iterator[list[str]]:
    """What the scheduled jobs told the operations alert."""
    told: list[str] = []

    async def alert(text: str) -> None:
        told.append(text)

    maintenance.set_failure_alert(alert)
    yield told
    maintenance.set_failure_alert(None)


def test_the_jobs_follow_the_config() -> None:
    plain = settings_with()
    assert [spec.id for spec in maintenance.jobs(plain)] == [maintenance.PURGE]  # no backups
    both = settings_with(backup={"enabled": True})
    assert [spec.id for spec in maintenance.jobs(both)] == [maintenance.BACKUP, maintenance.PURGE]
    assert maintenance.jobs(settings_with(retention={"cron": None})) == []
    off = {"mask_numbers_after_days": None, "archived_text_after_days": None}
    assert maintenance.jobs(settings_with(retention=off)) == []
    backup, _purge = maintenance.jobs(settings_with(backup={"enabled": True, "cron": "0 2 * * 0"}))
    assert backup.trigger.get_next_fire_time(None, START) == datetime(2026, 11, 29, 2, 0, tzinfo=TZ)


async def test_the_daily_backup_is_made_and_old_ones_deleted(
    app: App, clock: ManualClock, backups: Path, alerts: list[str]
) -> None:
    await app.advance(clock, START + timedelta(days=4))
    # 03:30 on the 23rd to the 26th; two days kept before the newest
    assert names(backups) == [
        "gridbot-20261124-033000.db",
        "gridbot-20261125-033000.db",
        "gridbot-20261126-033000.db",
    ]
    conn = sqlite3.connect(backups / "gridbot-20261126-033000.db")
    assert conn.execute("SELECT count(*) FROM grid").fetchone() == (2,)
    conn.close()
    assert alerts == []


async def test_a_backup_run_again_for_its_occurrence_makes_none(
    settings: Settings, sqlite_db: Database, backups: Path
) -> None:
    at = START.replace(hour=3, minute=30)
    first = await maintenance.run_backup(settings, sqlite_db.url, at)
    assert first == backups / "gridbot-20261122-033000.db"
    made = first.stat().st_mtime_ns
    assert await maintenance.run_backup(settings, sqlite_db.url, at) == first
    assert first.stat().st_mtime_ns == made


async def test_a_failed_backup_is_told_to_the_alert(
    sqlite_db: Database, tmp_path: Path, alerts: list[str]
) -> None:
    at = START.replace(hour=3, minute=30)
    missing = settings_with(backup={"enabled": True, "dir": str(tmp_path / "b")})
    told: list[str] = []

    async def broken_alert(text: str) -> None:
        told.append(text)
        raise RuntimeError("the robot is down")

    url = f"sqlite:///{tmp_path}/none.db"
    assert await maintenance.run_backup(missing, url, at, on_failure=broken_alert) is None
    assert told == [
        f"【网格助手】数据库备份失败（2026-11-22 03:30）：no database at {tmp_path}/none.db"
    ]


@pytest.mark.parametrize("backups", ["blocked"], indirect=True)
async def test_the_scheduled_backup_tells_the_configured_alert(
    app: App, clock: ManualClock, alerts: list[str]
) -> None:
    await app.advance(clock, START + timedelta(days=1))
    assert len(alerts) == 1
    assert alerts[0].startswith("【网格助手】数据库备份失败（2026-11-23 03:30）：")
    assert "a-file" in alerts[0]


@pytest.mark.parametrize("backups", ["off"], indirect=True)
async def test_the_daily_purge_masks_and_replaces_on_schedule(
    chat: Chat, app: App, clock: ManualClock, sqlite_db: Database
) -> None:
    await chat.say("3栋门口的路灯坏了好几天了，我电话13812345678", RESIDENT)
    await chat.say("/办结 1 路灯已更换", LEADER)
    await chat.say("满意", RESIDENT)
    await app.advance(clock, START + timedelta(days=100))
    # the defaults: 180 days for numbers, 365 for text; nothing is that old yet
    with sqlite_db.engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT text FROM ticket").scalar() == (
            "3栋门口的路灯坏了好几天了，我电话13812345678"
        )
    await app.advance(clock, START + timedelta(days=181))
    with sqlite_db.engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT text FROM ticket").scalar() == (
            "3栋门口的路灯坏了好几天了，我电话138****5678"
        )
    await app.advance(clock, START + timedelta(days=366))
    with sqlite_db.engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT text FROM ticket").scalar() == PURGED_TEXT


async def test_a_failed_purge_is_told_to_the_alert(sqlite_db: Database, alerts: list[str]) -> None:
    sqlite_db.dispose()
    with sqlite_db.engine.begin() as conn:  # a database the purge can't use
        conn.exec_driver_sql("DROP TABLE retention_progress")
    report = await maintenance.run_purge(
        settings_with(), sqlite_db, START, on_failure=maintenance._on_failure
    )
    assert report is None
    assert len(alerts) == 1
    assert alerts[0].startswith("【网格助手】个人信息定期清理失败：")
