"""How fast the web console (指挥中心后台) lists tickets and writes the 工单台账, in SQLite.

    .venv/bin/python bench/web.py                          # 100,000 tickets in 50 grids
    .venv/bin/python bench/web.py --tickets 20000 --repeat 20
    .venv/bin/python bench/web.py --profile                # cProfile of the export, top 25

Two databases are built the way bench/tickets.py builds one (its ``fill``: the same open work
in two grids, years of closed tickets in the others), ``--tickets`` and ``--baseline``
tickets, with their timelines (handlers, 上报, feedback, ratings, 同类诉求, reopenings,
merges, and a ``ticket_event`` row for every step) so that every column of the list and of
the 台账 has something to show.

1. The list (``GET /tickets``) through FastAPI's TestClient, logged in as an administrator
   and as the measured grid's leader, under the filters an office uses (none, a grid,
   status, category, overdue, a month, words, page 50), ``--repeat`` times each, alternating
   between the two databases so that both see the same machine. The time is the server's:
   from the request entering the ASGI application to its response's last byte.
2. ``gridbot export tickets --out FILE.xlsx`` of every ticket, run as the command it is (a
   process of its own): seconds and the process's peak resident memory, for each database.

Targets: list p95 <= 200 ms at 100,000 tickets for every filter; the export <= 10 s.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import platform
import pstats
import random
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # runnable as a plain script from anywhere
    sys.path.insert(0, str(ROOT))

import yaml  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402
from sqlalchemy import bindparam, insert, select, update  # noqa: E402
from sqlmodel import col  # noqa: E402
from starlette.types import ASGIApp, Receive, Scope, Send  # noqa: E402

from bench.figures import percentile, verdict  # noqa: E402
from bench.tickets import HISTORY_GRID, NOW, fill  # noqa: E402
from bench.traffic import ADMIN, Town  # noqa: E402
from bot.app import open_database  # noqa: E402
from bot.cli import main as cli  # noqa: E402
from bot.clock import ManualClock  # noqa: E402
from bot.settings import Settings, load_settings  # noqa: E402
from nlp.vocabulary import CATEGORY_CODES  # noqa: E402
from storage import grids as grid_store  # noqa: E402
from storage import web_auth  # noqa: E402
from storage.db import Database  # noqa: E402
from storage.models import Ticket, TicketEvent, TicketStatus  # noqa: E402
from web.app import create_app  # noqa: E402

TARGET_P95_MS = 200.0
TARGET_EXPORT_S = 10.0
FEEDBACK = (
    "已更换灯泡，恢复照明",
    "已联系物业清理",
    "已上门查看并处理完毕",
    "已协调维修，居民确认",
)
WORKERS = 6


def filters(town: Town) -> list[tuple[str, str]]:
    """(name, query string) of the filters measured: what an office's day uses."""
    return [
        ("none", ""),
        ("grid", f"grid={town.code(HISTORY_GRID)}"),
        ("status", "status=active"),
        ("category", f"category={CATEGORY_CODES[0]}"),
        ("overdue", "overdue=1"),
        ("date range", "from=2025-06-01&to=2025-06-30"),
        ("words", "q=23栋"),  # one ticket in 60: the count reads every row's text
        ("page 50", "page=50"),
    ]


def split(total: int, grids: int, active: int) -> tuple[int, int]:
    """(history, others) for bench/tickets.py's ``fill`` to make ``total`` tickets: the
    measured grid's history about as large as each other grid's."""
    open_work = 2 * (active + active // 5)
    if total < open_work or grids < 3:
        raise ValueError(f"{total} tickets in {grids} grids: need >= {open_work} and 3 grids")
    others = (total - open_work) // (grids - 1)
    return total - open_work - others * (grids - 2), others


def _timelines(db: Database, seed: int) -> int:
    """Give the tickets fill() made what real ones have by their status: a handler, 上报,
    feedback, 同类诉求, reopenings, merges, and their events. How many events."""
    rng = random.Random(seed)
    changes: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    with db.engine.connect() as conn:
        rows = conn.execute(
            select(
                Ticket.id,
                Ticket.status,
                Ticket.created_at,
                Ticket.resolved_at,  # type: ignore[call-overload]
                Ticket.closed_at,
                Ticket.grid_code,
            ).order_by(Ticket.id)
        ).all()
    previous: dict[str, int] = {}
    for id_, status, created, resolved, closed, grid in rows:
        worker = rng.randrange(WORKERS)
        change: dict[str, Any] = {"id": id_, "same_count": rng.choice((0, 0, 0, 1, 2))}
        events.append({"ticket_id": id_, "at": created, "actor_id": None, "action": "created",
                       "to_status": TicketStatus.OPEN})  # fmt: skip
        handled = status != TicketStatus.OPEN and not (
            status == TicketStatus.DISMISSED and rng.random() < 0.5
        )
        if handled:
            change |= {"assignee_id": f"wxid_worker_{worker}", "assignee_name": f"网格员{worker}"}
            events.append({"ticket_id": id_, "at": created + timedelta(hours=1),
                           "actor_id": "wxid_leader", "action": "assigned",
                           "from_status": TicketStatus.OPEN,
                           "to_status": TicketStatus.ASSIGNED})  # fmt: skip
        if status == TicketStatus.ESCALATED or (resolved is not None and rng.random() < 0.05):
            change["escalated_at"] = created + timedelta(hours=30)
            events.append({"ticket_id": id_, "at": change["escalated_at"], "actor_id": None,
                           "action": "escalated", "to_status": TicketStatus.ESCALATED})  # fmt: skip
        if status in (TicketStatus.RESOLVED, TicketStatus.ARCHIVED) and resolved is not None:
            change["feedback"] = rng.choice(FEEDBACK)
            change["reopen_count"] = 1 if rng.random() < 0.03 else 0
            events.append({"ticket_id": id_, "at": resolved, "actor_id": f"wxid_worker_{worker}",
                           "action": "resolved", "to_status": TicketStatus.RESOLVED,
                           "note": change["feedback"]})  # fmt: skip
        if closed is not None:
            events.append({"ticket_id": id_, "at": closed, "actor_id": None,
                           "action": "archived" if status == TicketStatus.ARCHIVED
                           else "dismissed", "to_status": status})  # fmt: skip
            # one dismissed ticket in five was a repeat, merged into the grid's previous one
            if status == TicketStatus.DISMISSED and grid in previous and rng.random() < 0.2:
                change |= {"status": TicketStatus.MERGED, "merged_into_id": previous[grid]}
        previous[grid] = id_
        changes.append(change)
    keys = ("same_count", "assignee_id", "assignee_name", "escalated_at", "feedback",
            "reopen_count", "status", "merged_into_id")  # fmt: skip
    with db.engine.begin() as conn:
        # one statement per set of columns: executemany needs the same ones in every row
        by_columns: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for change in changes:
            by_columns.setdefault(tuple(k for k in keys if k in change), []).append(change)
        for columns, group in by_columns.items():
            # bound as b_*: a parameter named as a column is SQLAlchemy's own
            statement = (
                update(Ticket)
                .where(col(Ticket.id) == bindparam("b_id"))
                .values({c: bindparam(f"b_{c}") for c in columns})
            )
            conn.execute(statement, [{f"b_{k}": v for k, v in c.items()} for c in group])
        for start in range(0, len(events), 5000):
            batch = [{"from_status": None, "note": None} | e for e in events[start : start + 5000]]
            conn.execute(insert(TicketEvent), batch)
    return len(events)


@dataclass
class Built:
    settings: Settings
    db: Database
    tickets: int
    events: int
    config: Path


def build(folder: Path, town: Town, total: int, active: int, seed: int) -> Built:
    folder.mkdir(parents=True, exist_ok=True)
    url = f"sqlite:///{folder / 'web.db'}"
    config = folder / "config.yaml"
    config.write_text(yaml.safe_dump(town.config(url), allow_unicode=True), encoding="utf-8")
    settings = load_settings(config)
    db = open_database(url)
    with db.session() as session:  # the grids, as the bot writes them at its start
        grid_store.sync_grids(
            session=session,
            specs=(
                grid_store.GridSpec(g.code, g.name, g.room, g.community) for g in settings.grids
            ),
        )
        session.commit()
    history, others = split(total, town.grids, active)
    count = fill(db, town, history=history, active=active, others=others, seed=seed)
    events = _timelines(db, seed)
    return Built(settings, db, count, events, config)


class Timed:
    """The application, timed: how long the last request spent in it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.took = 0.0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        start = time.perf_counter()
        try:
            await self.app(scope, receive, send)
        finally:
            self.took = time.perf_counter() - start


@dataclass
class Browser:
    """A logged-in person's browser on one database."""

    client: TestClient
    timed: Timed

    def get(self, path: str) -> tuple[float, int]:
        """The server's time of ``path`` and how many tickets the page says it found."""
        response = self.client.get(path)
        if response.status_code != 200 or "共 <strong>" not in response.text:
            raise RuntimeError(f"{path}: {response.status_code} {response.text[:300]}")
        found = response.text.split("共 <strong>", 1)[1].split("<", 1)[0]
        return self.timed.took, int(found)


@dataclass
class Console:
    """The console on one database, with a client per person."""

    built: Built
    clock: ManualClock
    clients: list[TestClient]

    def browser(self, contact_id: str) -> Browser:
        timed = Timed(create_app(self.built.settings, self.built.db, self.clock))
        client = TestClient(timed, base_url=self.built.settings.web.url, follow_redirects=False)
        client.__enter__()
        self.clients.append(client)
        with self.built.db.session() as session:
            token = web_auth.create_login_token(
                session=session, contact_id=contact_id, now=self.clock.now()
            )
            session.commit()
        response = client.post(f"/login/{token}")
        if response.status_code != 303:
            raise RuntimeError(f"login of {contact_id}: {response.status_code}")
        return Browser(client, timed)

    def close(self) -> None:
        for client in self.clients:
            client.__exit__(None, None, None)


def measure_list(big: Console, small: Console, town: Town, repeat: int
                 ) -> dict[tuple[str, str, str], tuple[list[float], int]]:  # fmt: skip
    """(who, filter, database) -> (server times, tickets found)."""
    people = {"administrator": ADMIN, "leader": town.leader(HISTORY_GRID)}
    found: dict[tuple[str, str, str], tuple[list[float], int]] = {}
    for who, contact in people.items():
        browsers = {"big": big.browser(contact), "baseline": small.browser(contact)}
        for name, params in filters(town):
            path = f"/tickets?{params}" if params else "/tickets"
            for label, browser in browsers.items():  # warm the caches
                _took, total = browser.get(path)
                found[(who, name, label)] = ([], total)
            for _ in range(repeat):
                for label, browser in browsers.items():
                    took, _total = browser.get(path)
                    found[(who, name, label)][0].append(took)
    return found


# `gridbot export`, then its peak resident memory as the kernel counted it for this program
# (VmHWM after exec: a fork's rusage would count the benchmark's own memory too)
_EXPORT = """import sys
from bot.cli import main
code = main()
with open("/proc/self/status") as status:
    print(*(line.strip() for line in status if line.startswith("VmHWM:")), file=sys.stderr)
sys.exit(code)"""


def export(built: Built, out: Path) -> tuple[float, float, str]:
    """``gridbot export tickets`` as its own process: (seconds, peak MiB, what it said)."""
    command = [sys.executable, "-c", _EXPORT, "export", "tickets", "--config", str(built.config),
               "--out", str(out)]  # fmt: skip
    with tempfile.TemporaryFile("w+", encoding="utf-8") as said_to:
        start = time.perf_counter()
        done = subprocess.run(command, cwd=ROOT, stdout=said_to, stderr=said_to, check=False)
        took = time.perf_counter() - start
        said_to.seek(0)
        lines = said_to.read().strip().splitlines()
    if done.returncode != 0:
        raise RuntimeError(f"export: exit {done.returncode}: {lines[-5:]}")
    peaks = [line for line in lines if line.startswith("VmHWM:")]
    said = [line for line in lines if "written to" in line]
    peak = int(peaks[-1].split()[1]) / 1024 if peaks else float("nan")
    return took, peak, said[-1] if said else lines[-1]


def profile_export(built: Built, out: Path, top: int = 25) -> str:
    """The export in this process under cProfile: its top functions by cumulative time."""
    profiler = cProfile.Profile()
    profiler.enable()
    cli(["export", "tickets", "--config", str(built.config), "--out", str(out)])
    profiler.disable()
    report = io.StringIO()
    pstats.Stats(profiler, stream=report).sort_stats("cumulative").print_stats(top)
    return report.getvalue()


def _machine() -> Iterator[str]:
    yield (
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, SQLite {sqlite3.sqlite_version}"
    )
    if hasattr(os, "getloadavg"):
        yield "load average: " + " ".join(f"{v:.2f}" for v in os.getloadavg())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--baseline", type=int, default=1_000, help="tickets of the baseline")
    parser.add_argument("--grids", type=int, default=50)
    parser.add_argument("--active", type=int, default=60, help="open tickets of the two grids")
    parser.add_argument("--repeat", type=int, default=50, help="requests per filter and person")
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--profile", action="store_true", help="profile the export (cProfile)")
    parser.add_argument("--keep", type=Path, help="build the databases in this new folder")
    args = parser.parse_args(argv)

    for line in _machine():
        print(line)
    town = Town(args.grids)
    with tempfile.TemporaryDirectory(prefix="gridbot-web-") as tmp:
        folder = args.keep or Path(tmp)
        if args.keep and args.keep.exists():
            parser.error(f"{args.keep} exists: give a new folder")
        consoles: list[Console] = []
        try:
            for label, total in (("big", args.tickets), ("baseline", args.baseline)):
                started = time.perf_counter()
                built = build(folder / label, town, total, args.active, args.seed)
                consoles.append(Console(built, ManualClock(NOW, built.settings.tz), []))
                print(
                    f"{label}: {built.tickets} tickets in {args.grids} grids, {built.events} "
                    f"events; built in {time.perf_counter() - started:.1f} s"
                )
            big, small = consoles
            times = measure_list(big, small, town, args.repeat)
            exports = {
                label: export(console.built, folder / f"{label}.xlsx")
                for label, console in (("big", big), ("baseline", small))
            }
            profile = profile_export(big.built, folder / "profiled.xlsx") if args.profile else ""
        finally:
            for console in consoles:
                console.close()
                console.built.db.dispose()
        if args.keep:
            print(f"kept {folder}")
    ok = report(args, town, times, exports)
    if profile:
        print("\nexport profile (cumulative):\n" + profile)
    return 0 if ok else 1


def report(
    args: argparse.Namespace,
    town: Town,
    times: dict[tuple[str, str, str], tuple[list[float], int]],
    exports: dict[str, tuple[float, float, str]],
) -> bool:
    """Print the figures; whether they meet the targets."""
    ok = True
    big_n, small_n = f"{args.tickets:,}", f"{args.baseline:,}"
    print(f"\nGET /tickets, server time per request ({args.repeat} requests each)")
    print(f"{'who':<14} {'filter':<11} {'found':>7} {f'p50/p95 ms at {small_n}':>22} "
          f"{f'p50/p95 ms at {big_n}':>22}  ratio p95  verdict")  # fmt: skip
    for who in ("administrator", "leader"):
        for name, _params in filters(town):
            hist, found = times[(who, name, "big")]
            base, _base_found = times[(who, name, "baseline")]
            p95 = percentile(hist, 95) * 1e3
            good = p95 <= TARGET_P95_MS
            ok &= good
            print(
                f"{who:<14} {name:<11} {found:>7} "
                f"{percentile(base, 50) * 1e3:10.1f} /{percentile(base, 95) * 1e3:8.1f}   "
                f"{percentile(hist, 50) * 1e3:10.1f} /{p95:8.1f}   "
                f"{p95 / (percentile(base, 95) * 1e3):7.1f}x  {verdict(good)}"
            )
    print("\ngridbot export tickets (every ticket, its own process)")
    for label, (took, peak, said) in exports.items():
        print(f"{label:<9} {took:6.2f} s  peak {peak:6.0f} MiB  ({said})")
    took_big, took_small = exports["big"][0], exports["baseline"][0]
    good = took_big <= TARGET_EXPORT_S
    ok &= good
    print(f"ratio {took_big / took_small:.1f}x   {verdict(good)}")
    print(f"\ntargets: list p95 <= {TARGET_P95_MS:.0f} ms and export <= {TARGET_EXPORT_S:.0f} s "
          f"at {big_n} tickets")  # fmt: skip
    return ok


if __name__ == "__main__":
    sys.exit(main())
