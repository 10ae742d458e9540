"""公告 on the console: the list (paged in SQL, a leader's grids only), a notice's deliveries
to each grid as the outbox records them, the form that schedules one and the button that
cancels one, with /定时公告's and /取消公告's rules and sentences."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import col, select

from bot.clock import ManualClock
from bot.routing import Role
from bot.settings import Settings
from domain import notices as domain_notices
from domain.actor import Actor
from storage import outbox
from storage.db import Database
from storage.models import Notice, NoticeDelivery, OutboundMessage, OutboundStatus
from tests.auxil.web import CSRF_FIELD, AuditLog, add_grids, log_in
from tests.conftest import SETTINGS, TZ
from web.app import create_app

ADMIN, LEADER, OTHER_LEADER = "wxid_street_admin", "wxid_leader_li", "wxid_leader_zhao"
ADMIN_ACTOR = Actor(ADMIN, Role.ADMIN, frozenset({"G03", "G04"}))
LI = Actor(LEADER, Role.LEADER, frozenset({"G03"}))
ZHAO = Actor(OTHER_LEADER, Role.LEADER, frozenset({"G04"}))


def form(csrf: str, **fields: Any) -> dict[str, Any]:
    return {"csrf": csrf, "send_at": "2026-11-23T15:00", "text": "下午停水", **fields}


def notices(db: Database) -> list[Notice]:
    with db.session() as session:
        return list(session.exec(select(Notice).order_by(col(Notice.id))).all())


def scheduled(
    db: Database, settings: Settings, actor: Actor, at: datetime, text: str, **kw: Any
) -> int:
    """A notice written as /定时公告 or the form writes one (``grids``, ``everyone``)."""
    kw.setdefault("grids", sorted(actor.grids)[:1])
    with db.session() as session:
        written = domain_notices.schedule_notice(
            session, settings, actor, text, send_at=at, now=at - timedelta(hours=1), **kw
        )
        session.commit()
        assert written.notice.id is not None
        return written.notice.id


def test_a_leader_schedules_a_notice_on_the_page(
    web_client: TestClient,
    sqlite_db: Database,
    clock: ManualClock,
    audit_log: AuditLog,
) -> None:
    csrf = log_in(web_client, sqlite_db, LEADER, clock.now())
    page = web_client.get("/notices").text
    assert '<form method="post" action="/notices">' in page
    # his one grid, ticked; no "every grid" for a leader
    assert re.findall(r'name="grid" value="(\w+)"', page) == ["G03"]
    assert 'name="everyone"' not in page
    answer = web_client.post("/notices", data=form(csrf, grid=["G03"]))
    assert answer.status_code == 303
    assert answer.headers["location"] == "/notices/1"
    shown = web_client.get("/notices/1").text
    assert "定时公告 #1 已登记，11月23日 15:00发到幸福社区第3网格群。" in shown
    assert "下午停水" in shown
    [notice] = notices(sqlite_db)
    assert (notice.grid_codes, notice.author_id, notice.author_grid) == (["G03"], LEADER, "G03")
    assert (notice.status, notice.send_at) == ("scheduled", datetime(2026, 11, 23, 15, tzinfo=TZ))
    assert "web: wxid_leader_li scheduled notice #1 to G03 at 2026-11-23T15:00:00+08:00" in (
        audit_log()
    )
    # its page says where it will go, and offers to cancel it
    assert re.search(r'<td class="grid">幸福社区第3网格</td><td class="state">.*待发送', shown)
    assert 'action="/notices/1/cancel"' in shown


def test_quiet_hours_hold_it_and_the_page_says_so(
    web_client: TestClient, sqlite_db: Database, clock: ManualClock
) -> None:
    csrf = log_in(web_client, sqlite_db, LEADER, clock.now())
    web_client.post("/notices", data=form(csrf, grid="G03", send_at="2026-11-22T23:30"))
    assert (
        "定时公告 #1 已登记。11月22日 23:30在休息时段（22:00–07:00），"
        "推迟到11月23日 07:00发到幸福社区第3网格群。要按时发出，请取消这条，勾选“紧急”重新登记。"
    ) in web_client.get("/notices/1").text
    web_client.post("/notices", data=form(csrf, grid="G03", send_at="2026-11-22T23:30", urgent="1"))
    assert "紧急定时公告 #2 已登记，11月22日 23:30发到" in web_client.get("/notices/2").text


@pytest.mark.parametrize(
    ("fields", "status", "said"),
    [
        ({"send_at": "2026-11-21T09:00"}, 422, "11月21日 09:00已经过去了，请写一个以后的时间。"),
        ({"send_at": "2030-01-01T09:00"}, 422, "定时公告最远只能安排到一年以后。"),
        ({"send_at": "明天"}, 422, "发送时间请写成 年-月-日 时:分"),
        ({"send_at": "1999-12-01T09:00"}, 422, "发送时间请写成 年-月-日 时:分"),
        ({"text": "  "}, 422, "请写上公告内容。"),
        ({"text": "长" * 1501}, 422, "公告最长 1500 字，这条有 1501 字"),
        ({"grid": "G04"}, 403, "幸福社区第4网格不是您负责的网格，不能向它发公告。"),
        ({"grid": "G99"}, 422, "没有编码为 G99 的网格。"),
        ({"grid": None}, 422, "请选择要发到哪些网格。"),
        ({"everyone": "1"}, 403, "只有街道管理员可以向全部网格发公告。"),
    ],
)
def test_the_form_keeps_the_rules_of_the_chat_command(
    web_client: TestClient,
    sqlite_db: Database,
    clock: ManualClock,
    *,
    fields: dict[str, Any],
    status: int,
    said: str,
) -> None:
    csrf = log_in(web_client, sqlite_db, LEADER, clock.now())
    posted = {k: v for k, v in (form(csrf, grid="G03") | fields).items() if v is not None}
    answer = web_client.post("/notices", data=posted)
    assert answer.status_code == status
    assert said in answer.text
    assert '<details class="action schedule-notice" open>' in answer.text  # the form again
    if "text" not in fields:
        assert "下午停水</textarea>" in answer.text  # what was typed is kept
    assert notices(sqlite_db) == []


def test_an_administrator_sends_to_every_grid(
    web_client: TestClient, sqlite_db: Database, clock: ManualClock
) -> None:
    csrf = log_in(web_client, sqlite_db, ADMIN, clock.now())
    page = web_client.get("/notices").text
    assert re.findall(r'name="grid" value="(\w+)"', page) == ["G03", "G04"]
    web_client.post("/notices", data=form(csrf, everyone="1", grid="G03"))
    [notice] = notices(sqlite_db)
    assert (notice.grid_codes, notice.author_grid) == ([], None)
    assert "发到2个网格群" in web_client.get("/notices/1").text


def test_a_form_without_its_token_writes_nothing(
    web_client: TestClient, sqlite_db: Database, clock: ManualClock, settings: Settings
) -> None:
    log_in(web_client, sqlite_db, LEADER, clock.now())
    assert web_client.post("/notices", data=form("", grid="G03")).status_code == 403
    number = scheduled(sqlite_db, settings, LI, clock.now() + timedelta(hours=3), "停水")
    refused = web_client.post(f"/notices/{number}/cancel", data={"csrf": "forged"})
    assert refused.status_code == 403
    assert [n.status for n in notices(sqlite_db)] == ["scheduled"]


def test_a_leader_sees_the_notices_of_his_grids_only(
    web_client: TestClient, sqlite_db: Database, clock: ManualClock, settings: Settings
) -> None:
    at = clock.now() + timedelta(hours=5)
    mine = scheduled(sqlite_db, settings, LI, at, "三网格停水")
    theirs = scheduled(sqlite_db, settings, ZHAO, at, "四网格停电")
    street = scheduled(sqlite_db, settings, ADMIN_ACTOR, at, "全街道消防检查", everyone=True)
    log_in(web_client, sqlite_db, LEADER, clock.now())
    page = web_client.get("/notices").text
    listed = re.findall(r'<a class="id" href="/notices/(\d+)">', page)
    assert listed == [str(street), str(mine)]  # the same time: the latest written first
    assert "四网格停电" not in page
    # another grid's notice, typed into the address bar: 403, on the page and on its button
    assert web_client.get(f"/notices/{theirs}").status_code == 403
    csrf = CSRF_FIELD.search(page)
    assert csrf is not None
    answer = web_client.post(f"/notices/{theirs}/cancel", data={"csrf": csrf.group(1)})
    assert answer.status_code == 403
    assert "不是发给你负责的网格的" in answer.text
    assert web_client.get("/notices?grid=G04").status_code == 403
    assert [n.status for n in notices(sqlite_db)] == ["scheduled"] * 3
    for odd in ("/notices/999", "/notices/abc", "/notices/99999999999", "/notices/config/x"):
        assert web_client.get(odd).status_code == 404


def test_the_list_is_paged_in_sql_waiting_ones_first(
    web_client: TestClient, sqlite_db: Database, clock: ManualClock, settings: Settings
) -> None:
    now = clock.now()
    for hour in range(1, 23):
        scheduled(sqlite_db, settings, LI, now + timedelta(hours=hour), f"第{hour}条")
    with sqlite_db.session() as session:
        done = domain_notices.announce(session, settings, LI, "已发的", grids=["G03"], now=now)
        session.commit()
    log_in(web_client, sqlite_db, LEADER, clock.now())
    first = web_client.get("/notices").text
    assert "共 <strong>23</strong> 条，第 1–20 条" in first
    assert re.findall(r'href="/notices/(\d+)">#', first) == [str(n) for n in range(1, 21)]
    last = web_client.get("/notices?page=2").text
    assert re.findall(r'href="/notices/(\d+)">#', last) == ["21", "22", str(done.notice.id)]
    assert web_client.get("/notices?page=99").text == last  # past the end: the last page
    sent = web_client.get("/notices?status=sent").text
    assert re.findall(r'href="/notices/(\d+)">#', sent) == [str(done.notice.id)]
    odd = web_client.get("/notices?status=nope&page=x").text
    assert "没有这个状态「nope」，已忽略" in odd


def test_each_grids_delivery_is_what_the_outbox_records(
    web_client: TestClient, sqlite_db: Database, clock: ManualClock, settings: Settings
) -> None:
    now = clock.now()
    with sqlite_db.session() as session:
        street = domain_notices.announce(
            session, settings, ADMIN_ACTOR, "今晚全区消防检查", grids=(), everyone=True, now=now
        )
        session.commit()
        rows = session.exec(select(NoticeDelivery).order_by(col(NoticeDelivery.id))).all()
        by_grid = {d.grid_code: d.outbound_id for d in rows}
        outbox.mark_sent(session=session, message_id=by_grid["G03"] or 0, at=now)
        session.commit()
    log_in(web_client, sqlite_db, ADMIN, now)
    page = web_client.get(f"/notices/{street.notice.id}").text
    states = re.findall(
        r'<td class="grid">(\S+)</td><td class="state"><span class="delivery (\w+)">', page
    )
    assert states == [("幸福社区第3网格", "sent"), ("幸福社区第4网格", "waiting")]
    # a leader sees his own grid's, and that there are others
    log_in(web_client, sqlite_db, OTHER_LEADER, now)
    page = web_client.get(f"/notices/{street.notice.id}").text
    assert re.findall(r'<td class="grid">(\S+)</td>', page) == ["幸福社区第4网格"]
    assert "另有 1 个网格不归你负责" in page
    assert "只有发布人或街道管理员可以取消" in page  # and no button
    assert f'action="/notices/{street.notice.id}/cancel"' not in page


def test_missed_failed_and_withdrawn_deliveries_are_said(
    web_client: TestClient, sqlite_db: Database, clock: ManualClock, settings: Settings
) -> None:
    now = clock.now()
    missed = scheduled(sqlite_db, settings, LI, now + timedelta(minutes=5), "错过的")
    with sqlite_db.session() as session:
        notice = session.get_one(Notice, missed)
        domain_notices.record_missed(session, settings, notice, at=notice.send_at, now=now)
        failed = domain_notices.announce(session, settings, LI, "发不出", grids=["G03"], now=now)
        session.commit()
        [message] = session.exec(
            select(OutboundMessage).where(OutboundMessage.text == "发不出")
        ).all()
        message.status, message.attempts = OutboundStatus.FAILED, 5
        session.add(message)
        withdrawn = domain_notices.announce(session, settings, LI, "撤回的", grids=["G03"], now=now)
        domain_notices.cancel_notice(session, LI, withdrawn.notice.id or 0, now=now)
        session.commit()
    log_in(web_client, sqlite_db, LEADER, now)
    for number, state, said in (
        (missed, "missed", "错过未发"),
        (failed.notice.id, "failed", "发送失败"),
        (withdrawn.notice.id, "withdrawn", "已撤回"),
    ):
        page = web_client.get(f"/notices/{number}").text
        assert f'<span class="delivery {state}">{said}</span>' in page
        assert f'action="/notices/{number}/cancel"' not in page


def test_cancel_on_the_page_is_the_chat_command(
    web_client: TestClient,
    sqlite_db: Database,
    clock: ManualClock,
    settings: Settings,
    audit_log: AuditLog,
) -> None:
    now = clock.now()
    mine = scheduled(sqlite_db, settings, LI, now + timedelta(hours=2), "下午停水")
    street = scheduled(sqlite_db, settings, ADMIN_ACTOR, now + timedelta(hours=2), "全街道",
                       everyone=True)  # fmt: skip
    csrf = log_in(web_client, sqlite_db, LEADER, now)
    answer = web_client.post(f"/notices/{mine}/cancel", data={"csrf": csrf})
    assert answer.status_code == 303
    assert "已取消定时公告 #1，它不会发出。" in web_client.get(f"/notices/{mine}").text
    again = web_client.post(f"/notices/{mine}/cancel", data={"csrf": csrf})
    assert again.status_code == 409
    assert "公告 #1 已经取消过了。" in again.text
    # the street's: he sees it, and may not cancel it
    refused = web_client.post(f"/notices/{street}/cancel", data={"csrf": csrf})
    assert refused.status_code == 403
    assert "也发给其他网格，只有发布人或街道管理员可以取消。" in refused.text
    assert [n.status for n in notices(sqlite_db)] == ["cancelled", "scheduled"]
    assert "web: wxid_leader_li cancelled notice #1" in audit_log()
    assert any("refused cancel of notice #2" in line for line in audit_log())
    admin_csrf = log_in(web_client, sqlite_db, ADMIN, now)
    assert (
        web_client.post(f"/notices/{street}/cancel", data={"csrf": admin_csrf}).status_code == 303
    )


def test_a_notice_being_sent_withdraws_what_still_waits(
    web_client: TestClient, sqlite_db: Database, clock: ManualClock, settings: Settings
) -> None:
    now = clock.now()
    with sqlite_db.session() as session:
        written = domain_notices.announce(
            session, settings, ADMIN_ACTOR, "全区停电", grids=["G03", "G04"], now=now
        )
        session.commit()
        first = session.exec(select(NoticeDelivery).order_by(col(NoticeDelivery.id))).first()
        assert first is not None
        assert first.outbound_id is not None
        outbox.mark_sent(session=session, message_id=first.outbound_id, at=now)
        session.commit()
    csrf = log_in(web_client, sqlite_db, ADMIN, now)
    web_client.post(f"/notices/{written.notice.id}/cancel", data={"csrf": csrf})
    page = web_client.get(f"/notices/{written.notice.id}").text
    assert "公告 #1 已取消，还没发出的 1 个群不会再收到。" in page
    assert re.findall(r'<span class="delivery (\w+)">', page)[-2:] == ["sent", "withdrawn"]


def test_the_configs_notices_are_shown_not_changed(sqlite_db: Database, clock: ManualClock) -> None:
    config = SETTINGS | {
        "notices": [
            {"id": "daily", "title": "每日提醒", "text": "【提醒】注意防火",
             "targets": {"all": True}, "cron": "0 9 * * *"},
            {"id": "village", "title": "秸秆禁烧", "text": "禁止焚烧秸秆",
             "targets": {"grids": ["G04"]}, "cron": "0 10 * * 1"},
        ]
    }  # fmt: skip
    settings = Settings.model_validate(config)
    add_grids(sqlite_db, settings)
    at = datetime(2026, 11, 21, 9, tzinfo=TZ)
    with sqlite_db.session() as session:
        for day in range(2):
            domain_notices.plan(
                session, settings, key="config:daily", occurrence=at + timedelta(days=day),
                text="【提醒】注意防火", grid_codes=["G03", "G04"], urgent=False, now=at,
            )  # fmt: skip
        session.commit()
    client = TestClient(create_app(settings, sqlite_db, clock), follow_redirects=False)
    log_in(client, sqlite_db, LEADER, clock.now())
    page = client.get("/notices").text
    assert "每日提醒" in page
    assert "秸秆禁烧" not in page  # G04's only
    assert "下次：2026-11-23 09:00" in page
    assert "共发过 2 次" in page
    detail = client.get("/notices/config/daily").text
    assert re.findall(r"<strong>(2026-11-2\d 09:00)</strong>", detail) == [
        "2026-11-22 09:00",
        "2026-11-21 09:00",
    ]
    assert "幸福社区第4网格" not in detail  # his grid's deliveries only
    assert client.get("/notices/config/village").status_code == 403
    log_in(client, sqlite_db, ADMIN, clock.now())
    page = client.get("/notices").text
    assert "全部网格 · 每天 09:00" in page
    assert "幸福社区第4网格 · 每周一 10:00" in page


def test_a_notice_held_by_quiet_hours_says_so_while_it_waits(
    web_client: TestClient, sqlite_db: Database, clock: ManualClock, settings: Settings
) -> None:
    night = datetime(2026, 11, 22, 23, 0, tzinfo=TZ)
    with sqlite_db.session() as session:
        domain_notices.announce(session, settings, LI, "明早停水", grids=["G03"], now=night)
        session.commit()
    clock.set(night + timedelta(minutes=5))
    log_in(web_client, sqlite_db, LEADER, clock.now())
    page = web_client.get("/notices/1").text
    assert re.search(
        r'<span class="delivery waiting">等待发送</span></td><td class="at">2026-11-23 07:00</td>'
        r'<td class="note">避开休息时段</td>',
        page,
    )
    assert "2026-11-22 23:00 → 2026-11-23 07:00" in web_client.get("/notices").text
