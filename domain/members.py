"""Who is who in a grid's group: everyone the bot has seen speak there, with their contact
id and what they are to the grid, for the administrators' `/成员` and `gridbot members` (the
ids the config's `leaders:` and `workers:` need; a display name is no id)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import IntEnum

from sqlmodel import Session

from bot.settings import GridSettings, Settings
from storage import grids as grid_store
from storage.models import MemberRole

__all__ = ["GroupMember", "Standing", "group_members"]


class Standing(IntEnum):
    """What someone is to a grid, in the order a list shows them."""

    ADMIN = 0  # in `admins`: every grid
    LEADER = 1  # named in the grid's `leaders:`
    LEADER_IN_DB = 2  # made a leader by /设网格长 (member.role)
    WORKER = 3  # named in the grid's `workers:`
    RESIDENT = 4


@dataclass(frozen=True, slots=True)
class GroupMember:
    contact_id: str
    standing: Standing
    # the name they last had in the group; None for someone the config names who has never
    # spoken there (a wrong id in the config looks like this)
    display_name: str | None
    config_name: str | None
    last_seen: datetime | None


def _standing(settings: Settings, grid: GridSettings, contact_id: str, role: str) -> Standing:
    if contact_id in settings.admins:
        return Standing.ADMIN
    if contact_id in grid.leaders:
        return Standing.LEADER
    if role == MemberRole.LEADER:
        return Standing.LEADER_IN_DB
    if contact_id in grid.workers:
        return Standing.WORKER
    return Standing.RESIDENT


def group_members(session: Session, settings: Settings, grid: GridSettings) -> list[GroupMember]:
    """Everyone seen in ``grid``'s group, then the leaders and workers its config names who
    have not spoken there yet; by standing, then last seen first."""
    names = {**grid.worker_names, **grid.leader_names}
    # the rows' own last_seen may lag (storage.grids.LAST_SEEN_STEP)
    spoke = grid_store.last_seen_in(session=session, grid_code=grid.code)
    seen = [
        GroupMember(
            contact_id=member.contact_id,
            standing=_standing(settings, grid, member.contact_id, member.role),
            display_name=member.display_name,
            config_name=names.get(member.contact_id),
            last_seen=spoke.get(member.contact_id, member.last_seen),
        )
        for member in grid_store.seen_members(session=session, grid_code=grid.code)
    ]
    known = {member.contact_id for member in seen}
    unseen = [
        GroupMember(
            contact_id=contact_id,
            standing=_standing(settings, grid, contact_id, MemberRole.RESIDENT),
            display_name=None,
            config_name=names.get(contact_id),
            last_seen=None,
        )
        for contact_id in dict.fromkeys([*grid.leaders, *grid.workers])
        if contact_id not in known
    ]
    # sorted() is stable: last seen first within a standing, the unseen after the seen
    return sorted([*seen, *unseen], key=lambda member: member.standing)
