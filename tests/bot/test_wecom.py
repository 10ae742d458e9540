"""bot.wecom against a stand-in robot on 127.0.0.1 (tests/auxil/wecom.py): what is posted, the
rate limit on the bot's clock (a minute passes without waiting it), merging a backlog, and the
robot's error answers retried."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import timedelta

import pytest

from bot.clock import ManualClock
from bot.wecom import MAX_BYTES, WecomWebhook, split_text, webhook_url
from tests.auxil.wecom import (
    KEY,
    RATE_LIMITED,
    RobotServer,
    robot_server,
    stepping_sleep,
    until,
)


@pytest.fixture
def robot(clock: ManualClock) -> Iterator[RobotServer]:
    with robot_server() as server:
        server.on_request = clock.now  # when, by the bot's clock, each post arrived
        yield server


def webhook(robot: RobotServer, clock: ManualClock, **options: object) -> WecomWebhook:
    return WecomWebhook(robot.url(), clock=clock, sleep=stepping_sleep(clock), **options)  # type: ignore[arg-type]


@asynccontextmanager
async def running(hook: WecomWebhook) -> AsyncIterator[asyncio.Task[None]]:
    task = asyncio.create_task(hook.run())
    try:
        yield task
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


def test_the_webhook_address_is_the_whole_url_or_made_from_the_key() -> None:
    url = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=abc"
    assert webhook_url(f" {url}\n") == url
    assert webhook_url("abc") == url
    assert webhook_url("a&b") == "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=a%26b"


def test_long_texts_are_cut_in_parts_the_robot_takes() -> None:
    text = "居民反映" * 500  # 6000 bytes, no line to cut after
    parts = split_text(text)
    assert len(parts) == 3
    assert all(len(part.encode()) <= MAX_BYTES for part in parts)
    assert "".join(parts) == text
    lines = "\n".join(["第一行" * 50] * 10)  # 450 bytes a line: cut after a line
    cut = split_text(lines)
    assert all(len(part.encode()) <= MAX_BYTES for part in cut)
    assert all(part.endswith("第一行") for part in cut)
    assert "\n".join(cut) == lines
    assert split_text("短") == ["短"]


async def test_a_text_is_posted_as_the_robots_json_with_its_mentions(
    robot: RobotServer, clock: ManualClock
) -> None:
    hook = webhook(robot, clock, mentioned_list=["zhangsan", "@all"])
    async with running(hook):
        hook.post("【网格助手告警】测试")
        hook.post("不提醒", mention=False)
        await until(lambda: hook.delivered == 2)
    first, second = robot.received
    assert first.path == "/cgi-bin/webhook/send"
    assert first.key == KEY
    assert first.body == {
        "msgtype": "text",
        "text": {"content": "【网格助手告警】测试", "mentioned_list": ["zhangsan", "@all"]},
    }
    assert second.body == {"msgtype": "text", "text": {"content": "不提醒"}}


async def test_at_most_twenty_a_minute_by_the_bots_clock(
    robot: RobotServer, clock: ManualClock
) -> None:
    hook = webhook(robot, clock)
    start = clock.now()
    # each over half the robot's limit: no two can be merged, so each is a post of its own
    texts = [f"{i:02d}" + "长" * 400 for i in range(25)]
    async with running(hook):
        for text in texts:
            hook.post(text)
        await until(lambda: hook.delivered == 25)
    assert robot.contents() == texts  # in order, none lost
    times = [r.at - start for r in robot.received]
    assert times[:20] == [timedelta(0)] * 20
    assert times[20:] == [timedelta(minutes=1)] * 5  # the 21st waited for the minute to pass


async def test_a_backlog_is_merged_rather_than_dropped(
    robot: RobotServer, clock: ManualClock
) -> None:
    hook = webhook(robot, clock, per_minute=3)
    texts = [f"告警 {i}" for i in range(10)]
    async with running(hook):
        for text in texts:
            hook.post(text)
        await until(lambda: hook.pending == 0 and len(robot.received) >= 1)
    # ten waiting, three a minute: merged into one post, in order
    assert robot.contents() == ["\n\n".join(texts)]


async def test_error_answers_are_logged_and_retried_with_backoff(
    robot: RobotServer, clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    robot.answer((200, RATE_LIMITED), (500, b"oops"), (200, {"errcode": 93000, "errmsg": "bad"}))
    hook = webhook(robot, clock)
    start = clock.now()
    with caplog.at_level(logging.INFO, logger="bot.wecom"):
        async with running(hook):
            hook.post("请处理")
            await until(lambda: hook.delivered == 1)
    assert len(robot.received) == 4
    assert robot.contents() == ["请处理"]  # once, after three refusals
    # 45009: the robot's minute; then the backoff for a second and a third failure in a row
    waited = [r.at - start for r in robot.received]
    assert waited == [timedelta(0), timedelta(seconds=60), timedelta(seconds=75),
                      timedelta(seconds=105)]  # fmt: skip
    failures = [(r.levelno, r.getMessage()) for r in caplog.records if "did not take" in r.message]
    assert [level for level, _ in failures] == [logging.WARNING, logging.WARNING, logging.ERROR]
    assert "errcode 45009" in failures[0][1]
    assert "HTTP 500" in failures[1][1]
    assert "errcode 93000: bad" in failures[2][1]
    assert all("127.0.0.1" in message for _, message in failures)
    assert KEY not in caplog.text  # the key is a secret


async def test_an_unreachable_robot_keeps_the_message(
    clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    with robot_server() as gone:
        url = gone.url()
    hook = WecomWebhook(url, clock=clock, sleep=stepping_sleep(clock))
    with caplog.at_level(logging.WARNING, logger="bot.wecom"):
        async with running(hook):
            hook.post("网关断开")
            await until(lambda: caplog.text.count("did not take") >= 3)
    assert hook.pending == 1
    assert hook.delivered == 0
    assert "ConnectError" in caplog.text
    assert KEY not in caplog.text


async def test_posting_never_waits_and_works_from_another_thread(
    robot: RobotServer, clock: ManualClock
) -> None:
    hook = webhook(robot, clock)
    async with running(hook):
        await asyncio.sleep(0)  # the worker runs
        thread = threading.Thread(target=hook.post, args=("来自网页后台",))
        thread.start()
        thread.join()
        await until(lambda: hook.delivered == 1)
    assert robot.contents() == ["来自网页后台"]


def test_blank_texts_are_not_queued(clock: ManualClock) -> None:
    hook = WecomWebhook("http://127.0.0.1:1/x?key=k", clock=clock)
    hook.post("  \n")
    assert hook.pending == 0
