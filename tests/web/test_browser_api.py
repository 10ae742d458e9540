"""The API's one page, /api/v1/docs, in a real browser (Debian's chromium, as
tests/web/test_browser.py drives it): it lists the endpoints, loads nothing from elsewhere,
and fits a phone. Its screenshots, on a desk's screen and a phone's, are the README's with
GRIDBOT_SCREENSHOTS=docs/web."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
from playwright.async_api import async_playwright

from bot.clock import ManualClock
from bot.settings import Settings
from storage.db import Database
from tests.auxil.web import add_grids
from tests.conftest import SETTINGS
from tests.web.test_browser import DESK, PHONE_SCREEN, _chromium
from web.serve import bind, serving


@pytest.fixture
def settings(port: int) -> Settings:
    """On a free port; the address people open is the office's (the page's example says it)."""
    web = {"enabled": True, "port": port, "base_url": "https://jiedao.example.cn"}
    return Settings.model_validate(copy.deepcopy(SETTINGS) | {"web": web})


async def test_the_api_docs_page_lists_the_endpoints_on_a_desk_and_a_phone(
    settings: Settings, sqlite_db: Database, clock: ManualClock, shots: Path
) -> None:
    executable = _chromium()
    add_grids(sqlite_db, settings)
    base = f"http://127.0.0.1:{settings.web.port}"
    sock = bind(settings.web.host, settings.web.port)
    async with serving(settings, sqlite_db, clock, sock), async_playwright() as p:
        browser = await p.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        asked: list[str] = []
        for name, screen in (("api-docs", DESK), ("api-docs-phone", PHONE_SCREEN)):
            context = await browser.new_context(viewport=screen, locale="zh-CN")  # type: ignore[arg-type]
            page = await context.new_page()
            page.on("request", lambda request: asked.append(request.url))
            await page.goto(f"{base}/api/v1/docs")
            assert await page.locator("h1").inner_text() == "数据接口说明（API）"
            paths = await page.locator(".api-endpoint h3 code").all_inner_texts()
            assert "/api/v1/tickets" in paths
            assert "/api/v1/statistics" in paths
            assert "https://jiedao.example.cn/api/v1/tickets" in await page.content()
            # nothing wider than the screen: tables and the example scroll inside their box
            width = await page.evaluate("document.documentElement.scrollWidth")
            assert width <= screen["width"], name
            await page.screenshot(path=shots / f"{name}.png", full_page=True)
            await context.close()
        # the page and its style sheet, from the console itself and nowhere else
        assert asked
        assert all(url.startswith(base) for url in asked)
        await browser.close()
