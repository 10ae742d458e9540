from __future__ import annotations

import logging
import re
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response

from bot.clock import ManualClock
from bot.settings import Settings
from domain import tickets as domain_tickets
from domain.actor import actor_for
from storage import api_keys
from storage.db import Database
from storage.models import TicketStatus
from tests.auxil.web import add_ticket
from tests.web.test_api import ID_CARD, PHONE, make_key
from web import open311

# the spec's fields of a service request, in its order; lat and long are left out (GridBot
# knows no coordinates), as are the optional address_id, zipcode, media_url, service_notice
FIELDS = [
    "service_request_id", "status", "status_notes", "service_name", "service_code",
    "description", "agency_responsible", "requested_datetime", "updated_datetime",
    "expected_datetime", "address",
]  # fmt: skip


@pytest.fixture
def tickets(
    web_client: TestClient, sqlite_db: Database, settings: Settings, clock: ManualClock
) -> Database:
    """G03: #1 open (3栋, a phone number), #2 resolved, #3 dismissed, #4 merged into #1, #5
    forty days old and escalated; G04: #6 open. #1–#4 and #6 opened this morning."""
    now = clock.now()
    add_ticket(sqlite_db, now - timedelta(hours=6), text=f"3栋楼道灯坏了，电话{PHONE}")
    add_ticket(sqlite_db, now - timedelta(hours=5), text=f"11号楼门口井盖松了 {ID_CARD}")
    add_ticket(sqlite_db, now - timedelta(hours=4), text="今天天气不错")
    add_ticket(sqlite_db, now - timedelta(hours=3), text="楼道灯不亮", reporter_id="wxid_b")
    add_ticket(
        sqlite_db, now - timedelta(days=40), category="environment", text="垃圾堆了好久",
        status=TicketStatus.ESCALATED, escalated_at=now - timedelta(days=39),
    )  # fmt: skip
    add_ticket(sqlite_db, now - timedelta(hours=2), grid_code="G04", text="村口路灯不亮")
    with sqlite_db.session() as session:
        leader = actor_for(session, settings, "wxid_leader_li")
        assert leader is not None
        later = now - timedelta(hours=1)
        domain_tickets.resolve(session, settings, leader, 2, f"已固定，联系人{PHONE}", now=later)
        domain_tickets.dismiss(session, settings, leader, 3, "不是诉求，闲聊", now=later)
        domain_tickets.merge(session, settings, leader, 4, 1, now=later)
        session.commit()
    return sqlite_db


def _get(client: TestClient, path: str, key: str | None, **params: Any) -> Response:
    if key is not None:
        params["api_key"] = key
    return client.get(f"/open311/v2/{path}", params=params)


def _ids(response: Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [r["service_request_id"] for r in response.json()]


def test_services_are_the_categories(web_client: TestClient, tickets: Database) -> None:
    response = _get(web_client, "services.json", make_key(tickets))
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json; charset=utf-8"
    services = response.json()
    assert [s["service_code"] for s in services] == [
        "environment", "facility", "dispute", "safety", "security", "assistance", "consult",
    ]  # fmt: skip
    facility = services[1]
    assert set(facility) == {
        "service_code", "service_name", "description", "metadata", "type", "keywords", "group",
    }  # fmt: skip
    assert facility["service_name"] == "设施报修"
    assert facility["metadata"] is False
    assert facility["type"] == "realtime"
    assert facility["group"] == "城市管理"
    assert "路灯" in facility["description"]
    # the spec's keywords: a comma-separated string, the category's weightiest terms
    assert isinstance(facility["keywords"], str)
    assert 3 <= len(facility["keywords"].split(", ")) <= 12


def test_requests_as_the_spec_has_them(web_client: TestClient, tickets: Database) -> None:
    response = _get(web_client, "requests.json", make_key(tickets))
    assert response.status_code == 200
    requests = response.json()
    # the last 90 days by default, newest first; the 40-day-old one is there
    assert [r["service_request_id"] for r in requests] == ["6", "4", "3", "2", "1", "5"]
    by_id = {r["service_request_id"]: r for r in requests}
    first = by_id["1"]
    assert list(first) == FIELDS
    assert first["status"] == "open"
    assert first["status_notes"] == "待派单"
    assert (first["service_code"], first["service_name"]) == ("facility", "设施报修")
    assert first["description"] == "3栋楼道灯坏了，电话138****5678"
    assert first["agency_responsible"] == "幸福社区第3网格"
    # most specific first: the building the report names, the grid, its community
    assert first["address"] == "3栋，幸福社区第3网格"
    assert by_id["2"]["address"] == "11号楼，幸福社区第3网格"
    assert by_id["3"]["address"] == "幸福社区第3网格"
    # W3C datetimes with the grids' offset
    assert first["requested_datetime"] == "2026-11-22T03:00:00+08:00"
    assert first["expected_datetime"] == "2026-11-23T03:00:00+08:00"
    assert first["updated_datetime"] == "2026-11-22T08:00:00+08:00"  # #4 merged into it
    resolved = by_id["2"]
    assert resolved["status"] == "closed"
    assert resolved["status_notes"] == "已办结，待评价：已固定，联系人138****5678"
    assert resolved["updated_datetime"] == "2026-11-22T08:00:00+08:00"
    assert ID_CARD not in resolved["description"]
    assert by_id["3"]["status"] == "closed"
    assert by_id["3"]["status_notes"] == "已驳回：不是诉求，闲聊"
    assert by_id["4"]["status_notes"] == "重复诉求，已合并到工单 1"
    assert by_id["5"]["status"] == "open"
    assert by_id["5"]["status_notes"] == "已上报"
    assert "wxid_" not in response.text
    assert "lat" not in first
    assert "long" not in first


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"status": "open"}, ["6", "1", "5"]),
        ({"status": "closed"}, ["4", "3", "2"]),
        ({"status": "open,closed"}, ["6", "4", "3", "2", "1", "5"]),
        ({"service_code": "environment"}, ["5"]),
        ({"service_code": "environment,facility", "status": "open"}, ["6", "1", "5"]),
        ({"start_date": "2026-11-22T04:30:00+08:00"}, ["6", "4", "3"]),
        ({"start_date": "2026-11-21T20:30:00Z"}, ["6", "4", "3"]),  # the same instant
        ({"end_date": "2026-11-22T04:00:00+08:00"}, ["2", "1", "5"]),  # the end included
        (
            {"start_date": "2026-09-01T00:00:00+08:00", "end_date": "2026-09-30T00:00:00+08:00"},
            [],
        ),
        ({"start_date": "2026-10-13", "end_date": "2026-10-13"}, ["5"]),  # a local day
        ({"start_date": "2026-10-14", "end_date": "2026-10-15"}, []),
        ({"service_request_id": "1,5,999", "status": "closed"}, ["1", "5"]),  # overrides
        ({"jurisdiction_id": "jiedao.example.cn"}, ["6", "4", "3", "2", "1", "5"]),
        ({"status": ""}, ["6", "4", "3", "2", "1", "5"]),  # empty is as not given
    ],
)
def test_requests_by_status_service_and_dates(
    web_client: TestClient, tickets: Database, params: dict[str, str], expected: list[str]
) -> None:
    assert _ids(_get(web_client, "requests.json", make_key(tickets), **params)) == expected


@pytest.mark.parametrize(
    ("params", "said"),
    [
        ({"status": "pending"}, "status 只能是 open 或 closed"),
        ({"service_code": "weather"}, "没有这个 service_code"),
        ({"start_date": "yesterday"}, "start_date 不是 W3C 日期时间"),
        ({"end_date": "0001-01-01T00:00:00Z"}, "end_date 超出范围"),
        ({"start_date": "2026-01-01T00:00:00Z", "end_date": "2026-11-01T00:00:00Z"}, "90 天"),
        ({"start_date": "2026-11-02T00:00:00Z", "end_date": "2026-11-01T00:00:00Z"}, "早于"),
        ({"service_request_id": "1,abc"}, "不是工单编号"),
        ({"service_request_id": "99999999999999"}, "不是工单编号"),
    ],
)
def test_what_cant_be_read_is_the_specs_error_array(
    web_client: TestClient, tickets: Database, params: dict[str, str], said: str
) -> None:
    response = _get(web_client, "requests.json", make_key(tickets), **params)
    assert response.status_code == 400
    [error] = response.json()
    assert error["code"] == 400
    assert said in error["description"]


def test_one_request_in_an_array(web_client: TestClient, tickets: Database) -> None:
    key = make_key(tickets)
    response = _get(web_client, "requests/2.json", key)
    assert response.status_code == 200
    [request] = response.json()
    assert list(request) == FIELDS
    assert request["service_request_id"] == "2"
    for missing in ("999", "abc", "99999999999999", "-1"):
        response = _get(web_client, f"requests/{missing}.json", key)
        assert response.status_code == 404, missing
        assert response.json()[0]["code"] == 404
    # XML is not served: said in the spec's way, not as a page
    response = _get(web_client, "requests/2.xml", key)
    assert response.status_code == 404
    assert response.json()[0]["code"] == 404


def test_a_key_is_required_and_a_wrong_one_is_a_403(
    web_client: TestClient, tickets: Database, clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "gridbot.audit")
    key = make_key(tickets)
    for path in ("services.json", "requests.json", "requests/1.json"):
        for given in (None, "gbk_wrong", key[:-1] + "!"):
            response = _get(web_client, path, given)
            assert response.status_code == 403, (path, given)
            [error] = response.json()
            assert error["code"] == 403
            assert "API 密钥" in error["description"]
            assert "楼道灯" not in response.text
    # the headers /api/v1/ takes do as well as the spec's parameter
    assert web_client.get("/open311/v2/requests.json", headers={"X-API-Key": key}).is_success
    bearer = {"Authorization": f"Bearer {key}"}
    assert web_client.get("/open311/v2/services.json", headers=bearer).is_success
    with tickets.session() as session:
        api_keys.revoke(session=session, which="12345平台", by="t", now=clock.now())
        session.commit()
    revoked = _get(web_client, "requests.json", key)
    assert revoked.status_code == 403
    assert revoked.json() == [{"code": 403, "description": "API 密钥已吊销（api_key）"}]
    lines = [r.getMessage() for r in caplog.records if r.name == "gridbot.audit"]
    assert all(key not in line for line in lines)
    assert lines[-1].startswith("open311: GET /open311/v2/requests.json refused: revoked key")


def test_a_key_of_some_grids_finds_nothing_of_the_others(
    web_client: TestClient, tickets: Database, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "gridbot.audit")
    key = make_key(tickets, "村里的平台", grids=("G04",))
    assert _ids(_get(web_client, "requests.json", key)) == ["6"]
    assert _ids(_get(web_client, "requests.json", key, service_request_id="1,2,6")) == ["6"]
    response = _get(web_client, "requests/1.json", key)  # G03's, typed by hand
    assert response.status_code == 404
    assert "楼道灯" not in response.text
    assert any(
        re.match(r"open311: 村里的平台 \(gbk_\S+\) refused request 1", r.getMessage())
        for r in caplog.records
    )


def test_at_most_so_many_requests_newest_first(
    web_client: TestClient, tickets: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(open311, "MAX_REQUESTS", 2)  # the spec's 1000
    assert _ids(_get(web_client, "requests.json", make_key(tickets))) == ["6", "4"]
