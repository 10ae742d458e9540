from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlmodel import select

from storage import accounts
from storage.db import Database
from storage.models import ContactAccount, RoomAccount

T0 = datetime(2026, 11, 22, 1, 0, tzinfo=UTC)


def test_a_room_seen_again_keeps_one_row_with_the_latest_topic(db: Database) -> None:
    with db.session() as s:
        accounts.saw_room(session=s, account="A", room_id="r1", topic="一组", at=T0)
        accounts.saw_room(session=s, account="B", room_id="r1", topic="一组", at=T0)
        s.commit()
        later = T0 + timedelta(hours=1)
        accounts.saw_room(session=s, account="A", room_id="r1", topic="一组（新）", at=later)
        s.commit()
        assert accounts.accounts_in_room(session=s, room_id="r1") == ["A", "B"]
        row = s.get_one(RoomAccount, ("r1", "A"))
        s.refresh(row)
        assert (row.topic, row.seen_at) == ("一组（新）", later)
        assert accounts.accounts(session=s) == ["A", "B"]


def test_the_group_list_at_login_replaces_what_the_account_was_in(db: Database) -> None:
    with db.session() as s:
        accounts.saw_room(session=s, account="A", room_id="left", topic="退了的群", at=T0)
        accounts.saw_room(session=s, account="B", room_id="left", topic="退了的群", at=T0)
        accounts.set_rooms(session=s, account="A", rooms={"r1": "一组", "r2": None}, at=T0)
        s.commit()
        assert accounts.accounts_in_room(session=s, room_id="left") == ["B"]
        assert accounts.accounts_in_room(session=s, room_id="r1") == ["A"]
        assert accounts.accounts_in_room(session=s, room_id="r2") == ["A"]
        accounts.set_rooms(session=s, account="A", rooms={}, at=T0)
        s.commit()
        assert accounts.accounts(session=s) == ["B"]


def test_contacts_are_recorded_once_per_account(db: Database) -> None:
    with db.session() as s:
        for _ in range(2):
            accounts.saw_contact(session=s, account="A", contact_id="wxid_li", at=T0)
            s.commit()
        accounts.saw_contact(session=s, account="B", contact_id="wxid_li", at=T0)
        s.commit()
        rows = s.exec(select(ContactAccount)).all()
        assert sorted((r.contact_id, r.account) for r in rows) == [
            ("wxid_li", "A"),
            ("wxid_li", "B"),
        ]


def test_a_heartbeat_stamps_the_accounts_groups_and_is_read_per_account(db: Database) -> None:
    later = T0 + timedelta(minutes=1)
    with db.session() as s:
        accounts.set_rooms(session=s, account="A", rooms={"r1": "一组", "r2": "二组"}, at=T0)
        accounts.saw_room(session=s, account="B", room_id="r1", topic="一组", at=T0)
        s.commit()
        accounts.heartbeat(session=s, account="A", at=later)
        s.commit()
        assert accounts.last_seen(session=s) == {"A": later, "B": T0}
        seen = s.exec(select(RoomAccount.seen_at).where(RoomAccount.account == "A")).all()
        assert seen == [later, later]
        accounts.heartbeat(session=s, account="nobody", at=later)  # in no group: nothing
        s.commit()
        assert accounts.last_seen(session=s) == {"A": later, "B": T0}


def test_the_accounts_in_each_room(db: Database) -> None:
    with db.session() as s:
        accounts.saw_room(session=s, account="B", room_id="r1", topic="一组", at=T0)
        accounts.saw_room(session=s, account="A", room_id="r1", topic=None, at=T0)
        accounts.saw_room(session=s, account="A", room_id="r2", topic="二组", at=T0)
        s.commit()
        found = accounts.room_accounts(session=s, room_ids=["r1", "r3"])
        assert {room: [(r.account, r.topic) for r in rows] for room, rows in found.items()} == {
            "r1": [("A", None), ("B", "一组")]
        }
        assert accounts.room_accounts(session=s, room_ids=[]) == {}
