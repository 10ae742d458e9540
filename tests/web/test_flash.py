"""What an action did, said once on the page it leads back to, and only by this console."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from bot.clock import ManualClock
from storage.db import Database
from tests.auxil.web import add_ticket, log_in
from web import flash

DONE = '<p class="flash" role="status">#1 已办结，群里已请反映人评价。</p>'


@pytest.fixture
def cookie(web_client: TestClient, sqlite_db: Database, clock: ManualClock) -> str:
    """The sentence a leader's 办结 of #1 left for its page (#2 waits too)."""
    now = clock.now()
    add_ticket(sqlite_db, now - timedelta(hours=2))
    add_ticket(sqlite_db, now - timedelta(hours=1))
    csrf = log_in(web_client, sqlite_db, "wxid_leader_li", now)
    web_client.post("/tickets/1/resolve", data={"csrf": csrf, "text": "已修好"})
    left = web_client.cookies.get(flash.COOKIE)
    assert left is not None
    return left


def test_said_once_on_its_own_page(web_client: TestClient, cookie: str) -> None:
    assert 'class="flash"' not in web_client.get("/tickets/2").text  # another ticket's page
    assert DONE in web_client.get("/tickets/1").text
    assert 'class="flash"' not in web_client.get("/tickets/1").text  # a reload


@pytest.mark.parametrize(
    "forged",
    [
        "{payload}.{zeros}",  # made up elsewhere: not signed by this session
        "{payload}",
        "",
        "%%%.{zeros}",
        "{zeros}.{zeros}",
    ],
)
def test_a_sentence_not_of_this_session_is_not_shown(
    web_client: TestClient, cookie: str, forged: str
) -> None:
    payload, _dot, _signature = cookie.rpartition(".")
    web_client.cookies.set(flash.COOKIE, forged.format(payload=payload, zeros="0" * 32))
    page = web_client.get("/tickets/1")
    assert page.status_code == 200
    assert 'class="flash"' not in page.text


def test_another_sessions_sentence_is_not_this_ones(
    web_client: TestClient, sqlite_db: Database, clock: ManualClock, cookie: str
) -> None:
    web_client.cookies.clear()
    log_in(web_client, sqlite_db, "wxid_leader_li", clock.now())  # a new session, a new secret
    web_client.cookies.set(flash.COOKIE, cookie)
    assert 'class="flash"' not in web_client.get("/tickets/1").text
