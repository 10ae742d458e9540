"""Who acts, and the one answer to "who leads which grid" and "who may see this ticket".

A leader is named in the config (`grids[].leaders`) or given the role in the database
(`member.role`); an administrator is in `admins` and may act on every grid. Rights go by
contact id only, never by a display name.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session

from bot.routing import Role
from bot.settings import Settings
from domain.errors import NotAllowed
from storage import grids as grid_store

__all__ = ["Actor", "actor_for", "grids_led_by", "within_reach"]


@dataclass(frozen=True, slots=True)
class Actor:
    contact_id: str
    role: Role
    # the grids this actor leads (every grid for an administrator)
    grids: frozenset[str]

    @property
    def is_admin(self) -> bool:
        return self.role >= Role.ADMIN

    def may_act_on(self, grid_code: str) -> bool:
        """Whether the actor may see and handle what belongs to ``grid_code``."""
        return self.is_admin or grid_code in self.grids


def grids_led_by(session: Session, settings: Settings, contact_id: str) -> frozenset[str]:
    """The grids ``contact_id`` leads: named in the config, or by role in the database."""
    configured = {grid.code for grid in settings.grids if contact_id in grid.leaders}
    in_db = set(grid_store.grids_led_in_db(session=session, contact_id=contact_id))
    known = {grid.code for grid in settings.grids}
    return frozenset(configured | (in_db & known))


def actor_for(session: Session, settings: Settings, contact_id: str) -> Actor | None:
    """The actor ``contact_id`` is, or None for someone who leads nothing and administers
    nothing (a resident: the console and the web serve them nothing)."""
    if contact_id in settings.admins:
        return Actor(contact_id, Role.ADMIN, frozenset(g.code for g in settings.grids))
    led = grids_led_by(session, settings, contact_id)
    if not led:
        return None
    return Actor(contact_id, Role.LEADER, led)


def within_reach(
    actor: Actor, grid_code: str, *, in_grid: str | None, here: str, elsewhere: str
) -> None:
    """Refuse (NotAllowed) what belongs to ``grid_code``: named by a chat command in another
    grid's group ``in_grid`` (``here`` says it is not this grid's; only that grid's may be
    named there, even by someone who leads several), or not of the actor's grids
    (``elsewhere``)."""
    if in_grid is not None and grid_code != in_grid:
        raise NotAllowed(here)
    if not actor.may_act_on(grid_code):
        raise NotAllowed(elsewhere)
