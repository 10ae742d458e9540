"""The replay channel: a JSON-lines file of events in, every message the bot sends out.

The contract (documented in README.md, relied on by tests, demos and users' trials):

- in, one object per line: a room message ``{"ts", "room", "from", "name", "text", "id"?,
  "mentions"?, "type"?, "quote"?}`` (``quote``: ``{"from"?, "name", "text"}``, the message
  it replies to; a text in WeChat's quoted-reply form is read as one too), a private message
  (the same without ``room``), or a clock tick ``{"ts", "tick": true}``;
- out, one object per message sent: ``{"ts", "room", "to", "text", "mentions"}``.

The bot's clock is the events' ``ts`` and never goes back: a line whose ``ts`` is before an
earlier line's is taken as at that earlier time (said on stderr; not an error). A malformed
line is reported on stderr with its line number and skipped; the run goes on and ends with
exit code 1. Malformed: not valid UTF-8, not JSON (nested too deeply included), not an event
as above, a ``ts`` that is not an ISO 8601 string or not in the years 2000 to 2099, or a
string holding a lone surrogate (``"\\ud800"``: valid JSON, but no text can be stored or
sent with one). A UTF-8 byte order mark before line 1 is ignored.

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
import re
from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime, tzinfo
from typing import Annotated, Any, Literal, TextIO

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)

from bot.app import App
from bot.channels.quotes import split_quote
from bot.clock import ManualClock
from bot.events import Inbound, MessageType, Outbound, Quote
from bot.settings import format_loc
from storage import inbox

# The years a replay's ``ts`` may be in. Outside them a time is a mistake (a number of seconds
# read as a date, a placeholder like 0001 or 9999), and date arithmetic on it overflows.
YEARS = range(2000, 2100)
# A lone surrogate: from a JSON escape like "\ud800", or an undecodable byte kept by the
# "surrogateescape" error handler (U+DC80..U+DCFF) when the file was read.
_SURROGATE = re.compile("[\ud800-\udfff]")


def _iso_time(value: object) -> object:
    # pydantic would read a number, or a string of digits, as Unix seconds: a line with
    # "ts": 0 made a ticket dated 1970, overdue at once.
    if not isinstance(value, str) or _is_number(value):
        raise ValueError("must be an ISO 8601 time string, e.g. 2026-11-22T09:00:00+08:00")
    return value


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


Timestamp = Annotated[datetime, BeforeValidator(_iso_time)]


class _Tick(BaseModel):
    model_config = ConfigDict(extra="forbid")
    ts: Timestamp
    tick: Literal[True]


class _Quote(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    sender: Annotated[str | None, Field(alias="from", min_length=1)] = None
    name: Annotated[str, Field(min_length=1)]
    text: str


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    ts: Timestamp
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
    """One input line: an Inbound, or the time of a tick. Naive times are in ``tz``.

    Any line, however broken, gives one of these or a :class:`ReplayLineError`."""
    undecodable = _SURROGATE.search(line)
    if undecodable:
        # only the reader's surrogateescape makes one: JSON text has none unescaped
        code = ord(undecodable.group())
        byte = f"byte 0x{code - 0xDC00:02X}" if 0xDC80 <= code <= 0xDCFF else f"U+{code:04X}"
        raise ReplayLineError(f"not valid UTF-8: {byte} at column {undecodable.start() + 1}")
    try:
        data: Any = json.loads(line)
    except json.JSONDecodeError as exc:
        raise ReplayLineError(f"not JSON: {exc.msg} at column {exc.colno}") from None
    except RecursionError:
        raise ReplayLineError("not JSON: nested too deeply") from None
    except ValueError as exc:  # e.g. an integer of more than 4,300 digits
        raise ReplayLineError(f"not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ReplayLineError("expected a JSON object")
    surrogate = _lone_surrogate(data)
    if surrogate is not None:
        where, code = surrogate
        raise ReplayLineError(f"{where}: a lone surrogate (\\u{code:04x}) is not text")
    model: type[_Tick] | type[_Message] = _Tick if "tick" in data else _Message
    try:
        parsed = model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = format_loc(tuple(first["loc"]))
        message = first["msg"].removeprefix("Value error, ")  # pydantic's, for our validators
        raise ReplayLineError(f"{where}: {message}") from None
    if parsed.ts.year not in YEARS:
        raise ReplayLineError(f"ts: the year must be from {YEARS[0]} to {YEARS[-1]}")
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


def _lone_surrogate(data: dict[str, Any]) -> tuple[str, int] | None:
    """The first field (``text``, ``quote.name``, ``mentions[0]``) of a line holding a lone
    surrogate, in a key or a value, and its code point: JSON lets ``"\\ud800"`` through, and
    no database, hash or output can encode the string it makes."""
    pending: list[tuple[tuple[str | int, ...], Any]] = [
        ((key,), value) for key, value in data.items()
    ]
    pending.reverse()
    while pending:
        loc, value = pending.pop()
        for text, where in ((loc[-1], loc[:-1]), (value, loc)):  # in its key, or its value
            if isinstance(text, str) and (found := _SURROGATE.search(text)):
                return format_loc(where), ord(found.group())
        if len(loc) >= 3:
            # deeper than any event's fields (quote.text): the model refuses it anyway
            continue
        if isinstance(value, dict):
            pending += reversed([((*loc, key), item) for key, item in value.items()])
        elif isinstance(value, list):
            pending += reversed([((*loc, index), item) for index, item in enumerate(value)])
    return None


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
    # The latest time of the lines so far. A line before it is taken as at it: computed from
    # the file alone (not the clock, which a resumed run starts later), so a line keeps its
    # time, and the key stored with it, in every run of the file.
    latest: datetime | None = None
    try:
        for number, raw in enumerate(lines, start=1):
            # a byte order mark, as editors on Windows write one
            line = raw.removeprefix("\ufeff") if number == 1 else raw
            if not line.strip():
                continue
            try:
                item = parse_line(line, tz)
            except ReplayLineError as exc:
                bad += 1
                err.write(f"line {number}: {exc}; skipped\n")
                continue
            when = item if isinstance(item, datetime) else item.ts
            if latest is not None and when < latest:
                # A clock going back would date tickets before the reports they answer and
                # chase them as overdue at once.
                err.write(
                    f"line {number}: ts {when.isoformat()} is before the bot's clock; "
                    f"taken as {latest.isoformat()}\n"
                )
                when = latest
                item = when if isinstance(item, datetime) else replace(item, ts=when)
            latest = when
            if isinstance(item, Inbound):
                item = replace(item, account=app.account)  # its key depends on it
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
