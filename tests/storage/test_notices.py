from __future__ import annotations

from datetime import UTC, datetime, timedelta

from storage import notices
from storage.db import Database
from storage.grids import GridSpec, sync_grids
from storage.models import Notice, NoticeStatus

T0 = datetime(2026, 11, 22, 1, 0, tzinfo=UTC)


def grids(db: Database) -> None:
    with db.session() as s:
        sync_grids(session=s, specs=[GridSpec("G03", "三", "三群"), GridSpec("G04", "四", "四群")])
        s.commit()


def test_a_delivery_is_claimed_once_per_notice_occurrence_and_grid(db: Database) -> None:
    grids(db)
    with db.session() as s:
        first = notices.claim_delivery(
            session=s, notice_key="config:x", occurrence=T0, grid_code="G03", now=T0
        )
        again = notices.claim_delivery(
            session=s, notice_key="config:x", occurrence=T0, grid_code="G03", now=T0
        )
        other = notices.claim_delivery(
            session=s, notice_key="config:x", occurrence=T0, grid_code="G04", now=T0
        )
        later = notices.claim_delivery(
            session=s,
            notice_key="config:x",
            occurrence=T0 + timedelta(days=1),
            grid_code="G03",
            now=T0,
        )
        s.commit()
        assert first is not None
        assert again is None  # the failed insert did not spoil the transaction
        assert other is not None
        assert later is not None
        assert len(notices.deliveries(session=s, notice_key="config:x")) == 3


def test_two_processes_claiming_the_same_delivery_get_it_once(db: Database) -> None:
    grids(db)
    with db.session() as one, db.session() as two:
        a = notices.claim_delivery(
            session=one, notice_key="db:1", occurrence=T0, grid_code="G03", now=T0
        )
        one.commit()
        b = notices.claim_delivery(
            session=two, notice_key="db:1", occurrence=T0, grid_code="G03", now=T0
        )
        two.commit()
    assert (a is not None, b is None) == (True, True)


def test_due_and_scheduled(db: Database) -> None:
    grids(db)
    with db.session() as s:
        for grid_codes, hours in ((["G03"], 1), ([], 2), (["G04"], 3)):
            notices.create(
                session=s,
                notice=Notice(
                    text="x",
                    grid_codes=grid_codes,
                    author_id="a",
                    created_at=T0,
                    send_at=T0 + timedelta(hours=hours),
                ),
            )
        s.commit()
        assert [n.id for n in notices.due(session=s, now=T0 + timedelta(hours=2))] == [1, 2]
        assert [n.id for n in notices.scheduled(session=s, grid_code="G03")] == [1, 2]
        assert [n.id for n in notices.scheduled(session=s, grid_code=None)] == [1, 2, 3]


def test_cancelling_a_scheduled_notice(db: Database) -> None:
    grids(db)
    with db.session() as s:
        notice = notices.create(
            session=s, notice=Notice(text="x", author_id="a", created_at=T0, send_at=T0)
        )
        assert notices.cancel(session=s, notice=notice, by="wxid_l", at=T0) is None
        s.commit()
        assert (notice.status, notice.cancelled_by) == (NoticeStatus.CANCELLED, "wxid_l")
