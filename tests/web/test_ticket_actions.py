"""The actions on a ticket's page, posted as the page's forms post them: the same domain
functions as the chat commands, the same group messages into the outbox, the same rights."""

from __future__ import annotations

import logging
import re
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlmodel import col, select

from bot.clock import ManualClock
from storage import grids as grid_store
from storage.db import Database
from storage.models import OutboundMessage, Ticket, TicketEvent, TicketStatus
from tests.auxil.web import add_ticket, log_in

ADMIN, LEADER_ID, OTHER_LEADER = "wxid_street_admin", "wxid_leader_li", "wxid_leader_zhao"
WORKER = "wxid_worker_wang"
G03_ROOM = "幸福社区第3网格"
PHONE = "13812345678"


@pytest.fixture
def tickets(web_client: TestClient, sqlite_db: Database, clock: ManualClock) -> Database:
    """G03: #1 open (Zhang's lamp), #2 open; G04: #3 open. The worker speaks in G03's group."""
    now = clock.now()
    add_ticket(sqlite_db, now - timedelta(hours=3), text=f"3栋楼道灯坏了，电话{PHONE}")
    add_ticket(sqlite_db, now - timedelta(hours=2), text="3栋楼道灯还是不亮")
    add_ticket(sqlite_db, now - timedelta(hours=1), grid_code="G04", text="村口路灯不亮")
    with sqlite_db.session() as session:
        grid_store.touch_member(
            session=session, contact_id=WORKER, grid_code="G03", display_name="王师傅", at=now
        )
        session.commit()
    return sqlite_db


def outbox(db: Database) -> list[tuple[str, str | None, list[str]]]:
    with db.session() as session:
        rows = session.exec(select(OutboundMessage).order_by(col(OutboundMessage.id))).all()
        return [(m.text, m.room_topic, list(m.mentions)) for m in rows]


def ticket(db: Database, number: int) -> Ticket:
    with db.session() as session:
        return session.get_one(Ticket, number)


def events(db: Database, number: int) -> list[tuple[str, str | None]]:
    with db.session() as session:
        rows = session.exec(
            select(TicketEvent).where(TicketEvent.ticket_id == number).order_by(col(TicketEvent.id))
        ).all()
        return [(e.action, e.actor_id) for e in rows]


def test_the_page_offers_what_the_viewer_may_do_now(
    web_client: TestClient, tickets: Database, clock: ManualClock
) -> None:
    log_in(web_client, tickets, LEADER_ID, clock.now())
    page = web_client.get("/tickets/1").text
    forms = re.findall(r'<form method="(\w+)" action="/tickets/1/(\w+)"', page)
    assert forms == [
        ("post", "assign"),
        ("post", "resolve"),
        ("post", "escalate"),
        ("post", "dismiss"),
        ("post", "reclassify"),
        ("get", "merge"),
    ]
    assert page.count('name="csrf"') == 6  # five actions and the logout
    # whom to assign to: the grid's people, the worker who spoke in its group among them
    assert f'<option value="{WORKER}">王师傅</option>' in page
    assert '<option value="2">#2 3栋楼道灯还是不亮</option>' in page  # to merge into
    resolved = add_ticket(tickets, clock.now(), status=TicketStatus.ARCHIVED)
    archived = web_client.get(f"/tickets/{resolved.id}").text
    assert re.findall(r'action="/tickets/\d+/(\w+)"', archived) == ["reclassify"]


def test_resolve_on_the_page_sends_the_chats_group_message(
    web_client: TestClient,
    tickets: Database,
    clock: ManualClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, "gridbot.audit")
    csrf = log_in(web_client, tickets, LEADER_ID, clock.now())
    response = web_client.post("/tickets/1/resolve", data={"csrf": csrf, "text": "路灯已更换"})
    assert response.status_code == 303
    assert response.headers["location"] == "/tickets/1"
    assert ticket(tickets, 1).status == TicketStatus.RESOLVED
    assert events(tickets, 1)[-1] == ("resolved", LEADER_ID)
    assert outbox(tickets) == [
        (
            "您反映的问题（#1）已办结：路灯已更换\n"
            "请张阿姨回复“满意”“基本满意”或“不满意”（也可回复 1、2、3）评价。",
            G03_ROOM,
            ["wxid_resident_zhang"],
        )
    ]
    audit = [r.getMessage() for r in caplog.records if r.name == "gridbot.audit"]
    assert audit[-1] == f"web: {LEADER_ID} did resolve to ticket #1"
    # the page says what was done, once
    page = web_client.get("/tickets/1").text
    assert '<p class="flash" role="status">#1 已办结，群里已请反映人评价。</p>' in page
    assert "已办结" in page
    assert 'class="flash"' not in web_client.get("/tickets/1").text


@pytest.mark.parametrize(
    ("slug", "form", "status", "message", "mentions"),
    [
        (
            "assign",
            {"assignee": WORKER},
            TicketStatus.ASSIGNED,
            "工单 #1（设施报修）已派给王师傅，请于11月23日 06:00前处理。反映人会收到处理结果。",
            [WORKER, "wxid_resident_zhang"],
        ),
        (
            "escalate",
            {"text": "需要供电所处理"},
            TicketStatus.ESCALATED,
            "您反映的问题（#1）已上报幸福社区指挥中心协调处理，有进展会告诉您。",
            ["wxid_resident_zhang"],
        ),
        (
            "dismiss",
            {"text": "不属于本网格事务"},
            TicketStatus.DISMISSED,
            "您反映的问题（#1）未予受理：不属于本网格事务。如有疑问请联系网格长。",
            ["wxid_resident_zhang"],
        ),
    ],
)
def test_each_action_goes_through_the_domain_and_tells_the_group(
    web_client: TestClient,
    tickets: Database,
    clock: ManualClock,
    *,
    slug: str,
    form: dict[str, str],
    status: TicketStatus,
    message: str,
    mentions: list[str],
) -> None:
    csrf = log_in(web_client, tickets, LEADER_ID, clock.now())
    response = web_client.post(f"/tickets/1/{slug}", data={"csrf": csrf, **form})
    assert response.status_code == 303, response.text
    assert ticket(tickets, 1).status == status
    texts = outbox(tickets)
    assert (message, G03_ROOM, mentions) in texts
    if slug == "escalate":  # and the street office's room hears of it
        assert any(topic == "幸福社区指挥中心" for _t, topic, _m in texts)


def test_reclassify_and_merge_say_so_on_the_page_only(
    web_client: TestClient, tickets: Database, clock: ManualClock
) -> None:
    csrf = log_in(web_client, tickets, LEADER_ID, clock.now())
    changed = web_client.post(
        "/tickets/1/reclassify", data={"csrf": csrf, "category": "environment"}
    )
    assert changed.status_code == 303
    assert ticket(tickets, 1).category == "environment"
    assert outbox(tickets) == []
    assert "已将 #1 改为「环境卫生」" in web_client.get("/tickets/1").text

    # 合并: asked first (nothing written), then confirmed
    question = web_client.get("/tickets/2/merge?into=1")
    assert question.status_code == 200
    assert "把 #2 并入 #1？" in question.text
    assert '<input type="hidden" name="into" value="1">' in question.text
    assert PHONE not in question.text  # #1's words, masked for a leader
    assert ticket(tickets, 2).status == TicketStatus.OPEN
    merged = web_client.post("/tickets/2/merge", data={"csrf": csrf, "into": "1"})
    assert merged.status_code == 303
    assert (ticket(tickets, 2).status, ticket(tickets, 2).merged_into_id) == (
        TicketStatus.MERGED,
        1,
    )
    assert outbox(tickets) == [
        (
            "工单 #2 已并入 #1 一并处理，结果会一起告诉您。",
            G03_ROOM,
            ["wxid_resident_zhang"],
        )
    ]
    assert "已将 #2 并入 #1" in web_client.get("/tickets/2").text


@pytest.mark.parametrize(
    ("slug", "form", "status", "said"),
    [
        ("resolve", {"text": "  "}, 422, "请写上处理结果。"),
        ("dismiss", {"text": "好" * 5000}, 422, "驳回原因最长"),
        ("assign", {"assignee": "wxid_stranger"}, 422, "这个人不在本网格的群里"),
        ("assign", {}, 422, "请选择处理人。"),
        ("reclassify", {"category": "weather"}, 422, "没有「weather」这个类别"),
        ("reclassify", {"category": "facility"}, 409, "#1 已经是「设施报修」。"),
        ("merge", {"into": "3"}, 422, "#3 不是同一个网格的工单，不能合并。"),
        ("merge", {"into": "1"}, 422, "不能把工单并入它自己。"),
        ("merge", {"into": "99"}, 404, "没有找到工单 #99。"),
        ("merge", {"into": "八"}, 422, "请填写要并入的工单编号"),
    ],
)
def test_a_refusal_is_the_page_again_with_why_and_what_was_typed(
    web_client: TestClient,
    tickets: Database,
    clock: ManualClock,
    *,
    slug: str,
    form: dict[str, str],
    status: int,
    said: str,
) -> None:
    csrf = log_in(web_client, tickets, LEADER_ID, clock.now())
    response = web_client.post(f"/tickets/1/{slug}", data={"csrf": csrf, **form})
    assert response.status_code == status
    assert '<p class="refused" role="alert">' + said in response.text
    assert f'<details class="action {slug}" open>' in response.text
    assert "办理过程" in response.text  # the ticket's page, not an error page
    assert ticket(tickets, 1).status == TicketStatus.OPEN
    assert ticket(tickets, 1).category == "facility"
    assert outbox(tickets) == []


def test_an_action_a_ticket_is_past_is_a_409(
    web_client: TestClient, tickets: Database, clock: ManualClock
) -> None:
    csrf = log_in(web_client, tickets, LEADER_ID, clock.now())
    web_client.post("/tickets/1/resolve", data={"csrf": csrf, "text": "已修好"})
    again = web_client.post("/tickets/1/resolve", data={"csrf": csrf, "text": "已修好"})
    assert again.status_code == 409
    assert '<p class="refused" role="alert">#1 已经办结过了，正在等居民评价。</p>' in again.text
    assert len(outbox(tickets)) == 1


def test_a_leader_posting_to_another_grids_ticket_gets_403(
    web_client: TestClient,
    tickets: Database,
    clock: ManualClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, "gridbot.audit")
    csrf = log_in(web_client, tickets, OTHER_LEADER, clock.now())  # leads G04
    for slug, form in (
        ("resolve", {"text": "已修好"}),
        ("assign", {"assignee": WORKER}),
        ("merge", {"into": "2"}),
    ):
        response = web_client.post(f"/tickets/1/{slug}", data={"csrf": csrf, **form})
        assert response.status_code == 403
        assert "#1 不是您负责的网格的工单。" in response.text
        assert "楼道灯" not in response.text  # nothing of the ticket
    assert web_client.get("/tickets/1/merge?into=2").status_code == 403
    assert ticket(tickets, 1).status == TicketStatus.OPEN
    assert outbox(tickets) == []
    audit = [r.getMessage() for r in caplog.records if r.name == "gridbot.audit"]
    assert f"web: {OTHER_LEADER} refused resolve of ticket #1: not his grid" in audit
    # his own grid's ticket, he may
    own = web_client.post("/tickets/3/resolve", data={"csrf": csrf, "text": "已修好"})
    assert own.status_code == 303


def test_an_administrator_acts_on_any_grid(
    web_client: TestClient, tickets: Database, clock: ManualClock
) -> None:
    csrf = log_in(web_client, tickets, ADMIN, clock.now())
    for number in (1, 3):
        response = web_client.post(f"/tickets/{number}/resolve", data={"csrf": csrf, "text": "好"})
        assert response.status_code == 303
    assert events(tickets, 3)[-1] == ("resolved", ADMIN)


@pytest.mark.parametrize("token", [None, "", "forged"])
def test_a_form_without_its_csrf_token_is_refused(
    web_client: TestClient,
    tickets: Database,
    clock: ManualClock,
    token: str | None,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, "gridbot.audit")
    log_in(web_client, tickets, LEADER_ID, clock.now())
    form = {"text": "已修好"} | ({} if token is None else {"csrf": token})
    response = web_client.post("/tickets/1/resolve", data=form)
    assert response.status_code == 403
    assert "页面已过期或来自其他网站" in response.text
    assert ticket(tickets, 1).status == TicketStatus.OPEN
    assert outbox(tickets) == []
    assert any("CSRF token" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/tickets/1/delete", 404),
        ("/tickets/99/resolve", 404),
        ("/tickets/abc/resolve", 404),
        ("/tickets/99999999999/resolve", 404),
        ("/tickets/1/merge?into=" + "9" * 40, 404),  # no such ticket, as the chat says
    ],
)
def test_odd_posts_get_a_page_never_a_crash(
    web_client: TestClient, tickets: Database, clock: ManualClock, path: str, status: int
) -> None:
    csrf = log_in(web_client, tickets, LEADER_ID, clock.now())
    if "merge?" in path:
        response = web_client.get(path)
    else:
        response = web_client.post(path, data={"csrf": csrf, "text": "好"})
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("text/html")


def test_logged_out_nothing_is_done(web_client: TestClient, tickets: Database) -> None:
    response = web_client.post("/tickets/1/resolve", data={"csrf": "x", "text": "好"})
    assert response.status_code == 401
    assert ticket(tickets, 1).status == TicketStatus.OPEN
