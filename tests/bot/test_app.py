from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import cast
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import inspect
from sqlmodel import select

from bot.app import App, SchemaOutOfDate, build_app, open_database
from bot.clock import ManualClock, SystemClock
from bot.events import Inbound
from bot.settings import Settings
from handlers import maintenance
from nlp.classifier import Classifier
from storage import accounts, migrate
from storage import outbox as outbox_store
from storage.db import Database
from storage.models import Grid, InboundMessage, OutboundMessage
from tests.auxil.chat import RecordingSender
from tests.auxil.postgres import PostgresServer

TZ = ZoneInfo("Asia/Shanghai")


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


@pytest.mark.parametrize("one_process", [False, True], ids=["two-processes", "one-process"])
async def test_two_accounts_in_one_group_handle_its_message_once_and_send_only_where_they_are(
    settings: Settings, db: Database, classifier: Classifier, one_process: bool
) -> None:
    """Two accounts on one database: two processes' apps, or one process's sibling apps."""
    apps: dict[str, App] = {}
    senders: dict[str, RecordingSender] = {}
    for account in ("A", "B"):
        senders[account] = RecordingSender()
        if one_process and apps:
            apps[account] = apps["A"].add_account(senders[account], account)
        else:
            apps[account] = build_app(
                settings,
                clock=ManualClock(datetime(2026, 11, 22, 9, 0, tzinfo=TZ)),
                db=db,
                sender=senders[account],
                classifier=classifier,
                account=account,
            )
        await apps[account].start()
    try:
        at = datetime(2026, 11, 22, 9, 0, 5, tzinfo=TZ)
        # B is known to be in the group (on WeChat: its group list at login)
        apps["B"].saw(
            Inbound(
                ts=at,
                sender_id="wxid_x",
                sender_name="x",
                text="",
                room_id="幸福社区第3网格",
                room_topic="幸福社区第3网格",
            )
        )
        # the same group message as each account receives it: its own platform id, and the
        # other account (not itself) among the mentions
        for account, other in (("A", "B"), ("B", "A")):
            app = apps[account]
            cast(ManualClock, app.services.clock).set(at)
            await app.feed(
                Inbound(
                    ts=at,
                    sender_id="wxid_resident_zhang",
                    sender_name="张阿姨",
                    text="积分",
                    room_id="幸福社区第3网格",
                    room_topic="幸福社区第3网格",
                    id=f"{account}-1",
                    mentions=(other,),
                )
            )
            await app.outbox.flush()
        assert [m.text[:5] for m in senders["A"].sent] == ["您现有积分"]
        assert senders["B"].sent == []
        # B alone is in the 4th grid's group: what goes there waits for B
        app_b = apps["B"]
        app_b.saw(
            Inbound(
                ts=at,
                sender_id="wxid_x",
                sender_name="x",
                text="",
                room_id="幸福社区第4网格",
                room_topic="幸福社区第4网格",
            )
        )
        with db.session() as s:
            outbox_store.enqueue(
                session=s,
                message=OutboundMessage(
                    room_id="幸福社区第4网格",
                    room_topic="幸福社区第4网格",
                    text="通知",
                    created_at=at,
                    not_before=at,
                ),
            )
            s.commit()
        assert await apps["A"].outbox.flush() == 0
        assert await app_b.outbox.flush() == 1
        assert [m.text for m in senders["B"].sent] == ["通知"]
        with db.session() as s:
            [stored] = s.exec(select(InboundMessage)).all()
            assert stored.account == "A"
            assert stored.mentions == []  # "@B" addressed a bot, it names nobody
            assert accounts.accounts_in_room(session=s, room_id="幸福社区第3网格") == ["A", "B"]
            assert accounts.accounts_in_room(session=s, room_id="幸福社区第4网格") == ["B"]
            [reply] = s.exec(select(OutboundMessage).where(OutboundMessage.text != "通知")).all()
            assert reply.account == "A"
    finally:
        for app in apps.values():
            app.stop()


async def test_sibling_apps_share_all_but_the_outbox_and_run_one_scheduler(
    settings: Settings, db: Database, classifier: Classifier
) -> None:
    app = build_app(
        settings,
        clock=SystemClock(settings.tz),
        db=db,
        sender=RecordingSender(),
        classifier=classifier,
        account="a",
    )
    sibling = app.add_account(RecordingSender(), "b")
    assert (sibling.services, sibling.dispatcher, sibling.scheduler) == (
        app.services,
        app.dispatcher,
        app.scheduler,
    )
    assert sibling.outbox is not app.outbox
    assert (app.account, sibling.account) == ("a", "b")
    with pytest.raises(ValueError, match="already served"):
        app.add_account(RecordingSender(), "b")
    # A live scheduler refuses a second start in one process: the siblings start it once,
    # and it runs until the last of them stops.
    await app.start()
    await sibling.start()
    assert app.scheduler._aps.running
    app.stop()
    await asyncio.sleep(0)  # APScheduler's asyncio flavour shuts down in the loop's next turn
    assert app.scheduler._aps.running
    sibling.stop()
    await asyncio.sleep(0)
    assert not app.scheduler._aps.running


async def test_a_scheduled_notice_goes_out_from_the_account_in_each_group(
    settings: Settings, db: Database, classifier: Classifier
) -> None:
    """A notice to every grid: each grid's group is reached by one of the process's two
    accounts, and each account's outbox sends into its own group."""
    notice = {
        "id": "winter",
        "title": "冬季安全",
        "text": "冬季用火用电安全提醒",
        "targets": {"all": True},
        "at": "2026-11-22T09:30:00+08:00",
    }
    settings = Settings.model_validate({**settings.model_dump(mode="json"), "notices": [notice]})
    start = datetime(2026, 11, 22, 9, 0, tzinfo=TZ)
    clock = ManualClock(start, settings.tz)
    senders = {"A": RecordingSender(), "B": RecordingSender()}
    app_a = build_app(
        settings, clock=clock, db=db, sender=senders["A"], classifier=classifier, account="A"
    )
    app_b = app_a.add_account(senders["B"], "B")
    for app, room in ((app_a, "幸福社区第3网格"), (app_b, "幸福社区第4网格")):
        app.saw(Inbound(ts=start, sender_id="x", sender_name="x", text="", room_id=room))
        await app.start()
    try:
        await app_a.advance(clock, start + timedelta(hours=1))
        await app_b.outbox.flush()
        assert [(m.room_id, m.text[:6]) for m in senders["A"].sent] == [
            ("幸福社区第3网格", "冬季用火用电")
        ]
        assert [(m.room_id, m.text[:6]) for m in senders["B"].sent] == [
            ("幸福社区第4网格", "冬季用火用电")
        ]
    finally:
        app_a.stop()
        app_b.stop()


async def test_the_alerts_are_the_processs_and_a_replay_never_posts_to_the_robot(
    clock: ManualClock,
    sqlite_db: Database,
    classifier: Classifier,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    data = Settings.model_validate(
        {
            "grids": [{"code": "G03", "name": "三", "room": "三群"}],
            "alerts": {"wecom": {"url_env": "GRIDBOT_TEST_WECOM"}},
        }
    )
    monkeypatch.setenv("GRIDBOT_TEST_WECOM", "http://127.0.0.1:1/send?key=k")
    replayed = build_app(
        data, clock=clock, db=sqlite_db, sender=RecordingSender(), classifier=classifier
    )
    assert replayed.alerts.webhook is None  # a manual clock: a replay of a city's config
    live = build_app(
        data,
        clock=SystemClock(TZ),
        db=sqlite_db,
        sender=RecordingSender(),
        classifier=classifier,
    )
    assert live.alerts.webhook is not None
    sibling = live.add_account(RecordingSender(), "wxid_east")
    assert sibling.alerts is live.alerts
    await live.start()
    await sibling.start()
    tasks = {t.get_name() for t in asyncio.all_tasks()}
    assert {"wecom-webhook", "alerts-check"} <= tasks
    # a failed scheduled backup or purge is an operations alert while the app runs
    assert maintenance._on_failure == live.alerts.on_failure
    sibling.stop()
    assert "wecom-webhook" in {t.get_name() for t in asyncio.all_tasks() if not t.cancelling()}
    live.stop()
    assert maintenance._on_failure is None
    await asyncio.sleep(0)
    assert not {"wecom-webhook", "alerts-check"} & {t.get_name() for t in asyncio.all_tasks()}
