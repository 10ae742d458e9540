"""The console in a real browser: Debian's chromium driven by Playwright, against the console
served by uvicorn on the test's event loop, on a database the bot filled through chat.

A leader asks for a link with /后台 in a private chat, logs in, filters the list, opens a
ticket, is refused another grid's ticket, resolves a ticket on its page (and the group's
message is in the outbox), is refused a form without its CSRF token and an action on another
grid's ticket, asks to merge, reads the statistics, downloads the Excel 台账 and reads it back,
logs out, and finds the link spent. A screenshot of every page is taken on a desk's screen
and a phone's; with GRIDBOT_SCREENSHOTS=docs/web they are the README's.

Without chromium the test is skipped, except where GRIDBOT_REQUIRE_BROWSER=1 (CI), where it
fails: `bash scripts/test.sh` installs it.
"""

from __future__ import annotations

import copy
import os
import re
import shutil
from datetime import timedelta
from io import BytesIO
from pathlib import Path

import pytest
from openpyxl import load_workbook
from playwright.async_api import Browser, Page, async_playwright
from sqlmodel import col, select

from bot.clock import ManualClock
from bot.events import MessageType
from bot.settings import Settings
from storage.db import Database
from storage.models import OutboundMessage, Ticket, TicketStatus
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


@pytest.fixture
def settings(port: int) -> Settings:
    # the links /后台 sends point at the port the test serves on
    return Settings.model_validate(
        copy.deepcopy(SETTINGS) | {"web": {"enabled": True, "port": port}}
    )


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
    """The list, a ticket, a ticket's actions and the statistics as a phone shows them (the
    login kept from the desk)."""
    phone = await browser.new_context(viewport=PHONE_SCREEN, storage_state=state)  # type: ignore[arg-type]
    page = await phone.new_page()
    for path, name, what in (
        ("/tickets", "tickets-phone", "the list"),
        ("/tickets/1", "ticket-phone", "a ticket"),
        ("/tickets/5", "ticket-actions-phone", "a ticket's actions"),
        ("/stats", "stats-phone", "the statistics"),
    ):
        await page.goto(f"{base}{path}")
        if name == "ticket-actions-phone":
            await page.click("details.assign summary")
        widths = await page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        assert widths[0] <= widths[1], f"{what} is wider than a phone"
        await _shoot(page, shots, name)
    await phone.close()


def _outbox(db: Database) -> list[str]:
    with db.session() as session:
        return list(
            session.exec(select(OutboundMessage.text).order_by(col(OutboundMessage.id))).all()
        )


def _status(db: Database, number: int) -> str:
    with db.session() as session:
        return session.get_one(Ticket, number).status


async def _act(page: Page, base: str, shots: Path, db: Database) -> None:
    """Resolve #3 on its page; be refused a form without its token and another grid's
    ticket; ask to merge."""
    await page.goto(f"{base}/tickets/3")
    await page.click("details.resolve summary")
    await page.fill("details.resolve textarea", "杂物已清走，楼道已畅通")
    await _shoot(page, shots, "ticket-actions")
    sent = len(_outbox(db))
    await page.get_by_role("button", name="确认办结").click()
    await page.wait_for_url(f"{base}/tickets/3")
    assert "#3 已办结，群里已请反映人评价。" in await page.locator("p.flash").inner_text()
    await _shoot(page, shots, "ticket-done")
    assert _status(db, 3) == TicketStatus.RESOLVED
    # the group hears it as it would from /办结: the bot sends it from the outbox
    [told] = _outbox(db)[sent:]
    assert told.startswith("您反映的问题（#3）已办结：杂物已清走，楼道已畅通")

    # a form that lost its CSRF token (as one posted from another site has none)
    await page.goto(f"{base}/tickets/4")
    await page.click("details.dismiss summary")
    await page.fill("details.dismiss textarea", "不属于本网格事务")
    await page.locator("details.dismiss input[name=csrf]").evaluate("e => e.remove()")
    async with page.expect_response(f"{base}/tickets/4/dismiss") as answer:
        await page.get_by_role("button", name="确认驳回").click()
    assert (await answer.value).status == 403
    assert "页面已过期或来自其他网站" in await page.content()
    await _shoot(page, shots, "csrf-refused")
    assert _status(db, 4) == TicketStatus.OPEN

    # another grid's ticket, posted to with his own good token
    await page.goto(f"{base}/tickets/4")
    token = await page.locator("input[name=csrf]").first.get_attribute("value")
    refused = await page.request.post(
        f"{base}/tickets/2/resolve", form={"csrf": token or "", "text": "已处理"}
    )
    assert refused.status == 403
    assert _status(db, 2) == TicketStatus.OPEN

    # 合并 is asked first
    await page.goto(f"{base}/tickets/6")
    await page.click("details.merge summary")
    await page.fill("details.merge input[name=into]", "5")
    await page.get_by_role("button", name="下一步").click()
    await page.wait_for_url(re.compile(r".*/tickets/6/merge\?into=5$"))
    assert "把 #6 并入 #5？" in await page.locator("h1").inner_text()
    await _shoot(page, shots, "merge")
    await page.get_by_role("link", name="取消").click()
    assert _status(db, 6) == TicketStatus.OPEN


async def _stats_and_ledger(page: Page, base: str, shots: Path) -> None:
    await page.click("nav >> text=统计")
    await page.wait_for_url(f"{base}/stats")
    assert await page.locator("svg.chart").count() == 2  # one grid: no "worst grids"
    assert "受理" in await page.locator(".figures").inner_text()
    await _shoot(page, shots, "stats")

    await page.goto(f"{base}/tickets?status=active")
    listed = await page.locator("td.id a").all_inner_texts()
    async with page.expect_download() as started:
        await page.click("text=下载 Excel 台账")
    download = await started.value
    assert download.suggested_filename.endswith(".xlsx")
    # as saved: the browser keeps a download under a name of its own, without ".xlsx"
    sheet = load_workbook(BytesIO((await download.path()).read_bytes()))["工单台账"]
    header, *rows = list(sheet.values)
    assert header[:3] == ("工单编号", "网格", "网格编码")
    assert [f"#{row[0]}" for row in rows] == listed
    assert all(PHONE not in str(cell) for row in rows for cell in row)


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
        desk = await browser.new_context(viewport=DESK, locale="zh-CN", accept_downloads=True)
        page = await desk.new_page()
        await _log_in_filter_and_read(page, base, link, shots)
        await _act(page, base, shots, sqlite_db)
        await _stats_and_ledger(page, base, shots)
        await _phone_shots(browser, await desk.storage_state(), base, shots)  # type: ignore[arg-type]
        await _log_out(page, base, link, shots)
        # an administrator sees every grid
        await page.goto(await _link(chat, ADMIN))
        await page.get_by_role("button", name="进入后台").click()
        await page.wait_for_url(f"{base}/tickets")
        assert "#2" in await page.locator("td.id a").all_inner_texts()
        # and every grid's figures, the ones that resolve least drawn apart
        await page.goto(f"{base}/stats")
        assert await page.locator("svg.chart").count() == 3
        await _shoot(page, shots, "stats-admin")
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
