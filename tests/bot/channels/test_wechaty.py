"""bot.channels.wechaty without a gateway. The channel against a real gateway is tested in
tests/integration/test_wechaty_channel.py (in this process) and test_wechaty_cli.py."""

from __future__ import annotations

import pytest

from bot.app import App
from bot.channels.base import SendError
from bot.channels.wechaty import WechatyChannel, WechatyConfig
from bot.events import Outbound


async def test_offline_sends_fail_as_transient_and_health_says_offline(app: App) -> None:
    channel = WechatyChannel(WechatyConfig(endpoint="127.0.0.1:1", token="t"))
    assert not channel.online
    with pytest.raises(SendError, match="not connected") as info:
        await channel.send(Outbound(text="x", to="wxid_a"))
    assert info.value.transient
    line = channel.health_line(app)
    assert line.startswith("wechaty: offline for ")
    assert line.endswith("0 failed attempt(s) to connect; 0 in, 0 out since last; outbox pending 0")
