"""The WeChat channel (bot/channels/wechaty.py) end to end: the bot in this process, the
Python SDK, and the Node puppet-service gateway (tests/gateway) on 127.0.0.1.

Residents' messages are injected into the gateway's mock WeChat; the tests read what the bot
sent back (the gateway reports every message the bot sends). ``room.say()`` writes each
mention as "@name " in front of the text, as WeChat shows it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlmodel import select

from bot.channels.base import SendError
from bot.channels.wechaty import WechatyAuthError
from bot.events import Inbound, MessageType, Outbound
from bot.settings import AlertSettings, Settings, WecomSettings
from nlp.classifier import Classifier
from storage import accounts as account_store
from storage.models import InboundMessage, MessageStatus, OutboundMessage, RoomAccount
from tests.auxil.wechat import (
    ADMIN,
    BOT_ID,
    DANCE_ROOM,
    DANCE_ROOM_ID,
    EAST_BOT,
    ESCALATION_ROOM,
    ESCALATION_ROOM_ID,
    FOURTH_ROOM,
    FOURTH_ROOM_ID,
    GRID_ROOM,
    GRID_ROOM_ID,
    LEADER,
    QIAN,
    WANG,
    ZHANG,
    RunningBot,
    east_world,
    running_accounts,
    running_bot,
    wait_until,
)
from tests.auxil.wecom import robot_server
from tests.gateway import harness

pytestmark = pytest.mark.integration

REQUEST = "3栋门口的路灯坏了好几天了，麻烦处理一下"


@pytest.fixture
async def bot(
    gateway: harness.Gateway, settings: Settings, classifier: Classifier, tmp_path: Path
) -> AsyncIterator[RunningBot]:
    async with running_bot(
        endpoint=gateway.endpoint,
        token=gateway.token,
        settings=settings,
        classifier=classifier,
        tmp_path=tmp_path,
    ) as running:
        yield running


async def ticket_opened(gateway: harness.Gateway) -> int:
    """Zhang reports the broken lamp; returns the ticket number from the bot's reply."""
    await gateway.say(ZHANG, REQUEST, room=GRID_ROOM)
    sent = await gateway.next_sent(within=10)
    assert sent["text"].startswith("@张阿姨 已受理，工单 #"), sent
    return int(sent["text"].split("#", 1)[1].split("（", 1)[0])


# ------------------------------------------------------------------------------------------------
# Messages in, replies out
# ------------------------------------------------------------------------------------------------


async def test_a_request_opens_a_ticket_and_a_photo_is_attached(
    gateway: harness.Gateway, bot: RunningBot
) -> None:
    message_id = await gateway.say(ZHANG, REQUEST, room=GRID_ROOM)
    sent = await gateway.next_sent(within=10)
    assert sent["text"].startswith("@张阿姨 已受理，工单 #1（")
    assert sent["room"] == GRID_ROOM
    assert sent["room_id"] == GRID_ROOM_ID
    assert sent["mentions"] == [ZHANG]

    await gateway.image(ZHANG, room=GRID_ROOM, name="lamp.png")
    sent = await gateway.next_sent(within=10)
    assert sent["text"] == "@张阿姨 图片已补充到工单 #1。"
    assert sent["mentions"] == [ZHANG]

    request, photo = bot.inbound()
    assert request.platform_id == message_id
    assert (request.room_id, request.room_topic, request.grid_code) == (
        GRID_ROOM_ID,
        GRID_ROOM,
        "G03",
    )
    assert (request.sender_id, request.sender_name) == (ZHANG, "3栋502张阿姨")  # 群昵称
    assert request.type == MessageType.TEXT
    assert photo.type == MessageType.IMAGE
    assert photo.text == ""


async def test_leader_commands_with_real_mentions(
    gateway: harness.Gateway, bot: RunningBot
) -> None:
    number = await ticket_opened(gateway)
    # "@网格助手 /派单 1 @王大爷": the bot's own mention is how one addresses it, not a target.
    await gateway.say(
        LEADER,
        f"@网格助手\u2005/派单 {number} @王大爷\u2005",
        room=GRID_ROOM,
        mentions=[BOT_ID, WANG],
    )
    sent = await gateway.next_sent(within=10)
    assert f"工单 #{number}（设施报修）已派给王大爷" in sent["text"]
    assert sent["mentions"] == [WANG, ZHANG]  # the assignee and the reporter
    assert sent["text"].startswith("@王大爷\u2005@张阿姨 ")
    assert bot.inbound()[-1].mentions == [WANG]

    # The list privately (it names reporters and quotes them), one line in the group.
    await gateway.say(LEADER, "/工单", room=GRID_ROOM)
    listing, line = await gateway.next_sent(within=10), await gateway.next_sent(within=10)
    assert (listing["to"], listing["room"]) == (LEADER, None)
    assert listing["text"].startswith("本网格未办结工单 1 件：")
    assert f"#{number} 设施报修" in listing["text"]
    assert line["room"] == GRID_ROOM
    assert line["text"] == "@李网格长 本网格未办结工单 1 件，已私信发给您。"

    # A resident can't: refused, and told so.
    await gateway.say(ZHANG, f"/派单 {number} @王大爷", room=GRID_ROOM, mentions=[WANG])
    sent = await gateway.next_sent(within=10)
    assert sent["text"] == "@张阿姨 抱歉，/派单 仅限本网格的网格长使用。"


async def test_a_points_query(gateway: harness.Gateway, bot: RunningBot) -> None:
    await gateway.say(WANG, "积分", room=GRID_ROOM)
    sent = await gateway.next_sent(within=10)
    assert sent["room"] == GRID_ROOM
    assert sent["mentions"] == [WANG]
    assert sent["text"].startswith("@王大爷 您现有积分 0 分")


async def test_private_messages(gateway: harness.Gateway, bot: RunningBot) -> None:
    await gateway.say(WANG, "/帮助")  # to the bot
    sent = await gateway.next_sent(within=10)
    assert sent["room"] is None
    assert sent["to"] == WANG
    assert sent["mentions"] == []
    assert sent["text"].startswith("可用命令：\n帮助")
    [stored] = bot.inbound()
    assert stored.room_id is None
    assert stored.sender_name == "王大爷"
    # Chatter gets no reply, privately either.
    await gateway.say(WANG, "今天天气不错")
    await gateway.assert_nothing_sent(within=1.0)


async def test_the_bots_own_messages_are_not_stored(
    gateway: harness.Gateway, bot: RunningBot
) -> None:
    now_ms = int(time.time() * 1000)
    for n in range(3):
        # a second apart: the same words in the same second are one message (a double tap)
        await gateway.say(WANG, "积分", room=GRID_ROOM, timestamp_ms=now_ms + n * 1000)
        await gateway.next_sent(within=10)
    await asyncio.sleep(0.5)  # the gateway echoes the bot's messages back (as WeChat does)
    assert [m.sender_id for m in bot.inbound()] == [WANG] * 3


async def test_a_group_in_no_grid_is_heard_but_not_answered_until_bound(
    gateway: harness.Gateway, bot: RunningBot
) -> None:
    await gateway.say(WANG, "积分", room=DANCE_ROOM)
    await gateway.say(WANG, "/帮助", room=DANCE_ROOM)
    await gateway.assert_nothing_sent(within=1.0)

    await gateway.join(DANCE_ROOM, [ADMIN])
    await gateway.say(ADMIN, "/绑定 G04", room=DANCE_ROOM)
    sent = await gateway.next_sent(within=10)
    assert sent["text"] == "@街道管理员 已将本群绑定为幸福社区第4网格（G04）的网格群。"
    assert sent["room"] == DANCE_ROOM

    await gateway.say(WANG, "积分", room=DANCE_ROOM)
    sent = await gateway.next_sent(within=10)
    assert sent["text"].startswith("@王大爷 您现有积分")
    assert [m.grid_code for m in bot.inbound()] == [None, None, None, "G04"]


async def test_history_is_stored_but_not_answered(
    gateway: harness.Gateway, bot: RunningBot
) -> None:
    an_hour_ago = int(time.time() * 1000) - 3_600_000
    old = await gateway.say(ZHANG, REQUEST, room=GRID_ROOM, timestamp_ms=an_hour_ago)
    await wait_until(lambda: len(bot.inbound()) == 1, what="the old message stored")
    await gateway.assert_nothing_sent(within=1.0)
    [stored] = bot.inbound()
    assert stored.platform_id == old
    assert stored.status == MessageStatus.HANDLED
    assert abs(stored.sent_at.timestamp() * 1000 - an_hour_ago) < 1000
    # What is said now is answered.
    assert await ticket_opened(gateway) == 1


async def test_a_renamed_grid_group_is_still_the_grids(
    gateway: harness.Gateway, bot: RunningBot
) -> None:
    await ticket_opened(gateway)  # binds the group by its topic
    await gateway.topic(GRID_ROOM, "幸福社区第三网格", by=LEADER)
    await asyncio.sleep(0.3)
    await gateway.say(WANG, "积分", room="幸福社区第三网格")
    sent = await gateway.next_sent(within=10)
    assert sent["room_id"] == GRID_ROOM_ID
    assert sent["text"].startswith("@王大爷 您现有积分")
    # The stored topic is the new one: the SDK's cached copy was dropped.
    assert bot.inbound()[-1].room_topic == "幸福社区第三网格"


# ------------------------------------------------------------------------------------------------
# Sending by topic
# ------------------------------------------------------------------------------------------------


async def test_rooms_named_by_topic_are_found_exactly(
    gateway: harness.Gateway, bot: RunningBot
) -> None:
    channel = bot.channel
    await channel.send(Outbound(text="测试", room_id=ESCALATION_ROOM, room_topic=ESCALATION_ROOM))
    sent = await gateway.next_sent(within=10)
    assert (sent["room_id"], sent["text"]) == (ESCALATION_ROOM_ID, "测试")

    # A substring of a topic is not that topic (the SDK's Room.find would take it).
    with pytest.raises(SendError, match="no group called '幸福社区'") as info:
        await channel.send(Outbound(text="x", room_id="幸福社区", room_topic="幸福社区"))
    assert info.value.transient is False

    # Renamed: the old topic is gone, the new one is found.
    await gateway.topic(ESCALATION_ROOM, "街道指挥中心")
    await asyncio.sleep(0.3)
    with pytest.raises(SendError, match="no group called"):
        await channel.send(Outbound(text="x", room_id=ESCALATION_ROOM, room_topic=ESCALATION_ROOM))
    await channel.send(Outbound(text="改名后", room_id="街道指挥中心", room_topic="街道指挥中心"))
    sent = await gateway.next_sent(within=10)
    assert (sent["room_id"], sent["text"]) == (ESCALATION_ROOM_ID, "改名后")

    # An unknown room id is refused by the gateway: not worth retrying.
    with pytest.raises(SendError) as info:
        await channel.send(Outbound(text="x", room_id="99999@chatroom", room_topic="不存在"))
    assert info.value.transient is False


async def test_an_urgent_request_reaches_the_escalation_room_and_the_leader(
    gateway: harness.Gateway, bot: RunningBot
) -> None:
    await gateway.say(ZHANG, "楼道里着火了，冒了好多烟", room=GRID_ROOM)
    sent = [await gateway.next_sent(within=10) for _ in range(3)]
    by_place = {(s["room_id"], s["to"]): s for s in sent}
    assert "紧急" in by_place[(GRID_ROOM_ID, None)]["text"]
    assert by_place[(None, LEADER)]["text"].startswith("【紧急】")
    assert by_place[(ESCALATION_ROOM_ID, None)]["text"].startswith("【紧急】")


# ------------------------------------------------------------------------------------------------
# Resilience
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("crash", [False, True], ids=["restart", "crash"])
async def test_the_bot_reconnects_after_a_gateway_restart(
    gateway: harness.Gateway, bot: RunningBot, crash: bool
) -> None:
    number = await ticket_opened(gateway)
    await gateway.restart(down_for=1.0, crash=crash)
    await gateway.wait_for("client", state="connected", within=30)
    await wait_until(lambda: bot.channel.online, what="online again")
    await gateway.say(LEADER, "/工单", room=GRID_ROOM)
    sent = await gateway.next_sent(within=10)  # the list, privately
    assert sent["text"].startswith("本网格未办结工单 1 件")
    assert f"#{number}" in sent["text"]
    assert not bot.task.done()


async def test_replies_wait_in_the_outbox_while_offline(
    gateway: harness.Gateway, bot: RunningBot
) -> None:
    await gateway.stop()
    await wait_until(lambda: not bot.channel.online, what="offline")
    # Something to send while offline (a scheduled notice would do the same).
    now = bot.app.services.clock.now()
    await bot.app.feed(Inbound(ts=now, sender_id=WANG, sender_name="王大爷", text="/帮助"))
    await asyncio.sleep(1.0)
    with bot.db.session() as session:
        [row] = session.exec(select(OutboundMessage)).all()
        assert (row.sent_at, row.attempts) == (None, 0)  # not tried: no retry used up
    await gateway.start()
    sent = await gateway.next_sent(within=30)
    assert sent["to"] == WANG
    assert sent["text"].startswith("可用命令：")


async def test_starting_before_the_gateway_is_up(
    gateway_ready: None, settings: Settings, classifier: Classifier, tmp_path: Path
) -> None:
    gateway = harness.Gateway()  # not started yet: nothing listens on its port
    try:
        async with running_bot(
            endpoint=gateway.endpoint,
            token=gateway.token,
            settings=settings,
            classifier=classifier,
            tmp_path=tmp_path,
            wait_online=False,
        ) as bot:
            await asyncio.sleep(2.0)  # the bot retries meanwhile; the SDK alone would give up
            assert not bot.task.done()
            assert not bot.channel.online
            await gateway.start()
            await wait_until(lambda: bot.channel.online, within=30, what="online")
            assert await ticket_opened(gateway) == 1
    finally:
        await gateway.stop()


async def test_a_wrong_token_ends_the_run(
    gateway: harness.Gateway, settings: Settings, classifier: Classifier, tmp_path: Path
) -> None:
    with pytest.raises(WechatyAuthError, match="refused the token"):
        async with running_bot(
            endpoint=gateway.endpoint,
            token="wrong-token",
            settings=settings,
            classifier=classifier,
            tmp_path=tmp_path,
        ):
            pass
    await gateway.wait_for("auth_failed", within=5)


async def test_a_quiet_connection_is_probed(
    gateway_ready: None, settings: Settings, classifier: Classifier, tmp_path: Path
) -> None:
    async with (
        harness.Gateway(trace_rpc=True) as gateway,
        running_bot(
            endpoint=gateway.endpoint,
            token=gateway.token,
            settings=settings,
            classifier=classifier,
            tmp_path=tmp_path,
            probe_interval=0.3,
        ) as bot,
    ):
        await gateway.wait_for("rpc", method="ding", within=10)
        await asyncio.sleep(1.0)
        # Answered: the same connection all along.
        assert bot.channel.online
        assert [e["state"] for e in gateway.events if e["event"] == "client"] == ["connected"]
        assert await ticket_opened(gateway) == 1


async def test_an_unresponsive_gateway_is_left_and_rejoined(
    gateway: harness.Gateway, settings: Settings, classifier: Classifier, tmp_path: Path
) -> None:
    """A gateway that stops answering without closing the connection (a frozen process, a
    dead NAT mapping): the probe notices, the bot reconnects when it answers again."""
    async with running_bot(
        endpoint=gateway.endpoint,
        token=gateway.token,
        settings=settings,
        classifier=classifier,
        tmp_path=tmp_path,
        probe_interval=0.5,
        probe_timeout=1.0,
    ) as bot:
        assert gateway.pid is not None
        os.kill(gateway.pid, signal.SIGSTOP)
        try:
            await wait_until(lambda: not bot.channel.online, within=15, what="offline")
        finally:
            os.kill(gateway.pid, signal.SIGCONT)
        await wait_until(lambda: bot.channel.online, within=30, what="online again")
        assert await ticket_opened(gateway) == 1


async def test_health_lines(
    gateway: harness.Gateway,
    settings: Settings,
    classifier: Classifier,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="bot.channels.wechaty")
    async with running_bot(
        endpoint=gateway.endpoint,
        token=gateway.token,
        settings=settings,
        classifier=classifier,
        tmp_path=tmp_path,
        health_interval=0.3,
    ) as bot:
        await ticket_opened(gateway)

        def counted() -> tuple[int, int]:
            lines = [HEALTH.match(r.getMessage()) for r in caplog.records]
            found = [m for m in lines if m is not None]
            return sum(int(m["in"]) for m in found), sum(int(m["out"]) for m in found)

        await wait_until(lambda: counted() == (1, 1), what="health lines counting 1 in, 1 out")
        await gateway.stop()
        await wait_until(lambda: "offline for" in bot.channel.health_line(bot.app), what="offline")
        assert bot.channel.health_line(bot.app).endswith("0 in, 0 out since last; outbox pending 0")


HEALTH = re.compile(
    r"^wechaty: online as wxid_gridbot; (?P<in>\d+) in, (?P<out>\d+) out since last; "
    r"outbox pending 0$"
)


async def test_stopping_closes_the_grpc_channel(
    gateway: harness.Gateway, settings: Settings, classifier: Classifier, tmp_path: Path
) -> None:
    async with running_bot(
        endpoint=gateway.endpoint,
        token=gateway.token,
        settings=settings,
        classifier=classifier,
        tmp_path=tmp_path,
    ) as bot:
        puppet = bot.channel._connection.bot._puppet
        grpc_channel = puppet.channel
        assert grpc_channel is not None
    assert bot.task.done()
    assert puppet.channel is None
    assert grpc_channel._protocol is None  # closed: no ResourceWarning later


async def test_a_second_channel_in_the_same_process_works(
    gateway: harness.Gateway, settings: Settings, classifier: Classifier, tmp_path: Path
) -> None:
    """The SDK caches rooms and contacts process-wide (finding 12); each channel starts
    afresh, so a bot restarted in-process (as the tests do all the time) still replies."""
    for run in range(2):
        async with running_bot(
            endpoint=gateway.endpoint,
            token=gateway.token,
            settings=settings,
            classifier=classifier,
            tmp_path=tmp_path / str(run),
        ):
            await gateway.say(WANG, "积分", room=GRID_ROOM)
            sent = await gateway.next_sent(within=10)
            assert sent["text"].startswith("@王大爷 您现有积分")


async def test_the_bot_serves_as_the_logged_in_account_in_its_groups(
    gateway: harness.Gateway, bot: RunningBot
) -> None:
    """Its account and its group list, recorded at login: the outbox gives a process only
    what its account can deliver (several accounts may share one database)."""
    await wait_until(lambda: bot.app.account == BOT_ID, what="the account taken at login")

    def groups() -> dict[str, str | None]:
        with bot.db.session() as session:
            rows = session.exec(select(RoomAccount).where(RoomAccount.account == BOT_ID))
            return {row.room_id: row.topic for row in rows}

    await wait_until(lambda: len(groups()) == 3, what="the group list recorded")
    assert groups() == {
        GRID_ROOM_ID: GRID_ROOM,
        ESCALATION_ROOM_ID: ESCALATION_ROOM,
        DANCE_ROOM_ID: DANCE_ROOM,
    }
    await gateway.say(WANG, "积分", room=GRID_ROOM)
    await gateway.next_sent(within=10)
    [stored] = bot.inbound()
    assert stored.account == BOT_ID


# ------------------------------------------------------------------------------------------------
# Several accounts in one process
# ------------------------------------------------------------------------------------------------


async def test_one_process_serves_two_accounts_each_in_its_own_groups(
    gateway: harness.Gateway, settings: Settings, classifier: Classifier, tmp_path: Path
) -> None:
    async with (
        harness.Gateway(world=east_world(tmp_path)) as east,
        running_accounts(
            [(gateway, gateway.token), (east, east.token)], settings, classifier, tmp_path
        ) as (channels, task, db),
    ):
        await wait_until(lambda: all(c.online for c in channels) or task.done(), what="online")
        assert not task.done()
        await east.say(QIAN, "5单元的电梯坏了两天了，麻烦派人修一下", room=FOURTH_ROOM)
        east_reply = await east.next_sent(within=10)
        assert east_reply["text"].startswith("@钱奶奶 已受理，工单 #1")
        assert east_reply["room_id"] == FOURTH_ROOM_ID
        # In the group both are in, each answers what it received, through its own gateway.
        await gateway.say(ZHANG, "积分", room=GRID_ROOM)
        west_reply = await gateway.next_sent(within=10)
        assert west_reply["text"].startswith("@张阿姨 您现有积分")
        assert west_reply["room_id"] == GRID_ROOM_ID
        await east.say(WANG, "积分", room=GRID_ROOM)
        east_reply = await east.next_sent(within=10)
        assert east_reply["text"].startswith("@王大爷 您现有积分")
        assert east_reply["room_id"] == GRID_ROOM_ID
        with db.session() as session:
            stored = session.exec(select(InboundMessage.account, InboundMessage.room_id))
            assert sorted(stored) == [
                (BOT_ID, GRID_ROOM_ID),
                (EAST_BOT, GRID_ROOM_ID),
                (EAST_BOT, FOURTH_ROOM_ID),
            ]
        for gw in (gateway, east):
            with pytest.raises(TimeoutError):
                await gw.next_sent(within=0.5)


async def test_a_refused_token_ends_only_its_accounts_run(
    gateway: harness.Gateway,
    settings: Settings,
    classifier: Classifier,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """An account's token can be revoked (WeChat bans accounts): the others serve on."""
    async with (
        harness.Gateway(world=east_world(tmp_path)) as east,
        running_accounts(
            [(gateway, gateway.token), (east, "revoked-token")], settings, classifier, tmp_path
        ) as (channels, task, _),
    ):
        await east.wait_for("auth_failed", within=10)
        await wait_until(
            lambda: (
                "wechaty[acct-1]: the puppet service at" in caplog.text
                and "refused the token" in caplog.text
            ),
            what="the refusal logged",
        )
        await wait_until(lambda: channels[0].online, what="the first account online")
        await gateway.say(WANG, "积分", room=GRID_ROOM)
        sent = await gateway.next_sent(within=10)
        assert sent["text"].startswith("@王大爷 您现有积分")
        assert not task.done()


async def test_every_token_refused_ends_the_run(
    gateway: harness.Gateway, settings: Settings, classifier: Classifier, tmp_path: Path
) -> None:
    with pytest.raises(WechatyAuthError, match="refused the token"):
        async with running_accounts(
            [(gateway, "wrong-1"), (gateway, "wrong-2")], settings, classifier, tmp_path
        ) as (_, task, _):
            await asyncio.wait_for(asyncio.shield(task), 20)


# ------------------------------------------------------------------------------------------------
# Alerts over a 企业微信 robot (bot/alerts.py), heartbeat
# ------------------------------------------------------------------------------------------------


async def test_a_logout_reaches_the_robot_once_and_the_login_clears_it(
    gateway: harness.Gateway,
    settings: Settings,
    classifier: Classifier,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("bot.channels.wechaty.WATCH_INTERVAL", 0.1)
    alerting = settings.model_copy(
        update={
            "alerts": AlertSettings(
                wecom=WecomSettings(url_env="GRIDBOT_TEST_WECOM", mentioned_list=["@all"])
            )
        }
    )
    with robot_server() as robot:
        monkeypatch.setenv("GRIDBOT_TEST_WECOM", robot.url())
        async with running_bot(
            endpoint=gateway.endpoint,
            token=gateway.token,
            settings=alerting,
            classifier=classifier,
            tmp_path=tmp_path,
        ) as bot:

            def beating() -> bool:
                with bot.db.session() as session:
                    return BOT_ID in account_store.last_seen(session=session)

            await wait_until(beating, what="its heartbeat")
            await gateway.logout("kicked by the test")
            await wait_until(robot.contents, what="the alert")
            await asyncio.sleep(0.5)  # looked at again and again: said once
            [alert] = robot.taken()
            assert alert.content.startswith(f"【网格助手告警】{BOT_ID} 已退出登录（")
            assert alert.mentioned == ["@all"]
            await gateway.login()
            await wait_until(lambda: len(robot.contents()) == 2, what="the all-clear")
            assert robot.contents()[1] == f"【网格助手恢复】{BOT_ID} 已重新登录。"
            # the escalation room's messages go there too
            await gateway.say(ZHANG, "着火了！3栋2单元冒黑烟了，快来人", room=GRID_ROOM)
            await wait_until(lambda: len(robot.contents()) == 3, what="the copy")
            assert robot.contents()[2].startswith("【紧急】幸福社区第3网格 #1 安全隐患：")
