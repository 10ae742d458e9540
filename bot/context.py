"""What a handler sees: the message, who sent it where, the injected services, and a way to
answer. Nothing here sends: replies are queued and the dispatcher stores them in the outbox
in the same transaction as the handler's other writes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from sqlmodel import Session

from bot.clock import Clock
from bot.commands import CommandCall
from bot.events import Inbound, Outbound
from bot.routing import CommandSpec, Role
from bot.settings import GridSettings, Settings
from nlp.classifier import Classification, Classifier
from storage import grids as grid_store
from storage.db import Database

if TYPE_CHECKING:
    from bot.scheduler import JobSpec

# Jobs scheduled while the bot runs (not declared by a feature at start) carry this prefix:
# a restart keeps them instead of pruning them as undeclared.
ONCE = "once:"


def leads_a_grid(session: Session, settings: Settings, contact_id: str) -> bool:
    """Whether ``contact_id`` leads any grid: named a leader in the config, or given the role
    in the database."""
    if any(contact_id in grid.leaders for grid in settings.grids):
        return True
    return bool(grid_store.grids_led_in_db(session=session, contact_id=contact_id))


@dataclass(frozen=True, slots=True)
class Services:
    """Set once when the bot starts; shared by every handler."""

    settings: Settings
    clock: Clock
    db: Database
    classifier: Classifier


@dataclass(slots=True)
class Context:
    event: Inbound
    message_id: int
    now: datetime
    session: Session
    services: Services
    grid: GridSettings | None
    role: Role
    command: CommandCall | None
    commands: Sequence[CommandSpec] = ()
    outgoing: list[Outbound] = field(default_factory=list)
    jobs: list[JobSpec] = field(default_factory=list)
    # Set by a handler that found an emergency: its replies (the number to call) go out
    # whatever the anti-flood limits say (bot/flood.py).
    urgent: bool = False
    _classification: Classification | None = field(default=None, repr=False)

    @property
    def settings(self) -> Settings:
        return self.services.settings

    @property
    def is_staff(self) -> bool:
        """Whether the sender speaks for the grid here: a leader or administrator, or a
        worker of this grid (楼栋长, 网格员, 物业). Their words are progress and notices,
        never a resident's request."""
        if self.role >= Role.LEADER:
            return True
        return self.grid is not None and self.event.sender_id in self.grid.workers

    def classified(self) -> Classification:
        """The classifier's reading of the message's text, read once however often asked
        (a handler's filter asks, then the handler)."""
        if self._classification is None:
            self._classification = self.services.classifier.classify(self.event.text)
        return self._classification

    def read_by_keywords(self) -> Classification:
        """From now on, the keyword rules' reading of the message, whatever the learned layer
        makes of it."""
        self._classification = self.services.classifier.keywords_only(self.event.text)
        return self._classification

    def reply(self, text: str, *, mention: bool = True) -> None:
        """Answer the sender where they spoke: in the group with an @mention, or privately."""
        event = self.event
        if event.is_private:
            self.outgoing.append(Outbound(text=text, to=event.sender_id))
        else:
            self.outgoing.append(
                Outbound(
                    text=text,
                    room_id=event.room_id,
                    room_topic=event.room_topic,
                    mentions=(event.sender_id,) if mention else (),
                )
            )

    def send(self, message: Outbound) -> None:
        self.outgoing.append(message)

    def schedule(self, job: JobSpec) -> None:
        """Add a one-off job (its id must start with ``once:``) once this message's writes
        are committed: a handler that fails schedules nothing."""
        if not job.id.startswith(ONCE):
            raise ValueError(f"a job scheduled from a handler needs an id starting {ONCE!r}")
        self.jobs.append(job)
