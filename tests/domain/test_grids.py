from __future__ import annotations

import copy
from datetime import UTC, datetime

from bot.settings import Settings
from domain.grids import (
    Leader,
    grid_name,
    grid_rooms,
    leader_ids,
    leader_title,
    leaders_of,
    name_in_grid,
    to_escalation_room,
    to_grid,
)
from storage import grids as grid_store
from storage.db import Database
from storage.grids import GridSpec, sync_grids
from storage.models import Grid, MemberRole
from tests.conftest import SETTINGS

T0 = datetime(2026, 12, 1, tzinfo=UTC)


def test_a_group_is_addressed_by_its_learned_id_else_its_topic(
    settings: Settings, sqlite_db: Database
) -> None:
    with sqlite_db.session() as s:
        sync_grids(
            session=s, specs=[GridSpec("G03", "三", "幸福社区第3网格"), GridSpec("G04", "四", "四")]
        )
        s.get_one(Grid, "G04").room_id = "room-4@chatroom"
        s.commit()
        before = to_grid(s, settings, "G03", "你好", ("wxid_a",))
        assert (before.room_id, before.room_topic, before.mentions) == (
            "幸福社区第3网格",
            "幸福社区第3网格",
            ("wxid_a",),
        )
        learned = to_grid(s, settings, "G04", "你好")
        assert (learned.room_id, learned.room_topic) == ("room-4@chatroom", "幸福社区第4网格")
        # many at once, as one at a time
        assert grid_rooms(s, settings, ["G03", "G04"]) == {
            "G03": ("幸福社区第3网格", "幸福社区第3网格"),
            "G04": ("room-4@chatroom", "幸福社区第4网格"),
        }


def test_the_escalation_room_is_the_configs_or_none(settings: Settings) -> None:
    room = to_escalation_room(settings, "【上报】")
    assert room is not None
    assert (room.room_id, room.room_topic) == ("幸福社区指挥中心", "幸福社区指挥中心")
    data = copy.deepcopy(SETTINGS)
    data["escalation"] = {"room": None}
    assert to_escalation_room(Settings.model_validate(data), "【上报】") is None
    assert grid_name(settings, "G03") == "幸福社区第3网格"
    assert grid_name(settings, "G99") == "G99"


def test_people_are_named_as_their_grid_knows_them(settings: Settings, sqlite_db: Database) -> None:
    with sqlite_db.session() as s:
        sync_grids(session=s, specs=[GridSpec("G03", "三", "三群")])
        assert leader_title(s, settings, "G03") == "本网格网格长"
        assert name_in_grid(s, settings, "wxid_leader_li", "G03") == "网格长"
        assert name_in_grid(s, settings, "wxid_street_admin", "G03") == "街道管理员"
        assert name_in_grid(s, settings, "wxid_someone", "G03") == "工作人员"
        grid_store.touch_member(
            session=s,
            contact_id="wxid_leader_li",
            grid_code="G03",
            display_name="李13812345678",
            at=T0,
        )
        s.commit()
        # a name is given whole where it is the caller's to mask, masked in a title
        assert name_in_grid(s, settings, "wxid_leader_li", "G03") == "李13812345678"
        assert leader_title(s, settings, "G03") == "网格长李138****5678"


def test_a_leader_made_in_the_database_leads_as_the_configs_does(sqlite_db: Database) -> None:
    """Issue 20: /设网格长's leaders are alerted and named as the config's are."""
    data = copy.deepcopy(SETTINGS)
    data["grids"][0]["workers"] = [{"id": "wxid_louzhang_hu", "name": "胡军"}]
    settings = Settings.model_validate(data)
    with sqlite_db.session() as s:
        sync_grids(session=s, specs=[GridSpec("G03", "三", "三群"), GridSpec("G04", "四", "四群")])
        for contact_id, name in (("wxid_wang", "王大爷"), ("wxid_leader_li", "李网格长")):
            grid_store.touch_member(
                session=s, contact_id=contact_id, grid_code="G03", display_name=name, at=T0
            )
        assert leader_ids(s, settings, "G03") == ("wxid_leader_li",)
        grid_store.set_role(
            session=s, contact_id="wxid_wang", grid_code="G03", role=MemberRole.LEADER
        )
        # the same person named in both is one leader
        grid_store.set_role(
            session=s, contact_id="wxid_leader_li", grid_code="G03", role=MemberRole.LEADER
        )
        assert leader_ids(s, settings, "G03") == ("wxid_leader_li", "wxid_wang")
        assert leader_ids(s, settings, "G04") == ("wxid_leader_zhao",)
        assert leader_ids(s, settings, "G99") == ()
        # a worker is called by the name the config gives, never seen or not
        assert name_in_grid(s, settings, "wxid_louzhang_hu", "G03") == "胡军"


def test_the_leaders_of_many_grids_at_once(sqlite_db: Database) -> None:
    """As leader_ids finds them, named as a page lists them."""
    data = copy.deepcopy(SETTINGS)
    data["grids"][0]["leaders"] = [{"id": "wxid_leader_li", "name": "李明"}, "wxid_never"]
    settings = Settings.model_validate(data)
    with sqlite_db.session() as s:
        sync_grids(session=s, specs=[GridSpec("G03", "三", "三群"), GridSpec("G04", "四", "四群")])
        for contact_id, name in (("wxid_wang", "王大爷"), ("wxid_leader_li", "小李")):
            grid_store.touch_member(
                session=s, contact_id=contact_id, grid_code="G03", display_name=name, at=T0
            )
        grid_store.set_role(
            session=s, contact_id="wxid_wang", grid_code="G03", role=MemberRole.LEADER
        )
        found = leaders_of(s, settings, ["G03", "G04", "G99"])
        assert found["G03"] == [
            Leader("wxid_leader_li", "李明", configured=True, seen=True),
            Leader("wxid_never", None, configured=True, seen=False),
            Leader("wxid_wang", "王大爷", configured=False, seen=True),
        ]
        assert [leader.contact_id for leader in found["G03"]] == list(
            leader_ids(s, settings, "G03")
        )
        assert found["G04"] == [Leader("wxid_leader_zhao", None, configured=True, seen=False)]
        assert "G99" not in found
