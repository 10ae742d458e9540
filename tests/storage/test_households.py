from __future__ import annotations

from sqlmodel import select

from storage import households
from storage.db import Database
from storage.models import Member
from tests.auxil.points import T0, add_members


def members(db: Database, *contacts: str) -> list[Member]:
    with db.session() as session:
        found = {
            m.contact_id: m for m in session.exec(select(Member).where(Member.grid_code == "G03"))
        }
        return [found[c] for c in contacts]


def form(db: Database, *contacts: str) -> None:
    with db.session() as session:
        households.form(
            session=session, grid_code="G03", members=members(db, *contacts), actor="wxid_l",
            at=T0,
        )  # fmt: skip
        session.commit()


def grid_households(db: Database) -> list[list[str]]:
    with db.session() as session:
        return [
            [m.contact_id for m in household]
            for household in households.of_grid(session=session, grid_code="G03")
        ]


def test_a_household_lists_its_representative_first(db: Database) -> None:
    add_members(db, ("a", "G03", "张"), ("b", "G03", "王"), ("c", "G03", "刘"), ("d", "G04", "赵"))
    form(db, "b", "a")
    form(db, "c")
    assert grid_households(db) == [["b", "a"], ["c"]]


def test_joining_a_new_household_leaves_the_old_one(db: Database) -> None:
    add_members(db, ("a", "G03", "张"), ("b", "G03", "王"), ("c", "G03", "刘"))
    form(db, "a", "b")
    form(db, "c", "a")  # a moves: b is left, and becomes the representative of the rest
    assert grid_households(db) == [["b"], ["c", "a"]]
    form(db, "b", "c")  # the household of c and a loses c; the one of b alone is emptied
    assert grid_households(db) == [["a"], ["b", "c"]]


def test_each_person_counts_once_per_grid_and_period(db: Database) -> None:
    def count(grid: str, period: str, *contacts: str) -> set[str]:
        with db.session() as session:
            fresh = households.count_in(
                session=session, grid_code=grid, period=period, contact_ids=contacts, at=T0
            )
            session.commit()
            return fresh

    add_members(db, ("a", "G03", "张"))
    assert count("G03", "2026", "b", "a", "a") == {"a", "b"}
    assert count("G03", "2026", "a", "c") == {"c"}  # a moved to c's household
    assert count("G03", "2026", "a", "b") == set()
    assert count("G03", "2027", "a") == {"a"}
    assert count("G04", "2026", "a") == {"a"}
