"""What the anti-flood reply limit (bot/flood.py) costs on the hot path.

The limit counts, per reply about to be queued to a resident, the resident's answered
messages in the window: one query on the inbox (by sender and time) and the outbox. Measured
on a SQLite file holding a month of history (by default 2,000 residents, 200,000 messages, 40%
of them answered):

1. the count alone, per call, with the index it relies on (inbound_message by sender and
   received time) against the same query with only an index on the sender;
2. end to end: resident queries (积分, each answered) fed through the dispatcher, with the
   limit on against the limit switched off, alternating in the same run on the same
   database. Every message here gets a reply, so this is the worst case: chatter, the
   commonest message, gets none and never runs the count.

    .venv/bin/python -m bench.flood [--residents 2000] [--history 200000] [--messages 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import insert, text

from bench.figures import Discard
from bot import flood
from bot.app import App, build_app
from bot.clock import ManualClock
from bot.context import Context
from bot.events import Inbound
from bot.settings import Settings
from storage import limits as limit_store
from storage import migrate
from storage.db import Database
from storage.models import InboundMessage

TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 22, 9, 0, tzinfo=TZ)
GRIDS = 50
WINDOW = timedelta(minutes=10)


def room(grid: int) -> str:
    return f"网格{grid:03d}群"


def resident(n: int) -> str:
    return f"wxid_r{n:05d}"


def settings(database: str) -> Settings:
    return Settings.model_validate(
        {
            "database": database,
            "grids": [
                {"code": f"G{g:03d}", "name": f"网格{g}", "room": room(g)} for g in range(GRIDS)
            ],
            "sending": {"interval_seconds": 0, "jitter_seconds": 0, "per_minute": 600},
        }
    )


def fill_history(db: Database, residents: int, history: int, rng: random.Random) -> None:
    """A month of messages before NOW, 40% of them answered, in bulk."""
    start = NOW.astimezone(UTC) - timedelta(days=30)
    span = (NOW.astimezone(UTC) - start).total_seconds()
    with db.engine.begin() as conn:
        batch = 20_000
        for first in range(0, history, batch):
            rows = []
            for i in range(first, min(first + batch, history)):
                at = start + timedelta(seconds=rng.uniform(0, span))
                rows.append(
                    {
                        "key": f"h{i}",
                        "sender_id": resident(rng.randrange(residents)),
                        "sender_name": "居民",
                        "type": "text",
                        "text": "今天天气不错",
                        "mentions": [],
                        "sent_at": at,
                        "received_at": at,
                        "status": "handled",
                    }
                )
            conn.execute(insert(InboundMessage), rows)
        conn.execute(
            text(
                "INSERT INTO outbound_message (inbound_id, text, mentions, created_at, "
                "not_before, priority, status, attempts) "
                "SELECT id, '您现有积分 0 分', '[]', received_at, received_at, 0, 'sent', 1 "
                "FROM inbound_message WHERE id % 5 < 2"
            )
        )


def time_count(db: Database, residents: int, calls: int, rng: random.Random) -> list[float]:
    """Seconds per call of the count the limit makes, for random residents."""
    took = []
    since = NOW - WINDOW
    with db.session() as session:
        for _ in range(calls):
            who = resident(rng.randrange(residents))
            started = time.perf_counter()
            limit_store.answered_since(session=session, contact_id=who, since=since, limit=10)
            took.append(time.perf_counter() - started)
    return took


def sender_index_only(db: Database) -> None:
    with db.engine.begin() as conn:
        conn.execute(text("DROP INDEX ix_inbound_message_sender_received"))
        conn.execute(text("CREATE INDEX ix_bench_sender ON inbound_message (sender_id)"))
        conn.execute(text("ANALYZE"))


def sender_time_index(db: Database) -> None:
    with db.engine.begin() as conn:
        conn.execute(text("DROP INDEX ix_bench_sender"))
        conn.execute(
            text(
                "CREATE INDEX ix_inbound_message_sender_received "
                "ON inbound_message (sender_id, received_at)"
            )
        )
        conn.execute(text("ANALYZE"))


async def feed_queries(
    app: App, clock: ManualClock, *, residents: int, messages: int, first: int, rng: random.Random
) -> float:
    """Feed ``messages`` answered queries from random residents; return seconds taken."""
    events = []
    for i in range(first, first + messages):
        n = rng.randrange(residents)
        # a second apart over 2,000 residents: nobody comes near the limit, so both
        # settings do the same work apart from the count
        clock_at = NOW + timedelta(seconds=i)
        events.append(
            Inbound(
                ts=clock_at,
                sender_id=resident(n),
                sender_name="居民",
                text="积分",
                room_id=room(n % GRIDS),
                room_topic=room(n % GRIDS),
                id=f"q{i}",
            )
        )
    started = time.perf_counter()
    for event in events:
        clock.set(event.ts)
        await app.dispatcher.feed(event)
    return time.perf_counter() - started


def switched_off(ctx: Context) -> None:
    del ctx


async def end_to_end(
    db: Database, url: str, *, residents: int, messages: int, rounds: int, rng: random.Random
) -> tuple[list[float], list[float]]:
    clock = ManualClock(NOW)
    app = build_app(settings(url), clock=clock, db=db, sender=Discard())
    await app.start()
    real: Callable[[Context], None] = flood.screen_replies
    on: list[float] = []
    off: list[float] = []
    try:
        await feed_queries(app, clock, residents=residents, messages=200, first=0, rng=rng)
        first = 200
        for _ in range(rounds):
            for limited in (True, False):
                flood.screen_replies = real if limited else switched_off  # type: ignore[assignment]
                took = await feed_queries(
                    app, clock, residents=residents, messages=messages, first=first, rng=rng
                )
                (on if limited else off).append(messages / took)
                first += messages
    finally:
        flood.screen_replies = real  # type: ignore[assignment]
        app.stop()
    return on, off


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--residents", type=int, default=2000)
    parser.add_argument("--history", type=int, default=200_000)
    parser.add_argument("--messages", type=int, default=2000, help="per round and setting")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--calls", type=int, default=5000)
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    rng = random.Random(8)
    med = statistics.median
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder)}/bench.db"
        db = Database.from_url(url)
        migrate.upgrade(db.engine)
        started = time.perf_counter()
        fill_history(db, args.residents, args.history, rng)
        with db.engine.begin() as conn:
            conn.execute(text("ANALYZE"))
        print(
            f"history: {args.history} messages of {args.residents} residents "
            f"({time.perf_counter() - started:.1f} s to write), SQLite file"
        )

        indexed = time_count(db, args.residents, args.calls, rng)
        sender_index_only(db)
        plain = time_count(db, args.residents, args.calls, rng)
        sender_time_index(db)

        def micros(values: list[float], q: float) -> float:
            return statistics.quantiles(values, n=100)[int(q) - 1] * 1e6 if q < 100 else 0.0

        print(f"the count, {args.calls} calls:")
        print(
            f"  index (sender, received_at): median {med(indexed) * 1e6:7.1f} µs, "
            f"p99 {micros(indexed, 99):7.1f} µs"
        )
        print(
            f"  index (sender) only:         median {med(plain) * 1e6:7.1f} µs, "
            f"p99 {micros(plain, 99):7.1f} µs"
        )
        print(f"  ratio:                       {med(plain) / med(indexed):7.1f}x")

        on, off = asyncio.run(
            end_to_end(
                db,
                url,
                residents=args.residents,
                messages=args.messages,
                rounds=args.rounds,
                rng=rng,
            )
        )
        db.dispose()
    print(f"end to end, answered queries through the dispatcher, {args.rounds} rounds each:")
    for name, runs in (("limit off (baseline)", off), ("limit on", on)):
        listed = ", ".join(f"{r:.0f}" for r in runs)
        print(f"  {name + ':':22}{med(runs):7.0f} msg/s (runs: {listed})")
    print(f"  ratio on / off:       {med(on) / med(off):7.3f}")


if __name__ == "__main__":
    main()
