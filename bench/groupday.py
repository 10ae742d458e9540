"""The bot's judgement over whole days of a grid's group, scored against labels.

    .venv/bin/python bench/groupday.py                    # tune part: per day and overall
    .venv/bin/python bench/groupday.py --part held        # held-out part: figures only
    .venv/bin/python bench/groupday.py --part tune --errors   # what went wrong, message by message
    .venv/bin/python bench/groupday.py tests/data/groupdays/tune/city-01.jsonl

Each day (``tests/data/groupdays/``, format in its README) is replayed on an empty SQLite
database through the replay channel's own parsing and the whole bot, on the bot's clock, with
the shipped demo config whose grids are replaced by the day's grid, its leaders and workers.
A leader's command naming a matter (``/办结 {m3} …``) gets the number of the ticket the bot
gave that matter; a command naming a matter the bot gave no ticket is skipped and counted.

What is scored, from what the bot stored and queued (not from its wording, except how its
private alerts to leaders begin):

- chatter answered: chatter and notes (progress, all-clears) that got a message in the group;
- matters missed: matters reported by a resident (a ``request`` line) that got no ticket of
  their own, no answer in the group and no word to a leader; a matter whose only ticket is
  another matter's (a wrong merge) is missed too;
- urgent matters missed: urgent matters with no urgent ticket and no private alert to a leader;
- false alarms: urgent tickets opened for what is not an urgent matter, or a second one for an
  urgent matter that has one;
- wrong merges: a message of a matter joined (+1, repeat, photo) to another matter's ticket or
  to a ticket chatter opened. Chatter quietly joined to a ticket is counted apart ("chatter
  joined", also part of "chatter ticketed"): it loses no matter, it puts a remark in a timeline.
  Until 2026-12-07 it was counted here too; "wrong merges (old)" in the summary line keeps that
  sum, so older figures stay comparable. A staff note put on another matter's ticket is counted
  apart as well: it is silent;
- group messages per resident message: everything the bot queued for the grid's group (replies,
  notices, chasing) over the messages people sent that day;
- category accuracy: the tickets matters got, by the category they were opened with.

``--errors`` is refused on the held-out part: tuning on its errors would make its figures
meaningless. Every measurement of the held-out part goes into docs/classification.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
import tempfile
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # runnable as a plain script from anywhere
    sys.path.insert(0, str(ROOT))

import yaml  # noqa: E402
from sqlmodel import col, func, select  # noqa: E402

from bench.groupday_data import DATA, PARTS, Day, DayError, Label, Line, load_day  # noqa: E402
from bot.app import App, build_app, open_database  # noqa: E402
from bot.channels.replay import parse_line  # noqa: E402
from bot.clock import ManualClock  # noqa: E402
from bot.events import Inbound, Outbound  # noqa: E402
from bot.models import build_classifier  # noqa: E402
from bot.settings import Settings, load_settings  # noqa: E402
from config import __file__ as _config_init  # noqa: E402
from nlp.classifier import Classifier  # noqa: E402
from storage.models import (  # noqa: E402
    CategoryCorrection,
    InboundMessage,
    OutboundMessage,
    Ticket,
    TicketEvent,
)

DEMO = Path(_config_init).parent / "demo.yaml"
_PLACEHOLDER = re.compile(r"\{(m\d+)\}")
# How the bot's private alerts to leaders begin: an emergency, or one to check.
ALERT_HEADS = ("【紧急】", "【请核实】")
# How the bot asks the leaders privately about what it is unsure is a request at all.
ASK_HEAD = "【请看一下】"
JOINED = ("linked", "repeated", "attached")
TARGETS = {
    "chatter answered": 0.02,
    "matters missed": 0.05,
    "urgent missed": 0,
    "false alarms / day": 1,
    "wrong merges": 0,
    "group msgs / message": 0.20,
}
CATEGORY_TARGET = 0.90


class _Discard:
    async def send(self, message: Outbound) -> None:
        return None


def day_settings(day: Day, folder: Path) -> Settings:
    """The demo config with the day's grid as its only grid."""
    data: dict[str, Any] = yaml.safe_load(DEMO.read_text(encoding="utf-8"))
    grid = dict(day.grid)
    data["grids"] = [
        {
            "code": grid["code"],
            "name": grid["name"],
            "room": grid["room"],
            "leaders": list(day.leaders),
            "workers": list(day.workers),
        }
    ]
    data["database"] = f"sqlite:///{folder / 'day.db'}"
    data.pop("console", None)
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return load_settings(path)


@dataclass
class Seen:
    """What the bot did with one message line."""

    line: Line
    inbox_id: int | None = None
    opened: list[int] = field(default_factory=list)  # tickets it opened
    joined: list[int] = field(default_factory=list)  # tickets it was added to (+1, repeat)
    noted: list[int] = field(default_factory=list)  # tickets it went on as a staff note
    group: list[str] = field(default_factory=list)  # texts it caused in the group
    private: list[tuple[str, str]] = field(default_factory=list)  # (to, text)
    skipped: bool = False  # a command naming a matter with no ticket


@dataclass
class DayScore:
    name: str
    messages: int
    chatter: int
    chatter_answered: int
    chatter_ticketed: int
    matters: int
    matters_missed: int
    urgent: int
    urgent_missed: int
    false_alarms: int
    needless_alerts: int
    wrong_merges: int
    chatter_joined: int
    group_messages: int
    ticketed: int
    right_category: int
    duplicates: int
    skipped_commands: int
    ratings: int
    ratings_taken: int
    notes: int
    notes_kept: int
    notes_misfiled: int
    leaders_asked: int
    matters_only_asked: int
    errors: list[str] = field(default_factory=list)

    def figures(self) -> dict[str, float]:
        return {
            "chatter answered": self.chatter_answered / max(1, self.chatter),
            "matters missed": self.matters_missed / max(1, self.matters),
            "urgent missed": self.urgent_missed,
            "false alarms / day": self.false_alarms,
            "wrong merges": self.wrong_merges,
            "group msgs / message": self.group_messages / max(1, self.messages),
        }

    @property
    def category_accuracy(self) -> float:
        return self.right_category / max(1, self.ticketed)


_COUNTED = [
    f
    for f in DayScore.__dataclass_fields__
    if f not in ("name", "messages", "group_messages", "errors")
]


async def _replay(day: Day, settings: Settings, classifier: Classifier) -> dict[int, Seen]:
    db = open_database(settings.database)
    first = day.lines[0].ts
    clock = ManualClock(first, settings.tz)
    app = build_app(settings, clock=clock, db=db, sender=_Discard(), classifier=classifier)
    seen: dict[int, Seen] = {}
    matter_ticket: dict[str, int] = {}
    try:
        await app.start()
        for line in day.lines:
            await app.advance(clock, line.ts)
            if line.is_tick:
                continue
            record = Seen(line)
            seen[line.number] = record
            text = line.event.get("text", "")
            names = _PLACEHOLDER.findall(text)
            if any(name not in matter_ticket for name in names):
                record.skipped = True
                continue
            text = _PLACEHOLDER.sub(lambda m: str(matter_ticket[m.group(1)]), text)
            event = parse_line(json.dumps({**line.event, "text": text}), settings.tz)
            assert isinstance(event, Inbound)
            event = replace(event, account=app.account)
            clock.set(event.ts)
            await app.feed(event)
            await app.outbox.flush()
            _collect(app, record, event, matter_ticket)
        end = day.lines[-1].ts
        await app.advance(clock, end)
    finally:
        app.stop()
        db.dispose()
    return seen


def _collect(app: App, record: Seen, event: Inbound, matter_ticket: dict[str, int]) -> None:
    label = record.line.label
    with app.services.db.session() as session:
        row = session.exec(
            select(InboundMessage).where(InboundMessage.key == event.idempotency_key())
        ).first()
        if row is None or row.id is None:
            return
        record.inbox_id = row.id
        record.opened = [
            t.id
            for t in session.exec(select(Ticket).where(Ticket.source_message_id == row.id))
            if t.id is not None
        ]
        for step in session.exec(select(TicketEvent).where(TicketEvent.message_id == row.id)):
            if step.action in JOINED:
                record.joined.append(step.ticket_id)
            elif step.action == "noted":
                record.noted.append(step.ticket_id)
        for out in session.exec(
            select(OutboundMessage).where(OutboundMessage.inbound_id == row.id)
        ):
            if out.to_id is not None:
                record.private.append((out.to_id, out.text))
            elif out.room_topic == event.room_topic or out.room_id == event.room_id:
                record.group.append(out.text)
    # a matter's ticket: the one its first ticketed report opened or joined
    reported = record.opened or record.joined
    if label is not None and label.kind == "request" and label.matter and reported:
        matter_ticket.setdefault(label.matter, reported[0])


def _outcome(settings: Settings) -> tuple[dict[int, Ticket], dict[int, str], int]:
    """Every ticket, the category each was opened with (before any /改类), and how many
    messages the bot queued for the grid's group."""
    db = open_database(settings.database)
    try:
        with db.session() as session:
            tickets = {t.id: t for t in session.exec(select(Ticket)) if t.id is not None}
            opened_as: dict[int, str] = {}
            corrections = session.exec(
                select(CategoryCorrection).order_by(CategoryCorrection.id)  # type: ignore[arg-type]
            )
            for fix in corrections:
                opened_as.setdefault(fix.ticket_id, fix.from_category)
            for ticket_id, ticket in tickets.items():
                opened_as.setdefault(ticket_id, ticket.category)
            group_messages = session.exec(
                select(func.count())
                .select_from(OutboundMessage)
                .where(
                    col(OutboundMessage.to_id).is_(None),
                    OutboundMessage.room_topic == settings.grids[0].room,
                )
            ).one()
    finally:
        db.dispose()
    return tickets, opened_as, group_messages


def score_day(day: Day, classifier: Classifier) -> DayScore:
    with tempfile.TemporaryDirectory(prefix="groupday-") as folder:
        settings = day_settings(day, Path(folder))
        seen = asyncio.run(_replay(day, settings, classifier))
        tickets, opened_as, group_messages = _outcome(settings)
    return _score(day, seen, tickets, opened_as, group_messages)


def _owner(seen: dict[int, Seen]) -> dict[int, str]:
    """Ticket → the matter of the message that opened it ('' for chatter or a command)."""
    owner: dict[int, str] = {}
    for record in seen.values():
        label = record.line.label
        for ticket_id in record.opened:
            owner[ticket_id] = (label.matter or "") if label else ""
    return owner


class _Scoring:
    """One day's figures, counted from what the bot did with each line."""

    def __init__(
        self,
        day: Day,
        seen: dict[int, Seen],
        tickets: dict[int, Ticket],
        opened_as: dict[int, str],
    ) -> None:
        self.day, self.seen, self.tickets, self.opened_as = day, seen, tickets, opened_as
        self.owner = _owner(seen)
        self.leaders = set(day.leaders)
        self.count: Counter[str] = Counter()
        self.errors: list[str] = []
        self.by_matter: dict[str, list[Seen]] = defaultdict(list)
        self.category: dict[str, str] = {}
        self.urgent: set[str] = set()
        for record in sorted(seen.values(), key=lambda r: r.line.number):
            label = self._label(record)
            if label.matter:
                self.by_matter[label.matter].append(record)
            if label.kind == "request" and label.matter:
                self.category[label.matter] = label.category or ""
                if label.urgent:
                    self.urgent.add(label.matter)

    @staticmethod
    def _label(record: Seen) -> Label:
        assert record.line.label is not None
        return record.line.label

    def note(self, record: Seen, what: str) -> None:
        line, label = record.line, self._label(record)
        text = line.event.get("text", "") or f"[{line.event.get('type')}]"
        tag = label.kind + (f" {label.matter}" if label.matter else "")
        self.errors.append(f"{self.day.name}:{line.number} [{tag}] {what}: {text[:80]!r}")

    def told_leaders(self, records: list[Seen]) -> bool:
        return any(to in self.leaders for r in records for to, _ in r.private)

    def messages(self) -> None:
        """Chatter answered or ticketed, wrong merges, notes, ratings, needless alerts."""
        count = self.count
        for record in self.seen.values():
            label = self._label(record)
            if label.kind in ("chatter", "note"):
                count["chatter"] += 1
                if record.group:
                    count["chatter_answered"] += 1
                    self.note(record, f"answered {record.group[0][:40]!r}")
                if record.opened or (label.kind == "chatter" and record.joined):
                    count["chatter_ticketed"] += 1
                    self.note(record, "ticketed")
            if label.kind == "note":
                count["notes"] += 1
                count["notes_kept"] += any(self.owner.get(t) == label.matter for t in record.noted)
            for ticket_id in record.noted:
                if self.owner.get(ticket_id, "") != label.matter:
                    count["notes_misfiled"] += 1
                    self.note(record, f"noted on #{ticket_id} of {self._whose(ticket_id)}")
            if label.kind == "rating":
                count["ratings"] += 1
                count["ratings_taken"] += bool(record.group or record.private) and not record.opened
            for ticket_id in record.joined:
                if label.kind == "chatter":
                    count["chatter_joined"] += 1
                    self.note(record, f"chatter joined #{ticket_id} of {self._whose(ticket_id)}")
                elif self.owner.get(ticket_id, "") != label.matter:
                    count["wrong_merges"] += 1
                    self.note(record, f"joined #{ticket_id} of {self._whose(ticket_id)}")
            alerted = [
                text
                for to, text in record.private
                if to in self.leaders and text.startswith(ALERT_HEADS)
            ]
            if alerted and not record.opened and label.matter not in self.urgent:
                count["needless_alerts"] += 1
                self.note(record, f"leader alerted {alerted[0][:40]!r}")
            if any(to in self.leaders and t.startswith(ASK_HEAD) for to, t in record.private):
                count["leaders_asked"] += 1
            if record.skipped:
                count["skipped_commands"] += 1
                self.note(record, "command skipped: its matter has no ticket")

    def _whose(self, ticket_id: int) -> str:
        return self.owner.get(ticket_id) or "chatter"

    def urgency(self) -> None:
        """False alarms (an urgent ticket for no urgent matter, or a second one for one)
        and urgent matters that reached no leader."""
        alarmed: set[str] = set()
        for record in sorted(self.seen.values(), key=lambda r: r.line.number):
            matter = self._label(record).matter or ""
            for ticket_id in record.opened:
                if not self.tickets[ticket_id].urgent:
                    continue
                if matter in self.urgent and matter not in alarmed:
                    alarmed.add(matter)
                    continue
                self.count["false_alarms"] += 1
                self.note(record, f"false alarm #{ticket_id}")
        self.count["urgent"] = len(self.urgent)
        for matter in sorted(self.urgent):
            records = self.by_matter[matter]
            joined = (t for r in records for t in (*r.opened, *r.joined))
            urgent_ticket = any(self.tickets[t].urgent for t in joined if t in self.tickets)
            if not urgent_ticket and not self.told_leaders(records):
                self.count["urgent_missed"] += 1
                self.note(records[0], "urgent matter missed")

    def matters(self) -> None:
        """Matters missed, their tickets' categories, duplicate tickets."""
        count = self.count
        count["matters"] = len(self.category)
        for matter in sorted(self.category):
            records = self.by_matter[matter]
            reports = [r for r in records if self._label(r).kind == "request"]
            own = sorted(
                {t for r in records for t in (*r.opened, *r.joined) if self.owner.get(t) == matter}
            )
            if own:
                count["ticketed"] += 1
                got, wanted = self.opened_as.get(own[0], ""), self.category[matter]
                if got == wanted:
                    count["right_category"] += 1
                else:
                    self.note(records[0], f"category {got}, labelled {wanted}")
                count["duplicates"] += len(own) - 1
                if len(own) > 1:
                    self.note(records[0], f"{len(own)} tickets: {own}")
                    for record in records:
                        for again in set(record.opened) & set(own[1:]):
                            self.note(record, f"opened duplicate #{again} of #{own[0]}")
            elif not any(r.group for r in reports):
                if self.told_leaders(records):
                    count["matters_only_asked"] += 1
                    self.note(reports[0], "matter only put to the leaders privately")
                else:
                    count["matters_missed"] += 1
                    self.note(reports[0], "matter missed")


def _score(
    day: Day,
    seen: dict[int, Seen],
    tickets: dict[int, Ticket],
    opened_as: dict[int, str],
    group_messages: int,
) -> DayScore:
    scoring = _Scoring(day, seen, tickets, opened_as)
    scoring.messages()
    scoring.urgency()
    scoring.matters()
    figures = {f: scoring.count[f] for f in _COUNTED}
    return DayScore(
        name=day.name,
        messages=len(seen),
        group_messages=group_messages,
        errors=scoring.errors,
        **figures,
    )


def total(scores: Sequence[DayScore]) -> DayScore:
    fields = [f for f in DayScore.__dataclass_fields__ if f not in ("name", "errors")]
    summed = {f: sum(getattr(s, f) for s in scores) for f in fields}
    return DayScore(name="all", errors=[], **summed)


def _passes(name: str, value: float, days: int) -> bool:
    limit = TARGETS[name]
    return value <= limit * (days if name == "false alarms / day" else 1)


def report(scores: Sequence[DayScore]) -> bool:
    """Print the table; True when every target holds on every day and overall."""
    header = (
        f"{'day':<14}{'msgs':>5}{'chat ans':>9}{'missed':>8}{'urg miss':>9}{'false al':>9}"
        f"{'wrong mg':>9}{'grp/msg':>8}{'category':>9}{'dups':>5}{'alerts':>7}{'skip':>5}"
    )
    print(header)
    ok = True
    for score in [*scores, total(scores)]:
        figures = score.figures()
        days = 1 if score.name != "all" else len(scores)
        if score.name == "all":
            figures["false alarms / day"] = score.false_alarms / max(1, days)
        else:
            ok = ok and all(_passes(n, v, 1) for n, v in figures.items())
        print(
            f"{score.name:<14}{score.messages:>5}"
            f"{figures['chatter answered']:>9.1%}{figures['matters missed']:>8.1%}"
            f"{score.urgent_missed:>5}/{score.urgent:<3}{score.false_alarms:>9}"
            f"{score.wrong_merges:>9}{figures['group msgs / message']:>8.2f}"
            f"{score.category_accuracy:>9.3f}{score.duplicates:>5}{score.needless_alerts:>7}"
            f"{score.skipped_commands:>5}"
        )
    overall = total(scores)
    figures = overall.figures()
    figures["false alarms / day"] = overall.false_alarms / max(1, len(scores))
    print()
    for name, value in figures.items():
        passed = _passes(name, value, 1)
        ok = ok and passed
        shown = f"{value:.1%}" if name in ("chatter answered", "matters missed") else f"{value:.2f}"
        print(
            f"  {name:<22}{shown:>8}   target <= {TARGETS[name]}   {'PASS' if passed else 'FAIL'}"
        )
    category_ok = overall.category_accuracy >= CATEGORY_TARGET
    ok = ok and category_ok
    print(
        f"  {'category accuracy':<22}{overall.category_accuracy:>8.3f}   target >= "
        f"{CATEGORY_TARGET}   {'PASS' if category_ok else 'FAIL'}"
    )
    print(
        f"  also: chatter ticketed {overall.chatter_ticketed} (joined quietly "
        f"{overall.chatter_joined}; wrong merges (old) "
        f"{overall.wrong_merges + overall.chatter_joined}), duplicate tickets "
        f"{overall.duplicates}, needless leader alerts {overall.needless_alerts}, notes put on "
        f"a ticket {overall.notes_kept}/{overall.notes} ({overall.notes_misfiled} on another "
        f"matter's), ratings answered "
        f"{overall.ratings_taken}/{overall.ratings}, commands skipped {overall.skipped_commands}, "
        f"leaders asked privately {overall.leaders_asked} "
        f"({overall.leaders_asked / max(1, len(scores)):.1f} a day; matters told them only "
        f"so {overall.matters_only_asked})"
    )
    return ok


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("files", nargs="*", type=Path, help="day files (default: the part)")
    parser.add_argument("--part", choices=PARTS, default="tune")
    parser.add_argument("--errors", action="store_true", help="list what went wrong (tune only)")
    args = parser.parse_args(argv)
    paths = args.files or sorted((DATA / args.part).glob("*.jsonl"))
    held = any(DATA / "held" in p.resolve().parents for p in paths)
    if args.errors and held:
        parser.error("--errors is refused on held-out days: their figures would mean nothing")
    if not paths:
        parser.error("no day files")
    try:
        days = [load_day(p) for p in paths]
    except DayError as exc:
        print(f"bad day file: {exc}", file=sys.stderr)
        return 2
    classifier = build_classifier(load_settings(DEMO))
    started = datetime.now()
    scores = [score_day(day, classifier) for day in days]
    ok = report(scores)
    if args.errors:
        print()
        for score in scores:
            for error in score.errors:
                print(error)
    print(f"\n{len(days)} days in {(datetime.now() - started).total_seconds():.1f} s")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
