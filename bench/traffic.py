"""Synthetic group traffic for benchmarks and the crash test: a city's worth of grids, each
with a leader and residents, and a deterministic stream of replay events.

The mix is the one issue #9 names: 60% chatter, 25% requests, 15% commands and queries.
Chatter and requests are drawn from the tuning part of the labelled set (never the test part),
with the building number varied so that requests are not all duplicates of each other.

    python -m bench.traffic --messages 20000 --grids 50 --out /tmp/traffic
writes ``/tmp/traffic/config.yaml`` and ``/tmp/traffic/events.jsonl``.
"""

from __future__ import annotations

import argparse
import json
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from bot.paths import cache_dir
from bot.settings import shipped_vocabulary
from nlp.classifier import Classifier

ROOT = Path(__file__).resolve().parent.parent
LABELLED = ROOT / "tests" / "data" / "classify" / "tune.jsonl"
START = datetime.fromisoformat("2026-11-02T08:00:00+08:00")
ADMIN = "wxid_admin"
WORKER = "wxid_worker"


@dataclass(frozen=True)
class Mix:
    chatter: float = 0.60
    requests: float = 0.25
    # the rest: commands and queries


@dataclass(frozen=True)
class Town:
    grids: int
    residents_per_grid: int = 40

    def code(self, grid: int) -> str:
        return f"T{grid:05d}"

    def room(self, grid: int) -> str:
        return f"网格{grid:05d}群"

    def leader(self, grid: int) -> str:
        return f"wxid_leader_{grid:05d}"

    def resident(self, grid: int, number: int) -> str:
        return f"wxid_r{grid:05d}_{number:03d}"

    def config(self, database: str) -> dict[str, Any]:
        """A configuration for ``gridbot``: sending unthrottled so replays measure handling."""
        return {
            "timezone": "Asia/Shanghai",
            "database": database,
            "admins": [ADMIN],
            "grids": [
                {
                    "code": self.code(g),
                    "name": f"第{g}网格",
                    "room": self.room(g),
                    "leaders": [self.leader(g)],
                    "community": f"社区{g // 20}",
                }
                for g in range(self.grids)
            ],
            "escalation": {"room": "指挥中心"},
            "sending": {"interval_seconds": 0, "jitter_seconds": 0, "per_minute": 600},
        }


def _labelled() -> tuple[list[str], list[str]]:
    chatter: list[str] = []
    requests: list[str] = []
    with LABELLED.open(encoding="utf-8") as lines:
        for line in lines:
            item = json.loads(line)
            if item["is_request"]:
                if not item["urgent"]:  # urgent ones page leaders: a different load
                    requests.append(item["text"])
            else:
                chatter.append(item["text"])
    return chatter, requests


def _shipped_classifier() -> Classifier:
    return Classifier(shipped_vocabulary(), cache_dir=cache_dir())


@dataclass
class _Seen:
    """What the stream has made so far, for commands that name tickets and people."""

    tickets_made: int = 0
    # grid -> [(ticket number, resident number of its reporter)]
    tickets: dict[int, list[tuple[int, int]]] = field(default_factory=dict)
    # grid -> resident numbers that have spoken in its group
    spoken: dict[int, list[int]] = field(default_factory=dict)


def _command(rng: random.Random, town: Town, grid: int, resident_no: int, seen: _Seen
             ) -> tuple[str, str, str, list[str]]:  # fmt: skip
    """(sender, name, text, mentions) of a command or query in ``grid``."""
    resident = town.resident(grid, resident_no)
    grid_tickets = seen.tickets.get(grid, [])
    ticket = rng.choice(grid_tickets)[0] if grid_tickets else 0
    own = [number for number, reporter in grid_tickets if reporter == resident_no]
    command = rng.randrange(8)
    if not ticket and command in (2, 6, 7):  # no ticket in this grid yet: ask for the list
        command = 1 if command == 2 else 4
    if command == 0:
        return resident, f"居民{resident_no}", "积分", []
    if command == 1:
        return resident, f"居民{resident_no}", "我的工单", []
    if command == 2:  # residents ask about their own tickets
        return resident, f"居民{resident_no}", f"查询 {rng.choice(own or [ticket])}", []
    if command == 3:
        return resident, f"居民{resident_no}", "/帮助", []
    leader = town.leader(grid)
    if command == 4:
        return leader, "网格长", "/工单", []
    if command == 5:
        awarded = rng.choice(seen.spoken.get(grid) or [resident_no])
        return leader, "网格长", f"/加分 @居民{awarded} 志愿服务", [town.resident(grid, awarded)]
    if command == 6:
        return leader, "网格长", f"/派单 {ticket} @王师傅", [WORKER]
    return leader, "网格长", f"/办结 {ticket} 已处理完毕", []


def events(town: Town, count: int, *, seed: int = 7, mix: Mix = Mix(),
           classifier: Classifier | None = None) -> Iterator[dict[str, Any]]:  # fmt: skip
    """``count`` room messages (ids ``m1``…), 1–3 s apart, spread over the town's grids.

    Ticket numbers are global: commands name the numbers their own grid's messages got,
    counted as the bot numbers them: ``classifier`` (default: one on the shipped vocabulary)
    tells which messages open a ticket (the rare one the bot merges into an earlier ticket
    instead shifts the later numbers by one).
    """
    rng = random.Random(seed)
    chatter, requests = _labelled()
    classifier = classifier or _shipped_classifier()
    ts = START
    seen = _Seen()
    for n in range(1, count + 1):
        ts += timedelta(seconds=rng.randint(1, 3))
        grid = rng.randrange(town.grids)
        resident_no = rng.randrange(town.residents_per_grid)
        roll = rng.random()
        if roll < mix.chatter + mix.requests:
            sender, name = town.resident(grid, resident_no), f"居民{resident_no}"
            mentions: list[str] = []
            if roll < mix.chatter:
                text = rng.choice(chatter)
            else:
                text = f"{rng.randint(1, 60)}栋 {rng.choice(requests)}"
            read = classifier.classify(text)
            if read.is_request and read.category is not None:
                seen.tickets_made += 1
                seen.tickets.setdefault(grid, []).append((seen.tickets_made, resident_no))
        else:
            sender, name, text, mentions = _command(rng, town, grid, resident_no, seen)
        event: dict[str, Any] = {
            "ts": ts.isoformat(),
            "room": town.room(grid),
            "from": sender,
            "name": name,
            "text": text,
            "id": f"m{n}",
        }
        if mentions:
            event["mentions"] = mentions
        if sender == town.resident(grid, resident_no):
            seen.spoken.setdefault(grid, []).append(resident_no)
        yield event


def write(out: Path, town: Town, count: int, *, database: str, seed: int = 7) -> Path:
    """Write ``config.yaml`` and ``events.jsonl`` into ``out``; return the events' path."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.yaml").write_text(
        yaml.safe_dump(town.config(database), allow_unicode=True), encoding="utf-8"
    )
    path = out / "events.jsonl"
    with path.open("w", encoding="utf-8") as handle:
        for event in events(town, count, seed=seed):
            handle.write(json.dumps(event, ensure_ascii=False) + "\n")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=20000)
    parser.add_argument("--grids", type=int, default=50)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--database", default=None, help="default: sqlite in --out")
    args = parser.parse_args()
    database = args.database or f"sqlite:///{(args.out / 'gridbot.db').resolve()}"
    path = write(args.out, Town(args.grids), args.messages, database=database, seed=args.seed)
    print(path)


if __name__ == "__main__":
    main()
