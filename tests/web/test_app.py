from __future__ import annotations

import copy

from fastapi.testclient import TestClient

from bot.clock import ManualClock
from bot.settings import Settings
from storage import accounts as account_store
from storage.db import Database
from tests.auxil.web import add_grids, add_ticket, log_in, login_link
from tests.conftest import SETTINGS
from web.app import create_app


def test_pages_load_nothing_from_elsewhere_and_are_not_kept(web_client: TestClient) -> None:
    response = web_client.get("/")
    policy = response.headers["content-security-policy"]
    assert "default-src 'none'" in policy
    assert "style-src 'self'" in policy
    assert "script-src" not in policy  # no script at all
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["cache-control"] == "no-store"
    assert '<link rel="stylesheet" href="/static/console.css">' in response.text
    assert "http" not in response.text.split("<body>")[0].replace('content="width', "")


def test_the_style_sheet_ships_with_the_package(web_client: TestClient) -> None:
    response = web_client.get("/static/console.css")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/css")
    assert "@media (max-width" in response.text  # the phone's layout
    assert "url(" not in response.text  # no font or image from anywhere


def test_an_unknown_address_is_a_page_in_chinese(web_client: TestClient) -> None:
    response = web_client.get("/nowhere")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert "页面不存在" in response.text
    wrong_method = web_client.get("/logout")
    assert wrong_method.status_code == 405
    assert "不支持的操作" in wrong_method.text


def test_under_a_reverse_proxys_path_every_link_keeps_it(
    sqlite_db: Database, clock: ManualClock
) -> None:
    data = copy.deepcopy(SETTINGS) | {"web": {"base_url": "http://10.0.0.5/gridbot/"}}
    settings = Settings.model_validate(data)
    add_grids(sqlite_db, settings)
    add_ticket(sqlite_db, clock.now())
    client = TestClient(create_app(settings, sqlite_db, clock), follow_redirects=False)
    response = client.post("/gridbot" + login_link(sqlite_db, "wxid_street_admin", clock.now()))
    assert response.headers["location"] == "/gridbot/tickets"
    assert "Path=/gridbot" in response.headers["set-cookie"]
    page = client.get("/gridbot/tickets").text
    assert 'href="/gridbot/static/console.css"' in page
    assert 'href="/gridbot/tickets/1"' in page
    assert 'action="/gridbot/logout"' in page
    assert client.get("/gridbot/static/console.css").status_code == 200
    assert client.get("/tickets").status_code == 404


def test_the_viewer_is_greeted_by_the_name_residents_know(
    sqlite_db: Database, clock: ManualClock
) -> None:
    data = copy.deepcopy(SETTINGS)
    data["grids"][0]["leaders"] = [{"id": "wxid_leader_li", "name": "李明"}]
    settings = Settings.model_validate(data)
    add_grids(sqlite_db, settings)
    client = TestClient(
        create_app(settings, sqlite_db, clock), base_url=settings.web.url, follow_redirects=False
    )
    log_in(client, sqlite_db, "wxid_leader_li", clock.now())
    assert '<span class="who">李明<small>网格长</small></span>' in client.get("/tickets").text


def test_healthz_answers_the_status_as_json_without_a_login(
    web_client: TestClient, sqlite_db: Database, clock: ManualClock
) -> None:
    response = web_client.get("/healthz")
    assert response.status_code == 503  # no account has served yet
    found = response.json()
    assert found["healthy"] is False
    assert found["checks"]["database"] == {"ok": True, "detail": "reachable"}
    assert found["checks"]["accounts"]["ok"] is False
    with sqlite_db.session() as session:
        account_store.set_rooms(
            session=session, account="wxid_bot", rooms={"r1": "幸福社区第3网格"}, at=clock.now()
        )
        session.commit()
    response = web_client.get("/healthz")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.headers["cache-control"] == "no-store"
    assert response.json()["healthy"] is True


def test_healthz_is_under_a_reverse_proxys_path(sqlite_db: Database, clock: ManualClock) -> None:
    data = copy.deepcopy(SETTINGS) | {"web": {"base_url": "http://10.0.0.5/gridbot/"}}
    client = TestClient(create_app(Settings.model_validate(data), sqlite_db, clock))
    assert client.get("/gridbot/healthz").status_code == 503
    assert client.get("/healthz").status_code == 404
