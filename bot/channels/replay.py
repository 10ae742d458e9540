"""The replay channel: a JSON-lines file of events in, every message the bot sends out.

The contract (documented in README.md, relied on by tests, demos and users' trials):

- in, one object per line: a room message ``{"ts", "room", "from", "name", "text", "id"?,
  "mentions"?, "type"?, "quote"?}`` (``quote``: ``{"from"?, "name", "text"}``, the message
  it replies to; a text in WeChat's quoted-reply form is read as one too), a private message
  (the same without ``room``), or a clock tick ``{"ts", "tick": true}``;
- out, one object per message sent: ``{"ts", "room", "to", "text", "mentions"}``.

The bot's clock is the events' ``ts``. A malformed line is reported on stderr with its line
number and skipped; the run goes on and ends with exit code 1.

A replay on a database that already holds messages resumes: run again after it was killed,
with the same file and database, it ends as an uninterrupted run would have. Its clock
starts at the latest stored message's time (where the killed run had got to), not at the
first event's, and never goes back before it; lines already stored are skipped (their
effects are in the database); messages stored but not handled are handled first, at that
time, and messages queued but not sent go out (one taken for sending by the killed run goes
again once its claim runs out: ``sending.claim_seconds`` of the bot's clock). Scheduled jobs
carry on from their stored next run times.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime, tzinfo
from typing import Annotated, Any, Literal, TextIO

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from bot.app import App
from bot.channels.quotes import split_quote
from bot.clock import ManualClock
from bot.events import Inbound, MessageType, Outbound, Quote
from bot.settings import format_loc
from storage import inbox


class _Tick(BaseModel):
    model_config = ConfigDict(extra="forbid")
    ts: datetime
    tick: Literal[True]


class _Quote(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    sender: Annotated[str | None, Field(alias="from", min_length=1)] = None
    name: Annotated[str, Field(min_length=1)]
    text: str


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    ts: datetime
    room: Annotated[str, Field(min_length=1)] | None = None
    sender: Annotated[str, Field(alias="from", min_length=1)]
    name: str | None = None
    text: str = ""
    id: Annotated[str, Field(min_length=1)] | None = None
    mentions: list[str] = []
    type: MessageType = MessageType.TEXT
    quote: _Quote | None = None

    @model_validator(mode="after")
    def _text_for_text(self) -> _Message:
        if self.type == MessageType.TEXT and "text" not in self.model_fields_set:
            raise ValueError("a text message needs 'text'")
        return self


class ReplayLineError(ValueError):
    pass


def parse_line(line: str, tz: tzinfo) -> Inbound | datetime:
    """One input line: an Inbound, or the time of a tick. Naive times are in ``tz``."""
    try:
        data: Any = json.loads(line)
    except json.JSONDecodeError as exc:
        raise ReplayLineError(f"not JSON: {exc.msg} at column {exc.colno}") from None
    if not isinstance(data, dict):
        raise ReplayLineError("expected a JSON object")
    model: type[_Tick] | type[_Message] = _Tick if "tick" in data else _Message
    try:
        parsed = model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = format_loc(tuple(first["loc"]))
        raise ReplayLineError(f"{where}: {first['msg']}") from None
    ts = parsed.ts if parsed.ts.tzinfo else parsed.ts.replace(tzinfo=tz)
    if isinstance(parsed, _Tick):
        return ts
    text = parsed.text
    quote: Quote | None = None
    if parsed.quote is not None:
        quote = Quote(parsed.quote.name, parsed.quote.text, parsed.quote.sender)
    elif parsed.type == MessageType.TEXT:
        quote, text = split_quote(text)
    return Inbound(
        ts=ts,
        sender_id=parsed.sender,
        sender_name=parsed.name or parsed.sender,
        text=text,
        quote=quote,
        room_id=parsed.room,
        room_topic=parsed.room,
        id=parsed.id,
        mentions=tuple(parsed.mentions),
        type=parsed.type,
    )


class JsonLinesSender:
    """Writes every sent message as one JSON line, stamped with the bot's clock."""

    def __init__(self, clock: ManualClock, out: TextIO) -> None:
        self._clock = clock
        self._out = out

    async def send(self, message: Outbound) -> None:
        record = {
            "ts": self._clock.now().isoformat(),
            "room": message.room_topic or message.room_id,
            "to": message.to,
            "text": message.text,
            "mentions": list(message.mentions),
        }
        self._out.write(json.dumps(record, ensure_ascii=False) + "\n")
        self._out.flush()


async def replay(app: App, clock: ManualClock, lines: Iterable[str], err: TextIO) -> int:
    """Feed every line to the bot in order; return the exit code (1 if any line was bad).

    The bot starts at the first event's time: its scheduler counts from there, as a bot
    started that morning would. On a database holding messages already it resumes (see the
    module's docstring).
    """
    bad = 0
    started = False
    tz = clock.tz
    resume_at: datetime | None = None
    stored: set[str] = set()
    try:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                item = parse_line(line, tz)
            except ReplayLineError as exc:
                bad += 1
                err.write(f"line {number}: {exc}; skipped\n")
                continue
            if isinstance(item, Inbound):
                item = replace(item, account=app.account)  # its key depends on it
            when = item if isinstance(item, datetime) else item.ts
            if not started:
                resume_at, stored = _resume_point(app, since=when)
                clock.set(max(when, resume_at) if resume_at else when)
                await app.start()
                started = True
            if isinstance(item, Inbound) and item.idempotency_key() in stored:
                # Handled before (the dispatcher would ignore it too): skipping it here
                # spares a restarted replay a database round trip per line it had done.
                # Still, this account got it: another process's may have stored it.
                app.saw(item)
                continue
            await app.advance(clock, when)
            if isinstance(item, Inbound):
                if resume_at is None or item.ts >= resume_at:
                    clock.set(item.ts)
                await app.feed(item)
                await app.outbox.flush()
        if started:
            await app.drain(clock)
    finally:
        if started:
            app.stop()
    return 1 if bad else 0


def _resume_point(app: App, *, since: datetime) -> tuple[datetime | None, set[str]]:
    """The latest stored message's time (None on an empty inbox) and the keys of the
    messages stored from ``since`` (the first event's time) on."""
    with app.services.db.session() as session:
        latest = inbox.latest_sent_at(session=session)
        if latest is None:
            return None, set()
        return latest, inbox.keys_since(session=session, since=since)
