from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from storage import points
from storage.db import Database
from storage.models import EntryKind, PointsEntry
from tests.auxil.points import T0, add_members, entry_count

A, B, C = "wxid_a", "wxid_b", "wxid_c"


@pytest.fixture
def people(db: Database) -> dict[str, int]:
    return add_members(db, (A, "G03", "张阿姨"), (B, "G03", "王大爷"), (C, "G03", "刘姐"))


def give(
    db: Database, member_id: int, delta: int, key: str, *, kind: EntryKind = EntryKind.AWARD,
    at: timedelta = timedelta(0), rule_code: str | None = None,
) -> int | None:  # fmt: skip
    with db.session() as session:
        balance = points.post(
            session=session,
            member_id=member_id,
            grid_code="G03",
            delta=delta,
            kind=kind,
            key=key,
            at=T0 + at,
            actor_id="wxid_leader_li",
            rule_code=rule_code,
        )
        session.commit()
        return balance


def test_an_entry_moves_the_balance_in_the_same_transaction(
    db: Database, people: dict[str, int]
) -> None:
    assert give(db, people[A], 5, "k1") == 5
    assert give(db, people[A], 3, "k2") == 8
    with db.session() as session:
        assert points.totals(session=session, member_id=people[A]) == points.Totals(8, 8, 2)
        assert points.totals(session=session, member_id=people[B]) == points.Totals()


def test_an_entry_with_a_key_already_used_changes_nothing(
    db: Database, people: dict[str, int]
) -> None:
    assert give(db, people[A], 5, "msg:1:1:volunteer") == 5
    assert give(db, people[A], 5, "msg:1:1:volunteer") is None
    assert entry_count(db) == 1
    with db.session() as session:
        assert points.totals(session=session, member_id=people[A]).balance == 5


def test_a_debit_beyond_the_balance_is_refused_and_rolled_back(
    db: Database, people: dict[str, int]
) -> None:
    give(db, people[A], 5, "k1")
    with db.session() as session, pytest.raises(points.Overdrawn) as caught:
        points.post(
            session=session, member_id=people[A], grid_code="G03", delta=-6,
            kind=EntryKind.PENALTY, key="k2", at=T0,
        )  # fmt: skip
    assert caught.value.balance == 5
    assert entry_count(db) == 1  # the session was closed without commit


def test_a_debit_from_a_member_without_points_is_refused(
    db: Database, people: dict[str, int]
) -> None:
    with db.session() as session, pytest.raises(points.Overdrawn) as caught:
        points.post(
            session=session, member_id=people[B], grid_code="G03", delta=-1,
            kind=EntryKind.REDEEM, key="k", at=T0,
        )  # fmt: skip
    assert caught.value.balance == 0


def test_the_database_itself_refuses_a_negative_balance(
    db: Database, people: dict[str, int]
) -> None:
    give(db, people[A], 5, "k1")
    with db.session() as session:
        session.execute(text("UPDATE points_balance SET balance = balance - 1"))  # still fine
        with pytest.raises(IntegrityError):
            session.execute(text("UPDATE points_balance SET balance = -1"))


def test_redemptions_and_refunds_move_the_balance_but_not_the_merit(
    db: Database, people: dict[str, int]
) -> None:
    give(db, people[A], 30, "k1")
    give(db, people[A], -20, "k2", kind=EntryKind.REDEEM)
    give(db, people[A], 20, "k3", kind=EntryKind.REFUND)
    give(db, people[A], -5, "k4", kind=EntryKind.PENALTY)
    with db.session() as session:
        assert points.totals(session=session, member_id=people[A]) == points.Totals(25, 25, 4)
    give(db, people[A], -20, "k5", kind=EntryKind.REDEEM)
    with db.session() as session:
        assert points.totals(session=session, member_id=people[A]) == points.Totals(5, 25, 5)


def test_change_and_totals_since_a_time(db: Database, people: dict[str, int]) -> None:
    give(db, people[A], 5, "k1", at=timedelta(days=-40))
    give(db, people[A], 5, "k2", rule_code="volunteer")
    give(db, people[A], 3, "k3", rule_code="meeting")
    give(db, people[A], -2, "k4", kind=EntryKind.PENALTY)
    with db.session() as session:
        since = T0 - timedelta(days=1)
        assert points.change_since(session=session, member_id=people[A], since=since) == 6
        award = (EntryKind.AWARD,)
        assert points.total_since(session=session, member_id=people[A], since=since,
                                  kinds=award) == 8  # fmt: skip
        assert points.total_since(session=session, member_id=people[A], since=since,
                                  kinds=award, rule_code="volunteer") == 5  # fmt: skip


def test_totals_for_a_cap_count_the_corrections_of_that_direction(
    db: Database, people: dict[str, int]
) -> None:
    give(db, people[A], 30, "k1")
    give(db, people[A], 20, "k2", kind=EntryKind.ADJUST)
    give(db, people[A], -10, "k3", kind=EntryKind.ADJUST)
    give(db, people[A], -5, "k4", kind=EntryKind.PENALTY)
    with db.session() as session:

        def total(kind: EntryKind, corrections: int) -> int:
            return points.total_since(session=session, member_id=people[A], since=T0,
                                      kinds=(kind,), corrections=corrections)  # fmt: skip

        assert total(EntryKind.AWARD, 0) == 30
        assert total(EntryKind.AWARD, 1) == 50
        assert total(EntryKind.PENALTY, 0) == -5
        assert total(EntryKind.PENALTY, -1) == -15


def test_history_is_newest_first_and_limited(db: Database, people: dict[str, int]) -> None:
    for i in range(12):
        give(db, people[A], i + 1, f"k{i}", at=timedelta(minutes=i))
    give(db, people[B], 100, "other")
    with db.session() as session:
        entries = points.history(session=session, member_ids=[people[A]], limit=10)
    assert [e.delta for e in entries] == list(range(12, 2, -1))


def test_ranking_is_by_merit_with_shared_ranks_and_names(
    db: Database, people: dict[str, int]
) -> None:
    give(db, people[A], 10, "k1")
    give(db, people[B], 30, "k2")
    give(db, people[C], 10, "k3")
    give(db, people[B], -25, "k4", kind=EntryKind.REDEEM)  # spent, still earned
    with db.session() as session:
        ranked = points.ranking(session=session, grid_code="G03", limit=10)
    assert [(r.rank, r.name, r.points) for r in ranked] == [
        (1, "王大爷", 30),
        (2, "张阿姨", 10),
        (2, "刘姐", 10),
    ]


def test_ranking_leaves_out_other_grids_and_people_without_points(db: Database) -> None:
    ids = add_members(db, (A, "G03", "张阿姨"), (B, "G04", "王大爷"), (C, "G03", "刘姐"))
    give(db, ids[A], 5, "k1")
    with db.session() as session:
        points.post(session=session, member_id=ids[B], grid_code="G04", delta=50,
                    kind=EntryKind.AWARD, key="k2", at=T0)  # fmt: skip
        session.commit()
        assert [r.name for r in points.ranking(session=session, grid_code="G03")] == ["张阿姨"]


def test_month_summary_totals_by_kind_and_member(db: Database, people: dict[str, int]) -> None:
    give(db, people[A], 5, "k1")
    give(db, people[A], 10, "k2", kind=EntryKind.BASE)
    give(db, people[B], 8, "k3")
    give(db, people[B], -3, "k4", kind=EntryKind.PENALTY)
    give(db, people[A], -10, "k5", kind=EntryKind.REDEEM)
    give(db, people[C], 50, "before", at=timedelta(days=-30))
    with db.session() as session:
        summary = points.month_summary(
            session=session, grid_code="G03", since=T0 - timedelta(days=1),
            until=T0 + timedelta(days=1),
        )  # fmt: skip
    assert summary.kinds[EntryKind.AWARD] == points.KindTotal(2, 13)
    assert summary.kinds[EntryKind.REDEEM] == points.KindTotal(1, -10)
    assert [(m.name, m.earned, m.change, m.balance) for m in summary.members] == [
        ("张阿姨", 15, 5, 5),
        ("王大爷", 5, 5, 5),
    ]


def test_a_notice_is_claimed_once_per_grid_and_period(db: Database, people: dict[str, int]) -> None:
    with db.session() as session:
        assert points.mark_notice_sent(session=session, grid_code="G03", period="2026-11", at=T0)
        assert not points.mark_notice_sent(
            session=session, grid_code="G03", period="2026-11", at=T0
        )
        assert points.mark_notice_sent(session=session, grid_code="G03", period="2026-12", at=T0)


def test_verify_agrees_on_a_consistent_ledger(db: Database, people: dict[str, int]) -> None:
    give(db, people[A], 5, "k1")
    give(db, people[B], 5, "k2")
    give(db, people[B], -5, "k3", kind=EntryKind.REDEEM)
    with db.session() as session:
        result = points.verify(session=session)
    assert (result.checked, result.entries, result.mismatched) == (2, 3, 0)


def test_verify_finds_a_tampered_balance_and_entries_without_one(
    db: Database, people: dict[str, int]
) -> None:
    give(db, people[A], 5, "k1")
    give(db, people[B], 7, "k2")
    with db.session() as session:
        session.execute(text("UPDATE points_balance SET balance = 6"))
        # an entry written behind the ledger functions' back: no balance row moved
        session.add(PointsEntry(key="raw", member_id=people[C], grid_code="G03", delta=4,
                                kind="award", at=T0))  # fmt: skip
        session.commit()
        result = points.verify(session=session)
    assert result.mismatched == 3
    found = {m.contact_id: (m.stored, m.ledger) for m in result.mismatches}
    assert found[A] == (points.Totals(6, 5, 1), points.Totals(5, 5, 1))
    assert found[C] == (points.Totals(0, 0, 0), points.Totals(4, 4, 1))


def test_members_by_contact_only_finds_the_grids_members(db: Database) -> None:
    add_members(db, (A, "G03", "张阿姨"), (B, "G04", "王大爷"))
    with db.session() as session:
        found = points.members_by_contact(session=session, grid_code="G03", contact_ids=[A, B])
        assert list(found) == [A]
        assert [m.grid_code for m in points.memberships(session=session, contact_id=A)] == ["G03"]


# --- the web console's reads ---


def test_standings_rank_in_the_whole_grid_whatever_the_page_or_name(
    db: Database, people: dict[str, int]
) -> None:
    give(db, people[A], 5, "k1")
    give(db, people[B], 5, "k2")
    give(db, people[B], -5, "k3", kind=EntryKind.REDEEM)  # spent: still earned
    with db.session() as session:
        total, found = points.standings(session=session, grid_code="G03")
        assert total == 3
        assert [(s.rank, s.name, s.earned, s.balance, s.entries) for s in found] == [
            (1, "张阿姨", 5, 5, 1),
            (1, "王大爷", 5, 0, 2),
            (None, "刘姐", 0, 0, 0),  # nothing yet: listed last, unranked
        ]
        _total, [second] = points.standings(session=session, grid_code="G03", offset=1, limit=1)
        assert (second.rank, second.name) == (1, "王大爷")
        assert points.standings(session=session, grid_code="G03", words="王") == (1, [second])
        assert points.standings(session=session, grid_code="G03", words="_")[0] == 0
        assert points.standings(session=session, grid_code="G04") == (0, [])


def test_a_members_ledger_says_the_balance_each_entry_left(
    db: Database, people: dict[str, int]
) -> None:
    give(db, people[A], 5, "k1")
    give(db, people[A], 8, "k2", at=timedelta(minutes=1))
    give(db, people[A], -3, "k3", kind=EntryKind.PENALTY, at=timedelta(minutes=2))
    give(db, people[B], 50, "k4")
    with db.session() as session:
        lines = points.ledger(session=session, member_id=people[A])
        assert [(line.entry.delta, line.balance) for line in lines] == [(-3, 10), (8, 13), (5, 5)]
        page = points.ledger(session=session, member_id=people[A], offset=1, limit=1)
        assert [(line.entry.delta, line.balance) for line in page] == [(8, 13)]
        assert points.entry_count(session=session, member_id=people[A]) == 3


def test_each_entry_of_a_ledger_query(db: Database, people: dict[str, int]) -> None:
    give(db, people[A], 5, "k1", at=timedelta(days=-1))
    give(db, people[B], 7, "k2")
    give(db, people[A], 8, "k3", at=timedelta(minutes=1))
    with db.session() as session:
        every = list(points.each_entry(session=session, query=points.LedgerQuery()))
        assert [(e.member_name, e.delta, e.balance_after) for e in every] == [
            ("张阿姨", 5, 5),
            ("王大爷", 7, 7),
            ("张阿姨", 8, 13),
        ]
        # the days chosen after the balances are summed over the whole ledger
        since = points.LedgerQuery(since=T0, member_id=people[A])
        assert [(e.delta, e.balance_after) for e in points.each_entry(
            session=session, query=since)] == [(8, 13)]  # fmt: skip
        until = points.LedgerQuery(until=T0, grids=frozenset({"G03"}))
        assert [e.delta for e in points.each_entry(session=session, query=until)] == [5]
        nothing = points.LedgerQuery(grids=frozenset())
        assert list(points.each_entry(session=session, query=nothing)) == []
        assert list(points.each_entry(session=session, query=points.LedgerQuery(
            grids=frozenset({"G04"})))) == []  # fmt: skip
