from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from bot.clock import ManualClock
from bot.settings import Settings
from domain import tickets as domain_tickets
from domain.actor import actor_for
from domain.ticket_stats import report
from storage import api_keys
from storage.db import Database
from storage.models import ApiKey, TicketStatus
from tests.auxil.web import add_ticket
from web.api import actor_of

LEADER_ID, WORKER_ID, RESIDENT_ID = "wxid_leader_li", "wxid_louzhang_hu", "wxid_resident_zhang"
PHONE, MASKED = "13812345678", "138****5678"
ID_CARD, ID_MASKED = "110105199001011234", "110105********1234"


def make_key(db: Database, name: str = "12345平台", grids: tuple[str, ...] = ()) -> str:
    with db.session() as session:
        made = api_keys.create(session=session, name=name, grids=grids, created_by="t", now=_T0)
        session.commit()
    return made.key


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


_T0 = datetime(2026, 11, 1, tzinfo=UTC)


@pytest.fixture
def tickets(
    web_client: TestClient, sqlite_db: Database, settings: Settings, clock: ManualClock
) -> Database:
    """G03: #1 open then assigned by its leader, #2 urgent and overdue, #3 archived
    (environment, rated), #5 resolved; G04: #4 open. Created an hour apart, #1 first."""
    now = clock.now()
    add_ticket(sqlite_db, now - timedelta(hours=5), text=f"3栋楼道灯坏了，电话{PHONE}")
    add_ticket(
        sqlite_db, now - timedelta(hours=4), urgent=True, due_at=now - timedelta(hours=1),
        text="5栋电梯困人", reporter_name=f"刘姐{PHONE}", reporter_id="wxid_resident_liu",
    )  # fmt: skip
    add_ticket(
        sqlite_db, now - timedelta(days=3), category="environment", status=TicketStatus.ARCHIVED,
        text="垃圾没人清", rating="satisfied", resolved_at=now - timedelta(days=2),
        feedback=f"已清运，身份证{ID_CARD}的居民已告知",
    )  # fmt: skip
    add_ticket(sqlite_db, now - timedelta(hours=2), grid_code="G04", text="村口路灯不亮")
    add_ticket(
        sqlite_db, now - timedelta(hours=1), status=TicketStatus.RESOLVED, text="井盖松了",
        resolved_at=now - timedelta(minutes=30), feedback="已固定",
    )  # fmt: skip
    with sqlite_db.session() as session:
        leader = actor_for(session, settings, LEADER_ID)
        assert leader is not None
        domain_tickets.assign(
            session, settings, leader, 1, WORKER_ID, now=now - timedelta(minutes=10)
        )
        session.commit()
    return sqlite_db


def _ids(response: object) -> list[int]:
    body = response.json()  # type: ignore[attr-defined]
    return [item["id"] for item in body["items"]]


# --- keys ------------------------------------------------------------------------------------


def test_without_a_good_key_nothing_is_read(
    web_client: TestClient, tickets: Database, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "gridbot.audit")
    key = make_key(tickets)
    wrong = key[:-2] + ("AA" if not key.endswith("AA") else "BB")
    for headers in ({}, bearer(wrong), {"X-API-Key": "gbk_nothing"}, bearer("")):
        response = web_client.get("/api/v1/tickets", headers=headers)
        assert response.status_code == 401, headers
        assert response.headers["WWW-Authenticate"] == "Bearer"
        assert response.headers["content-type"] == "application/json"
        assert "楼道灯" not in response.text
    # a key in the address is no key here (addresses end up in proxies' logs)
    assert web_client.get(f"/api/v1/tickets?api_key={key}").status_code == 401
    lines = [r.getMessage() for r in caplog.records if r.name == "gridbot.audit"]
    assert len(lines) == 5
    assert "no API key" in lines[0]
    assert f"unknown key {key[:12]}" in lines[1]  # named by its prefix, never in full
    assert all(wrong not in line and key not in line for line in lines)


def test_a_key_opens_in_either_header_and_its_use_is_noted(
    web_client: TestClient, tickets: Database, clock: ManualClock
) -> None:
    key = make_key(tickets)
    assert web_client.get("/api/v1/tickets", headers=bearer(key)).status_code == 200
    assert web_client.get("/api/v1/grids", headers={"X-API-Key": key}).status_code == 200
    assert web_client.get("/api/v1/grids", headers={"authorization": f"bearer {key}"}).is_success
    with tickets.session() as session:
        assert session.exec(select(ApiKey.last_used_at)).one() == clock.now()


def test_a_revoked_key_opens_nothing_from_its_next_request(
    web_client: TestClient, tickets: Database, clock: ManualClock
) -> None:
    key = make_key(tickets)
    assert web_client.get("/api/v1/tickets", headers=bearer(key)).status_code == 200
    with tickets.session() as session:
        api_keys.revoke(session=session, which="12345平台", by="t", now=clock.now())
        session.commit()
    response = web_client.get("/api/v1/tickets/1", headers=bearer(key))
    assert response.status_code == 401
    assert response.json() == {"detail": "API 密钥已吊销"}


# --- rights ----------------------------------------------------------------------------------


def test_a_key_of_some_grids_reads_those_only_whatever_is_typed(
    web_client: TestClient, tickets: Database, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "gridbot.audit")
    headers = bearer(make_key(tickets, "村里的平台", grids=("G04",)))
    assert _ids(web_client.get("/api/v1/tickets", headers=headers)) == [4]
    assert web_client.get("/api/v1/tickets/4", headers=headers).status_code == 200
    for path in (
        "/api/v1/tickets/1",  # G03's, typed by hand
        "/api/v1/tickets?grid=G03",
        "/api/v1/statistics?grid=G03",
        "/api/v1/tickets?grid=G99",  # no grid of its own either
    ):
        response = web_client.get(path, headers=headers)
        assert response.status_code == 403, path
        assert "楼道灯" not in response.text
    assert [g["code"] for g in web_client.get("/api/v1/grids", headers=headers).json()] == ["G04"]
    figures = web_client.get("/api/v1/statistics", headers=headers).json()
    assert figures["total"]["accepted"] == 1
    assert [g["grid"] for g in figures["grids"]] == ["G04"]
    refused = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
    assert len(refused) == 4
    assert all(line.startswith("api: 村里的平台 (gbk_") for line in refused)


def test_a_key_of_every_grid_reads_every_grid(web_client: TestClient, tickets: Database) -> None:
    headers = bearer(make_key(tickets))
    assert _ids(web_client.get("/api/v1/tickets", headers=headers)) == [5, 4, 2, 1, 3]
    codes = [g["code"] for g in web_client.get("/api/v1/grids", headers=headers).json()]
    assert codes == ["G03", "G04"]
    assert web_client.get("/api/v1/tickets/999", headers=headers).status_code == 404
    assert web_client.get(f"/api/v1/tickets/{2**40}", headers=headers).status_code == 404


# --- the list --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", [5, 4, 2, 1, 3]),
        ("grid=G03", [5, 2, 1, 3]),
        ("status=active", [4, 2, 1]),
        ("status=resolved", [5]),
        ("category=environment", [3]),
        ("urgent=true", [2]),
        ("overdue=1", [2]),
        ("from=2026-11-22", [5, 4, 2, 1]),
        ("to=2026-11-21", [3]),
        ("from=2026-11-19&to=2026-11-19", [3]),
        ("sort=oldest", [3, 1, 2, 4, 5]),
        ("sort=due&status=active", [2, 1, 4]),
    ],
)
def test_filters_as_the_consoles_list(
    web_client: TestClient, tickets: Database, query: str, expected: list[int]
) -> None:
    headers = bearer(make_key(tickets))
    response = web_client.get(f"/api/v1/tickets?{query}", headers=headers)
    assert response.status_code == 200, response.text
    assert _ids(response) == expected
    assert response.json()["total"] == len(expected)


def test_pages_by_limit_and_offset(web_client: TestClient, tickets: Database) -> None:
    headers = bearer(make_key(tickets))
    seen = []
    for offset in (0, 2, 4):
        page = web_client.get(f"/api/v1/tickets?limit=2&offset={offset}", headers=headers).json()
        assert (page["total"], page["limit"], page["offset"]) == (5, 2, offset)
        seen += [item["id"] for item in page["items"]]
    assert seen == [5, 4, 2, 1, 3]
    past = web_client.get("/api/v1/tickets?offset=100", headers=headers).json()
    assert (past["items"], past["total"]) == ([], 5)


@pytest.mark.parametrize(
    "query",
    [
        "status=nothing",
        "category=weather",
        "urgent=maybe",
        "from=2026-13-01",
        "from=0001-01-01",
        "to=9999-12-31",
        "from=2026-11-22&to=2026-11-01",
        "limit=0",
        "limit=201",
        "offset=-1",
        "sort=random",
        "limit=99999999999999999999999",
    ],
)
def test_what_cant_be_read_is_a_422_never_a_crash(
    web_client: TestClient, tickets: Database, query: str
) -> None:
    headers = bearer(make_key(tickets))
    response = web_client.get(f"/api/v1/tickets?{query}", headers=headers)
    assert response.status_code == 422, response.text
    assert "detail" in response.json()


# --- what is said ----------------------------------------------------------------------------


def test_numbers_are_masked_and_residents_are_pseudonyms(
    web_client: TestClient, tickets: Database
) -> None:
    key = make_key(tickets)
    headers = bearer(key)
    listed = web_client.get("/api/v1/tickets", headers=headers)
    details = [web_client.get(f"/api/v1/tickets/{n}", headers=headers) for n in range(1, 6)]
    for response in (listed, *details):
        text = response.text
        assert PHONE not in text
        assert ID_CARD not in text
        # no WeChat id of anyone, and no resident's display name
        assert not re.search(r"wxid_", text)
        assert "张阿姨" not in text
        assert "刘姐" not in text
    first = details[0].json()
    assert first["text"] == f"3栋楼道灯坏了，电话{MASKED}"
    with tickets.session() as session:
        row = session.exec(select(ApiKey)).one()
    assert first["reporter"] == api_keys.pseudonym(row, RESIDENT_ID)
    assert first["reporters"] == [
        {"reporter": first["reporter"], "at": "2026-11-22T04:00:00+08:00", "first": True}
    ]
    assert details[2].json()["feedback"] == f"已清运，身份证{ID_MASKED}的居民已告知"
    # the same resident, the same id, in every answer
    assert details[4].json()["reporter"] == first["reporter"]
    assert details[1].json()["reporter"] != first["reporter"]


def test_a_ticket_with_its_timeline(web_client: TestClient, tickets: Database) -> None:
    headers = bearer(make_key(tickets))
    ticket = web_client.get("/api/v1/tickets/1", headers=headers).json()
    assert ticket["status"] == "assigned"
    assert ticket["status_name"] == "处置中"
    assert ticket["grid_name"] == "幸福社区第3网格"
    assert ticket["category_name"] == "设施报修"
    assert ticket["created_at"] == "2026-11-22T04:00:00+08:00"
    assert ticket["due_at"] == "2026-11-23T04:00:00+08:00"
    assert not ticket["overdue"]
    created, assigned = ticket["timeline"]
    assert created["action"] == "created"
    assert created["by"] == ticket["reporter"]
    assert created["by_name"] is None  # a resident is not named
    assert created["note"] == f"3栋楼道灯坏了，电话{MASKED}"
    assert assigned["action"] == "assigned"
    assert assigned["action_name"] == "派单"
    assert assigned["by_name"] == "网格长"
    assert assigned["by"].startswith("p_")
    assert (assigned["from_status"], assigned["to_status"]) == ("open", "assigned")
    assert assigned["at"] == "2026-11-22T08:50:00+08:00"
    assert ticket["attachments"] == []
    assert ticket["merged_in"] == []
    archived = web_client.get("/api/v1/tickets/3", headers=headers).json()
    assert (archived["rating"], archived["rating_name"]) == ("satisfied", "满意")
    assert archived["resolved_at"] == "2026-11-20T09:00:00+08:00"


def test_categories_and_grids(web_client: TestClient, tickets: Database) -> None:
    headers = bearer(make_key(tickets))
    listed = web_client.get("/api/v1/categories", headers=headers).json()
    assert [c["code"] for c in listed] == [
        "environment", "facility", "dispute", "safety", "security", "assistance", "consult",
    ]  # fmt: skip
    assert listed[0]["name"] == "环境卫生"
    assert listed[0]["time_limit_hours"] == 48
    grid = web_client.get("/api/v1/grids", headers=headers).json()[0]
    assert grid == {"code": "G03", "name": "幸福社区第3网格", "community": "幸福社区", "tags": []}


def test_statistics_are_the_domains_figures(
    web_client: TestClient, tickets: Database, settings: Settings, clock: ManualClock
) -> None:
    headers = bearer(make_key(tickets))
    figures = web_client.get("/api/v1/statistics", headers=headers).json()
    assert (figures["first"], figures["last"]) == ("2026-11-01", "2026-11-22")  # this month
    with tickets.session() as session:
        row = session.exec(select(ApiKey)).one()
        expected = report(
            session, settings, actor_of(row, settings),
            clock.now().replace(day=1, hour=0), clock.now().replace(hour=0) + timedelta(days=1),
        )  # fmt: skip
    total = figures["total"]
    assert total["accepted"] == expected.total.accepted == 5
    assert total["done"] == expected.total.done == 2
    assert total["done_rate"] == pytest.approx(expected.total.done_rate)
    assert total["satisfaction"] == 1.0
    g03 = next(g for g in figures["grids"] if g["grid"] == "G03")
    assert (g03["grid_name"], g03["accepted"], g03["working"]) == ("幸福社区第3网格", 4, 2)
    categories = {c["category"]: c["accepted"] for c in figures["categories"]}
    assert categories == {"environment": 1, "facility": 4}
    assert [w["week"] for w in figures["weeks"]] == ["2026-10-26", "2026-11-02", "2026-11-09",
                                                     "2026-11-16"]  # fmt: skip
    one_day = web_client.get("/api/v1/statistics?from=2026-11-19&to=2026-11-19", headers=headers)
    assert one_day.json()["total"]["accepted"] == 1
    bad = web_client.get("/api/v1/statistics?from=2026-11-22&to=2026-11-01", headers=headers)
    assert bad.status_code == 422


# --- the schema and its page -----------------------------------------------------------------


def test_the_schema_and_a_page_listing_it_need_nothing_from_elsewhere(
    web_client: TestClient,
) -> None:
    schema = web_client.get("/api/v1/openapi.json").json()
    assert set(schema["paths"]) == {
        "/tickets", "/tickets/{ticket_id}", "/grids", "/categories", "/statistics",
    }  # fmt: skip
    assert {"HTTPBearer", "APIKeyHeader"} <= set(schema["components"]["securitySchemes"])
    page = web_client.get("/api/v1/docs")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    for path in ("/api/v1/tickets", "/api/v1/statistics", "/open311/v2/requests.json"):
        assert path in page.text
    # nothing loaded from another host: no Swagger UI from a CDN
    assert not re.search(r'(src|href)="(https?:)?//', page.text)
    assert "<script" not in page.text
    assert "default-src 'none'" in page.headers["Content-Security-Policy"]
    assert json.dumps(schema, ensure_ascii=False).count("wxid_") == 0
