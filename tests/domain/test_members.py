from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta

from bot.settings import Settings
from domain.members import Standing, group_members
from storage import grids as grid_store
from storage import inbox
from storage.db import Database
from storage.grids import GridSpec, sync_grids
from storage.models import MemberRole
from tests.conftest import SETTINGS

T0 = datetime(2026, 12, 1, tzinfo=UTC)


def test_who_is_who_in_a_group(sqlite_db: Database) -> None:
    data = copy.deepcopy(SETTINGS)
    data["grids"][0]["leaders"] = [{"id": "wxid_leader_li", "name": "李明"}, "wxid_typo"]
    data["grids"][0]["workers"] = [{"id": "wxid_louzhang_hu", "name": "胡军"}]
    settings = Settings.model_validate(data)
    grid = settings.grids[0]
    with sqlite_db.session() as s:
        sync_grids(session=s, specs=[GridSpec("G03", "三", "三群"), GridSpec("G04", "四", "四群")])
        seen = [
            ("wxid_zhang", "张阿姨"),
            ("wxid_louzhang_hu", "胡楼长"),
            ("wxid_wang", "王大爷"),
            ("wxid_street_admin", "小陈"),
            ("wxid_leader_li", "李网格长"),
            ("wxid_liu", "刘姐"),
        ]
        for minutes, (contact_id, name) in enumerate(seen):
            grid_store.touch_member(
                session=s,
                contact_id=contact_id,
                grid_code="G03",
                display_name=name,
                at=T0 + timedelta(minutes=minutes),
            )
        grid_store.touch_member(
            session=s, contact_id="wxid_other", grid_code="G04", display_name="外人", at=T0
        )
        grid_store.set_role(
            session=s, contact_id="wxid_wang", grid_code="G03", role=MemberRole.LEADER
        )
        members = group_members(s, settings, grid)
    assert [(m.contact_id, m.standing, m.display_name, m.config_name) for m in members] == [
        ("wxid_street_admin", Standing.ADMIN, "小陈", None),
        ("wxid_leader_li", Standing.LEADER, "李网格长", "李明"),
        # named in the config, never seen there: most likely a wrong id
        ("wxid_typo", Standing.LEADER, None, None),
        ("wxid_wang", Standing.LEADER_IN_DB, "王大爷", None),
        ("wxid_louzhang_hu", Standing.WORKER, "胡楼长", "胡军"),
        # residents: last seen first
        ("wxid_liu", Standing.RESIDENT, "刘姐", None),
        ("wxid_zhang", Standing.RESIDENT, "张阿姨", None),
    ]
    assert members[0].last_seen == T0 + timedelta(minutes=3)
    assert members[2].last_seen is None


def test_last_seen_is_their_latest_message_though_their_row_was_written_earlier(
    sqlite_db: Database, settings: Settings
) -> None:
    """Issue 21: chatter within LAST_SEEN_STEP of a row's last_seen does not write the row;
    /成员 still says when each last spoke, and lists them in that order."""
    grid = settings.grids[0]
    later = T0 + grid_store.LAST_SEEN_STEP / 2
    with sqlite_db.session() as s:
        sync_grids(session=s, specs=[GridSpec("G03", "三", "三群")])
        for minutes, contact_id in enumerate(("wxid_zhang", "wxid_wang")):
            grid_store.touch_member(
                session=s,
                contact_id=contact_id,
                grid_code="G03",
                display_name=contact_id,
                at=T0 + timedelta(minutes=minutes),
            )
        inbox.store(
            session=s,
            values={"key": "k", "sender_id": "wxid_zhang", "sender_name": "wxid_zhang",
                    "type": "text", "text": "嗯", "grid_code": "G03", "sent_at": later,
                    "received_at": later},
        )  # fmt: skip
        members = group_members(s, settings, grid)
    assert [(m.contact_id, m.last_seen) for m in members if m.standing == Standing.RESIDENT] == [
        ("wxid_zhang", later),
        ("wxid_wang", T0 + timedelta(minutes=1)),
    ]
