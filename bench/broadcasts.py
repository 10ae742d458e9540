"""Planning a notice's fan-out to 1,000 groups: what the scheduler and delivery bookkeeping
cost, not the throttle (sending is spaced out on purpose).

Measured: the scheduled job's run for one occurrence — a delivery row claimed under its
uniqueness constraint plus an outbox message per group, one transaction — against a baseline
in the same run: inserting the same 1,000 outbox messages alone. Also: the same occurrence
fired again (a retry or a second bot process), which must plan nothing.

    .venv/bin/python bench/broadcasts.py [--rooms 1000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # runnable as a plain script from anywhere
    sys.path.insert(0, str(ROOT))

from sqlmodel import select  # noqa: E402

from bench.figures import Discard  # noqa: E402
from bot.app import build_app  # noqa: E402
from bot.clock import ManualClock  # noqa: E402
from bot.settings import SendingSettings, Settings  # noqa: E402
from handlers.broadcasts import CONFIG_TASK  # noqa: E402
from storage import migrate  # noqa: E402
from storage.db import Database  # noqa: E402
from storage.models import NoticeDelivery, OutboundMessage, OutboundPriority  # noqa: E402

TZ = ZoneInfo("Asia/Shanghai")
AT = datetime(2026, 11, 23, 9, tzinfo=TZ)


def settings(rooms: int) -> Settings:
    return Settings.model_validate(
        {
            "grids": [
                {"code": f"G{i:04}", "name": f"网格{i}", "room": f"群{i}"} for i in range(rooms)
            ],
            "sending": SendingSettings().model_dump(),
            "notices": [
                {
                    "id": "bench",
                    "title": "测试",
                    "text": "【通知】明天停水",
                    "at": "2026-11-23 09:00",
                    "targets": {"all": True},
                }
            ],
        }
    )


async def plan_once(rooms: int, folder: Path) -> tuple[float, float, int]:
    db = Database.from_url(f"sqlite:///{folder}/bench.db")
    migrate.upgrade(db.engine)
    clock = ManualClock(datetime(2026, 11, 23, 8, 59, tzinfo=TZ))
    app = build_app(settings(rooms), clock=clock, db=db, sender=Discard())
    await app.start()
    started = time.perf_counter()
    await app.scheduler.run_task(CONFIG_TASK, ("bench",), AT)
    planned = time.perf_counter() - started
    started = time.perf_counter()
    await app.scheduler.run_task(CONFIG_TASK, ("bench",), AT)  # the same occurrence again
    again = time.perf_counter() - started
    with db.session() as s:
        count = len(s.exec(select(NoticeDelivery)).all())
    app.stop()
    db.dispose()
    return planned, again, count


def baseline_once(rooms: int, folder: Path) -> float:
    db = Database.from_url(f"sqlite:///{folder}/baseline.db")
    migrate.upgrade(db.engine)
    started = time.perf_counter()
    with db.session() as s:
        for i in range(rooms):
            s.add(
                OutboundMessage(
                    room_topic=f"群{i}",
                    text="【通知】明天停水",
                    created_at=AT,
                    not_before=AT,
                    priority=OutboundPriority.NOTICE,
                )
            )
        s.commit()
    elapsed = time.perf_counter() - started
    db.dispose()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rooms", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    planned, again, baseline = [], [], []
    for _ in range(args.repeat):
        with tempfile.TemporaryDirectory() as folder:
            p, a, count = asyncio.run(plan_once(args.rooms, Path(folder)))
            assert count == args.rooms, count
            planned.append(p)
            again.append(a)
            baseline.append(baseline_once(args.rooms, Path(folder)))
    med = statistics.median
    print(f"fan-out to {args.rooms} rooms, median of {args.repeat} runs (SQLite file):")
    print(
        f"  plan one occurrence:        {med(planned) * 1000:8.1f} ms "
        f"({med(planned) / args.rooms * 1e6:.0f} µs per room)"
    )
    print(f"  the same occurrence again:  {med(again) * 1000:8.1f} ms (plans nothing)")
    print(f"  baseline, bare outbox rows: {med(baseline) * 1000:8.1f} ms")
    print(f"  ratio plan / baseline:      {med(planned) / med(baseline):8.2f}x")


if __name__ == "__main__":
    main()
