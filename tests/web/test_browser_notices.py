"""公告 and 网格 in a real browser (Debian's chromium driven by Playwright, as
tests/web/test_browser.py does), against the console served on the test's event loop, on a
database the bot filled through chat.

A leader logs in through the /后台 link, schedules a notice on the page, finds it listed and
cancels it; schedules another, which the bot sends at its minute; reads a notice's delivery
to each group and the config's seasonal notice; is refused another grid's notice typed into
the address bar. An administrator opens 网格. Screenshots on a desk's screen and a phone's;
with GRIDBOT_SCREENSHOTS=docs/web they are the README's.
"""

from __future__ import annotations

import copy
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, async_playwright
from sqlmodel import col, select

from bot.clock import ManualClock
from bot.settings import Settings
from storage import accounts as account_store
from storage.accounts import DEFAULT_ACCOUNT
from storage.db import Database
from storage.models import Notice
from tests.auxil.chat import ADMIN, LEADER, OTHER_LEADER, OTHER_ROOM, ROOM, Chat, RecordingSender
from tests.conftest import SETTINGS, TZ
from tests.web.test_browser import DESK, PHONE_SCREEN, _chromium, _link, _shoot
from web.serve import bind, serving

DAILY = {
    "id": "fire-safety",
    "title": "冬季防火提醒",
    "text": "【冬季防火】天干物燥，请勿在楼道堆放杂物，电动车不进楼入户。",
    "targets": {"all": True},
    "cron": "0 9 * * *",
    "active_from": "2026-11-01",
    "active_until": "2027-02-28",
}


@pytest.fixture
def settings(port: int) -> Settings:
    data = copy.deepcopy(SETTINGS) | {"web": {"enabled": True, "port": port}, "notices": [DAILY]}
    # a village's grid whose group the bot has not seen yet
    data["grids"].append({"code": "G05", "name": "桃园村网格", "room": "桃园村网格群",
                          "leaders": [{"id": "wxid_leader_sun", "name": "孙书记"}]})  # fmt: skip
    return Settings.model_validate(data)


async def _fill(chat: Chat, clock: ManualClock, db: Database) -> int:
    """A morning of two grids (a third not connected yet): the config's notice went out at
    09:00, the leader sent one to his group, the administrator scheduled one to every grid,
    G04's leader one to his; the bot's account says it is serving. The number of G04's
    notice."""
    start = clock.now()

    async def say(minutes: int, text: str, who: tuple[str, str], **kwargs: object) -> None:
        await chat.say(text, who, at=start + timedelta(minutes=minutes), **kwargs)  # type: ignore[arg-type]

    await say(1, "大家好，我是新搬来的", ("wxid_resident_zhang", "张阿姨"))
    await say(2, "村口路灯亮了，谢谢", ("wxid_villager_liu", "刘大叔"), room=OTHER_ROOM)
    await say(5, "/公告 今天下午3点物业检修电梯，请大家错开使用", LEADER)
    await say(8, "/定时公告 全部 2026-11-24 20:00 今晚8点全街道消防安全检查，请配合", ADMIN)
    await say(9, "/定时公告 2026-11-23 10:00 明天上午村委会发放取暖补贴", OTHER_LEADER,
              room=OTHER_ROOM)  # fmt: skip
    with db.session() as session:
        account_store.heartbeat(session=session, account=DEFAULT_ACCOUNT, at=clock.now())
        session.commit()
        g04 = session.exec(select(Notice.id).where(Notice.author_id == OTHER_LEADER[0])).one()
    assert g04 is not None
    return g04


async def _schedule_and_cancel(page: Page, base: str, shots: Path, db: Database) -> None:
    await page.click("nav >> text=公告")
    await page.wait_for_url(f"{base}/notices")
    await page.click("details.schedule-notice summary")
    await page.fill("input[name=send_at]", "2026-11-23T15:00")
    await page.fill("details.schedule-notice textarea", "明天下午3点到5点停水，请提前储水")
    await _shoot(page, shots, "notices-new")
    await page.get_by_role("button", name="登记定时公告").click()
    await page.wait_for_url(f"{base}/notices/4")
    said = await page.locator("p.flash").inner_text()
    assert said == "定时公告 #4 已登记，11月23日 15:00发到幸福社区第3网格群。"
    await _shoot(page, shots, "notices-one")
    # listed: the ones still to go first
    await page.click("text=← 公告列表")
    numbers = await page.locator("ul.notices a.id").all_inner_texts()
    assert numbers[:3] == ["#4", "#2", "#1"]
    await _shoot(page, shots, "notices")
    # and cancelled, on its page
    await page.click("a.id >> text=#4")
    await page.get_by_role("button", name="取消公告 #4").click()
    await page.wait_for_url(f"{base}/notices/4")
    assert "已取消定时公告 #4，它不会发出。" in await page.locator("p.flash").inner_text()
    await _shoot(page, shots, "notices-cancelled")
    with db.session() as session:
        assert session.get_one(Notice, 4).status == "cancelled"
    # another, which the bot will send at its minute
    await page.goto(f"{base}/notices")
    await page.click("details.schedule-notice summary")
    await page.fill("input[name=send_at]", "2026-11-22T15:30")
    await page.fill("details.schedule-notice textarea", "今天下午4点小区东门临时封闭施工")
    await page.get_by_role("button", name="登记定时公告").click()
    await page.wait_for_url(f"{base}/notices/5")


async def _deliveries_and_refusal(page: Page, base: str, shots: Path, g04: int) -> None:
    await page.goto(f"{base}/notices/1")
    rows = await page.locator("table.deliveries td.grid").all_inner_texts()
    assert rows == ["幸福社区第3网格"]
    assert await page.locator("table.deliveries .delivery").all_inner_texts() == ["已发送"]
    await _shoot(page, shots, "notices-sent")
    await page.goto(f"{base}/notices/config/{DAILY['id']}")
    assert "下次发送" in await page.locator("dl.facts").inner_text()
    await _shoot(page, shots, "notices-config")
    # another grid's notice, typed into the address bar
    response = await page.goto(f"{base}/notices/{g04}")
    assert response is not None
    assert response.status == 403
    assert "不是发给你负责的网格的" in await page.content()
    await _shoot(page, shots, "notices-forbidden")


async def _phone_shots(browser: Browser, state: object, base: str, shots: Path, who: str) -> None:
    phone = await browser.new_context(viewport=PHONE_SCREEN, storage_state=state)  # type: ignore[arg-type]
    page = await phone.new_page()
    pages = (("/notices", "notices-phone"), ("/notices/1", "notices-one-phone"))
    for path, name in (*pages, ("/grids", "grids-phone")) if who == "leader" else ():
        await page.goto(f"{base}{path}")
        if name == "notices-phone":
            await page.click("details.schedule-notice summary")
        widths = await page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        assert widths[0] <= widths[1], f"{path} is wider than a phone"
        await _shoot(page, shots, name)
    await phone.close()


async def test_a_leader_schedules_lists_and_cancels_a_notice(
    chat: Chat,
    settings: Settings,
    *,
    sqlite_db: Database,
    clock: ManualClock,
    sender: RecordingSender,
    shots: Path,
) -> None:
    executable = _chromium()
    await chat.app.advance(clock, datetime(2026, 11, 22, 9, 0, 30, tzinfo=TZ))  # 09:00's run
    g04 = await _fill(chat, clock, sqlite_db)
    link = await _link(chat, LEADER)
    base = settings.web.url
    sock = bind(settings.web.host, settings.web.port)
    async with serving(settings, sqlite_db, clock, sock), async_playwright() as p:
        browser = await p.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        desk = await browser.new_context(viewport=DESK, locale="zh-CN")
        page = await desk.new_page()
        await page.goto(link)  # the link /后台 sends, and its button
        await page.get_by_role("button", name="进入后台").click()
        await page.wait_for_url(f"{base}/tickets")
        await _schedule_and_cancel(page, base, shots, sqlite_db)
        await _deliveries_and_refusal(page, base, shots, g04)
        await page.goto(f"{base}/grids")
        assert await page.locator("strong.name").all_inner_texts() == ["幸福社区第3网格"]
        await _shoot(page, shots, "grids-leader")
        await _phone_shots(browser, await desk.storage_state(), base, shots, "leader")
        # an administrator opens 网格: every grid, the one not yet connected first
        admin = await browser.new_context(viewport=DESK, locale="zh-CN")
        page = await admin.new_page()
        await page.goto(await _link(chat, ADMIN))
        await page.get_by_role("button", name="进入后台").click()
        await page.wait_for_url(f"{base}/tickets")
        await page.click("nav >> text=网格")
        await page.wait_for_url(f"{base}/grids")
        assert await page.locator("strong.name").all_inner_texts() == [
            "桃园村网格",
            "幸福社区第3网格",
            "幸福社区第4网格",
        ]
        assert "机器人运行状态：正常" in await page.locator("section.health h2").inner_text()
        await _shoot(page, shots, "grids")
        await page.goto(f"{base}/notices")
        await _shoot(page, shots, "notices-admin")
        await browser.close()
    # the notice scheduled on the page goes at its minute: the bot's sweep sends it
    sender.clear()
    await chat.app.advance(clock, datetime(2026, 11, 22, 15, 31, tzinfo=TZ))
    assert (ROOM, "今天下午4点小区东门临时封闭施工") in [
        (m.room_topic, m.text) for m in sender.sent
    ]
    with sqlite_db.session() as session:
        statuses = session.exec(select(Notice.status).order_by(col(Notice.id))).all()
    assert statuses == ["sent", "scheduled", "scheduled", "cancelled", "sent"]
