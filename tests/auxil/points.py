"""Helpers for the points tests: members in grids, stored messages, ledger counts."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, func, select

from bot.settings import Settings
from storage import grids as grid_store
from storage import inbox
from storage.db import Database
from storage.models import Member, PointsEntry
from tests.conftest import TZ

T0 = datetime(2026, 11, 22, 9, 0, tzinfo=TZ)


def rural_g04(settings: Settings) -> Settings:
    """``settings`` with G04 a village (tagged rural, as the demo's G04): its points rules
    include the village ones (村规民约, 焚烧秸秆), G03's don't."""
    data = settings.model_dump()
    for grid in data["grids"]:
        if grid["code"] == "G04":
            grid["tags"] = ["rural"]
    return Settings.model_validate(data)


def add_members(db: Database, *people: tuple[str, str, str]) -> dict[str, int]:
    """(contact id, grid code, display name) → member rows; returns contact id → member id
    (the last grid's, for a contact in several)."""
    with db.session() as session:
        grid_store.sync_grids(
            session=session,
            specs=[
                grid_store.GridSpec("G03", "幸福社区第3网格", "幸福社区第3网格"),
                grid_store.GridSpec("G04", "幸福社区第4网格", "幸福社区第4网格"),
            ],
        )
        rows = [
            grid_store.touch_member(
                session=session, contact_id=cid, grid_code=grid, display_name=name, at=T0
            )
            for cid, grid, name in people
        ]
        session.commit()
        return {row.contact_id: row.id for row in rows if row.id is not None}


def store_message(session: Session, key: str, grid_code: str = "G03") -> int:
    """An inbound message row, for entries and orders that point at their message."""
    values = {"key": key, "grid_code": grid_code, "sender_id": "wxid_x", "sender_name": "x",
              "type": "text", "text": "x", "sent_at": T0, "received_at": T0}  # fmt: skip
    return inbox.store(session=session, values=values).id


def entry_count(db: Database) -> int:
    with db.session() as session:
        return session.exec(select(func.count()).select_from(PointsEntry)).one()


def member_id(db: Database, contact_id: str, grid_code: str = "G03") -> int:
    with db.session() as session:
        row = session.exec(
            select(Member).where(Member.contact_id == contact_id, Member.grid_code == grid_code)
        ).one()
        assert row.id is not None
        return row.id
