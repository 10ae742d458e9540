"""积分 in a real browser (Debian's chromium driven by Playwright, as tests/web/test_browser.py
does it), on a database the bot filled through chat: a leader logs in through the /后台 link,
opens his grid's ranking and a resident's ledger, awards points on the page (and the group's
message is in the outbox), 核销 an order, downloads the 积分台账 and reads it back, and is
refused another grid's resident. With GRIDBOT_SCREENSHOTS=docs/web the screenshots are the
README's (docs/web/points*.png)."""

from __future__ import annotations

import copy
from datetime import timedelta
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from playwright.async_api import Browser, Page, async_playwright
from sqlmodel import col, select

from bot.clock import ManualClock
from bot.settings import Settings
from storage.db import Database
from storage.models import Member, OrderStatus, OutboundMessage, PointsOrder
from tests.auxil.chat import LEADER, NEIGHBOUR, OTHER_ROOM, RESIDENT, Chat
from tests.conftest import SETTINGS, shipped_points
from tests.web.test_browser import DESK, PHONE_SCREEN, _chromium, _link, _shoot
from web.serve import bind, serving

VILLAGER = ("wxid_villager_liu", "刘大叔")
NEIGHBOURS = (("wxid_resident_sun", "孙阿婆"), ("wxid_resident_zhou", "3栋周姐"))
PHONE = "13812345678"


@pytest.fixture
def settings(port: int) -> Settings:
    # the links /后台 sends point at the port the test serves on; the points rules as shipped
    data = copy.deepcopy(SETTINGS) | {"web": {"enabled": True, "port": port}}
    return Settings.model_validate(data | {"points": shipped_points()})


async def _fill(chat: Chat, clock: ManualClock) -> None:
    """A morning of points in G03, by chat: awards, a deduction, an order of 肥皂; one
    award in G04. The leader looks an hour later."""
    start = clock.now()

    async def say(minutes: int, text: str, who: tuple[str, str], **kwargs: object) -> list[Any]:
        at = start + timedelta(minutes=minutes)
        return await chat.say(text, who, at=at, **kwargs)  # type: ignore[arg-type]

    for minute, who in enumerate((RESIDENT, NEIGHBOUR, *NEIGHBOURS)):
        await say(minute, "收到", who)
    await say(4, "收到", VILLAGER, room=OTHER_ROOM)
    zhang, wang = RESIDENT[0], NEIGHBOUR[0]
    sun, zhou = (who[0] for who in NEIGHBOURS)
    await say(10, "/加分 @张阿姨 @王大爷 志愿服务 清理楼道杂物", LEADER, mentions=(zhang, wang))
    await say(12, f"/加分 @张阿姨 30 组织屋场会，联系电话{PHONE}", LEADER, mentions=(zhang,))
    await say(15, "/加分 @孙阿婆 孝老爱亲", LEADER, mentions=(sun,))
    await say(21, "/加分 @3栋周姐 12 帮邻居照看孩子", LEADER, mentions=(zhou,))
    await say(26, "/扣分 @王大爷 乱扔垃圾 楼道口", LEADER, mentions=(wang,))
    await say(30, "/加分 @刘大叔 10 清理河道", ("wxid_leader_zhao", "赵支书"), room=OTHER_ROOM,
              mentions=(VILLAGER[0],))  # fmt: skip
    [placed] = await say(41, "兑换 肥皂", RESIDENT)
    assert "单号 1" in placed.text
    await chat.app.advance(clock, start + timedelta(hours=1, minutes=30))


def _member(db: Database, contact_id: str) -> int:
    with db.session() as session:
        found = session.exec(select(Member.id).where(Member.contact_id == contact_id)).one()
        assert found is not None
        return found


def _outbox(db: Database) -> list[str]:
    with db.session() as session:
        return list(
            session.exec(select(OutboundMessage.text).order_by(col(OutboundMessage.id))).all()
        )


async def _ranking_and_ledger(page: Page, base: str, shots: Path, db: Database) -> None:
    await page.click("nav >> text=积分")
    await page.wait_for_url(f"{base}/points")
    names = await page.locator("table.ranking th[scope=row]").all_inner_texts()
    assert names[:3] == ["张阿姨", "3栋周姐", "孙阿婆"]
    assert "刘大叔" not in names  # G04's
    await _shoot(page, shots, "points")

    await page.click("text=张阿姨")
    await page.wait_for_url(f"{base}/points/residents/{_member(db, RESIDENT[0])}")
    assert await page.locator("td.delta").all_inner_texts() == ["-20", "+30", "+5"]
    assert await page.locator("td.balance").all_inner_texts() == ["15", "35", "5"]
    assert "李网格长（网格长）" in await page.locator("td.who").all_inner_texts()
    assert "138****5678" in await page.locator("table.ledger").inner_text()
    assert PHONE not in await page.content()
    await _shoot(page, shots, "points-resident")


async def _award(page: Page, base: str, shots: Path, db: Database) -> None:
    wang = _member(db, NEIGHBOUR[0])
    await page.goto(f"{base}/points/residents/{wang}")
    await page.select_option("select[name=what]", "award")
    await page.fill("input[name=amount]", "3")
    await page.fill("input[name=reason]", "帮忙搬防汛物资")
    sent = len(_outbox(db))
    await page.get_by_role("button", name="确认").click()
    await page.wait_for_url(f"{base}/points/residents/{wang}")
    said = "已给 王大爷 加 3 分（帮忙搬防汛物资）。"
    assert await page.locator("p.flash").inner_text() == said
    # the group hears it as it would from /加分: the bot sends it from the outbox
    assert _outbox(db)[sent:] == [said]
    assert (await page.locator("td.delta").all_inner_texts())[0] == "+3"
    await _shoot(page, shots, "points-awarded")
    # more than he has: refused beside the form, what was typed kept
    await page.select_option("select[name=what]", "penalty")
    await page.fill("input[name=amount]", "40")
    await page.fill("input[name=reason]", "楼道堆放杂物")
    await page.get_by_role("button", name="确认").click()
    refused = await page.locator("section.award .refused").inner_text()
    assert refused == "王大爷 现有 3 分，不够扣 40 分，本次未记录。"
    assert await page.locator("input[name=reason]").input_value() == "楼道堆放杂物"
    await _shoot(page, shots, "points-refused")
    assert _outbox(db)[sent:] == [said]


async def _redeem(page: Page, base: str, shots: Path, db: Database) -> None:
    await page.goto(f"{base}/points")
    await page.click("text=待核销的兑换")
    await page.wait_for_url(f"{base}/points/orders?grid=G03")
    assert await page.locator("table.orders td.item").all_inner_texts() == ["肥皂"]
    await _shoot(page, shots, "points-orders")
    sent = len(_outbox(db))
    await page.get_by_role("button", name="核销").click()
    await page.wait_for_url(f"{base}/points/orders?grid=G03")
    said = "已核销单号 1：张阿姨 领取「肥皂」。"
    assert await page.locator("p.flash").inner_text() == said
    assert _outbox(db)[sent:] == [said]  # as /核销 1 says it in the group
    with db.session() as session:
        assert session.get_one(PointsOrder, 1).status == OrderStatus.CONFIRMED


async def _download(page: Page, base: str) -> None:
    await page.goto(f"{base}/points")
    async with page.expect_download() as started:
        await page.get_by_role("button", name="下载积分台账（Excel）").click()
    download = await started.value
    assert download.suggested_filename.endswith(".xlsx")
    sheet = load_workbook(BytesIO((await download.path()).read_bytes()))["积分台账"]
    header, *rows = list(sheet.values)
    assert header[:4] == ("记账时间", "网格", "网格编码", "居民")
    assert {row[2] for row in rows} == {"G03"}
    # 张阿姨's: 志愿服务, 30, the 肥皂 held; each with the balance it left
    assert [(row[5], row[6]) for row in rows if row[3] == "张阿姨"] == [(5, 5), (30, 35), (-20, 15)]
    assert all(PHONE not in str(cell) for row in rows for cell in row)


async def _phone_shots(
    browser: Browser, state: object, base: str, shots: Path, db: Database
) -> None:
    phone = await browser.new_context(viewport=PHONE_SCREEN, storage_state=state)  # type: ignore[arg-type]
    page = await phone.new_page()
    for path, name in (
        ("/points", "points-phone"),
        (f"/points/residents/{_member(db, RESIDENT[0])}", "points-resident-phone"),
        ("/points/orders", "points-orders-phone"),
    ):
        await page.goto(f"{base}{path}")
        widths = await page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        assert widths[0] <= widths[1], f"{path} is wider than a phone"
        await _shoot(page, shots, name)
    await phone.close()


async def test_a_leader_awards_and_redeems_on_the_points_pages(
    chat: Chat, settings: Settings, sqlite_db: Database, clock: ManualClock, shots: Path
) -> None:
    executable = _chromium()
    await _fill(chat, clock)
    base, link = settings.web.url, await _link(chat, LEADER)
    sock = bind(settings.web.host, settings.web.port)
    async with serving(settings, sqlite_db, clock, sock), async_playwright() as p:
        browser = await p.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        desk = await browser.new_context(viewport=DESK, locale="zh-CN", accept_downloads=True)
        page = await desk.new_page()
        await page.goto(link)
        await page.get_by_role("button", name="进入后台").click()
        await page.wait_for_url(f"{base}/tickets")
        await _ranking_and_ledger(page, base, shots, sqlite_db)
        await _award(page, base, shots, sqlite_db)
        await _phone_shots(browser, await desk.storage_state(), base, shots, sqlite_db)
        await _redeem(page, base, shots, sqlite_db)
        await _download(page, base)
        # another grid's resident, typed into the address bar
        response = await page.goto(f"{base}/points/residents/{_member(sqlite_db, VILLAGER[0])}")
        assert response is not None
        assert response.status == 403
        assert "刘大叔" not in await page.content()
        await browser.close()
