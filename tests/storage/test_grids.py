from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.exc import IntegrityError

from storage import grids, inbox
from storage.db import Database
from storage.models import Grid, Member, MemberRole

T0 = datetime(2026, 11, 22, 1, 0, tzinfo=UTC)
SPECS = [grids.GridSpec("G03", "三", "三群", "幸福社区"), grids.GridSpec("G04", "四", "四群")]


def synced(db: Database) -> None:
    with db.session() as s:
        grids.sync_grids(session=s, specs=SPECS)
        s.commit()


def test_sync_creates_updates_and_deactivates(db: Database) -> None:
    synced(db)
    with db.session() as s:
        grids.bind_room(session=s, grid_code="G03", room_id="room@3")
        s.commit()
        grids.sync_grids(session=s, specs=[grids.GridSpec("G03", "三（新）", "新三群")])
        s.commit()
        assert [g.code for g in grids.active_grids(session=s)] == ["G03"]
        g03 = s.get_one(Grid, "G03")
        assert (g03.name, g03.room_topic, g03.room_id, g03.community) == (
            "三（新）",
            "新三群",
            "room@3",
            None,
        )
        assert grids.grid_code_by_room_id(session=s, room_id="room@3") == "G03"
        grids.sync_grids(session=s, specs=SPECS)
        s.commit()
        assert len(grids.active_grids(session=s)) == 2


def test_a_room_belongs_to_one_grid(db: Database) -> None:
    synced(db)
    with db.session() as s:
        grids.bind_room(session=s, grid_code="G03", room_id="room@x")
        s.commit()
        grids.bind_room(session=s, grid_code="G04", room_id="room@x")
        with pytest.raises(IntegrityError):
            s.commit()


def test_a_deactivated_grid_is_not_found_by_room(db: Database) -> None:
    synced(db)
    with db.session() as s:
        grids.bind_room(session=s, grid_code="G04", room_id="room@4")
        grids.sync_grids(session=s, specs=SPECS[:1])
        s.commit()
        assert grids.grid_code_by_room_id(session=s, room_id="room@4") is None


def test_members_are_per_grid_and_keep_the_latest_name(db: Database) -> None:
    synced(db)
    with db.session() as s:
        grids.touch_member(session=s, contact_id="wxid_a", grid_code="G03", display_name="A", at=T0)
        later = T0 + timedelta(hours=1)
        grids.touch_member(
            session=s, contact_id="wxid_a", grid_code="G03", display_name="A2", at=later
        )
        grids.touch_member(
            session=s, contact_id="wxid_a", grid_code="G04", display_name="A", at=later
        )
        s.commit()
        assert grids.member_count(session=s, grid_code="G03") == 1
        member = s.exec(grids.select(Member).where(Member.grid_code == "G03")).one()
        assert (member.display_name, member.first_seen, member.last_seen) == ("A2", T0, later)


def test_roles_granted_in_the_database(db: Database) -> None:
    synced(db)
    with db.session() as s:
        member = grids.touch_member(
            session=s, contact_id="wxid_a", grid_code="G04", display_name="A", at=T0
        )
        assert (
            grids.member_role(session=s, contact_id="wxid_a", grid_code="G04")
            == MemberRole.RESIDENT
        )
        member.role = MemberRole.LEADER
        s.commit()
        assert (
            grids.member_role(session=s, contact_id="wxid_a", grid_code="G04") == MemberRole.LEADER
        )
        assert (
            grids.member_role(session=s, contact_id="wxid_a", grid_code="G03")
            == MemberRole.RESIDENT
        )
        assert (
            grids.member_role(session=s, contact_id="wxid_nobody", grid_code="G03")
            == MemberRole.RESIDENT
        )
        assert list(grids.grids_led_in_db(session=s, contact_id="wxid_a")) == ["G04"]


def test_a_member_needs_a_known_grid(db: Database) -> None:
    with db.session() as s, pytest.raises(IntegrityError):
        # a new member is an upsert, refused as it is written
        grids.touch_member(session=s, contact_id="wxid_a", grid_code="G99", display_name="A", at=T0)


def test_the_fast_paths_find_the_bound_grid_and_record_members(db: Database) -> None:
    synced(db)
    later = T0 + timedelta(hours=1)
    with db.session() as s:
        grids.bind_room(session=s, grid_code="G03", room_id="room@3")
        s.commit()
        assert grids.grid_code_by_room_id(session=s, room_id="room@3") == "G03"
        assert grids.grid_code_by_room_id(session=s, room_id="room@4") is None
        for name, at in (("A", T0), ("A2", later)):
            role = grids.member_seen(
                session=s, contact_id="wxid_a", grid_code="G03", display_name=name, at=at
            )
            assert role == MemberRole.RESIDENT
        s.commit()
        # a role granted in the database comes back with the next visit, for the dispatcher
        s.exec(grids.select(Member)).one().role = MemberRole.LEADER
        s.commit()
        role = grids.member_seen(
            session=s, contact_id="wxid_a", grid_code="G03", display_name="A2", at=later
        )
        assert role == MemberRole.LEADER
        s.exec(grids.select(Member)).one().role = MemberRole.RESIDENT
        s.commit()
    with db.session() as s:
        member = s.exec(grids.select(Member).where(Member.grid_code == "G03")).one()
        assert (member.contact_id, member.display_name, member.role) == ("wxid_a", "A2", "resident")
        assert (member.first_seen, member.last_seen) == (T0, later)
        assert grids.display_name(session=s, contact_id="wxid_a", grid_code="G03") == "A2"
        assert grids.display_name(session=s, contact_id="wxid_a", grid_code="G04") is None
        # a grid that is no longer in config no longer claims its room
        grids.sync_grids(session=s, specs=SPECS[1:])
        s.commit()
        assert grids.grid_code_by_room_id(session=s, room_id="room@3") is None


def test_members_of_a_grid_who_spoke_last_first(db: Database) -> None:
    synced(db)
    with db.session() as s:
        for n, (contact_id, grid) in enumerate(
            [("wxid_a", "G03"), ("wxid_b", "G03"), ("wxid_c", "G04"), ("wxid_d", "G03")]
        ):
            grids.touch_member(
                session=s,
                contact_id=contact_id,
                grid_code=grid,
                display_name=contact_id[-1].upper(),
                at=T0 + timedelta(minutes=n),
            )
        s.commit()
        assert grids.members(session=s, grid_code="G03", limit=2) == [
            ("wxid_d", "D", MemberRole.RESIDENT),
            ("wxid_b", "B", MemberRole.RESIDENT),
        ]
        assert [c for c, _n, _r in grids.members(session=s, grid_code="G04", limit=9)] == ["wxid_c"]


def test_roles_given_and_taken_and_who_was_seen(db: Database) -> None:
    """Issue 20: /设网格长 and /撤网格长 write the role; /成员 lists who was seen."""
    synced(db)
    later = T0 + timedelta(hours=1)
    with db.session() as s:
        for contact_id, at in (("wxid_a", T0), ("wxid_b", later)):
            grids.member_seen(
                session=s, contact_id=contact_id, grid_code="G03", display_name=contact_id, at=at
            )
        grids.member_seen(session=s, contact_id="wxid_a", grid_code="G04", display_name="A", at=T0)
        s.commit()
        assert grids.set_role(
            session=s, contact_id="wxid_b", grid_code="G03", role=MemberRole.LEADER
        )
        # nobody to give it to: never seen in that group
        assert not grids.set_role(
            session=s, contact_id="wxid_b", grid_code="G04", role=MemberRole.LEADER
        )
        s.commit()
    with db.session() as s:
        assert list(grids.leaders_in_db(session=s, grid_code="G03")) == ["wxid_b"]
        assert list(grids.leaders_in_db(session=s, grid_code="G04")) == []
        seen = grids.seen_members(session=s, grid_code="G03")
        assert [(m.contact_id, m.role, m.last_seen) for m in seen] == [
            ("wxid_b", MemberRole.LEADER, later),
            ("wxid_a", MemberRole.RESIDENT, T0),
        ]
        # the rows a session holds show a role written past the ORM
        grids.set_role(session=s, contact_id="wxid_b", grid_code="G03", role=MemberRole.RESIDENT)
        assert [m.role for m in grids.seen_members(session=s, grid_code="G03")] == [
            MemberRole.RESIDENT,
            MemberRole.RESIDENT,
        ]
        s.commit()
        assert list(grids.leaders_in_db(session=s, grid_code="G03")) == []


def test_each_grids_last_activity_members_and_leaders_at_once(db: Database) -> None:
    synced(db)
    with db.session() as s:
        for contact_id, grid, hours in (("a", "G03", 0), ("b", "G03", 2), ("a", "G04", 1)):
            grids.touch_member(
                session=s, contact_id=contact_id, grid_code=grid, display_name=contact_id.upper(),
                at=T0 + timedelta(hours=hours),
            )  # fmt: skip
        grids.set_role(session=s, contact_id="b", grid_code="G03", role=MemberRole.LEADER)
        s.commit()
        codes = ["G03", "G04"]
        assert grids.last_seen_by_grid(session=s, grid_codes=codes) == {
            "G03": T0 + timedelta(hours=2),
            "G04": T0 + timedelta(hours=1),
        }
        assert grids.member_counts(session=s, grid_codes=codes) == {"G03": 2, "G04": 1}
        assert grids.named_members(session=s, grid_codes=codes, contact_ids=["a"]) == {
            ("G03", "a"): ("A", MemberRole.RESIDENT),
            ("G03", "b"): ("B", MemberRole.LEADER),  # a leader by role, asked for or not
            ("G04", "a"): ("A", MemberRole.RESIDENT),
        }
        assert grids.last_seen_by_grid(session=s, grid_codes=[]) == {}
        assert grids.member_counts(session=s, grid_codes=[]) == {}


def test_when_someone_last_spoke_counts_the_messages_their_row_was_not_written_for(
    db: Database,
) -> None:
    """Issue 21: a message of someone seen within LAST_SEEN_STEP under the same name does not
    write their row; what shows or orders by last seen reads those messages from the inbox."""
    synced(db)
    step = grids.LAST_SEEN_STEP
    with db.session() as s:
        for contact_id, grid, minutes in (("a", "G03", 0), ("b", "G03", 5), ("a", "G04", 0)):
            grids.touch_member(
                session=s, contact_id=contact_id, grid_code=grid, display_name=contact_id.upper(),
                at=T0 + timedelta(minutes=minutes),
            )  # fmt: skip
        # then messages only: a in G03 twice (not b, whose row is the latest), a in G04 once,
        # and one of a's from before the row's time (a clock behind), counted as the row says
        for n, (grid, at) in enumerate(
            (
                ("G03", T0 + step / 3),
                ("G03", T0 + step),
                ("G04", T0 + step / 2),
                ("G03", T0 - step),
            )
        ):
            inbox.store(
                session=s,
                values={"key": f"k{n}", "sender_id": "a", "sender_name": "A", "type": "text",
                        "text": "嗯", "grid_code": grid, "sent_at": at, "received_at": at},
            )  # fmt: skip
        assert grids.last_seen_in(session=s, grid_code="G03") == {
            "a": T0 + step,
            "b": T0 + timedelta(minutes=5),
        }
        assert grids.last_seen_in(session=s, grid_code="G04") == {"a": T0 + step / 2}
        assert [c for c, _n, _r in grids.members(session=s, grid_code="G03", limit=9)] == ["a", "b"]
        assert [m.contact_id for m in grids.seen_members(session=s, grid_code="G03")] == ["a", "b"]
        assert grids.last_seen_by_grid(session=s, grid_codes=["G03", "G04"]) == {
            "G03": T0 + step,
            "G04": T0 + step / 2,
        }
        # the rows themselves were not written
        rows = s.exec(grids.select(Member.contact_id, Member.grid_code, Member.last_seen)).all()
        assert sorted(rows) == [
            ("a", "G03", T0),
            ("a", "G04", T0),
            ("b", "G03", T0 + timedelta(minutes=5)),
        ]
