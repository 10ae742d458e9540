"""The NoneBot2 peer (issue #21): bench/e2e.py's stream through GridBot, through a plain bot
built on NoneBot2, and through a floor with no framework at all, alternated in one process.

    .venv/bin/pip install -e '.[bench]'       # NoneBot2: not in the dev extra, CI does without
    .venv/bin/python bench/peer_nonebot.py                      # 20,000 messages, 50 grids
    .venv/bin/python bench/peer_nonebot.py --classifier model --rounds 5

The stream is ``bench/traffic.py``'s (same seed, ``--messages``, ``--grids``), as in
bench/e2e.py. Each round runs it three times on fresh SQLite files (WAL,
``synchronous=NORMAL``), the order turned round every other round so a machine slowing down
mid-run does not always hurt the same one:

- GridBot: bench/e2e.py's replay runner (``run_replay``), the whole bot;
- NoneBot2: a real NoneBot2 bot (the ``~none`` driver, no network) with a replay adapter
  written here. Each line is parsed into the adapter's ``Event`` and goes through NoneBot2's
  own ``handle_event`` (preprocessors, rules, dependency injection, the matcher); one
  ``on_message`` matcher stores the message (key, grid, sender, text, time), classifies it
  with GridBot's ``Classifier`` and, for a request (a category found), inserts a ticket row
  and a reply into an outbox table, one commit per message: what a plain bot built on
  NoneBot2 does. It does less than GridBot: no commands (they are stored and classified like
  chatter), no duplicate search, no sending, no members, roles or audit trail;
- floor: the same handler called straight from the parsed line: parse, classify, insert
  inbound / ticket / outbox, one commit per message.

The classifier is the shipped vocabulary, keywords only and with the shipped model
(``config/models``), one after the other (``--classifier``); GridBot and the peers get the
same one. Figures are per CPU second of this process (``time.process_time``: what other load
on the machine inflates least) and wall time; latency per message is from taking a line to
being ready for the next. NoneBot2 logs at WARNING, as GridBot's replay does here (INFO would
print two lines a message). The ratios are GridBot ÷ each peer, round by round.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # runnable as a plain script from anywhere
    sys.path.insert(0, str(ROOT))

try:
    import nonebot
except ImportError:
    if __name__ == "__main__":
        print(
            "bench/peer_nonebot.py needs NoneBot2, in the optional `bench` extra:\n"
            "    .venv/bin/pip install -e '.[bench]'\n"
            "or: .venv/bin/pip install 'nonebot2>=2.3'",
            file=sys.stderr,
        )
        sys.exit(2)
    raise

from nonebot.adapters import Adapter, Bot, Event, Message, MessageSegment  # noqa: E402
from nonebot.message import handle_event  # noqa: E402
from pydantic import Field  # noqa: E402

from bench.e2e import kinds, run_replay  # noqa: E402
from bench.figures import percentile, verdict  # noqa: E402
from bench.traffic import Town, write  # noqa: E402
from bot.models import build_classifier  # noqa: E402
from bot.paths import cache_dir  # noqa: E402
from bot.settings import ModelSettings, Settings, load_settings  # noqa: E402
from nlp.classifier import Classifier  # noqa: E402

TARGET_RATIO = 1.0  # issue #21: GridBot at least as fast as the NoneBot2 peer, per CPU second
NAMES = ("GridBot", "NoneBot2", "floor")

SCHEMA = """
CREATE TABLE inbound_message (
    id INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE, grid_code TEXT,
    sender_id TEXT NOT NULL, text TEXT NOT NULL, sent_at TEXT NOT NULL);
CREATE TABLE ticket (
    id INTEGER PRIMARY KEY, grid_code TEXT, reporter_id TEXT NOT NULL, category TEXT NOT NULL,
    urgent INTEGER NOT NULL, text TEXT NOT NULL, inbound_key TEXT NOT NULL,
    status TEXT NOT NULL, created_at TEXT NOT NULL);
CREATE TABLE outbox (
    id INTEGER PRIMARY KEY, room TEXT NOT NULL, text TEXT NOT NULL,
    created_at TEXT NOT NULL, sent_at TEXT);
"""


class Store:
    """What the peers do per message, on a plain ``sqlite3`` connection."""

    def __init__(self, path: Path, classifier: Classifier, grids: dict[str, str]) -> None:
        self.classifier = classifier
        self.grids = grids  # room -> grid code, from the config, as a plain bot keeps it
        self.handled = 0
        self.conn = sqlite3.connect(path)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self.conn.executescript(SCHEMA)

    def handle(self, key: str, room: str, sender: str, text: str, sent_at: str) -> None:
        conn = self.conn
        grid = self.grids.get(room)
        conn.execute(
            "INSERT INTO inbound_message (key, grid_code, sender_id, text, sent_at) "
            "VALUES (?, ?, ?, ?, ?)",
            (key, grid, sender, text, sent_at),
        )
        read = self.classifier.classify(text)
        if read.is_request and read.category is not None:
            ticket = conn.execute(
                "INSERT INTO ticket (grid_code, reporter_id, category, urgent, text, "
                "inbound_key, status, created_at) VALUES (?, ?, ?, ?, ?, ?, 'open', ?)",
                (grid, sender, read.category, read.urgent, text, key, sent_at),
            ).lastrowid
            conn.execute(
                "INSERT INTO outbox (room, text, created_at) VALUES (?, ?, ?)",
                (room, f"已受理，工单号 {ticket}，网格员会尽快处理。", sent_at),
            )
        conn.commit()
        self.handled += 1

    def counts(self) -> dict[str, int]:
        return {
            table: self.conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            for table in ("inbound_message", "ticket", "outbox")
        }

    def close(self) -> None:
        self.conn.close()


# --- the NoneBot2 side: a replay adapter, its bot, event and message -----------------------


class ReplaySegment(MessageSegment["ReplayMessage"]):
    @classmethod
    def get_message_class(cls) -> type[ReplayMessage]:
        return ReplayMessage

    def __str__(self) -> str:
        return str(self.data.get("text", ""))

    def is_text(self) -> bool:
        return self.type == "text"


class ReplayMessage(Message[ReplaySegment]):
    @classmethod
    def get_segment_class(cls) -> type[ReplaySegment]:
        return ReplaySegment

    @staticmethod
    def _construct(msg: str) -> Iterable[ReplaySegment]:
        yield ReplaySegment("text", {"text": msg})


class ReplayEvent(Event):
    """A room message of the replay format (bot/channels/replay.py)."""

    key: str
    room: str
    sender: str
    name: str
    text: str
    ts: str
    mentions: list[str] = Field(default_factory=list)

    def get_type(self) -> str:
        return "message"

    def get_event_name(self) -> str:
        return "message.group"

    def get_event_description(self) -> str:
        return f"{self.key} {self.room} {self.sender}: {self.text}"

    def get_user_id(self) -> str:
        return self.sender

    def get_session_id(self) -> str:
        return f"{self.room}_{self.sender}"

    def get_message(self) -> ReplayMessage:
        return ReplayMessage(self.text)

    def is_tome(self) -> bool:
        return False


class ReplayBot(Bot):
    async def send(
        self, event: Event, message: str | Message[Any] | MessageSegment[Any], **kwargs: Any
    ) -> Any:
        return await self.call_api("send", room=getattr(event, "room", None), text=str(message))


class ReplayAdapter(Adapter):
    """Lines in, events through NoneBot2's ``handle_event``; no connection anywhere."""

    @classmethod
    def get_name(cls) -> str:
        return "GridBotReplay"

    async def _call_api(self, bot: Bot, api: str, **data: Any) -> Any:
        return None  # the peer queues its replies in the outbox table: nothing is sent

    async def feed(self, bot: Bot, line: str) -> None:
        item = json.loads(line)
        event = ReplayEvent(
            key=item["id"],
            room=item["room"],
            sender=item["from"],
            name=item.get("name", ""),
            text=item.get("text", ""),
            ts=item["ts"],
            mentions=item.get("mentions", []),
        )
        # A network adapter would start it in the driver's task group; a replay takes the
        # lines in order, as GridBot's replay does, so each is handled before the next.
        await handle_event(bot, event)


_current: list[Store] = []  # the store of the run in progress, for the matcher
_adapter: list[ReplayAdapter] = []


def _nonebot() -> ReplayAdapter:
    """NoneBot2 set up once per process: the ``~none`` driver, the adapter, one matcher."""
    if _adapter:
        return _adapter[0]
    nonebot.init(driver="~none", log_level="WARNING")
    driver = nonebot.get_driver()
    driver.register_adapter(ReplayAdapter)
    adapter = next(a for a in nonebot.get_adapters().values() if isinstance(a, ReplayAdapter))
    matcher = nonebot.on_message(priority=10, block=True)

    @matcher.handle()
    async def _store_and_classify(event: ReplayEvent) -> None:
        _current[0].handle(event.key, event.room, event.sender, event.text, event.ts)

    _adapter.append(adapter)
    return adapter


@dataclass(frozen=True)
class Run:
    name: str
    messages: int
    handled: int
    seconds: float
    cpu_seconds: float
    latencies: list[float]  # seconds, one per line
    counts: dict[str, int]  # rows written, by table (empty for GridBot)

    @property
    def cpu_rate(self) -> float:
        return self.messages / self.cpu_seconds

    @property
    def rate(self) -> float:
        return self.messages / self.seconds

    def p(self, q: float, kind: str | None = None, line_kinds: list[str] | None = None) -> float:
        if kind is None or line_kinds is None:
            return percentile(self.latencies, q)
        return percentile([t for t, k in zip(self.latencies, line_kinds, strict=True)
                           if k == kind], q)  # fmt: skip


def _timed(name: str, store: Store, lines: list[str], step: Callable[[str], None]) -> Run:
    latencies = []
    started, cpu_started = time.perf_counter(), time.process_time()
    for line in lines:
        given = time.perf_counter()
        step(line)
        latencies.append(time.perf_counter() - given)
    seconds = time.perf_counter() - started
    cpu_seconds = time.process_time() - cpu_started
    return Run(name, len(lines), store.handled, seconds, cpu_seconds, latencies, store.counts())


def run_nonebot(path: Path, lines: list[str], classifier: Classifier, grids: dict[str, str]
                ) -> Run:  # fmt: skip
    """The lines through the NoneBot2 peer into a fresh SQLite file at ``path``."""
    adapter = _nonebot()
    store = Store(path, classifier, grids)
    _current[:] = [store]
    bot = ReplayBot(adapter, "gridbot-peer")
    adapter.bot_connect(bot)

    async def go() -> Run:
        latencies = []
        started, cpu_started = time.perf_counter(), time.process_time()
        for line in lines:
            given = time.perf_counter()
            await adapter.feed(bot, line)
            latencies.append(time.perf_counter() - given)
        seconds = time.perf_counter() - started
        cpu_seconds = time.process_time() - cpu_started
        return Run("NoneBot2", len(lines), store.handled, seconds, cpu_seconds, latencies,
                   store.counts())  # fmt: skip

    try:
        return asyncio.run(go())
    finally:
        adapter.bot_disconnect(bot)
        _current.clear()
        store.close()


def run_floor(path: Path, lines: list[str], classifier: Classifier, grids: dict[str, str]
              ) -> Run:  # fmt: skip
    """The lines through the peer's handler with no framework: the floor."""
    store = Store(path, classifier, grids)

    def step(line: str) -> None:
        item = json.loads(line)
        store.handle(item["id"], item["room"], item["from"], item.get("text", ""), item["ts"])

    try:
        return _timed("floor", store, lines, step)
    finally:
        store.close()


def run_gridbot(settings: Settings, path: Path, lines: list[str], classifier: Classifier
                ) -> Run:  # fmt: skip
    url = f"sqlite:///{path}"
    run = run_replay(settings.model_copy(update={"database": url}), url, lines, classifier,
                     "sqlite")  # fmt: skip
    handled = run.messages if run.exit_code == 0 else 0
    return Run("GridBot", run.messages, handled, run.seconds, run.cpu_seconds, run.latencies, {})


def classifiers(settings: Settings, which: str) -> list[tuple[str, Settings, Classifier]]:
    """(label, GridBot's settings, classifier) for each variant asked for."""
    out = []
    if which in ("keywords", "both"):
        off = settings.model_copy(update={"model": ModelSettings(use="off")})
        out.append(("keywords only", off, Classifier(settings.categories, cache_dir=cache_dir())))
    if which in ("model", "both"):
        classifier = build_classifier(settings)
        if classifier.model is None:
            print("no shipped model in use (config/models/CURRENT): the model variant is skipped")
        else:
            out.append((f"keywords + model {classifier.model.version}", settings, classifier))
    return out


def _kind_p50(kind: str, line_kinds: list[str]) -> Callable[[Run], float]:
    return lambda run: run.p(50, kind, line_kinds) * 1e3


def report(label: str, rounds: list[dict[str, Run]], line_kinds: list[str]) -> bool:
    """Print the figures of one classifier variant; whether the issue's ratio target holds."""
    print(f"[{label}] {len(rounds)} rounds, median over them (range in brackets)")

    def column(name: str, value: Callable[[Run], float], fmt: str) -> str:
        values = [value(r[name]) for r in rounds]
        return f"{format(statistics.median(values), fmt):>9} [{format(min(values), fmt)}–" \
               f"{format(max(values), fmt)}]"  # fmt: skip

    rows: list[tuple[str, Callable[[Run], float], str]] = [
        ("per CPU second, msg/s", lambda r: r.cpu_rate, ".0f"),
        ("throughput, msg/s", lambda r: r.rate, ".0f"),
        ("CPU per message, ms", lambda r: r.cpu_seconds / r.messages * 1e3, ".3f"),
        ("latency p50, ms", lambda r: r.p(50) * 1e3, ".3f"),
        ("latency p99, ms", lambda r: r.p(99) * 1e3, ".3f"),
    ]
    for kind in ("chatter", "request", "command"):
        if kind in line_kinds:
            rows.append((f"{kind} p50, ms", _kind_p50(kind, line_kinds), ".3f"))
    print(f"  {'':<24}" + "".join(f"{name:>24}" for name in NAMES))
    for title, value, fmt in rows:
        print(f"  {title:<24}" + "".join(f"{column(n, value, fmt):>24}" for n in NAMES))
    ok = True
    for peer in NAMES[1:]:
        ratios = [r["GridBot"].cpu_rate / r[peer].cpu_rate for r in rounds]
        each = ", ".join(f"{x:.2f}" for x in ratios)
        print(f"  GridBot ÷ {peer:<9} per CPU second {statistics.median(ratios):.2f} x "
              f"(rounds: {each})")  # fmt: skip
        if peer == "NoneBot2":
            ok = statistics.median(ratios) >= TARGET_RATIO
    print(f"  target GridBot ÷ NoneBot2 >= {TARGET_RATIO:.1f} x (issue #21): {verdict(ok)}")
    last = rounds[-1]
    counts = ", ".join(f"{t} {n}" for t, n in last["NoneBot2"].counts.items())
    print(f"  rows written by each peer: {counts}")
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=20000)
    parser.add_argument("--grids", type=int, default=50)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--rounds", type=int, default=3, help="GridBot/NoneBot2/floor triples")
    parser.add_argument("--classifier", choices=("keywords", "model", "both"), default="both")
    args = parser.parse_args(argv)

    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, SQLite {sqlite3.sqlite_version}, NoneBot2 "
        f"{version('nonebot2')}"
    )
    ok = True
    with tempfile.TemporaryDirectory(prefix="gridbot-peer-") as tmp:
        scratch = Path(tmp)
        path = write(scratch, Town(args.grids), args.messages,
                     database=f"sqlite:///{scratch / 'unused.db'}", seed=args.seed)  # fmt: skip
        settings = load_settings(scratch / "config.yaml")
        lines = path.read_text(encoding="utf-8").splitlines()
        grids = {grid.room: grid.code for grid in settings.grids}
        print(f"traffic: {len(lines)} messages over {args.grids} grids (seed {args.seed})\n")
        runs = 0
        for label, grid_settings, classifier in classifiers(settings, args.classifier):
            line_kinds = kinds(lines, classifier)
            rounds: list[dict[str, Run]] = []
            for number in range(1, args.rounds + 1):
                order = NAMES if number % 2 else NAMES[::-1]
                done: dict[str, Run] = {}
                for name in order:
                    runs += 1
                    db = scratch / f"run{runs}.db"
                    if name == "GridBot":
                        run = run_gridbot(grid_settings, db, lines, classifier)
                    elif name == "NoneBot2":
                        run = run_nonebot(db, lines, classifier, grids)
                    else:
                        run = run_floor(db, lines, classifier, grids)
                    for leftover in scratch.glob(f"run{runs}.db*"):  # -wal, -shm
                        leftover.unlink()
                    if run.handled != run.messages:
                        print(f"  {name}: {run.handled} of {run.messages} messages handled")
                        ok = False
                    done[name] = run
                rounds.append(done)
                print(f"[{label}] round {number}: " + ", ".join(
                    f"{n} {done[n].cpu_rate:.0f} msg/s per CPU s ({done[n].cpu_seconds:.2f} s CPU,"
                    f" {done[n].seconds:.2f} s wall)" for n in order))  # fmt: skip
            ok &= report(label, rounds, line_kinds)
            print()
    print("(requests: what the classifier reads as a request with a category; each opens a "
          "ticket in the peers, GridBot merges a resident's repeats)")  # fmt: skip
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
