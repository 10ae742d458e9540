from __future__ import annotations

import copy
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from bot.clock import ManualClock
from bot.settings import Settings
from storage.db import Database
from storage.models import WebSession
from tests.auxil.web import CSRF_FIELD, AuditLog, log_in, login_link
from tests.conftest import SETTINGS
from web.app import create_app
from web.auth import COOKIE

ADMIN, LEADER, RESIDENT = "wxid_street_admin", "wxid_leader_li", "wxid_resident_zhang"


def test_a_link_logs_in_with_a_session_cookie(
    web_client: TestClient,
    sqlite_db: Database,
    clock: ManualClock,
    audit_log: AuditLog,
) -> None:
    response = web_client.post(login_link(sqlite_db, LEADER, clock.now()))
    assert response.status_code == 303
    assert response.headers["location"] == "/tickets"
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}=")
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie
    assert "Max-Age=43200" in cookie  # web.session_hours
    assert "Path=/" in cookie
    assert "Secure" not in cookie  # http://127.0.0.1:8080: a Secure cookie would never come back
    # and the link's secret goes nowhere further: no referrer from the page it opens
    assert response.headers["referrer-policy"] == "no-referrer"
    assert web_client.get("/tickets").status_code == 200
    assert audit_log() == [f"web login by {LEADER} (role LEADER)"]


def test_over_https_the_cookie_is_secure(sqlite_db: Database, clock: ManualClock) -> None:
    data = copy.deepcopy(SETTINGS) | {"web": {"base_url": "https://jiedao.example.cn/"}}
    settings = Settings.model_validate(data)
    client = TestClient(create_app(settings, sqlite_db, clock), follow_redirects=False)
    response = client.post(login_link(sqlite_db, ADMIN, clock.now()))
    assert response.status_code == 303
    assert "Secure" in response.headers["set-cookie"]


def test_a_link_opened_again_is_refused(
    web_client: TestClient,
    sqlite_db: Database,
    clock: ManualClock,
    audit_log: AuditLog,
) -> None:
    link = login_link(sqlite_db, LEADER, clock.now())
    assert web_client.post(link).status_code == 303
    # from another browser: no cookie, the same link
    web_client.cookies.clear()
    replay = web_client.get(link)
    assert replay.status_code == 403
    assert "登录链接已用过" in replay.text
    assert "/后台" in replay.text
    assert COOKIE not in replay.headers.get("set-cookie", "")
    assert audit_log()[-1] == f"web login refused: used link of {LEADER}"


def test_opening_the_link_shows_a_button_and_spends_nothing(
    web_client: TestClient, sqlite_db: Database, clock: ManualClock
) -> None:
    link = login_link(sqlite_db, LEADER, clock.now())
    for _ in range(3):  # a link preview, a virus scanner, the owner
        page = web_client.get(link)
        assert page.status_code == 200
        assert "进入后台" in page.text
        assert f'action="{link}"' in page.text
        assert COOKIE not in page.headers.get("set-cookie", "")
    assert web_client.post(link).status_code == 303
    assert web_client.get("/tickets").status_code == 200


def test_a_link_older_than_ten_minutes_is_refused(
    web_client: TestClient,
    sqlite_db: Database,
    clock: ManualClock,
    audit_log: AuditLog,
) -> None:
    link = login_link(sqlite_db, LEADER, clock.now())
    clock.set(clock.now() + timedelta(minutes=10, seconds=1))
    response = web_client.get(link)
    assert response.status_code == 403
    assert "登录链接已过期" in response.text
    assert "10 分钟" in response.text
    assert audit_log() == [f"web login refused: expired link of {LEADER}"]


def test_a_made_up_link_is_refused(web_client: TestClient, audit_log: AuditLog) -> None:
    response = web_client.get("/login/" + "A" * 43)
    assert response.status_code == 403
    assert "登录链接无效" in response.text
    assert audit_log() == ["web login refused: unknown link of nobody known"]


def test_a_link_of_someone_who_leads_nothing_opens_nothing(
    web_client: TestClient,
    sqlite_db: Database,
    clock: ManualClock,
    audit_log: AuditLog,
) -> None:
    response = web_client.post(login_link(sqlite_db, RESIDENT, clock.now()))
    assert response.status_code == 403
    assert "仅限网格长和街道管理员" in response.text
    assert audit_log() == [f"web login refused to {RESIDENT}: not a leader or administrator"]


def test_without_a_login_a_page_says_how_to_log_in(web_client: TestClient) -> None:
    for path in ("/tickets", "/tickets/1"):
        response = web_client.get(path)
        assert response.status_code == 401
        assert "私聊机器人发送 /后台" in response.text
    home = web_client.get("/")
    assert home.status_code == 200
    assert "/后台" in home.text
    web_client.cookies.set(COOKIE, "made-up-session-secret-0123456789")
    stale = web_client.get("/tickets")
    assert stale.status_code == 401
    assert "登录已失效" in stale.text
    assert f'{COOKIE}=""' in stale.headers["set-cookie"]  # a cookie that opens nothing: gone


def test_logout_ends_the_session(
    web_client: TestClient,
    sqlite_db: Database,
    clock: ManualClock,
    audit_log: AuditLog,
) -> None:
    csrf = log_in(web_client, sqlite_db, LEADER, clock.now())
    secret = web_client.cookies[COOKIE]
    response = web_client.post("/logout", data={"csrf": csrf})
    assert response.status_code == 303
    assert response.headers["location"] == "/logged-out"
    assert f'{COOKIE}=""' in response.headers["set-cookie"]
    assert "已退出" in web_client.get("/logged-out").text
    # the cookie, kept by someone, opens nothing any more
    web_client.cookies.set(COOKIE, secret)
    assert web_client.get("/tickets").status_code == 401
    assert audit_log()[-1] == f"web logout by {LEADER}"


@pytest.mark.parametrize(
    "form", [{}, {"csrf": "wrong"}, {"csrf": ""}], ids=["none", "wrong", "empty"]
)
def test_a_form_without_its_csrf_token_is_refused(
    web_client: TestClient,
    sqlite_db: Database,
    clock: ManualClock,
    audit_log: AuditLog,
    form: dict[str, str],
) -> None:
    log_in(web_client, sqlite_db, LEADER, clock.now())
    response = web_client.post("/logout", data=form)
    assert response.status_code == 403
    assert "请求无效" in response.text
    assert web_client.get("/tickets").status_code == 200  # still logged in
    assert "POST /logout by wxid_leader_li refused: CSRF token" in audit_log()[-1]


def test_the_csrf_token_of_another_session_is_refused(
    web_client: TestClient, sqlite_db: Database, clock: ManualClock
) -> None:
    theirs = log_in(web_client, sqlite_db, ADMIN, clock.now())
    web_client.cookies.clear()
    mine = log_in(web_client, sqlite_db, LEADER, clock.now())
    assert theirs != mine
    assert web_client.post("/logout", data={"csrf": theirs}).status_code == 403
    assert web_client.post("/logout", data={"csrf": mine}).status_code == 303


def test_a_session_lasts_its_hours(
    web_client: TestClient, sqlite_db: Database, clock: ManualClock
) -> None:
    log_in(web_client, sqlite_db, LEADER, clock.now())
    clock.set(clock.now() + timedelta(hours=11, minutes=59))
    assert web_client.get("/tickets").status_code == 200
    clock.set(clock.now() + timedelta(minutes=1))
    assert web_client.get("/tickets").status_code == 401


def test_a_new_login_ends_the_browsers_old_session(
    web_client: TestClient, sqlite_db: Database, clock: ManualClock
) -> None:
    log_in(web_client, sqlite_db, LEADER, clock.now())
    first = web_client.cookies[COOKIE]
    log_in(web_client, sqlite_db, LEADER, clock.now())
    assert web_client.cookies[COOKIE] != first
    with sqlite_db.session() as session:
        ended = session.exec(select(WebSession.ended_at).order_by(WebSession.id)).all()
    assert ended[0] is not None
    assert ended[1] is None


def test_a_leader_taken_out_of_the_config_loses_the_console(
    sqlite_db: Database,
    clock: ManualClock,
    web_client: TestClient,
    audit_log: AuditLog,
) -> None:
    log_in(web_client, sqlite_db, LEADER, clock.now())
    data = copy.deepcopy(SETTINGS)
    data["grids"][0]["leaders"] = []
    later = create_app(Settings.model_validate(data), sqlite_db, clock)
    client = TestClient(later, base_url="http://127.0.0.1:8080", follow_redirects=False)
    client.cookies.set(COOKIE, web_client.cookies[COOKIE])
    response = client.get("/tickets")
    assert response.status_code == 403
    assert "仅限网格长和街道管理员" in response.text
    assert web_client.get("/tickets").status_code == 401  # the session ended with it
    assert audit_log()[-1] == (
        f"web: session of {LEADER} ended: no longer a leader or administrator"
    )


def test_a_logged_in_visit_of_the_home_page_goes_to_the_tickets(
    web_client: TestClient, sqlite_db: Database, clock: ManualClock
) -> None:
    log_in(web_client, sqlite_db, ADMIN, clock.now())
    response = web_client.get("/")
    assert response.status_code == 303
    assert response.headers["location"] == "/tickets"
    page = web_client.get("/tickets")
    # greeted by role; the form to log out carries the session's token
    assert "街道管理员" in page.text
    assert CSRF_FIELD.search(page.text) is not None
