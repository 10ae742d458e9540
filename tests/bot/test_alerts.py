"""bot.alerts: problems said once when they start and once when they clear, one-off alerts,
the outbox backlog, and the escalation room's copy to the 企业微信 robot (a stand-in robot on
127.0.0.1, tests/auxil/wecom.py)."""

from __future__ import annotations

import asyncio
import copy
import logging
from collections.abc import AsyncIterator, Iterator
from datetime import datetime, timedelta

import pytest
from sqlalchemy import update
from sqlmodel import col, select

from bot.alerts import CLEARED, PREFIX, Alerts
from bot.app import build_app
from bot.clock import ManualClock, SystemClock
from bot.events import Outbound
from bot.outbox import queue_outbound
from bot.settings import Settings
from bot.wecom import WecomWebhook
from nlp.classifier import Classifier
from storage.db import Database
from storage.models import OutboundMessage, OutboundStatus
from tests.auxil.chat import LEADER, Chat, RecordingSender
from tests.auxil.wecom import RobotServer, robot_server, stepping_sleep, until
from tests.conftest import SETTINGS

ESCALATION = "幸福社区指挥中心"


class Posted:
    """A webhook that keeps what it was given (for what is said, not how it is posted)."""

    def __init__(self) -> None:
        self.texts: list[str] = []
        self.pending = 0

    def post(self, text: str, *, mention: bool = True) -> None:
        self.texts.append(text)

    async def run(self) -> None:
        await asyncio.Event().wait()


def with_wecom(**wecom: object) -> Settings:
    data = copy.deepcopy(SETTINGS)
    data["alerts"] = {"wecom": {"url_env": "GRIDBOT_TEST_WECOM", **wecom}}
    return Settings.model_validate(data)


@pytest.fixture
def posted() -> Posted:
    return Posted()


@pytest.fixture
def alerts(settings: Settings, clock: ManualClock, sqlite_db: Database, posted: Posted) -> Alerts:
    return Alerts(settings, clock, sqlite_db, posted)  # type: ignore[arg-type]


def test_a_problem_is_said_once_when_it_starts_and_once_when_it_clears(
    alerts: Alerts, posted: Posted, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="bot.alerts"):
        for _ in range(3):  # noticed every minute: said once
            alerts.problem("wechat_login", "wxid_bot 已退出登录", key="wechaty")
        alerts.problem("wechat_login", "wxid_east 已退出登录", key="wechaty[east]")
        assert len(alerts.active()) == 2
        alerts.resolved("wechat_login", "wxid_bot 已重新登录。", key="wechaty")
        alerts.resolved("wechat_login", "wxid_bot 已重新登录。", key="wechaty")
    assert posted.texts == [
        f"{PREFIX}wxid_bot 已退出登录",
        f"{PREFIX}wxid_east 已退出登录",
        f"{CLEARED}wxid_bot 已重新登录。",
    ]
    assert alerts.active() == [("wechat_login", "wechaty[east]", "wxid_east 已退出登录")]
    assert "alert (wechat_login wechaty): wxid_bot 已退出登录" in caplog.text
    assert "alert cleared (wechat_login wechaty)" in caplog.text


def test_a_problem_that_may_pass_is_said_only_once_it_has_lasted(
    alerts: Alerts, posted: Posted, clock: ManualClock
) -> None:
    five = timedelta(minutes=5)
    alerts.problem("gateway", "连不上网关", key="wechaty", after=five)
    clock.set(clock.now() + timedelta(minutes=4))
    alerts.problem("gateway", "连不上网关", key="wechaty", after=five)
    assert posted.texts == []
    alerts.resolved("gateway", "已重新连上", key="wechaty")  # passed: nothing to clear
    assert posted.texts == []
    alerts.problem("gateway", "连不上网关", key="wechaty", after=five)
    clock.set(clock.now() + five)
    alerts.check()  # said when the periodic check finds it has lasted
    alerts.check()
    assert posted.texts == [f"{PREFIX}连不上网关"]
    alerts.resolved("gateway", key="wechaty")  # the problem's own words, said cleared
    assert posted.texts[-1] == f"{CLEARED}已恢复：连不上网关"


async def test_a_backup_failure_is_said_each_time(alerts: Alerts, posted: Posted) -> None:
    # as handlers/maintenance.py says it, to the callback it is given
    failed = "【网格助手】数据库备份失败（2026-11-22 03:30）：pg_dump: connection refused"
    await alerts.on_failure(failed)
    await alerts.on_failure(failed)
    alerts.alert("disk", "磁盘空间不足")
    assert posted.texts == [
        f"{PREFIX}数据库备份失败（2026-11-22 03:30）：pg_dump: connection refused",
        f"{PREFIX}数据库备份失败（2026-11-22 03:30）：pg_dump: connection refused",
        f"{PREFIX}磁盘空间不足",
    ]


def test_without_a_robot_alerts_are_log_lines(
    settings: Settings, clock: ManualClock, sqlite_db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    alerts = Alerts(settings, clock, sqlite_db)
    with caplog.at_level(logging.ERROR, logger="bot.alerts"):
        alerts.alert("backup", "数据库备份失败")
    assert "alert (backup): 数据库备份失败" in caplog.text


def test_the_robot_is_found_in_the_variable_the_config_names(
    clock: ManualClock, sqlite_db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    settings = with_wecom(mentioned_list=["@all"])
    with caplog.at_level(logging.ERROR, logger="bot.alerts"):
        unset = Alerts.from_settings(settings, clock, sqlite_db, environ={})
    assert unset.webhook is None
    assert "GRIDBOT_TEST_WECOM is not set: alerts go to the log only" in caplog.text
    found = Alerts.from_settings(settings, clock, sqlite_db, environ={"GRIDBOT_TEST_WECOM": "k1"})
    assert isinstance(found.webhook, WecomWebhook)
    assert found.webhook.where == "qyapi.weixin.qq.com"
    off = Alerts.from_settings(Settings.model_validate(SETTINGS), clock, sqlite_db)
    assert off.webhook is None  # off unless configured


def late_messages(db: Database, count: int, at: datetime) -> list[int]:
    with db.session() as session:
        outgoing = [Outbound(text=f"回复 {i}", to="wxid_a") for i in range(count)]
        queue_outbound(session, outgoing, now=at)
        session.commit()
        return [i for i in session.exec(select(OutboundMessage.id)).all() if i is not None]


def test_the_outbox_falling_behind_is_an_alert_until_it_catches_up(
    alerts: Alerts, posted: Posted, clock: ManualClock, sqlite_db: Database
) -> None:
    ids = late_messages(sqlite_db, 20, clock.now())
    alerts.check()
    assert posted.texts == []  # due now: not late yet
    clock.set(clock.now() + timedelta(minutes=10))
    alerts.check()
    alerts.check()
    assert posted.texts == [
        f"{PREFIX}发送队列积压：20 条消息过了发送时间 10 分钟仍未发出（共 20 条待发）。"
        "请检查机器人账号是否在线、是否被限制。"
    ]
    with sqlite_db.session() as session:
        session.execute(
            update(OutboundMessage)
            .where(col(OutboundMessage.id).in_(ids[:5]))
            .values(status=OutboundStatus.SENT)
        )
        session.commit()
    alerts.check()
    assert posted.texts[-1] == f"{CLEARED}发送队列已恢复正常（待发 15 条）。"


# --- the escalation room's copy --------------------------------------------------------------


async def test_only_committed_messages_to_the_escalation_room_are_copied(
    clock: ManualClock, sqlite_db: Database, posted: Posted
) -> None:
    alerts = Alerts(with_wecom(), clock, sqlite_db, posted)  # type: ignore[arg-type]
    room = Outbound(text="【上报】幸福社区第3网格 #1", room_id=ESCALATION, room_topic=ESCALATION)
    group = Outbound(text="已上报", room_id="幸福社区第3网格", room_topic="幸福社区第3网格")
    private = Outbound(text="【紧急】给网格长", to="wxid_leader_li")
    alerts.start()
    try:
        with sqlite_db.session() as session:
            queue_outbound(session, [room], now=clock.now())
            session.rollback()  # never sent: not copied
            queue_outbound(session, [group, room, private], now=clock.now())
            assert posted.texts == []  # not before the commit
            session.commit()
        assert posted.texts == [room.text]
    finally:
        alerts.stop()
    with sqlite_db.session() as session:  # stopped: no more copies
        queue_outbound(session, [room], now=clock.now())
        session.commit()
    assert posted.texts == [room.text]


async def test_the_copy_can_be_turned_off(
    clock: ManualClock, sqlite_db: Database, posted: Posted
) -> None:
    alerts = Alerts(with_wecom(escalation=False), clock, sqlite_db, posted)  # type: ignore[arg-type]
    room = Outbound(text="【上报】", room_id=ESCALATION, room_topic=ESCALATION)
    alerts.start()
    try:
        with sqlite_db.session() as session:
            queue_outbound(session, [room], now=clock.now())
            session.commit()
    finally:
        alerts.stop()
    assert posted.texts == []


def running_tasks() -> set[str]:
    return {task.get_name() for task in asyncio.all_tasks()}


@pytest.mark.parametrize("checks", [True, False])
async def test_a_console_alone_copies_without_checking(
    settings: Settings, sqlite_db: Database, posted: Posted, checks: bool
) -> None:
    """`gridbot web` starts its alerts for the copy alone (web/serve.py): the bot's process
    checks the outbox, and would say a backlog a second time."""
    alerts = Alerts(with_wecom(), SystemClock(settings.tz), sqlite_db, posted)  # type: ignore[arg-type]
    room = Outbound(text="【上报】幸福社区第3网格 #1", room_id=ESCALATION, room_topic=ESCALATION)
    alerts.start(checks=checks)
    try:
        assert ("alerts-check" in running_tasks()) is checks
        assert "wecom-webhook" in running_tasks()
        with sqlite_db.session() as session:
            queue_outbound(session, [room], now=datetime.now(settings.tz))
            session.commit()
        assert posted.texts == [room.text]
    finally:
        alerts.stop()
    await asyncio.sleep(0)  # the cancelled tasks end
    assert not {"alerts-check", "wecom-webhook"} & running_tasks()


@pytest.fixture
def robot(clock: ManualClock) -> Iterator[RobotServer]:
    with robot_server() as server:
        yield server


@pytest.fixture
async def robot_chat(
    robot: RobotServer, clock: ManualClock, sqlite_db: Database, classifier: Classifier
) -> AsyncIterator[Chat]:
    """The bot on settings with a robot, its alerts posting to ``robot``."""
    settings = with_wecom(mentioned_list=["@all"])
    webhook = WecomWebhook(
        robot.url(), clock=clock, mentioned_list=["@all"], sleep=stepping_sleep(clock)
    )
    sender = RecordingSender()
    app = build_app(
        settings,
        clock=clock,
        db=sqlite_db,
        sender=sender,
        classifier=classifier,
        alerts=Alerts(settings, clock, sqlite_db, webhook),
    )
    await app.start()
    try:
        yield Chat(app, clock, sender)
    finally:
        app.stop()


async def until_received(robot: RobotServer, count: int) -> None:
    await until(lambda: len(robot.taken()) >= count)


async def test_what_the_escalation_room_is_sent_reaches_the_robot(
    robot_chat: Chat, robot: RobotServer
) -> None:
    sent = await robot_chat.say("着火了！3栋2单元冒黑烟了，快来人")
    [escalation] = [m for m in sent if m.room_topic == ESCALATION]
    await until_received(robot, 1)
    await robot_chat.say("/上报 1 需要消防部门协助", LEADER)
    await until_received(robot, 2)
    first, second = robot.taken()
    assert first.content == escalation.text
    assert first.content.startswith("【紧急】幸福社区第3网格 #1 安全隐患：")
    assert first.mentioned == ["@all"]
    assert second.content.startswith("【上报】幸福社区第3网格 #1")
    assert len(robot.received) == 2  # not the group's reply, not the leader's private alert


async def test_the_copy_goes_while_the_wechat_account_cannot_send(
    robot_chat: Chat, robot: RobotServer
) -> None:
    sender = robot_chat.sender
    sender.fail_next = 100  # WeChat is down: every send fails
    await robot_chat.say("着火了！3栋2单元冒黑烟了，快来人")
    assert sender.sent == []
    await until_received(robot, 1)
    assert robot.contents()[0].startswith("【紧急】")
