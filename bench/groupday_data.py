"""Group days (``tests/data/groupdays/``): loading and checking the labelled files.

The format is described in ``tests/data/groupdays/README.md``. ``python bench/groupday_data.py
FILE...`` checks files and prints their counts; it never runs the bot.
"""

from __future__ import annotations

import json
import re
import sys
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data" / "groupdays"
PARTS = ("tune", "held")

KINDS = ("chatter", "request", "followup", "note", "command", "query", "rating")
CATEGORIES = ("environment", "facility", "dispute", "safety", "security", "assistance", "consult")
SETTINGS = ("city", "oldtown", "village")
TYPES = ("text", "image", "voice", "file", "url", "video", "emoticon", "other")
MATTER_KINDS = ("request", "followup", "note", "rating")
_PLACEHOLDER = re.compile(r"\{(m\d+)\}")
_MATTER_ID = re.compile(r"^m\d+$")


class DayError(ValueError):
    pass


@dataclass(frozen=True)
class Label:
    kind: str
    matter: str | None = None
    category: str | None = None
    urgent: bool = False


@dataclass(frozen=True)
class Line:
    """One line of a day after its header: a message (``label`` set) or a tick."""

    number: int
    event: dict[str, Any]  # the replay event, without its label
    label: Label | None

    @property
    def is_tick(self) -> bool:
        return self.label is None

    @property
    def ts(self) -> datetime:
        return datetime.fromisoformat(self.event["ts"])


@dataclass(frozen=True)
class Day:
    path: Path
    name: str
    date: str
    setting: str
    grid: dict[str, str]
    leaders: dict[str, str]
    workers: dict[str, str]
    lines: list[Line] = field(default_factory=list)

    @property
    def messages(self) -> list[Line]:
        return [line for line in self.lines if not line.is_tick]

    def counts(self) -> Counter[str]:
        return Counter(line.label.kind for line in self.messages if line.label)


def _label(raw: Any, where: str) -> Label:
    if not isinstance(raw, dict):
        raise DayError(f"{where}: label must be an object")
    kind = raw.get("kind")
    if kind not in KINDS:
        raise DayError(f"{where}: label.kind {kind!r} is not one of {', '.join(KINDS)}")
    allowed = {"kind"}
    matter = raw.get("matter")
    category = raw.get("category")
    urgent = raw.get("urgent", False)
    if kind in MATTER_KINDS:
        allowed.add("matter")
        if not isinstance(matter, str) or not _MATTER_ID.match(matter):
            raise DayError(f"{where}: a {kind} needs a matter id like 'm3'")
    if kind == "request":
        allowed |= {"category", "urgent"}
        if category not in CATEGORIES:
            raise DayError(f"{where}: category {category!r} is not one of the seven codes")
        if not isinstance(urgent, bool):
            raise DayError(f"{where}: urgent must be true or false")
    extra = set(raw) - allowed
    if extra:
        raise DayError(f"{where}: label of a {kind} takes no {', '.join(sorted(extra))}")
    return Label(kind, matter, category, bool(urgent))


def _header(path: Path, first: str) -> Day:
    try:
        header = json.loads(first)["meta"]
        day = Day(
            path=path,
            name=str(header["day"]),
            date=str(header["date"]),
            setting=str(header["setting"]),
            grid=dict(header["grid"]),
            leaders=dict(header["leaders"]),
            workers=dict(header.get("workers") or {}),
        )
    except (KeyError, TypeError, json.JSONDecodeError) as exc:
        raise DayError(f"{path.name}:1: bad header ({exc})") from None
    if day.setting not in SETTINGS:
        raise DayError(f"{path.name}:1: setting must be one of {', '.join(SETTINGS)}")
    if not {"code", "name", "room"} <= set(day.grid):
        raise DayError(f"{path.name}:1: grid needs code, name and room")
    if not day.leaders:
        raise DayError(f"{path.name}:1: a day needs at least one leader")
    return day


def load_day(path: Path) -> Day:
    """Read and check one day; raises DayError naming the line at fault."""
    raw_lines = path.read_text(encoding="utf-8").splitlines()
    if not raw_lines:
        raise DayError(f"{path.name}: empty")
    day = _header(path, raw_lines[0])
    names: dict[str, str] = {}
    last: datetime | None = None
    seen_matters: dict[str, int] = {}
    for number, text in enumerate(raw_lines[1:], start=2):
        if not text.strip():
            continue
        where = f"{path.name}:{number}"
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise DayError(f"{where}: not JSON ({exc.msg})") from None
        if not isinstance(data, dict) or "ts" not in data:
            raise DayError(f"{where}: a line is an object with 'ts'")
        try:
            ts = datetime.fromisoformat(data["ts"])
        except (TypeError, ValueError):
            raise DayError(f"{where}: ts {data['ts']!r} is not an ISO time") from None
        if ts.tzinfo is None:
            raise DayError(f"{where}: ts needs its offset (+08:00)")
        if last is not None and ts < last:
            raise DayError(f"{where}: ts goes back in time")
        last = ts
        if data.get("tick") is True:
            if set(data) != {"ts", "tick"}:
                raise DayError(f"{where}: a tick has only ts and tick")
            day.lines.append(Line(number, data, None))
            continue
        label = _check_message(data, where, names, seen_matters, number)
        data["room"] = day.grid["room"]
        day.lines.append(Line(number, data, label))
    categories: dict[str, set[str]] = {}
    for line in day.messages:
        assert line.label is not None
        if line.label.kind == "request" and line.label.matter:
            categories.setdefault(line.label.matter, set()).add(line.label.category or "")
    mixed = {m: c for m, c in categories.items() if len(c) > 1}
    if mixed:
        raise DayError(f"{path.name}: matters labelled with two categories: {mixed}")
    return day


def _check_message(
    data: dict[str, Any], where: str, names: dict[str, str], seen: dict[str, int], number: int
) -> Label:
    """The label of a message line, checked with the line (``data`` loses its label)."""
    label = _label(data.pop("label", None), where)
    sender, name = data.get("from"), data.get("name")
    if not isinstance(sender, str) or not sender or not isinstance(name, str) or not name:
        raise DayError(f"{where}: a message needs 'from' and 'name'")
    if names.setdefault(sender, name) != name:
        raise DayError(f"{where}: {sender} changed name from {names[sender]!r} to {name!r}")
    if data.get("type", "text") not in TYPES:
        raise DayError(f"{where}: type {data.get('type')!r} is unknown")
    if not isinstance(data.get("text", ""), str):
        raise DayError(f"{where}: text must be a string")
    if data.get("type", "text") == "text" and not data.get("text", "").strip():
        raise DayError(f"{where}: a text message needs text")
    mentions = data.get("mentions", [])
    if not isinstance(mentions, list) or not all(isinstance(m, str) for m in mentions):
        raise DayError(f"{where}: mentions is a list of contact ids")
    extra = set(data) - {"ts", "from", "name", "text", "type", "mentions", "quote"}
    if extra:
        raise DayError(f"{where}: unknown fields {', '.join(sorted(extra))}")
    if label.kind == "command" and not data.get("text", "").lstrip().startswith("/"):
        raise DayError(f"{where}: a command starts with '/'")
    for placeholder in _PLACEHOLDER.findall(data.get("text", "")):
        if placeholder not in seen:
            raise DayError(f"{where}: {{{placeholder}}} names a matter not reported yet")
    if label.matter is not None:
        if label.kind == "request":
            seen.setdefault(label.matter, number)
        elif label.matter not in seen:
            raise DayError(f"{where}: a {label.kind} of {label.matter} before its request")
    return label


def load_part(part: str) -> list[Day]:
    return [load_day(path) for path in sorted((DATA / part).glob("*.jsonl"))]


def describe(day: Day) -> str:
    counts = day.counts()
    matters = {line.label.matter for line in day.messages if line.label and line.label.matter}
    urgent = {
        line.label.matter
        for line in day.messages
        if line.label and line.label.kind == "request" and line.label.urgent
    }
    share = counts["chatter"] / max(1, len(day.messages))
    kinds = ", ".join(f"{kind} {counts[kind]}" for kind in KINDS if counts[kind])
    return (
        f"{day.name} ({day.setting}, {day.date}): {len(day.messages)} messages, "
        f"chatter {share:.0%}; {len(matters)} matters, {len(urgent)} urgent; {kinds}"
    )


def main(argv: list[str]) -> int:
    paths = [Path(p) for p in argv] or sorted(DATA.glob("*/*.jsonl"))
    failed = 0
    for path in paths:
        try:
            print(describe(load_day(path)))
        except DayError as exc:
            failed += 1
            print(f"ERROR {exc}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
