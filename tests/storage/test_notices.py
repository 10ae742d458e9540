from __future__ import annotations

from datetime import UTC, datetime, timedelta

from storage import notices
from storage.db import Database
from storage.grids import GridSpec, sync_grids
from storage.models import Notice, NoticeDelivery, NoticeStatus, OutboundMessage

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


def _notice(s: object, grid_codes: list[str], hours: int, **kw: object) -> Notice:
    values: dict[str, object] = {"text": "x", "author_id": "a", "created_at": T0}
    values |= {"grid_codes": grid_codes, "send_at": T0 + timedelta(hours=hours), **kw}
    return notices.create(session=s, notice=Notice(**values))  # type: ignore[arg-type]


def test_a_page_of_the_notices_that_reach_some_grids(db: Database) -> None:
    """The list is JSON: a code is found whole ("G03", not "G030"), `_` is no wildcard, and a
    notice to every grid reaches them all; on both databases."""
    grids(db)
    with db.session() as s:
        sync_grids(
            session=s, specs=[GridSpec("G030", "三十", "三十群"), GridSpec("G_3", "x", "x群")]
        )
        _notice(s, ["G03"], 1)  # 1
        _notice(s, [], 2)  # 2: every grid
        _notice(s, ["G030"], 3)  # 3
        _notice(s, ["G_3", "G04"], 4)  # 4
        _notice(s, ["G04"], 5, author_id="wxid_li")  # 5
        _notice(s, ["G03"], -1, status=NoticeStatus.SENT)  # 6: sent, an hour before T0
        s.commit()

        def ids(reaching: list[str] | None, **kw: object) -> list[int | None]:
            page, _total = notices.listed(
                session=s,
                reaching=reaching,
                offset=0,
                limit=10,
                **kw,  # type: ignore[arg-type]
            )
            return [n.id for n in page]

        # still to go first, the soonest first; then the others, the latest first
        assert ids(None) == [1, 2, 3, 4, 5, 6]
        assert ids(["G03"]) == [1, 2, 6]
        assert ids(["GX3"]) == [2]
        assert ids(["G_3"]) == [2, 4]
        assert ids(["G03"], or_author="wxid_li") == [1, 2, 5, 6]
        assert ids(["G03"], status=NoticeStatus.SENT) == [6]
        page, total = notices.listed(session=s, reaching=["G03", "G04"], offset=2, limit=2)
        assert ([n.id for n in page], total) == ([4, 5], 5)


def test_deliveries_with_their_messages_and_occurrences(db: Database) -> None:
    grids(db)
    with db.session() as s:
        message = OutboundMessage(room_id="r", text="x", created_at=T0, not_before=T0)
        s.add(message)
        s.flush()
        for day, grid, outbound in ((0, "G03", message.id), (0, "G04", None), (1, "G03", None)):
            s.add(
                NoticeDelivery(
                    notice_key="config:d",
                    occurrence=T0 + timedelta(days=day),
                    grid_code=grid,
                    outbound_id=outbound,
                    created_at=T0,
                )
            )
        s.commit()
        times, total = notices.occurrences(session=s, notice_key="config:d", offset=0, limit=1)
        assert (times, total) == ([T0 + timedelta(days=1)], 2)
        found = notices.deliveries_with_messages(
            session=s, notice_keys=["config:d"], occurrences=[T0]
        )
        assert [(d.grid_code, m.text if m else None) for d, m in found] == [
            ("G03", "x"),
            ("G04", None),
        ]
        assert len(notices.deliveries_with_messages(session=s, notice_keys=["config:d"])) == 3
        assert notices.deliveries_with_messages(session=s, notice_keys=[]) == []


def test_the_next_scheduled_time(db: Database) -> None:
    grids(db)
    with db.session() as s:
        assert notices.next_send_at(session=s) is None
        _notice(s, ["G03"], 3)
        _notice(s, ["G03"], 1, status=NoticeStatus.CANCELLED)
        _notice(s, ["G03"], 2)
        s.commit()
        assert notices.next_send_at(session=s) == T0 + timedelta(hours=2)
