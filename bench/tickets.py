"""How fast a leader's ``/工单`` answers in a grid with years of history, in SQLite.

    .venv/bin/python bench/tickets.py                        # 10,000 historical tickets
    .venv/bin/python bench/tickets.py --history 100000       # a grid ten times busier
    .venv/bin/python bench/tickets.py --db /tmp/t.db --keep  # keep the file

One database holds two grids with the same open work (``--active`` tickets waiting, some
overdue, and a few resolved ones waiting for a rating): the measured grid also has
``--history`` closed tickets spread over three years, the baseline grid has none. Other grids
add ``--others`` closed tickets each, as a city's database would. Each command goes through
the whole bot as a leader's message in the grid's group (store, role, handler, commit, send),
``--repeat`` times, alternating between the two grids so that both see the same machine.

The ratio history / baseline says whether the answer depends on the grid's history (it
should not: the listing reads the (grid, status) index, and ``/工单 全部``'s tickets closed or
resolved this month come from partial indexes on (grid, closed_at) and (grid, resolved_at)).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # runnable as a plain script from anywhere
    sys.path.insert(0, str(ROOT))

import yaml  # noqa: E402
from sqlalchemy import insert  # noqa: E402

from bench.figures import percentile, verdict  # noqa: E402
from bench.traffic import Town  # noqa: E402
from bot.app import App, build_app, open_database  # noqa: E402
from bot.clock import ManualClock  # noqa: E402
from bot.events import Inbound, Outbound  # noqa: E402
from bot.models import build_classifier  # noqa: E402
from bot.settings import load_settings  # noqa: E402
from nlp.vocabulary import CATEGORY_CODES  # noqa: E402
from storage.db import Database  # noqa: E402
from storage.models import Ticket, TicketStatus  # noqa: E402

NOW = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
SPAN = timedelta(days=3 * 365)
HISTORY_GRID, BASELINE_GRID = 0, 1
TARGET_P99_MS = 20.0
TARGET_RATIO = 1.5
COMMANDS = ("/工单", "/工单 超期", "/工单 全部")


class Recorder:
    """The channel: keeps what the bot sends."""

    def __init__(self) -> None:
        self.sent: list[Outbound] = []

    async def send(self, message: Outbound) -> None:
        self.sent.append(message)


def _ticket(rng: random.Random, town: Town, grid: int, status: str, *, created: datetime,
            n: int) -> dict[str, Any]:  # fmt: skip
    closed = status in (TicketStatus.ARCHIVED, TicketStatus.DISMISSED)
    resolved_at = created + timedelta(hours=rng.randint(2, 96))
    return {
        "grid_code": town.code(grid),
        "reporter_id": town.resident(grid, n % town.residents_per_grid),
        "reporter_name": f"居民{n % town.residents_per_grid}",
        "text": f"{rng.randint(1, 60)}栋 楼道灯不亮了，麻烦看看（{n}）",
        "category": rng.choice(CATEGORY_CODES),
        "urgent": False,
        "keywords": ["楼道灯"],
        "confidence": 0.9,
        "status": status,
        "created_at": created,
        "due_at": created + timedelta(hours=72),
        "resolved_at": resolved_at if closed or status == TicketStatus.RESOLVED else None,
        "closed_at": resolved_at + timedelta(hours=48) if closed else None,
        "rating": "满意" if status == TicketStatus.ARCHIVED else None,
        "same_count": 0,
        "reopen_count": 0,
    }


def fill(db: Database, town: Town, *, history: int, active: int, others: int, seed: int) -> int:
    """Insert the tickets; return how many."""
    rng = random.Random(seed)
    rows: list[dict[str, Any]] = []
    # The same open work in the measured grid and in the baseline grid.
    for grid in (HISTORY_GRID, BASELINE_GRID):
        for n in range(active):
            status = (TicketStatus.OPEN, TicketStatus.ASSIGNED, TicketStatus.ESCALATED)[n % 3]
            rows.append(
                _ticket(rng, town, grid, status, created=NOW - timedelta(hours=n * 2 + 1), n=n)
            )
        for n in range(active // 5):  # resolved, waiting for the rating
            rows.append(_ticket(rng, town, grid, TicketStatus.RESOLVED,
                                created=NOW - timedelta(hours=30), n=n))  # fmt: skip
    closed_grids = [(HISTORY_GRID, history)] + [(g, others) for g in range(2, town.grids)]
    for grid, count in closed_grids:
        for n in range(count):
            created = NOW - timedelta(days=7) - SPAN * rng.random()
            status = TicketStatus.ARCHIVED if n % 10 else TicketStatus.DISMISSED
            rows.append(_ticket(rng, town, grid, status, created=created, n=n))
    with db.engine.begin() as conn:
        for start in range(0, len(rows), 5000):
            conn.execute(insert(Ticket), rows[start : start + 5000])
    return len(rows)


async def measure(app: App, clock: ManualClock, town: Town, sender: Recorder, repeat: int
                  ) -> dict[tuple[str, int], list[float]]:  # fmt: skip
    times: dict[tuple[str, int], list[float]] = {}
    await app.start()
    n = 0

    async def say(grid: int, text: str) -> float:
        nonlocal n
        n += 1
        clock.set(clock.now() + timedelta(seconds=1))
        event = Inbound(
            ts=clock.now(),
            sender_id=town.leader(grid),
            sender_name="网格长",
            text=text,
            room_id=town.room(grid),
            room_topic=town.room(grid),
            id=f"b{n}",
        )
        before = len(sender.sent)
        # The clock is not advanced through the scheduler: its deadline sweep would chase the
        # overdue tickets, and the command alone is measured.
        start = time.perf_counter()
        await app.feed(event)
        await app.outbox.flush()
        took = time.perf_counter() - start
        # the list privately to the leader and one line in the group (an empty list: the line)
        if not before < len(sender.sent) <= before + 2:
            raise RuntimeError(f"{text!r} in grid {grid}: expected the list and one line")
        return took

    for grid in (HISTORY_GRID, BASELINE_GRID):  # binds the rooms, warms the caches
        for command in COMMANDS:
            await say(grid, command)
    for _ in range(repeat):
        for command in COMMANDS:
            for grid in (HISTORY_GRID, BASELINE_GRID):
                times.setdefault((command, grid), []).append(await say(grid, command))
    app.stop()
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--history", type=int, default=10_000)
    parser.add_argument("--active", type=int, default=60)
    parser.add_argument("--others", type=int, default=2_000, help="closed tickets per other grid")
    parser.add_argument("--grids", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=200)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--db", type=Path, help="SQLite file to build (default: a temp file)")
    parser.add_argument("--keep", action="store_true", help="keep the database file")
    args = parser.parse_args(argv)

    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, SQLite {sqlite3.sqlite_version}"
    )
    town = Town(args.grids)
    with tempfile.TemporaryDirectory(prefix="gridbot-tickets-") as tmp:
        path = args.db or Path(tmp) / "tickets.db"
        if path.exists():
            parser.error(f"{path} exists: give a new file")
        url = f"sqlite:///{path}"
        config = Path(tmp) / "config.yaml"
        config.write_text(yaml.safe_dump(town.config(url), allow_unicode=True), encoding="utf-8")
        settings = load_settings(config)
        db = open_database(url)
        try:
            clock = ManualClock(NOW, settings.tz)
            sender = Recorder()
            app = build_app(settings, clock=clock, db=db, sender=sender,
                            classifier=build_classifier(settings))  # fmt: skip
            started = time.perf_counter()
            total = fill(db, town, history=args.history, active=args.active,
                         others=args.others, seed=args.seed)  # fmt: skip
            print(
                f"tickets: {total} in {args.grids} grids ({args.history} closed in the measured "
                f"grid, {args.active} waiting in it and in the baseline grid); "
                f"built in {time.perf_counter() - started:.1f} s\n"
            )
            times = asyncio.run(measure(app, clock, town, sender, args.repeat))
        finally:
            db.dispose()
        if args.keep and args.db:
            print(f"kept {path}")
    ok = True
    print(f"{'command':<12} {'grid':<22} {'p50 ms':>8} {'p99 ms':>8}   ratio p50   verdict")
    for command in COMMANDS:
        hist, base = times[(command, HISTORY_GRID)], times[(command, BASELINE_GRID)]
        ratio = statistics.median(hist) / statistics.median(base)
        p99 = percentile(hist, 99) * 1e3
        good = p99 <= TARGET_P99_MS and ratio <= TARGET_RATIO
        ok &= good
        print(f"{command:<12} {'baseline (no history)':<22} {percentile(base, 50) * 1e3:8.2f} "
              f"{percentile(base, 99) * 1e3:8.2f}")  # fmt: skip
        p50 = percentile(hist, 50) * 1e3
        print(f"{'':<12} {f'{args.history} closed':<22} {p50:8.2f} {p99:8.2f}   "
              f"{ratio:9.2f}x   {verdict(good)}")  # fmt: skip
    print(
        f"\ntargets: p99 <= {TARGET_P99_MS:.0f} ms with history; history / baseline <= "
        f"{TARGET_RATIO}x for every listing"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
