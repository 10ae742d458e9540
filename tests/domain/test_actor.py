from __future__ import annotations

from datetime import UTC, datetime

from bot.routing import Role
from bot.settings import Settings
from domain.actor import actor_for, grids_led_by
from storage import grids
from storage.db import Database
from storage.grids import GridSpec, sync_grids
from storage.models import MemberRole

T0 = datetime(2026, 12, 1, tzinfo=UTC)


def test_administrators_act_on_every_grid(settings: Settings, sqlite_db: Database) -> None:
    with sqlite_db.session() as s:
        actor = actor_for(s, settings, "wxid_street_admin")
    assert actor is not None
    assert actor.role == Role.ADMIN
    assert actor.may_act_on("G03")
    assert actor.may_act_on("G04")


def test_a_leader_acts_on_the_grids_they_lead_by_config_or_database_role(
    settings: Settings, sqlite_db: Database
) -> None:
    with sqlite_db.session() as s:
        sync_grids(session=s, specs=[GridSpec("G03", "三", "三群"), GridSpec("G04", "四", "四群")])
        member = grids.touch_member(
            session=s, contact_id="wxid_leader_li", grid_code="G04", display_name="李", at=T0
        )
        member.role = MemberRole.LEADER
        s.commit()
        li = actor_for(s, settings, "wxid_leader_li")
        zhao = actor_for(s, settings, "wxid_leader_zhao")
        assert grids_led_by(s, settings, "wxid_leader_li") == {"G03", "G04"}
    assert li is not None
    assert zhao is not None
    assert (li.role, li.grids) == (Role.LEADER, frozenset({"G03", "G04"}))
    assert zhao.may_act_on("G04")
    assert not zhao.may_act_on("G03")


def test_residents_workers_and_display_names_get_no_actor(
    settings: Settings, sqlite_db: Database
) -> None:
    with sqlite_db.session() as s:
        sync_grids(session=s, specs=[GridSpec("G03", "三", "三群")])
        # a resident who took the leader's display name is still a resident
        grids.touch_member(
            session=s, contact_id="wxid_fake", grid_code="G03", display_name="李网格长", at=T0
        )
        s.commit()
        assert actor_for(s, settings, "wxid_fake") is None
        assert actor_for(s, settings, "wxid_louzhang_hu") is None
        assert actor_for(s, settings, "李网格长") is None
