"""The retention policy (个人信息保护法): what residents typed is not kept as typed forever.

Two rules, each run by `gridbot purge` and the daily purge job (bot/maintenance.py):

- phone and ID-card numbers are masked (nlp/privacy.py, as the bot masks what it repeats into
  a group) once the row holding them is ``mask_after`` old: in the messages received, the
  messages sent, and everywhere a ticket keeps a resident's words or name (the ticket, its
  events, its reporters, the category corrections);
- a closed ticket's free text (the report, the feedback, the notes of its timeline, the
  messages it was made of, its category correction) is replaced ``text_after`` after it was
  closed, and so is the text of every message the bot sent that long ago (replies and alerts
  quote tickets; the ticket itself is the record). Category, dates, status, grid, reporter
  and rating stay, so statistics stay right.

Both go through a table in batches, one transaction each (a purge killed halfway keeps what it
did and goes on from there), and are idempotent: masked text has no number left to mask, a
replaced text is replaced already. The masking and the sent messages are read in id order from
where the last run stopped (``retention_progress``), so a daily run reads only a day's rows;
closed tickets are found through a partial index of those not purged (``ticket.purged_at``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    CursorResult,
    Table,
    and_,
    bindparam,
    case,
    func,
    null,
    or_,
    union,
    update,
)
from sqlalchemy import select as sa_select
from sqlmodel import Session

from nlp.privacy import mask_personal
from storage.db import Database, insert_for
from storage.models import (
    CategoryCorrection,
    InboundMessage,
    OutboundMessage,
    OutboundStatus,
    RetentionProgress,
    Ticket,
    TicketAttachment,
    TicketEvent,
    TicketReporter,
    TicketStatus,
)

__all__ = ["PURGED_TEXT", "PurgeReport", "purge"]

# What a replaced text reads, in the web console and anywhere it is shown again.
PURGED_TEXT = "（已过保留期限，内容已清除）"
BATCH = 500

# Events whose note is the bot's own record (a category code, a rating, a media type, a
# status word), not anybody's words: kept, the timeline reads right without the free text.
KEPT_NOTES = frozenset(
    {
        "archived",
        "assigned",
        "attached",
        "auto_escalated",
        "filed",
        "merged",
        "merged_in",
        "rated",
        "reclassified",
        "reminded",
        "reopened",
    }
)
_CLOSED = (TicketStatus.ARCHIVED, TicketStatus.DISMISSED, TicketStatus.MERGED)
# Sent messages are left alone while they may still go out.
_UNSENT = (OutboundStatus.PENDING, OutboundStatus.SENDING)


def _table(model: Any) -> Table:
    table: Table = model.__table__
    return table


@dataclass(frozen=True)
class _Masked:
    """A table whose text columns are masked once its rows are old enough."""

    table: Table
    at: str  # the column saying how old a row is
    columns: tuple[str, ...]  # text columns
    quote: str | None = None  # a JSON column of {"name", "text", …}

    @property
    def name(self) -> str:
        return str(self.table.name)


_MASKED = (
    _Masked(_table(InboundMessage), "received_at", ("text", "sender_name", "error"), quote="quote"),
    _Masked(_table(OutboundMessage), "created_at", ("text",)),
    _Masked(_table(Ticket), "created_at", ("text", "feedback", "reporter_name", "assignee_name")),
    _Masked(_table(TicketEvent), "at", ("note",)),
    _Masked(_table(TicketReporter), "at", ("name",)),
    _Masked(_table(CategoryCorrection), "at", ("text",)),
)
TABLES = tuple(spec.name for spec in _MASKED)


@dataclass
class PurgeReport:
    """What a purge changed (with ``dry_run``: would change), rows per table."""

    dry_run: bool
    mask_before: datetime | None  # rows older than this had numbers masked; None: rule off
    text_before: datetime | None  # tickets closed (messages sent) before this; None: rule off
    masked: dict[str, int] = field(default_factory=lambda: dict.fromkeys(TABLES, 0))
    replaced: dict[str, int] = field(default_factory=lambda: dict.fromkeys(TABLES, 0))

    @property
    def total(self) -> int:
        return sum(self.masked.values()) + sum(self.replaced.values())


def purge(
    db: Database,
    *,
    now: datetime,
    mask_after: timedelta | None,
    text_after: timedelta | None,
    dry_run: bool = False,
    batch: int = BATCH,
) -> PurgeReport:
    """Apply the retention rules as of ``now`` (None: that rule is off); with ``dry_run``
    count what would change and change nothing."""
    report = PurgeReport(
        dry_run=dry_run,
        mask_before=now - mask_after if mask_after is not None else None,
        text_before=now - text_after if text_after is not None else None,
    )
    # Masked first, though some of it is then replaced: what a rule changes does not depend
    # on the other's having run, so a dry run counts exactly what a run changes.
    if report.mask_before is not None:
        for spec in _MASKED:
            report.masked[spec.name] = _mask_table(
                db, spec, before=report.mask_before, now=now, batch=batch, dry_run=dry_run
            )
    if report.text_before is not None:
        _replace_closed_tickets(db, report, report.text_before, now, batch)
        _replace_sent(db, report, report.text_before, now, batch)
    return report


def work_at(
    session: Session, *, mask_after: timedelta | None, text_after: timedelta | None
) -> datetime | None:
    """The earliest time a purge would change something, as the tables stand; None if none
    would until rows are added or tickets closed (a replay skips the purges before that)."""
    times: list[datetime] = []
    if mask_after is not None:
        for spec in _MASKED:
            first = _first_after_progress(session, spec.table, spec.at, f"mask:{spec.name}")
            if first is not None:
                times.append(first + mask_after)
    if text_after is not None:
        sent = _first_after_progress(session, _table(OutboundMessage), "created_at", _SENT)
        if sent is not None:
            times.append(sent + text_after)
        closed = session.execute(
            sa_select(func.min(_table(Ticket).c.closed_at)).where(_unpurged())
        ).scalar()
        if closed is not None:
            times.append(closed + text_after)
    return min(times, default=None)


def _first_after_progress(session: Session, table: Table, at: str, name: str) -> datetime | None:
    last = _progress(session, name)
    first: datetime | None = session.execute(
        sa_select(table.c[at]).where(table.c.id > last).order_by(table.c.id).limit(1)
    ).scalar()
    return first


# --- masking numbers --------------------------------------------------------------------------


def _mask_quote(value: Any) -> Any:
    if not isinstance(value, Mapping):
        return value
    return {
        key: mask_personal(item) if key in ("name", "text") and isinstance(item, str) else item
        for key, item in value.items()
    }


def _mask_table(
    db: Database, spec: _Masked, *, before: datetime, now: datetime, batch: int, dry_run: bool
) -> int:
    """Mask the numbers in ``spec``'s rows older than ``before``, from where the last run
    stopped, in id order; how many rows changed."""
    table, name = spec.table, f"mask:{spec.name}"
    columns = [*spec.columns, *([spec.quote] if spec.quote else [])]
    changed = 0
    with db.session() as session:
        last = _progress(session, name)
        while True:
            rows = session.execute(
                sa_select(table.c.id, table.c[spec.at], *(table.c[c] for c in columns))
                .where(table.c.id > last)
                .order_by(table.c.id)
                .limit(batch)
            ).all()
            done, young = last, False
            # rows with the same columns changed are written by one statement
            writes: dict[tuple[str, ...], list[dict[str, Any]]] = {}
            for row in rows:
                values = row._mapping
                if values[spec.at] >= before:
                    # Ids follow time (two processes' clocks aside): this row and those after
                    # it wait for a later run.
                    young = True
                    break
                done = values["id"]
                diff = {}
                for column in columns:
                    old = values[column]
                    new = _mask_quote(old) if column == spec.quote else _mask(old)
                    if new != old:
                        diff[column] = new
                if diff:
                    params = {"b_id": done, **{f"b_{c}": v for c, v in diff.items()}}
                    writes.setdefault(tuple(sorted(diff)), []).append(params)
            for keys, params_list in writes.items():
                changed += len(params_list)
                if not dry_run:
                    update_values = {c: bindparam(f"b_{c}", type_=table.c[c].type) for c in keys}
                    session.execute(
                        update(table).where(table.c.id == bindparam("b_id")).values(update_values),
                        params_list,
                    )
            if not dry_run and done != last:
                _save_progress(session, name, done, now)
                session.commit()
            last = done
            if young or len(rows) < batch:
                break
        session.rollback()
    return changed


def _mask(value: Any) -> Any:
    return mask_personal(value) if isinstance(value, str) else value


# --- replacing free text ----------------------------------------------------------------------

_SENT = "text:outbound_message"


def _unpurged() -> ColumnElement[bool]:
    """Closed tickets not purged yet: the partial index's own condition, for it to be used."""
    ticket = _table(Ticket)
    return and_(ticket.c.closed_at.is_not(None), ticket.c.purged_at.is_(None))


def _replace_closed_tickets(
    db: Database, report: PurgeReport, before: datetime, now: datetime, batch: int
) -> None:
    ticket = _table(Ticket)
    event, correction = _table(TicketEvent), _table(CategoryCorrection)
    inbound, attachment = _table(InboundMessage), _table(TicketAttachment)
    after: tuple[datetime, int] | None = None  # the last ticket seen (a dry run changes none)
    with db.session() as session:
        while True:
            query = (
                sa_select(ticket.c.id, ticket.c.closed_at)
                .where(
                    _unpurged(),
                    ticket.c.closed_at < before,
                    ticket.c.status.in_([str(s) for s in _CLOSED]),
                )
                .order_by(ticket.c.closed_at, ticket.c.id)
                .limit(batch)
            )
            if after is not None:  # a dry run: past the tickets counted already
                closed, last = after
                query = query.where(
                    or_(
                        ticket.c.closed_at > closed,
                        and_(ticket.c.closed_at == closed, ticket.c.id > last),
                    )
                )
            rows = session.execute(query).all()
            if not rows:
                break
            after = (rows[-1][1], rows[-1][0])
            ids = [row[0] for row in rows]
            # Every message the ticket was made of: the report, the words on its timeline
            # (other residents' +1s, leaders' commands), the photos attached.
            messages = union(
                sa_select(ticket.c.source_message_id).where(
                    ticket.c.id.in_(ids), ticket.c.source_message_id.is_not(None)
                ),
                sa_select(event.c.message_id).where(
                    event.c.ticket_id.in_(ids), event.c.message_id.is_not(None)
                ),
                sa_select(attachment.c.message_id).where(attachment.c.ticket_id.in_(ids)),
            )
            changes: list[tuple[Table, ColumnElement[bool], dict[str, Any]]] = [
                (
                    ticket,
                    ticket.c.id.in_(ids),
                    {
                        "text": PURGED_TEXT,
                        "feedback": case((ticket.c.feedback.is_(None), None), else_=PURGED_TEXT),
                        "purged_at": now,
                    },
                ),
                (
                    event,
                    and_(
                        event.c.ticket_id.in_(ids),
                        event.c.action.not_in(sorted(KEPT_NOTES)),
                        event.c.note.is_not(None),
                        event.c.note != PURGED_TEXT,
                    ),
                    {"note": PURGED_TEXT},
                ),
                (
                    correction,
                    and_(correction.c.ticket_id.in_(ids), correction.c.text != PURGED_TEXT),
                    {"text": PURGED_TEXT},
                ),
                (
                    inbound,
                    and_(
                        inbound.c.id.in_(sa_select(messages.subquery())),
                        inbound.c.text != PURGED_TEXT,
                    ),
                    {"text": PURGED_TEXT, "quote": null()},
                ),
            ]
            for table, where, values in changes:
                count = _replace(session, table, where, values, report.dry_run)
                report.replaced[str(table.name)] += count
            if not report.dry_run:
                session.commit()
        session.rollback()


def _replace(
    session: Session,
    table: Table,
    where: ColumnElement[bool],
    values: dict[str, Any],
    dry_run: bool,
) -> int:
    if dry_run:
        counted: int = session.execute(
            sa_select(func.count()).select_from(table).where(where)
        ).scalar_one()
        return counted
    result = session.execute(update(table).where(where).values(values))
    assert isinstance(result, CursorResult)
    return result.rowcount


def _replace_sent(
    db: Database, report: PurgeReport, before: datetime, now: datetime, batch: int
) -> None:
    """The text of the messages the bot sent before ``before``, from where the last run
    stopped. A message not sent yet is left as it is: it may still go out."""
    outbound = _table(OutboundMessage)
    with db.session() as session:
        last = _progress(session, _SENT)
        while True:
            rows = session.execute(
                sa_select(outbound.c.id, outbound.c.created_at)
                .where(outbound.c.id > last)
                .order_by(outbound.c.id)
                .limit(batch)
            ).all()
            old: list[int] = []
            for row_id, created_at in rows:
                if created_at >= before:  # this one and those after it wait (see _mask_table)
                    break
                old.append(row_id)
            if old:
                where = and_(
                    outbound.c.id.in_(old),
                    outbound.c.status.not_in([str(s) for s in _UNSENT]),
                    outbound.c.text != PURGED_TEXT,
                )
                count = _replace(session, outbound, where, {"text": PURGED_TEXT}, report.dry_run)
                report.replaced[str(outbound.name)] += count
                last = old[-1]
                if not report.dry_run:
                    _save_progress(session, _SENT, last, now)
                    session.commit()
            if len(old) < batch:
                break
        session.rollback()


# --- progress ---------------------------------------------------------------------------------


def _progress(session: Session, name: str) -> int:
    row = session.get(RetentionProgress, name)
    return row.last_id if row is not None else 0


def _save_progress(session: Session, name: str, last_id: int, now: datetime) -> None:
    """Record ``last_id`` as done; never backwards (two processes' purges may meet)."""
    progress = _table(RetentionProgress)
    insert_ = insert_for(session.connection().dialect.name)(progress)
    statement = insert_.values(name=name, last_id=last_id, updated_at=now)
    excluded = statement.excluded
    session.execute(
        statement.on_conflict_do_update(
            index_elements=["name"],
            set_={
                "last_id": case(
                    (progress.c.last_id > excluded.last_id, progress.c.last_id),
                    else_=excluded.last_id,
                ),
                "updated_at": excluded.updated_at,
            },
        )
    )
