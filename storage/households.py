"""Households (户) for 基础分: members of a grid grouped, the representative (户代表) first."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete
from sqlmodel import Session, col, func, select

from storage.models import BaseCoverage, Household, HouseholdMember, Member
from storage.points import insert_ignoring_conflict


def form(
    *, session: Session, grid_code: str, members: Sequence[Member], actor: str, at: datetime
) -> Household:
    """Record ``members`` as one household, the first its representative. Anyone already
    in another household moves to this one; a household left empty is removed."""
    member_ids = [m.id for m in members if m.id is not None]
    left = session.exec(
        select(HouseholdMember.household_id).where(col(HouseholdMember.member_id).in_(member_ids))
    ).all()
    session.execute(delete(HouseholdMember).where(col(HouseholdMember.member_id).in_(member_ids)))
    household = Household(grid_code=grid_code, created_at=at, created_by=actor)
    session.add(household)
    session.flush()
    assert household.id is not None
    for position, member_id in enumerate(member_ids):
        session.add(
            HouseholdMember(member_id=member_id, household_id=household.id, position=position)
        )
    session.flush()
    for household_id in set(left):
        remaining = session.exec(
            select(func.count())
            .select_from(HouseholdMember)
            .where(HouseholdMember.household_id == household_id)
        ).one()
        if remaining == 0:
            session.execute(delete(Household).where(col(Household.id) == household_id))
        else:
            _renumber(session=session, household_id=household_id)
    return household


def _renumber(*, session: Session, household_id: int) -> None:
    # Whoever is first after a departure becomes the representative.
    rows = session.exec(
        select(HouseholdMember)
        .where(HouseholdMember.household_id == household_id)
        .order_by(col(HouseholdMember.position))
    ).all()
    for position, row in enumerate(rows):
        row.position = position
        session.add(row)


def of_grid(*, session: Session, grid_code: str) -> list[list[Member]]:
    """The grid's households, each representative first, in the order they were formed."""
    rows = session.exec(
        select(HouseholdMember.household_id, Member)
        .join(Member, col(Member.id) == HouseholdMember.member_id)
        .join(Household, col(Household.id) == HouseholdMember.household_id)
        .where(Household.grid_code == grid_code)
        .order_by(col(HouseholdMember.household_id), col(HouseholdMember.position))
    ).all()
    households: dict[int, list[Member]] = {}
    for household_id, member in rows:
        households.setdefault(household_id, []).append(member)
    return list(households.values())


def count_in(
    *,
    session: Session,
    grid_code: str,
    period: str,
    contact_ids: Sequence[str],
    at: datetime,
) -> set[str]:
    """Count these people in the period's base points; return those newly counted (the
    others were counted this period already, in this or another household).

    The unique key decides, not a read first: of two leaders paying at once, the second waits
    for the first's rows (PostgreSQL) or its turn to write (SQLite) and counts nobody twice.
    Sorted, so that two payments of the same household take its rows in the same order."""
    return {
        contact_id
        for contact_id in sorted(set(contact_ids))
        if insert_ignoring_conflict(
            session,
            BaseCoverage,
            {
                "grid_code": grid_code,
                "period": period,
                "contact_id": contact_id,
                "at": at,
            },
            key=["grid_code", "period", "contact_id"],
        )
    }
