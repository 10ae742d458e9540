"""The console in a real browser: Debian's chromium driven by Playwright, against the console
served by uvicorn on the test's event loop, on a database the bot filled through chat.

A leader asks for a link with /后台 in a private chat, logs in, filters the list, opens a
ticket, is refused another grid's ticket, logs out, and finds the link spent. A screenshot
of every page is taken on a desk's screen and a phone's; with GRIDBOT_SCREENSHOTS=docs/web
they are the README's.

Without chromium the test is skipped, except where GRIDBOT_REQUIRE_BROWSER=1 (CI), where it
fails: `bash scripts/test.sh` installs it.
"""

from __future__ import annotations

import copy
import os
import re
import shutil
import socket
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, async_playwright

from bot.clock import ManualClock
from bot.events import MessageType
from bot.settings import Settings
from storage.db import Database
from tests.auxil.chat import ADMIN, LEADER, NEIGHBOUR, OTHER_ROOM, RESIDENT, Chat
from tests.conftest import SETTINGS
from web.serve import bind, serving

VILLAGER = ("wxid_villager_liu", "刘大叔")
WORKER = ("wxid_worker_wang", "王师傅")
PHONE = "13812345678"
DESK = {"width": 1280, "height": 860}
PHONE_SCREEN = {"width": 390, "height": 844}


def _chromium() -> str:
    found = next(
        (p for p in ("/usr/bin/chromium", shutil.which("chromium")) if p and os.access(p, os.X_OK)),
        None,
    )
    if found is None:
        reason = "chromium not found (apt-get install chromium fonts-wqy-microhei)"
        if os.environ.get("GRIDBOT_REQUIRE_BROWSER") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    return found


@pytest.fixture(scope="module")
def port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        free: int = sock.getsockname()[1]
    return free


@pytest.fixture
def settings(port: int) -> Settings:
    # the links /后台 sends point at the port the test serves on
    return Settings.model_validate(
        copy.deepcopy(SETTINGS) | {"web": {"enabled": True, "port": port}}
    )


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("GRIDBOT_SCREENSHOTS") or tmp_path / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


async def _fill(chat: Chat, clock: ManualClock) -> None:
    """A day and a half of two grids: a lamp through the whole loop, other matters waiting,
    one of them past its deadline by the time the leader looks."""
    start = clock.now()

    async def say(minutes: int, text: str, who: tuple[str, str], **kwargs: object) -> None:
        await chat.say(text, who, at=start + timedelta(minutes=minutes), **kwargs)  # type: ignore[arg-type]

    await say(0, f"3栋门口的路灯坏了好几天了，晚上黑漆漆的，麻烦处理一下，电话{PHONE}", RESIDENT)
    await say(1, "[图片]", RESIDENT, type=MessageType.IMAGE)
    await say(14, "3栋路灯坏了，晚上出门很不方便，能不能修一下", NEIGHBOUR)
    await say(32, "/派单 1 @王师傅", LEADER, mentions=(WORKER[0],))
    await say(47, "村口的垃圾堆了三天没人清理，臭死了", VILLAGER, room=OTHER_ROOM)  # G04
    await say(65, "5栋楼道里堆满了杂物，万一着火人都跑不出去", RESIDENT)
    await say(186, "/办结 1 路灯已更换，恢复照明", LEADER)
    await say(201, "不满意", RESIDENT)
    await say(243, "楼下垃圾桶满了好几天没人清运，味道很大", NEIGHBOUR)
    await say(305, "/办结 1 已更换整套灯具并检查了线路", LEADER)
    await say(311, "满意", RESIDENT)
    await say(418, "2单元楼上天天半夜装修，吵得睡不着，能不能管管", NEIGHBOUR)
    await say(1380, "小区东门的井盖松了，踩上去晃得厉害", RESIDENT)
    # the next morning: the scheduled sweep has reminded what is overdue
    await chat.app.advance(clock, start + timedelta(hours=25, minutes=30))


async def _shoot(page: Page, shots: Path, name: str) -> None:
    await page.screenshot(path=shots / f"{name}.png", full_page=True)


async def _phone_shots(browser: Browser, state: dict[str, object], base: str, shots: Path) -> None:
    """The list and a ticket as a phone shows them (the login kept from the desk)."""
    phone = await browser.new_context(viewport=PHONE_SCREEN, storage_state=state)  # type: ignore[arg-type]
    page = await phone.new_page()
    await page.goto(f"{base}/tickets")
    widths = await page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert widths[0] <= widths[1], "the list is wider than a phone"
    await _shoot(page, shots, "tickets-phone")
    await page.goto(f"{base}/tickets/1")
    widths = await page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert widths[0] <= widths[1], "a ticket is wider than a phone"
    await _shoot(page, shots, "ticket-phone")
    await phone.close()


async def _log_in_filter_and_read(page: Page, base: str, link: str, shots: Path) -> None:
    await page.goto(link)
    await _shoot(page, shots, "login")
    await page.get_by_role("button", name="进入后台").click()
    await page.wait_for_url(f"{base}/tickets")
    assert await page.locator("td.id a").all_inner_texts() == ["#6", "#5", "#4", "#3", "#1"]
    assert PHONE not in await page.content()  # #1's reporter wrote it; a leader reads it masked
    assert "李网格长" in await page.locator(".who").inner_text()
    await _shoot(page, shots, "tickets")

    # filter: still open, 环境卫生 (#2 is G04's: never here)
    await page.select_option("select[name=status]", "active")
    await page.select_option("select[name=category]", label="环境卫生")
    await page.click("form.filters button[type=submit]")
    assert "status=active" in page.url
    assert await page.locator("td.id a").all_inner_texts() == ["#4"]
    await _shoot(page, shots, "tickets-filtered")
    await page.fill("input[name=q]", "井盖")
    await page.select_option("select[name=category]", "")
    await page.click("form.filters button[type=submit]")
    assert await page.locator("td.id a").all_inner_texts() == ["#6"]

    # a ticket and its whole story
    await page.goto(f"{base}/tickets")
    await page.click("text=#1")
    assert page.url == f"{base}/tickets/1"
    timeline = await page.locator(".timeline strong").all_inner_texts()
    assert timeline[:4] == ["居民反映，受理", "附件", "同类诉求 +1", "派单"]
    assert timeline[-1] == "归档"
    assert "138****5678" in await page.locator("blockquote").inner_text()
    await _shoot(page, shots, "ticket")

    # another grid's ticket, typed into the address bar
    response = await page.goto(f"{base}/tickets/2")
    assert response is not None
    assert response.status == 403
    assert "不是你负责的网格" in await page.content()
    await _shoot(page, shots, "forbidden")


async def _log_out(page: Page, base: str, link: str, shots: Path) -> None:
    # the button posts the form with its CSRF token
    await page.goto(f"{base}/tickets")
    await page.click("text=退出")
    assert page.url == f"{base}/logged-out"
    await _shoot(page, shots, "logged-out")
    response = await page.goto(f"{base}/tickets")
    assert response is not None
    assert response.status == 401
    assert "/后台" in await page.content()
    await _shoot(page, shots, "login-needed")
    await page.goto(f"{base}/")
    await _shoot(page, shots, "home")
    # the link from the chat, opened again
    response = await page.goto(link)
    assert response is not None
    assert response.status == 403
    assert "登录链接已用过" in await page.content()
    await _shoot(page, shots, "link-used")


async def _link(chat: Chat, who: tuple[str, str]) -> str:
    """The link ``who`` gets for /后台 in a private chat with the bot."""
    [reply] = await chat.say("/后台", who, room=None)
    found = re.search(r"http://\S+/login/\S+", reply.text)
    assert found is not None, reply.text
    return found.group(0)


async def test_a_leader_logs_in_filters_reads_and_logs_out(
    chat: Chat, settings: Settings, sqlite_db: Database, clock: ManualClock, shots: Path
) -> None:
    executable = _chromium()
    await _fill(chat, clock)
    link = await _link(chat, LEADER)
    base = settings.web.url
    sock = bind(settings.web.host, settings.web.port)
    async with serving(settings, sqlite_db, clock, sock), async_playwright() as p:
        browser = await p.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        desk = await browser.new_context(viewport=DESK, locale="zh-CN")
        page = await desk.new_page()
        await _log_in_filter_and_read(page, base, link, shots)
        await _phone_shots(browser, await desk.storage_state(), base, shots)  # type: ignore[arg-type]
        await _log_out(page, base, link, shots)
        # an administrator sees every grid
        await page.goto(await _link(chat, ADMIN))
        await page.get_by_role("button", name="进入后台").click()
        await page.wait_for_url(f"{base}/tickets")
        assert "#2" in await page.locator("td.id a").all_inner_texts()
        await browser.close()


@pytest.mark.parametrize(
    ("required", "outcome"), [("1", pytest.fail.Exception), ("", pytest.skip.Exception)]
)
def test_without_chromium_ci_fails_where_a_laptop_skips(
    monkeypatch: pytest.MonkeyPatch, required: str, outcome: type[BaseException]
) -> None:
    monkeypatch.setattr(os, "access", lambda *_args: False)
    monkeypatch.setattr(shutil, "which", lambda _name: None)
    monkeypatch.setenv("GRIDBOT_REQUIRE_BROWSER", required)
    with pytest.raises(outcome, match="chromium not found"):
        _chromium()
