"""The notice operations called as the web console calls them (a session, the settings, an
Actor, no chat Context) and as the chat does (``in_grid``): who may send to which grids, the
text and the time, who may cancel what, and a scheduled notice's one planning."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from sqlmodel import Session, col, select

from bot.routing import Role
from bot.settings import Settings
from domain import notices
from domain.actor import Actor
from domain.errors import Invalid, NotAllowed, NotFound, WrongState
from storage import outbox
from storage.db import Database
from storage.grids import GridSpec, sync_grids
from storage.models import (
    Notice,
    NoticeDelivery,
    NoticeStatus,
    OutboundMessage,
    OutboundPriority,
    OutboundStatus,
)
from tests.conftest import SETTINGS, TZ

NOW = datetime(2026, 11, 22, 9, 0, tzinfo=TZ)
LATER = NOW + timedelta(hours=6)  # 15:00, outside quiet hours
ADMIN = Actor("wxid_street_admin", Role.ADMIN, frozenset({"G03", "G04"}))
LI = Actor("wxid_leader_li", Role.LEADER, frozenset({"G03"}))
ZHAO = Actor("wxid_leader_zhao", Role.LEADER, frozenset({"G04"}))
BOTH = Actor("wxid_leader_both", Role.LEADER, frozenset({"G03", "G04"}))


@pytest.fixture
def settings() -> Settings:
    return Settings.model_validate(SETTINGS)


@pytest.fixture
def session(sqlite_db: Database) -> Iterator[Session]:
    with sqlite_db.session() as s:
        sync_grids(
            session=s,
            specs=[
                GridSpec("G03", "三", "幸福社区第3网格"),
                GridSpec("G04", "四", "幸福社区第4网格"),
            ],
        )
        s.commit()
        yield s


def write(session: Session, settings: Settings, actor: Actor, **kw: object) -> notices.Written:
    kw.setdefault("grids", sorted(actor.grids)[:1])
    kw.setdefault("send_at", LATER)
    written = notices.schedule_notice(session, settings, actor, "下午停水", now=NOW, **kw)  # type: ignore[arg-type]
    session.commit()
    return written


def test_who_may_send_to_which_grids(settings: Settings) -> None:
    assert notices.audience(settings, ADMIN, grids=(), everyone=True) == []
    assert notices.audience(settings, BOTH, grids=["G04", "G03", "G04"], everyone=False) == [
        "G04",
        "G03",
    ]
    with pytest.raises(NotAllowed, match="只有街道管理员可以向全部网格发公告。"):
        notices.audience(settings, LI, grids=(), everyone=True)
    with pytest.raises(NotAllowed, match="幸福社区第4网格不是您负责的网格"):
        notices.audience(settings, LI, grids=["G03", "G04"], everyone=False)
    with pytest.raises(Invalid, match="没有编码为 G99 的网格"):
        notices.audience(settings, ADMIN, grids=["G99"], everyone=False)
    with pytest.raises(Invalid, match="请选择要发到哪些网格"):
        notices.audience(settings, ADMIN, grids=[], everyone=False)


def test_the_time_is_later_and_within_the_year(settings: Settings) -> None:
    notices.check_time(settings, NOW + timedelta(minutes=1), now=NOW)
    notices.check_time(settings, NOW + notices.MAX_AHEAD, now=NOW)
    with pytest.raises(Invalid, match="11月22日 09:00已经过去了"):
        notices.check_time(settings, NOW, now=NOW)
    with pytest.raises(Invalid, match="最远只能安排到一年以后"):
        notices.check_time(settings, NOW + notices.MAX_AHEAD + timedelta(minutes=1), now=NOW)


def test_the_text_is_one_message(settings: Settings) -> None:
    assert notices.check_text("  停水 ") == "停水"
    with pytest.raises(Invalid, match="请写上公告内容"):
        notices.check_text(" \n ")
    with pytest.raises(Invalid, match="公告最长 1500 字，这条有 1501 字"):
        notices.check_text("长" * 1501)


def test_a_scheduled_notice_is_stored_under_its_author_and_says_when_it_goes(
    session: Session, settings: Settings
) -> None:
    written = write(session, settings, BOTH, grids=["G04", "G03"])
    notice = written.notice
    assert (notice.status, notice.author_id, notice.grid_codes) == (
        "scheduled",
        BOTH.contact_id,
        ["G04", "G03"],
    )
    # on the console, the first grid's group may cancel it in the chat too
    assert notice.author_grid == "G04"
    assert (written.grids, written.go_at, written.held) == (("G04", "G03"), LATER, False)
    night = write(session, settings, LI, send_at=NOW.replace(hour=23))
    assert night.held
    assert night.go_at == datetime(2026, 11, 23, 7, tzinfo=TZ)
    urgent = write(session, settings, LI, send_at=NOW.replace(hour=23), urgent=True)
    assert not urgent.held
    street = write(session, settings, ADMIN, grids=(), everyone=True)
    assert (street.notice.grid_codes, street.notice.author_grid, street.grids) == (
        [],
        None,
        ("G03", "G04"),
    )
    assert session.exec(select(OutboundMessage)).all() == []  # nothing queued before its time


def test_a_refusal_writes_nothing(session: Session, settings: Settings) -> None:
    with pytest.raises(Invalid):
        notices.schedule_notice(session, settings, LI, "停水", send_at=NOW, grids=["G03"], now=NOW)
    with pytest.raises(NotAllowed):
        notices.schedule_notice(
            session, settings, LI, "停水", send_at=LATER, grids=["G04"], now=NOW
        )
    assert session.exec(select(Notice)).all() == []


def test_announce_queues_it_now_behind_replies(session: Session, settings: Settings) -> None:
    written = notices.announce(session, settings, LI, "马上停水", grids=["G03"], now=NOW)
    session.commit()
    assert written.notice.status == NoticeStatus.SENT
    [message] = session.exec(select(OutboundMessage)).all()
    assert (message.room_topic, message.text, message.priority) == (
        "幸福社区第3网格",
        "马上停水",
        OutboundPriority.NOTICE,
    )


def test_who_sees_a_notice_on_the_console(session: Session, settings: Settings) -> None:
    mine = write(session, settings, LI).notice
    theirs = write(session, settings, ZHAO).notice
    street = write(session, settings, ADMIN, grids=(), everyone=True).notice
    assert [notices.may_see(LI, n) for n in (mine, theirs, street)] == [True, False, True]
    assert [notices.may_cancel(LI, n) for n in (mine, theirs, street)] == [True, False, False]
    assert all(notices.may_cancel(ADMIN, n) for n in (mine, theirs, street))
    assert notices.find(session, LI, mine.id or 0) is not None
    with pytest.raises(NotAllowed):
        notices.find(session, LI, theirs.id or 0)
    for number in (999, 0, -1, 2**31):
        with pytest.raises(NotFound):
            notices.find(session, LI, number)


def test_cancel_on_the_console(session: Session, settings: Settings) -> None:
    mine = write(session, settings, LI).notice
    street = write(session, settings, ADMIN, grids=(), everyone=True).notice
    theirs = write(session, settings, ZHAO).notice
    with pytest.raises(NotAllowed, match="不是发给您负责的网格的"):
        notices.cancel_notice(session, LI, theirs.id or 0, now=NOW)
    with pytest.raises(NotAllowed, match="也发给其他网格，只有发布人或街道管理员可以取消"):
        notices.cancel_notice(session, LI, street.id or 0, now=NOW)
    done = notices.cancel_notice(session, LI, mine.id or 0, now=NOW)
    session.commit()
    assert (done.withdrawn, done.notice.status, done.notice.cancelled_by) == (
        None,
        "cancelled",
        LI.contact_id,
    )
    with pytest.raises(WrongState, match="已经取消过了"):
        notices.cancel_notice(session, LI, mine.id or 0, now=NOW)
    # the author of a notice to grids beyond his own may cancel it
    wide = write(session, settings, BOTH, grids=["G03", "G04"]).notice
    assert notices.cancel_notice(session, BOTH, wide.id or 0, now=NOW).withdrawn is None


def test_cancel_in_a_group_knows_the_notices_written_there(
    session: Session, settings: Settings
) -> None:
    """The chat's rule: a notice written in another group is not said to exist."""
    in_g04 = notices.schedule_notice(
        session, settings, ADMIN, "停电", send_at=LATER, grids=["G04"], now=NOW, in_grid="G04"
    ).notice
    session.commit()
    with pytest.raises(NotAllowed, match="没有找到本网格的公告"):
        notices.cancel_notice(session, BOTH, in_g04.id or 0, now=NOW, in_grid="G03")
    with pytest.raises(NotFound, match="没有找到本网格的公告 #99"):
        notices.cancel_notice(session, LI, 99, now=NOW, in_grid="G03")
    assert notices.cancel_notice(session, ZHAO, in_g04.id or 0, now=NOW, in_grid="G04")


def test_cancel_withdraws_what_waits_and_not_what_went(
    session: Session, settings: Settings
) -> None:
    written = notices.announce(session, settings, ADMIN, "停电", grids=["G03", "G04"], now=NOW)
    session.commit()
    first = session.exec(select(NoticeDelivery).order_by(col(NoticeDelivery.id))).first()
    assert first is not None
    assert first.outbound_id is not None
    outbox.mark_sent(session=session, message_id=first.outbound_id, at=NOW)
    done = notices.cancel_notice(session, ADMIN, written.notice.id or 0, now=NOW)
    assert done.withdrawn == 1
    statuses = session.exec(select(OutboundMessage.status).order_by(col(OutboundMessage.id)))
    assert list(statuses) == [OutboundStatus.SENT, OutboundStatus.CANCELLED]
    sent = notices.announce(session, settings, LI, "已发", grids=["G03"], now=NOW)
    session.commit()
    outbox.mark_sent(session=session, message_id=sent_id(session, sent), at=NOW)
    with pytest.raises(WrongState, match="已经全部发出，无法撤回"):
        notices.cancel_notice(session, LI, sent.notice.id or 0, now=NOW)


def sent_id(session: Session, written: notices.Written) -> int:
    key = notices.leader_key(written.notice.id or 0)
    delivery = session.exec(select(NoticeDelivery).where(NoticeDelivery.notice_key == key)).one()
    assert delivery.outbound_id is not None
    return delivery.outbound_id


def test_a_scheduled_notice_is_planned_once(session: Session, settings: Settings) -> None:
    notice = write(session, settings, ADMIN, grids=(), everyone=True).notice
    assert notices.send_scheduled(session, settings, notice, now=LATER) == 2
    assert notice.status == NoticeStatus.SENT
    assert notices.send_scheduled(session, settings, notice, now=LATER) == 0
    session.commit()
    assert len(session.exec(select(OutboundMessage)).all()) == 2


def test_a_notice_the_bot_was_down_for_is_recorded_missed(
    session: Session, settings: Settings
) -> None:
    notice = write(session, settings, LI).notice
    notices.record_missed(session, settings, notice, at=LATER, now=LATER + timedelta(hours=3))
    session.commit()
    assert notice.status == NoticeStatus.MISSED
    [missed] = session.exec(select(NoticeDelivery)).all()
    assert (missed.grid_code, missed.status, missed.outbound_id) == ("G03", "missed", None)
    assert notices.send_scheduled(session, settings, notice, now=LATER) == 0
