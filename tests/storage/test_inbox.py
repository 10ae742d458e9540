from __future__ import annotations

from datetime import UTC, datetime, timedelta

from storage import inbox
from storage.db import Database
from storage.grids import GridSpec, sync_grids
from storage.models import InboundMessage

T0 = datetime(2026, 11, 22, 1, 0, tzinfo=UTC)


def message(
    key: str, text: str = "3栋路灯坏了", grid: str | None = None, at: datetime = T0
) -> InboundMessage:
    return InboundMessage(
        key=key,
        sender_id="wxid_a",
        sender_name="张阿姨",
        type="text",
        text=text,
        mentions=["wxid_b"],
        grid_code=grid,
        sent_at=at,
        received_at=at,
    )


def test_store_once_under_a_key(db: Database) -> None:
    with db.session() as s:
        row, inserted = inbox.store(session=s, message=message("k1"))
        assert inserted
        again, inserted_again = inbox.store(session=s, message=message("k1", text="不同的文字"))
    assert not inserted_again
    assert again.id == row.id
    assert again.text == "3栋路灯坏了"
    assert again.mentions == ["wxid_b"]
    assert again.sent_at == T0


def test_long_and_odd_text_is_stored_as_is(db: Database) -> None:
    odd = "\u200b\u202e" + "灯" * 100_000 + "'; DROP TABLE inbound_message; --"
    with db.session() as s:
        row, _ = inbox.store(session=s, message=message("k2", text=odd))
        s.expire_all()
        assert s.get_one(InboundMessage, row.id).text == odd


def test_pending_handled_failed(db: Database) -> None:
    with db.session() as s:
        ids = [inbox.store(session=s, message=message(f"k{i}"))[0].id for i in range(3)]
        assert [r.id for r in inbox.pending(session=s)] == ids
        inbox.mark_handled(session=s, message_id=ids[0], at=T0)  # type: ignore[arg-type]
        inbox.mark_failed(session=s, message_id=ids[1], at=T0, error="x" * 10_000)  # type: ignore[arg-type]
        s.commit()
        assert [r.id for r in inbox.pending(session=s)] == ids[2:]
        failed = s.get_one(InboundMessage, ids[1])
    assert failed.status == "failed"
    assert failed.error is not None
    assert len(failed.error) == inbox.MAX_ERROR_CHARS


def test_count_in_grid_since(db: Database) -> None:
    with db.session() as s:
        sync_grids(session=s, specs=[GridSpec("G03", "三", "三群")])
        s.commit()
        inbox.store(session=s, message=message("a", grid="G03", at=T0))
        inbox.store(session=s, message=message("b", grid="G03", at=T0 + timedelta(hours=2)))
        inbox.store(session=s, message=message("c", at=T0 + timedelta(hours=2)))
        assert inbox.count_in_grid_since(session=s, grid_code="G03", since=T0) == 2
        assert (
            inbox.count_in_grid_since(session=s, grid_code="G03", since=T0 + timedelta(hours=1))
            == 1
        )
