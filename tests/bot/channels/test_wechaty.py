"""bot.channels.wechaty without a gateway. The channel against a real gateway is tested in
tests/integration/test_wechaty_channel.py (in this process) and test_wechaty_cli.py."""

from __future__ import annotations

from datetime import datetime, timedelta
from types import SimpleNamespace

import pytest

from bot.app import App
from bot.channels.base import SendError
from bot.channels.wechaty import WechatyChannel, WechatyConfig
from bot.clock import ManualClock
from bot.events import Outbound
from storage import accounts as account_store
from storage.db import Database


async def test_offline_sends_fail_as_transient_and_health_says_offline(app: App) -> None:
    channel = WechatyChannel(WechatyConfig(endpoint="127.0.0.1:1", token="t"))
    assert not channel.online
    with pytest.raises(SendError, match="not connected") as info:
        await channel.send(Outbound(text="x", to="wxid_a"))
    assert info.value.transient
    line = channel.health_line(app)
    assert line.startswith("wechaty: offline for ")
    assert line.endswith("0 failed attempt(s) to connect; 0 in, 0 out since last; outbox pending 0")


def channel_for(name: str = "") -> WechatyChannel:
    return WechatyChannel(WechatyConfig(endpoint="127.0.0.1:1", token="t", name=name))


def logged_in(channel: WechatyChannel, contact_id: str = "wxid_bot") -> None:
    """The puppet service's events of a login, as the SDK hands them on."""
    channel._connection._on_login(SimpleNamespace(contact_id=contact_id))


async def test_a_logout_is_an_alert_until_the_account_is_back(app: App, clock: ManualClock) -> None:
    channel = channel_for("east-01")
    logged_in(channel)
    channel.watch(app)
    assert app.alerts.active() == []
    channel._connection._on_logout(SimpleNamespace(contact_id="wxid_bot", data="kicked out"))
    channel._connection._on_any(None)  # the stream goes on: connected, not logged in
    for _ in range(3):  # looked at every few seconds: said once
        channel.watch(app)
    [(kind, key, text)] = app.alerts.active()
    assert (kind, key) == ("wechat_login", "wechaty[east-01]")
    assert text.startswith("wxid_bot（east-01） 已退出登录（kicked out）：")
    logged_in(channel)
    channel.watch(app)
    assert app.alerts.active() == []


async def test_not_logged_in_for_two_minutes_is_an_alert_with_the_gateways_error(
    app: App, clock: ManualClock
) -> None:
    channel = channel_for()
    channel._connection._on_any(None)  # connected, waiting for a QR scan
    channel._connection._on_error(SimpleNamespace(data="login failed:\n  timeout"))
    channel.watch(app)
    assert app.alerts.active() == []
    clock.set(clock.now() + timedelta(minutes=2))
    channel.watch(app)
    [(_, _, text)] = app.alerts.active()
    assert text == "机器人微信账号 未登录：网关报告：login failed: timeout；请在网关扫码登录。"


async def test_the_gateway_unreachable_for_five_minutes_is_an_alert(
    app: App, clock: ManualClock
) -> None:
    channel = channel_for()
    channel.watch(app)  # not connected (yet): may pass
    clock.set(clock.now() + timedelta(minutes=4, seconds=59))
    channel.watch(app)
    assert app.alerts.active() == []
    clock.set(clock.now() + timedelta(seconds=1))
    channel.watch(app)
    [(kind, _, text)] = app.alerts.active()
    assert kind == "gateway"
    assert text.startswith("机器人微信账号 连不上 puppet 服务（网关）127.0.0.1:1 已超过 5 分钟")
    channel._connection._on_any(None)
    channel.watch(app)
    assert app.alerts.active() == []


async def test_a_logged_in_account_writes_its_heartbeat_every_minute(
    app: App, clock: ManualClock, sqlite_db: Database
) -> None:
    start = clock.now()
    with sqlite_db.session() as session:
        account_store.set_rooms(session=session, account="wxid_bot", rooms={"r1": "G"}, at=start)
        session.commit()
    channel = channel_for()
    logged_in(channel)

    def seen() -> datetime:
        with sqlite_db.session() as session:
            return account_store.last_seen(session=session)["wxid_bot"]

    for seconds in (10, 50, 60, 70):
        clock.set(start + timedelta(seconds=seconds))
        channel.watch(app)
    assert seen() == start + timedelta(seconds=70)  # written at 10 s and 70 s
    channel._connection.go_offline("test")
    clock.set(start + timedelta(minutes=5))
    channel.watch(app)
    assert seen() == start + timedelta(seconds=70)  # offline: no heartbeat
