"""The points operations called as the web console calls them: a session, the settings, an
Actor from a contact id, no chat Context anywhere. The chat's wording of the same refusals
is tested through the chat (tests/handlers/test_points_awards.py, test_redemption.py)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlmodel import Session, col, select

from bot.routing import Role
from bot.settings import Settings
from domain import points
from domain.actor import Actor
from domain.errors import Invalid, NotAllowed, NotFound, WrongState
from domain.points import AWARD, PENALTY, CapExceeded, Givers, NotEnoughPoints
from storage import grids as grid_store
from storage import redemption
from storage.db import Database
from storage.models import EntryKind, Member, OrderStatus, PointsEntry
from tests.auxil.points import LI, LIU, T0, WANG, ZHANG, ZHAO, add_members, store_message
from tests.conftest import SETTINGS, settings_with_points

ADMIN = "wxid_street_admin"
G03_ROOM = "幸福社区第3网格"
li = Actor(LI, Role.LEADER, frozenset({"G03"}))
zhao = Actor(ZHAO, Role.LEADER, frozenset({"G04"}))
admin = Actor(ADMIN, Role.ADMIN, frozenset({"G03", "G04"}))


@pytest.fixture
def points_config() -> dict[str, Any]:
    return {}  # the points rules as shipped


@pytest.fixture
def settings(points_config: dict[str, Any]) -> Settings:
    return settings_with_points(points_config)


@pytest.fixture
def session(sqlite_db: Database) -> Iterator[Session]:
    """张阿姨 and 王大爷 and the leader 李网格长 in G03, 刘大叔 in G04."""
    add_members(
        sqlite_db,
        (ZHANG, "G03", "张阿姨"),
        (WANG, "G03", "王大爷"),
        (LI, "G03", "李网格长"),
        (LIU, "G04", "刘大叔"),
    )
    with sqlite_db.session() as s:
        yield s


def member(session: Session, contact_id: str) -> Member:
    return session.exec(select(Member).where(Member.contact_id == contact_id)).one()


def ledger(session: Session) -> list[tuple[str, int, str, str | None, str | None]]:
    rows = session.exec(select(PointsEntry).order_by(col(PointsEntry.id))).all()
    return [(e.kind, e.delta, e.key, e.rule_code, e.actor_id) for e in rows]


def give(
    session: Session, settings: Settings, who: list[str], word: str, **kwargs: Any
) -> points.Awarded:
    asked = points.Asked(
        kwargs.pop("actor", li),
        kwargs.pop("grid", "G03"),
        [member(session, cid) for cid in who],
        kwargs.pop("now", T0),
        key=kwargs.pop("key", "web:k1"),
    )
    way, reason = kwargs.pop("way", AWARD), kwargs.pop("reason", None)
    return points.award(session, settings, asked, way=way, word=word, reason=reason)


def test_an_award_writes_the_ledger_and_says_what_to_tell_the_group(
    session: Session, settings: Settings
) -> None:
    done = give(session, settings, [ZHANG, WANG], "志愿服务", reason="打扫楼道")
    assert [(p.member.contact_id, p.balance) for p in done.posted] == [(ZHANG, 5), (WANG, 5)]
    [told] = done.messages
    assert told.text == done.confirmation == "已给 张阿姨、王大爷 各加 5 分（志愿服务：打扫楼道）。"
    assert told.room_topic == G03_ROOM
    assert told.mentions == (ZHANG, WANG)
    assert (done.delta, done.kind, done.rule_code) == (5, EntryKind.AWARD, "volunteer")
    zhang_id = member(session, ZHANG).id
    assert ledger(session)[0] == ("award", 5, f"web:k1:{zhang_id}:volunteer", "volunteer", LI)


def test_the_same_key_records_once(session: Session, settings: Settings) -> None:
    give(session, settings, [ZHANG], "8", reason="帮忙")
    again = give(session, settings, [ZHANG], "8", reason="帮忙")
    assert again.posted == ()
    assert again.messages == ()
    assert again.confirmation == points.ALREADY
    assert len(ledger(session)) == 1


def test_a_deduction_and_the_balance_that_cannot_pay_it(
    session: Session, settings: Settings
) -> None:
    give(session, settings, [WANG], "10", reason="清理河道")
    taken = give(session, settings, [WANG], "乱扔垃圾", way=PENALTY, key="web:k2")
    assert taken.confirmation == "已扣 王大爷 5 分（乱扔垃圾）。"
    assert taken.posted[0].balance == 5
    with pytest.raises(NotEnoughPoints, match="王大爷 现有 5 分，不够扣 9 分"):
        give(session, settings, [WANG], "9", way=PENALTY, reason="x", key="web:k3")


def test_names_and_reasons_are_masked_where_the_group_reads_them(
    session: Session, settings: Settings
) -> None:
    grid_store.touch_member(
        session=session, contact_id=ZHANG, grid_code="G03", display_name="张姐13612345678", at=T0
    )
    done = give(session, settings, [ZHANG], "5", reason="帮取药，电话13812345678")
    assert done.confirmation == "已给 张姐136****5678 加 5 分（帮取药，电话138****5678）。"
    # the ledger keeps what the leader wrote, for the worker who follows it up
    entry = session.exec(select(PointsEntry)).one()
    assert entry.reason == "帮取药，电话13812345678"


def test_braces_in_a_reason_are_words(session: Session, settings: Settings) -> None:
    done = give(session, settings, [ZHANG], "5", reason="{0}{x}{{7*7}}")
    assert done.confirmation == "已给 张阿姨 加 5 分（{0}{x}{{7*7}}）。"


@pytest.mark.parametrize(
    ("word", "kwargs", "error", "said"),
    [
        ("", {}, Invalid, "请写明规则名或分值"),
        ("跳舞", {}, Invalid, "没有「跳舞」这个积分规则"),
        ("5", {}, Invalid, "按分值加分请写明理由"),
        ("0", {"reason": "x"}, Invalid, "0 分不记录"),
        ("51", {"reason": "x"}, Invalid, "单次最多加 50 分"),
        ("乱扔垃圾", {}, Invalid, "「乱扔垃圾」是扣分规则，请用 /扣分。"),
        ("焚烧秸秆", {}, Invalid, "「焚烧秸秆」不是本网格的积分规则"),
        ("志愿服务", {"actor": zhao}, NotAllowed, "这不是您负责的网格。"),
        ("志愿服务", {"grid": "G04"}, NotAllowed, "这不是您负责的网格。"),
        ("志愿服务", {"grid": "G04", "actor": admin}, Invalid, "只能给本网格的成员"),
    ],
)
def test_what_an_award_refuses_writes_nothing(
    *,
    session: Session,
    settings: Settings,
    word: str,
    kwargs: dict[str, Any],
    error: type[Exception],
    said: str,
) -> None:
    with pytest.raises(error, match=said):
        give(session, settings, [ZHANG], word, **kwargs)
    assert ledger(session) == []


def test_no_points_for_oneself(session: Session, settings: Settings) -> None:
    with pytest.raises(NotAllowed, match="不能给自己加分"):
        give(session, settings, [LI], "志愿服务")
    # a deduction of oneself is no favour
    give(session, settings, [LI], "10", reason="x", actor=admin)
    assert give(session, settings, [LI], "乱扔垃圾", way=PENALTY, key="web:k2").posted


def test_the_caps_refuse_never_clip(session: Session, settings: Settings) -> None:
    give(session, settings, [ZHANG], "志愿服务", key="web:a")
    give(session, settings, [ZHANG], "志愿服务", key="web:b")
    with pytest.raises(CapExceeded, match="张阿姨 今天按「志愿服务」已加 10 分，每天上限 10 分"):
        give(session, settings, [ZHANG], "志愿服务", key="web:c")
    tomorrow = T0 + timedelta(days=1)
    assert give(session, settings, [ZHANG], "志愿服务", key="web:d", now=tomorrow).posted
    for key in ("web:e", "web:f"):
        give(session, settings, [WANG], "50", reason="组织活动", key=key)
    with pytest.raises(CapExceeded, match="再加 1 分就超过每天上限 100 分"):
        give(session, settings, [WANG], "1", reason="又组织活动", key="web:g")
    assert isinstance(CapExceeded("x"), WrongState)  # the web answers 409


def test_a_correction_counts_against_the_caps(session: Session, settings: Settings) -> None:
    for key in ("web:a", "web:b"):
        give(session, settings, [ZHANG], "50", reason="组织活动", key=key)
    people = [member(session, ZHANG)]

    def asked(key: str) -> points.Asked:
        return points.Asked(li, "G03", people, T0, key=key)

    with pytest.raises(CapExceeded):
        points.adjust(session, settings, asked("web:c"), word="+1", reason="少加了")
    fixed = points.adjust(session, settings, asked("web:d"), word="-5", reason="重复")
    assert fixed.confirmation == "已更正 张阿姨 -5 分（重复）。"
    assert ledger(session)[-1][:2] == ("adjust", -5)
    with pytest.raises(Invalid, match="更正请写明理由"):
        points.adjust(session, settings, asked("web:e"), word="-5", reason=" ")


# --- orders ---


@pytest.fixture
def order(session: Session, settings: Settings) -> int:
    """张阿姨's order of 肥皂, her 20 points held."""
    give(session, settings, [ZHANG], "20", reason="组织活动")
    placed, _balance = redemption.place_order(
        session=session, grid_code="G03", member_id=member(session, ZHANG).id or 0,
        item_code="soap", item_name="肥皂", points_needed=20, stock=30, period="2026-11",
        at=T0, message_id=store_message(session, "order"),
    )  # fmt: skip
    assert placed.id is not None
    return placed.id


def test_redeem_closes_the_order_and_tells_the_group(session: Session, order: int) -> None:
    settings = settings_with_points({})
    closed = points.redeem(session, settings, li, order, now=T0)
    assert closed.order.status == OrderStatus.CONFIRMED
    assert closed.order.closed_by == LI
    [told] = closed.messages
    assert told.text == closed.confirmation == f"已核销单号 {order}：张阿姨 领取「肥皂」。"
    assert told.mentions == (LI, ZHANG)  # the leader is a member of the group
    with pytest.raises(WrongState, match=f"单号 {order} 已核销过了。"):
        points.redeem(session, settings, li, order, now=T0)
    with pytest.raises(WrongState, match=f"单号 {order} 已核销，不能退回。"):
        points.refund(session, settings, li, order, reason=None, now=T0)


def test_an_administrator_in_no_group_is_not_mentioned(session: Session, order: int) -> None:
    closed = points.redeem(session, settings_with_points({}), admin, order, now=T0)
    assert closed.messages[0].mentions == (ZHANG,)


def test_who_may_close_an_order(session: Session, order: int) -> None:
    settings = settings_with_points({})
    with pytest.raises(NotFound, match="没有单号 99 的兑换单"):
        points.redeem(session, settings, li, 99, now=T0)
    with pytest.raises(NotFound):
        points.redeem(session, settings, li, 2**40, now=T0)  # no database integer
    with pytest.raises(NotAllowed, match="不是您负责的网格的兑换单，不能核销"):
        points.redeem(session, settings, zhao, order, now=T0)
    with pytest.raises(NotAllowed, match="不是本网格的兑换单，不能退回"):
        points.refund(session, settings, admin, order, reason=None, now=T0, in_grid="G04")


def test_refund_gives_the_points_back(session: Session, order: int) -> None:
    closed = points.refund(session, settings_with_points({}), li, order, reason="没到货", now=T0)
    assert closed.balance == 20
    assert closed.confirmation == f"已退回单号 {order}：「肥皂」的 20 分已退还给 张阿姨。"
    assert ledger(session)[-1][:2] == ("refund", 20)


# --- reading ---


def test_find_member_checks_the_grid(session: Session) -> None:
    liu = member(session, LIU)
    assert liu.id is not None
    assert points.find_member(session, admin, liu.id).display_name == "刘大叔"
    with pytest.raises(NotAllowed):
        points.find_member(session, li, liu.id)
    for number in (0, 999, 2**40):
        with pytest.raises(NotFound):
            points.find_member(session, li, number)


def test_givers_are_named_and_given_their_role_never_their_id(session: Session) -> None:
    settings = Settings.model_validate(
        SETTINGS | {"grids": [SETTINGS["grids"][0] | {"leaders": [{"id": LI, "name": "李明"}]}]}
    )
    givers = Givers(session, settings)
    assert givers.of(LI, "G03", "award") == ("李明", "网格长")
    assert givers.of(ADMIN, "G03", "award") == ("街道管理员", "街道管理员")
    assert givers.of(WANG, "G03", "award") == ("王大爷", "原网格长")  # no longer leads it
    assert givers.of(None, "G03", "redeem") == ("居民本人", "兑换")
    assert givers.of(None, "G03", "base") == ("系统", "自动")


def test_kind_names() -> None:
    assert points.kind_name("award") == "加分"
    assert points.kind_name("refund") == "退回"
    assert points.kind_name("bonus") == "bonus"  # a newer bot's kind, by its code
