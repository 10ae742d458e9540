"""The ticket operations called as the web console will call them: a session, the settings, an
Actor from a contact id, no chat Context anywhere."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import Session, col, select

from bot.events import Outbound
from bot.outbox import queue_outbound
from bot.routing import Role
from bot.settings import MAX_MESSAGE_CHARS, Settings
from domain import tickets
from domain.actor import Actor, actor_for
from domain.errors import Invalid, NotAllowed, NotFound, WrongState
from domain.tickets import Action
from storage import grids as grid_store
from storage import tickets as ticket_store
from storage.db import Database
from storage.grids import GridSpec, sync_grids
from storage.models import (
    CategoryCorrection,
    ExampleSource,
    OutboundMessage,
    Ticket,
    TicketEvent,
    TicketStatus,
    TrainingExample,
)
from tests.conftest import SETTINGS

T0 = datetime(2026, 11, 22, 1, 0, tzinfo=UTC)  # 09:00 in the grids' time zone
NOW = T0 + timedelta(hours=2)
ADMIN = "wxid_street_admin"
LI = "wxid_leader_li"  # leads G03
ZHAO = "wxid_leader_zhao"  # leads G04
ZHANG = "wxid_resident_zhang"
WANG = "wxid_resident_wang"
WORKER = "wxid_worker_wang"
G03_ROOM = "幸福社区第3网格"
LAMP = "3栋门口的路灯坏了，麻烦处理一下，电话13812345678"


@pytest.fixture
def session(sqlite_db: Database) -> Iterator[Session]:
    """Tickets #1 and #2 in G03 (Zhang's, Wang's), #3 in G04; the worker known in G03."""
    with sqlite_db.session() as s:
        sync_grids(
            session=s,
            specs=[GridSpec("G03", "三", G03_ROOM), GridSpec("G04", "四", "幸福社区第4网格")],
        )
        grid_store.touch_member(
            session=s, contact_id=WORKER, grid_code="G03", display_name="王师傅", at=T0
        )
        for grid, reporter, name in (
            ("G03", ZHANG, "张阿姨"),
            ("G03", WANG, "王大爷"),
            ("G04", ZHANG, "张阿姨"),
        ):
            ticket_store.create(
                session=s,
                ticket=Ticket(
                    grid_code=grid,
                    reporter_id=reporter,
                    reporter_name=name,
                    text=LAMP,
                    category="facility",
                    created_at=T0,
                    due_at=T0 + timedelta(hours=72),
                ),
            )
        s.commit()
        yield s


def actor(session: Session, settings: Settings, contact_id: str) -> Actor:
    found = actor_for(session, settings, contact_id)
    assert found is not None
    return found


def ticket(session: Session, number: int) -> Ticket:
    return session.get_one(Ticket, number)


def trail(session: Session, number: int) -> list[tuple[str, str | None, str | None, str | None]]:
    rows = session.exec(
        select(TicketEvent).where(TicketEvent.ticket_id == number).order_by(col(TicketEvent.id))
    )
    return [(e.action, e.from_status, e.to_status, e.actor_id) for e in rows]


def set_status(session: Session, number: int, status: TicketStatus) -> None:
    t = ticket(session, number)
    t.status = status
    if status == TicketStatus.MERGED:
        t.merged_into_id = 2
    session.add(t)
    session.commit()


def outbox(session: Session) -> list[tuple[str, str | None, str | None, list[str]]]:
    rows = session.exec(select(OutboundMessage).order_by(col(OutboundMessage.id)))
    return [(m.text, m.room_topic, m.to_id, list(m.mentions)) for m in rows]


def as_a_web_route(session: Session, outcome: tickets.Outcome) -> str:
    """What a route does with an outcome: queue its messages, commit, show the sentence."""
    queue_outbound(session, outcome.messages, now=NOW)
    session.commit()
    return outcome.confirmation


# --- each operation, as a web route calls it ---


def test_assign_as_a_web_route(session: Session, settings: Settings) -> None:
    li = actor(session, settings, LI)
    outcome = tickets.assign(session, settings, li, 1, WORKER, now=NOW)
    shown = as_a_web_route(session, outcome)
    assert shown == "已将 #1 派给王师傅，群里已通知处理人和反映人。"
    assert outbox(session) == [
        (
            "工单 #1（设施报修）已派给王师傅，请于11月25日 09:00前处理。反映人会收到处理结果。",
            G03_ROOM,
            None,
            [WORKER, ZHANG],
        )
    ]
    t = ticket(session, 1)
    assert (t.status, t.assignee_id, t.assignee_name) == ("assigned", WORKER, "王师傅")
    assert trail(session, 1)[-1] == ("assigned", "open", "assigned", LI)


def test_resolve_as_a_web_route(session: Session, settings: Settings) -> None:
    admin = actor(session, settings, ADMIN)
    shown = as_a_web_route(
        session, tickets.resolve(session, settings, admin, 1, " 路灯已更换 ", now=NOW)
    )
    assert shown == "#1 已办结，群里已请反映人评价。"
    assert outbox(session) == [
        (
            "您反映的问题（#1）已办结：路灯已更换\n"
            "请张阿姨回复“满意”“基本满意”或“不满意”（也可回复 1、2、3）评价。",
            G03_ROOM,
            None,
            [ZHANG],
        )
    ]
    t = ticket(session, 1)
    assert (t.status, t.feedback, t.resolved_at) == ("resolved", "路灯已更换", NOW)
    assert t.rating_due_at == NOW + timedelta(hours=settings.tickets.rating_window_hours)
    assert trail(session, 1)[-1] == ("resolved", "open", "resolved", ADMIN)


def test_escalate_as_a_web_route(session: Session, settings: Settings) -> None:
    li = actor(session, settings, LI)
    shown = as_a_web_route(
        session, tickets.escalate(session, settings, li, 1, "需要供电所", now=NOW)
    )
    assert shown == "#1 已上报幸福社区指挥中心，已告知反映人。"
    [room, group] = outbox(session)
    # the web knows no display name: the leader is named as the group knows them, or by title
    assert room[0] == (
        "【上报】幸福社区第3网格 #1 设施报修：3栋门口的路灯坏了，麻烦处理一下，电话138****5678"
        "（张阿姨，11月22日 09:00 反映）。原因：需要供电所。上报人：网格长。"
    )
    assert room[1:] == ("幸福社区指挥中心", None, [])
    assert group == (
        "您反映的问题（#1）已上报幸福社区指挥中心协调处理，有进展会告诉您。",
        G03_ROOM,
        None,
        [ZHANG],
    )
    t = ticket(session, 1)
    assert (t.status, t.escalated_at) == ("escalated", NOW)
    assert trail(session, 1)[-1] == ("escalated", "open", "escalated", LI)


def test_dismiss_as_a_web_route(session: Session, settings: Settings) -> None:
    li = actor(session, settings, LI)
    shown = as_a_web_route(
        session, tickets.dismiss(session, settings, li, 1, "不属于本网格事务", now=NOW)
    )
    assert shown == "#1 已驳回，已告知反映人。"
    assert outbox(session) == [
        (
            "您反映的问题（#1）未予受理：不属于本网格事务。如有疑问请联系网格长。",
            G03_ROOM,
            None,
            [ZHANG],
        )
    ]
    t = ticket(session, 1)
    assert (t.status, t.closed_at) == ("dismissed", NOW)
    assert trail(session, 1)[-1] == ("dismissed", "open", "dismissed", LI)
    # a reason that is not "no request" keeps no example: the report was a request
    assert session.exec(select(TrainingExample)).all() == []


def test_reclassify_as_a_web_route(session: Session, settings: Settings) -> None:
    li = actor(session, settings, LI)
    shown = as_a_web_route(
        session, tickets.reclassify(session, settings, li, 1, "环境卫生", now=NOW)
    )
    t = ticket(session, 1)
    limit = settings.categories.categories["environment"].time_limit_hours
    assert t.due_at == T0 + timedelta(hours=limit)
    local = t.due_at.astimezone(settings.tz)
    assert shown == (
        f"已将 #1 改为「环境卫生」，处理时限改为{local.month}月{local.day}日 {local:%H:%M}。"
    )
    assert outbox(session) == []  # nobody else is told
    assert t.category == "environment"
    assert trail(session, 1)[-1] == ("reclassified", "open", "open", LI)
    [correction] = session.exec(select(CategoryCorrection)).all()
    assert (correction.from_category, correction.to_category) == ("facility", "environment")
    [example] = session.exec(select(TrainingExample)).all()
    assert (example.category, example.source, example.contact_id) == (
        "environment",
        ExampleSource.RECLASSIFY,
        LI,
    )
    assert "13812345678" not in example.text


def test_merge_as_a_web_route(session: Session, settings: Settings) -> None:
    li = actor(session, settings, LI)
    shown = as_a_web_route(session, tickets.merge(session, settings, li, 2, 1, now=NOW))
    assert shown == "已将 #2 并入 #1（设施报修），办结 #1 时两件的反映人都会收到结果。"
    assert outbox(session) == [
        ("工单 #2 已并入 #1 一并处理，结果会一起告诉您。", G03_ROOM, None, [WANG])
    ]
    merged, target = ticket(session, 2), ticket(session, 1)
    assert (merged.status, merged.merged_into_id, merged.closed_at) == ("merged", 1, NOW)
    assert target.same_count == 1
    assert tickets.reporter_ids(session, target) == (ZHANG, WANG)
    assert trail(session, 2)[-1] == ("merged", "open", "merged", LI)
    assert trail(session, 1)[-1] == ("merged_in", "open", "open", LI)


# --- who may ---


def test_an_administrator_acts_on_every_grid(session: Session, settings: Settings) -> None:
    admin = actor(session, settings, ADMIN)
    tickets.resolve(session, settings, admin, 3, "已修好", now=NOW)
    assert ticket(session, 3).status == "resolved"
    assert tickets.actions(admin, ticket(session, 1)) == tuple(Action)


def test_a_leader_of_another_grid_is_not_allowed(session: Session, settings: Settings) -> None:
    zhao = actor(session, settings, ZHAO)
    calls: list[Callable[[], tickets.Outcome]] = [
        lambda: tickets.assign(session, settings, zhao, 1, WORKER, now=NOW),
        lambda: tickets.resolve(session, settings, zhao, 1, "好了", now=NOW),
        lambda: tickets.escalate(session, settings, zhao, 1, "协调", now=NOW),
        lambda: tickets.dismiss(session, settings, zhao, 1, "重复", now=NOW),
        lambda: tickets.reclassify(session, settings, zhao, 1, "环境卫生", now=NOW),
        lambda: tickets.merge(session, settings, zhao, 2, 1, now=NOW),
    ]
    for call in calls:
        with pytest.raises(NotAllowed) as refused:
            call()
        assert refused.value.reply.endswith("不是您负责的网格的工单。")
    session.rollback()
    assert [ticket(session, n).status for n in (1, 2)] == ["open", "open"]
    assert trail(session, 1) == [("created", "open", "open", ZHANG)]
    assert tickets.actions(zhao, ticket(session, 1)) == ()
    # their own grid's ticket is theirs
    assert tickets.actions(zhao, ticket(session, 3)) == tuple(Action)


def test_a_resident_is_no_actor_and_a_made_up_one_may_do_nothing(
    session: Session, settings: Settings
) -> None:
    assert actor_for(session, settings, ZHANG) is None
    resident = Actor(ZHANG, Role.RESIDENT, frozenset())
    with pytest.raises(NotAllowed):
        tickets.resolve(session, settings, resident, 1, "我自己修好了", now=NOW)
    assert tickets.actions(resident, ticket(session, 1)) == ()


def test_in_a_groups_chat_only_that_grids_tickets(session: Session, settings: Settings) -> None:
    admin = actor(session, settings, ADMIN)
    with pytest.raises(NotAllowed) as refused:
        tickets.check(session, admin, 3, Action.RESOLVE, in_grid="G03")
    assert refused.value.reply == "#3 不是本网格的工单。"


@pytest.mark.parametrize("number", [999, 0, -1, 2**31, 10**20])
def test_a_number_nobody_has_is_not_found(
    session: Session, settings: Settings, number: int
) -> None:
    li = actor(session, settings, LI)
    with pytest.raises(NotFound) as refused:
        tickets.resolve(session, settings, li, number, "好了", now=NOW)
    assert refused.value.reply == f"没有找到工单 #{number}。"
    with pytest.raises(NotFound):
        tickets.merge(session, settings, li, 1, number, now=NOW)


# --- the status machine ---

ACTIVE = [TicketStatus.OPEN, TicketStatus.ASSIGNED, TicketStatus.ESCALATED]
DONE = "#1 已办结，不能再{}。"
REFUSED: dict[TicketStatus, str] = {
    TicketStatus.RESOLVED: DONE,
    TicketStatus.ARCHIVED: DONE,
    TicketStatus.DISMISSED: "#1 已驳回，不能再{}。",
    TicketStatus.MERGED: "#1 已合并到 #2，请对 #2 操作。",
}


def run(session: Session, settings: Settings, action: Action) -> tickets.Outcome:
    li = actor(session, settings, LI)
    match action:
        case Action.ASSIGN:
            return tickets.assign(session, settings, li, 1, WORKER, now=NOW)
        case Action.RESOLVE:
            return tickets.resolve(session, settings, li, 1, "好了", now=NOW)
        case Action.ESCALATE:
            return tickets.escalate(session, settings, li, 1, "协调", now=NOW)
        case Action.DISMISS:
            return tickets.dismiss(session, settings, li, 1, "重复", now=NOW)
        case Action.RECLASSIFY:
            return tickets.reclassify(session, settings, li, 1, "环境卫生", now=NOW)
        case Action.MERGE:
            return tickets.merge(session, settings, li, 1, 2, now=NOW)


AFTER = {
    Action.ASSIGN: "assigned",
    Action.RESOLVE: "resolved",
    Action.ESCALATE: "escalated",
    Action.DISMISS: "dismissed",
    Action.MERGE: "merged",
}


@pytest.mark.parametrize("action", list(Action))
@pytest.mark.parametrize("status", list(TicketStatus))
def test_every_action_from_every_status(
    session: Session, settings: Settings, action: Action, status: TicketStatus
) -> None:
    set_status(session, 1, status)
    allowed = status in ACTIVE or (action is Action.RECLASSIFY and status != TicketStatus.MERGED)
    if (action, status) in (
        (Action.RESOLVE, TicketStatus.RESOLVED),
        (Action.ESCALATE, TicketStatus.ESCALATED),
    ):
        allowed = False
    li = actor(session, settings, LI)
    assert (action in tickets.actions(li, ticket(session, 1))) is allowed
    events_before = len(trail(session, 1))
    if not allowed:
        with pytest.raises(WrongState) as refused:
            run(session, settings, action)
        expected = {
            (Action.RESOLVE, TicketStatus.RESOLVED): "#1 已经办结过了，正在等居民评价。",
            (Action.ESCALATE, TicketStatus.ESCALATED): "#1 已经上报过了。",
        }.get((action, status)) or REFUSED[status].format(action.value)
        assert refused.value.reply == expected
        session.rollback()
        assert ticket(session, 1).status == status
        assert len(trail(session, 1)) == events_before
        return
    run(session, settings, action)
    session.commit()
    # 派单 keeps an escalated ticket escalated; 改类 changes no status
    to = status if action is Action.RECLASSIFY else AFTER[action]
    if action is Action.ASSIGN and status == TicketStatus.ESCALATED:
        to = "escalated"
    assert ticket(session, 1).status == to
    assert trail(session, 1)[events_before][1:3] == (status, to)


def test_a_merge_needs_its_target_still_worked_on(session: Session, settings: Settings) -> None:
    set_status(session, 2, TicketStatus.RESOLVED)
    li = actor(session, settings, LI)
    with pytest.raises(WrongState) as refused:
        tickets.merge(session, settings, li, 1, 2, now=NOW)
    assert refused.value.reply == "#2 已办结，不能再并入。"


@pytest.mark.parametrize(
    ("into", "error", "reply"),
    [
        (1, Invalid, "不能把工单并入它自己。"),
        (3, Invalid, "#3 不是同一个网格的工单，不能合并。"),
        (77, NotFound, "没有找到工单 #77。"),
    ],
)
def test_a_merge_into_the_wrong_ticket_is_refused(
    session: Session, settings: Settings, into: int, error: type[Exception], reply: str
) -> None:
    li = actor(session, settings, LI)
    with pytest.raises(error) as refused:
        tickets.merge(session, settings, li, 1, into, now=NOW)
    assert getattr(refused.value, "reply", None) == reply


# --- arguments ---


@pytest.mark.parametrize(
    ("action", "what"),
    [(Action.RESOLVE, "处理结果"), (Action.ESCALATE, "上报原因"), (Action.DISMISS, "驳回原因")],
)
def test_texts_repeated_into_the_group_are_required_and_bounded(
    session: Session, settings: Settings, action: Action, what: str
) -> None:
    li = actor(session, settings, LI)
    operations: dict[Action, Callable[..., tickets.Outcome]] = {
        Action.RESOLVE: tickets.resolve,
        Action.ESCALATE: tickets.escalate,
        Action.DISMISS: tickets.dismiss,
    }
    operation = operations[action]
    with pytest.raises(Invalid) as empty:
        operation(session, settings, li, 1, "  ", now=NOW)
    assert empty.value.reply == f"请写上{what}。"
    too_long = "好" * (MAX_MESSAGE_CHARS + 1)
    with pytest.raises(Invalid) as long:
        operation(session, settings, li, 1, too_long, now=NOW)
    assert long.value.reply == (
        f"{what}最长 {MAX_MESSAGE_CHARS} 字，这条有 {MAX_MESSAGE_CHARS + 1} 字，工单没有改动，"
        "请精简后再发。"
    )
    # exactly at the limit is taken
    operation(session, settings, li, 1, "好" * MAX_MESSAGE_CHARS, now=NOW)


def test_reclassify_refuses_an_unknown_or_the_same_category(
    session: Session, settings: Settings
) -> None:
    li = actor(session, settings, LI)
    with pytest.raises(Invalid) as unknown:
        tickets.reclassify(session, settings, li, 1, "天气", now=NOW)
    assert unknown.value.reply.startswith("没有「天气」这个类别。可选：环境卫生、")
    with pytest.raises(Invalid) as missing:
        tickets.reclassify(session, settings, li, 1, "", now=NOW)
    assert missing.value.reply.startswith("请写上类别：")
    with pytest.raises(WrongState) as same:
        tickets.reclassify(session, settings, li, 1, "facility", now=NOW)
    assert same.value.reply == "#1 已经是「设施报修」。"


def test_assign_needs_a_contact_and_names_them_as_best_it_can(
    session: Session, settings: Settings
) -> None:
    li = actor(session, settings, LI)
    for bad in ("", " ", "w" * 129):
        with pytest.raises(Invalid):
            tickets.assign(session, settings, li, 1, bad, now=NOW)
    stranger = "wxid_stranger"
    outcome = tickets.assign(session, settings, li, 1, stranger, now=NOW, assignee_name="老周")
    assert "已派给老周" in outcome.messages[0].text
    assert outcome.messages[0].mentions == (stranger, ZHANG)
    # a reassignment notes who had it
    tickets.assign(session, settings, li, 1, WORKER, now=NOW)
    last = session.exec(select(TicketEvent).order_by(col(TicketEvent.id).desc())).first()
    assert last is not None
    assert last.note == "老周 → 王师傅"


def test_an_assignee_who_reported_it_is_mentioned_once(
    session: Session, settings: Settings
) -> None:
    li = actor(session, settings, LI)
    outcome = tickets.assign(session, settings, li, 1, ZHANG, now=NOW)
    assert outcome.messages[0].mentions == (ZHANG,)


def test_dismissed_as_no_request_keeps_a_training_example(
    session: Session, settings: Settings
) -> None:
    li = actor(session, settings, LI)
    tickets.dismiss(session, settings, li, 1, "不是诉求，是闲聊", now=NOW)
    session.commit()
    [example] = session.exec(select(TrainingExample)).all()
    assert (example.is_request, example.category, example.source, example.ticket_id) == (
        False,
        None,
        ExampleSource.DISMISS,
        1,
    )


def test_escalate_names_the_actor_as_given_and_needs_a_room(
    session: Session, settings: Settings
) -> None:
    li = actor(session, settings, LI)
    outcome = tickets.escalate(
        session, settings, li, 1, "协调", now=NOW, actor_name="李13812345678"
    )
    room = outcome.messages[0]
    assert isinstance(room, Outbound)
    assert room.text.endswith("上报人：李138****5678。")
    session.rollback()
    no_room = settings.model_copy(
        update={"escalation": settings.escalation.model_copy(update={"room": None})}
    )
    with pytest.raises(WrongState) as refused:
        tickets.escalate(session, no_room, li, 1, "协调", now=NOW)
    assert refused.value.reply == "还没有配置上报的群（escalation.room），请联系街道管理员。"


# --- what the web's forms offer ---


def test_assignees_are_the_grids_people_its_staff_first(
    session: Session, settings: Settings
) -> None:
    grid_store.touch_member(
        session=session, contact_id=ZHANG, grid_code="G03", display_name="张阿姨", at=NOW
    )
    grid_store.touch_member(
        session=session, contact_id=WANG, grid_code="G04", display_name="王大爷", at=NOW
    )
    outsider = "wxid_contractor_zhou"
    t = ticket(session, 2)
    t.assignee_id, t.assignee_name = outsider, "周师傅"
    session.add(t)
    session.commit()
    offered = tickets.assignees(session, settings, "G03")
    assert [(a.contact_id, a.name, a.staff) for a in offered] == [
        (LI, LI, True),  # the config's leader and worker, never seen in the group
        ("wxid_louzhang_hu", "wxid_louzhang_hu", True),
        (outsider, "周师傅", True),  # given a ticket of the grid before
        (ZHANG, "张阿姨", False),  # the group, who spoke last first
        (WORKER, "王师傅", False),
    ]
    assert WANG not in [a.contact_id for a in offered]  # G04's


def test_assign_from_a_list_refuses_anyone_not_of_the_grid(
    session: Session, settings: Settings
) -> None:
    li = actor(session, settings, LI)
    grid_store.touch_member(
        session=session, contact_id=WANG, grid_code="G04", display_name="王大爷", at=NOW
    )
    for stranger in ("wxid_stranger", WANG):  # nobody here; someone of another grid
        with pytest.raises(Invalid) as refused:
            tickets.assign(session, settings, li, 1, stranger, now=NOW, listed_only=True)
        assert refused.value.reply == "这个人不在本网格的群里，请从列表中选择处理人。"
    assert ticket(session, 1).status == TicketStatus.OPEN
    for listed in (WORKER, "wxid_louzhang_hu"):  # in the group; the config's worker
        tickets.assign(session, settings, li, 1, listed, now=NOW, listed_only=True)
    assert ticket(session, 1).assignee_id == "wxid_louzhang_hu"


def test_merge_target_checks_what_merge_checks_and_writes_nothing(
    session: Session, settings: Settings
) -> None:
    li = actor(session, settings, LI)
    found, target = tickets.merge_target(session, li, 2, 1)
    assert (found.id, target.id) == (2, 1)
    assert not session.dirty
    assert not session.new
    assert ticket(session, 2).status == TicketStatus.OPEN
    with pytest.raises(Invalid):
        tickets.merge_target(session, li, 1, 3)  # G04's
    with pytest.raises(NotAllowed):
        tickets.merge_target(session, actor(session, settings, ZHAO), 1, 2)


def test_a_worker_never_seen_in_the_group_is_named_as_the_config_names_him(
    session: Session,
) -> None:
    data = copy.deepcopy(SETTINGS)
    data["grids"][0]["workers"] = [{"id": "wxid_louzhang_hu", "name": "胡楼长"}]
    named = Settings.model_validate(data)
    li = actor(session, named, LI)
    offered = {a.contact_id: a.name for a in tickets.assignees(session, named, "G03")}
    assert offered["wxid_louzhang_hu"] == "胡楼长"
    outcome = tickets.assign(session, named, li, 1, "wxid_louzhang_hu", now=NOW, listed_only=True)
    assert "已派给胡楼长" in outcome.messages[0].text
