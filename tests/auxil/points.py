"""Helpers for the points tests: members in grids, stored messages, ledger counts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from fastapi.testclient import TestClient
from sqlmodel import Session, func, select

from bot.clock import ManualClock
from bot.routing import Role
from bot.settings import Settings
from domain import points as domain_points
from domain.actor import Actor
from storage import grids as grid_store
from storage import inbox, redemption
from storage.db import Database
from storage.models import Member, PointsEntry
from tests.auxil.web import log_in
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


# --- a ledger for the web console's 积分 pages and the 积分台账 ---

ZHANG, WANG, LIU = "wxid_resident_zhang", "wxid_resident_wang", "wxid_villager_liu"
LI, ZHAO = "wxid_leader_li", "wxid_leader_zhao"  # G03's and G04's leaders
PHONE = "13812345678"


def fill_ledger(db: Database, settings: Settings, at: datetime = T0) -> dict[str, int]:
    """G03: 张阿姨 given 志愿服务 (5), then 20 for 楼道 with her phone number in the reason,
    then an order of 肥皂 (20, pending); 王大爷 given 志愿服务 and deducted 乱扔垃圾; the
    leader 李网格长 a member too. G04: 刘大叔 given 10 by G04's leader. The day after ``at``.
    Returns contact id → member id (G03's, and 刘大叔's in G04)."""
    ids = add_members(
        db,
        (ZHANG, "G03", "张阿姨"),
        (WANG, "G03", "王大爷"),
        (LI, "G03", "李网格长"),
        (LIU, "G04", "刘大叔"),
    )
    li = Actor(LI, Role.LEADER, frozenset({"G03"}))
    zhao = Actor(ZHAO, Role.LEADER, frozenset({"G04"}))
    with db.session() as session:
        members = {cid: session.get_one(Member, mid) for cid, mid in ids.items()}

        def give(actor: Actor, who: str, way: domain_points.Way, word: str, *,
                 reason: str | None = None, minutes: int) -> None:  # fmt: skip
            member = members[who]
            asked = domain_points.Asked(
                actor,
                member.grid_code,
                [member],
                at + timedelta(minutes=minutes),
                key=f"test:{minutes}",
            )
            domain_points.award(session, settings, asked, way=way, word=word, reason=reason)

        give(li, ZHANG, domain_points.AWARD, "志愿服务", minutes=0)
        give(li, WANG, domain_points.AWARD, "志愿服务", reason="打扫楼道", minutes=1)
        give(li, ZHANG, domain_points.AWARD, "20", reason=f"帮邻居取药，电话{PHONE}", minutes=2)
        give(li, WANG, domain_points.PENALTY, "乱扔垃圾", minutes=3)
        give(zhao, LIU, domain_points.AWARD, "10", reason="清理河道", minutes=4)
        redemption.place_order(
            session=session, grid_code="G03", member_id=ids[ZHANG], item_code="soap",
            item_name="肥皂", points_needed=20, stock=30, period=f"{at:%Y-%m}",
            at=at + timedelta(minutes=5), message_id=store_message(session, "order-1"),
        )  # fmt: skip
        session.commit()
    return ids


@dataclass(frozen=True)
class PointsConsole:
    """The console over :func:`fill_ledger`'s ledger: its client, database, clock, and the
    member ids by contact id."""

    client: TestClient
    db: Database
    clock: ManualClock
    ids: dict[str, int]

    def log_in(self, contact_id: str) -> str:
        """Log in as ``contact_id``; the session's CSRF token."""
        return log_in(self.client, self.db, contact_id, self.clock.now())
