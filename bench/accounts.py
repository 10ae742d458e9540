"""Resident memory of one process serving many WeChat accounts, against a process per account.

    .venv/bin/python bench/accounts.py                    # 20 accounts, 500 grids
    .venv/bin/python bench/accounts.py --accounts 40 --per-process 100

A city needs about 334 bot accounts. Until now each was a process of its own, most of whose
memory is loaded once per process: jieba's dictionary in the classifier, and the wechaty SDK
with what it imports (quart, flask, lxml, ...). ``App.add_account`` lets one process serve
many, sharing the classifier, dispatcher, scheduler and database, with a connection and an
outbox sender per account. This measures what an extra account costs.

Two fresh processes, one after the other, each the bot as ``gridbot run`` builds it for
``wechat.accounts`` (``build_app``, ``add_account`` per further account, the channels run
together by ``bot.channels.wechaty.run_accounts``) on a config of ``--grids`` grids and a SQLite
file: the baseline serves 1 account (today's deployment), the other ``--accounts`` N. Every
account logs in through the real Python SDK to a puppet-service gateway of its own (the Node
test gateway, ``tests/gateway``), all N+1 started at once, each with a world of its own: the
default fixture world with the bot as ``wxid_gridbot_<i>`` and a resident ``wxid_resident_<i>``
in the grid group 幸福社区第3网格 (a grid of the config). Once every account is online, each
gets one ``积分`` from its resident in that group and must answer it; then the process reports
its resident set (VmRSS) and peak (VmHWM) from /proc/self/status, and is told to stop; it
must stop within 20 s (else it reports the tasks that did not end and exits by itself: the
bench then says STUCK and fails).

Each account's message comes from a resident of its own: a group message's idempotency key is
(group, sender, type, text, second), so the same resident's ``积分`` in the same group in the
same second, reaching N accounts, is one message answered once (as it should be when N
accounts are in one real group); and one resident's N queries would hit the reply limit.

Printed: both resident sets, the increment per extra account, and for 334 accounts the
processes and memory at one account per process against ``--per-process`` K per process.
Target: an extra account costs < 5 MB, i.e. an 80-account process stays under about 600 MB.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import copy
import json
import os
import platform
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # runnable as a plain script from anywhere
    sys.path.insert(0, str(ROOT))

import yaml  # noqa: E402

from bench.figures import verdict  # noqa: E402
from bench.traffic import Town  # noqa: E402
from bot.app import build_app, open_database  # noqa: E402
from bot.channels.wechaty import WechatyChannel, WechatyConfig, account_runs, run_accounts  # noqa: E402
from bot.clock import SystemClock  # noqa: E402
from bot.settings import load_settings  # noqa: E402
from tests.gateway import harness  # noqa: E402

CITY_ACCOUNTS = 334
TARGET_EXTRA_MB = 5.0
GRID_ROOM = "幸福社区第3网格"  # the default world's grid group
GRID = {"code": "G03", "name": GRID_ROOM, "room": GRID_ROOM, "leaders": ["wxid_leader_li"],
        "community": "幸福社区"}  # fmt: skip
DEFAULT_SELF = "wxid_gridbot"
QUERY = "积分"
ONLINE_WITHIN = 90.0  # seconds for a process to start and log every account in
REPLY_WITHIN = 30.0
STOP_WITHIN = 20.0  # seconds for the channels to stop once told
STUCK = 3  # the measured process's exit code when its channels did not stop
GATEWAY_START_WITHIN = 120.0  # N+1 Node processes starting at once on a small machine

# The measured process: the bot of ``serve_accounts`` and nothing else.
_CHILD = """
import sys
from bench.accounts import serve_accounts
sys.exit(serve_accounts(sys.argv[1:]))
"""
# Fills jieba's dictionary cache, so that neither measured process builds it.
_WARM = """
import sys
from pathlib import Path
from bot.models import build_classifier
from bot.settings import load_settings
build_classifier(load_settings(Path(sys.argv[1])))
"""


# --- the measured process --------------------------------------------------------------------


def _memory_kb() -> tuple[int, int]:
    """(VmRSS, VmHWM) of this process, in kB."""
    fields: dict[str, int] = {}
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            name, _, value = line.partition(":")
            if name in ("VmRSS", "VmHWM"):
                fields[name] = int(value.split()[0])
    return fields["VmRSS"], fields["VmHWM"]


async def _serve(config: Path, db_url: str, accounts: list[dict[str, str]]) -> int:
    """Serve ``accounts`` as ``gridbot run`` does; say ``online N`` on stdout once all are
    online, answer ``report`` on stdin with ``memory RSS HWM`` (kB); stop at ``stop`` or EOF."""
    settings = load_settings(config)
    db = open_database(db_url)
    channels = [
        WechatyChannel(
            WechatyConfig(a["endpoint"], a["token"], name=a["name"], cache_dir=Path(a["cache_dir"]))
        )
        for a in accounts
    ]
    app = build_app(settings, clock=SystemClock(settings.tz), db=db, sender=channels[0])
    runs = account_runs(app, channels)
    loop = asyncio.get_running_loop()
    commands = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(commands), sys.stdin)
    stop = asyncio.Event()
    serving = asyncio.create_task(run_accounts(runs, stop), name="accounts")
    try:
        deadline = loop.time() + ONLINE_WITHIN
        while not all(channel.online for channel in channels):
            if serving.done():
                serving.result()  # its failure, if any
                print("the channels ended before all were online", file=sys.stderr)
                return 1
            if loop.time() > deadline:
                offline = [c.label for c in channels if not c.online]
                print(f"not online within {ONLINE_WITHIN} s: {offline}", file=sys.stderr)
                return 1
            await asyncio.sleep(0.05)
        print("online", len(channels), flush=True)
        while True:
            line = asyncio.ensure_future(commands.readline())
            await asyncio.wait({line, serving}, return_when=asyncio.FIRST_COMPLETED)
            if not line.done():  # the channels ended by themselves: a failure
                line.cancel()
                serving.result()
                print("the channels ended while serving", file=sys.stderr)
                return 1
            if line.result().strip() != b"report":
                return 0  # "stop", or the parent closed our stdin
            rss, hwm = _memory_kb()
            print("memory", rss, hwm, flush=True)
    finally:
        stop.set()
        done, _ = await asyncio.wait({serving}, timeout=STOP_WITHIN)
        if not done:
            # asyncio.run() would wait for the stuck tasks forever: an orphan if the parent
            # is gone, so this process ends itself
            stuck = [t.get_name() for t in asyncio.all_tasks() if t.cancelling()]
            print(f"the channels did not stop within {STOP_WITHIN} s; still cancelling: "
                  f"{stuck}", file=sys.stderr, flush=True)  # fmt: skip
            os._exit(STUCK)
        db.dispose()


def serve_accounts(argv: list[str]) -> int:
    """The measured process's entry: ``CONFIG DB_URL ACCOUNTS_JSON``."""
    config, db_url, accounts = argv
    return asyncio.run(_serve(Path(config), db_url, json.loads(accounts)))


# --- the figures -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Sample:
    accounts: int
    rss_mb: float  # VmRSS once every account answered one message
    hwm_mb: float  # VmHWM, the peak until then
    online_s: float  # process start to every account online
    stop_s: float | None  # told to stop to exited; None: its channels did not stop


@dataclass(frozen=True)
class Projection:
    processes: int
    total_mb: float
    largest_mb: float  # the memory of the process with the most accounts


def project(accounts: int, per_process: int, one_mb: float, extra_mb: float) -> Projection:
    """``accounts`` served ``per_process`` to a process (the last one takes the rest), each
    process ``one_mb`` for its first account and ``extra_mb`` for every further one."""
    full, rest = divmod(accounts, per_process)
    sizes = [one_mb + (per_process - 1) * extra_mb] * full
    if rest:
        sizes.append(one_mb + (rest - 1) * extra_mb)
    return Projection(len(sizes), sum(sizes), max(sizes))


def report(one: Sample, many: Sample, *, gateways: int, per_process: int) -> bool:
    """Print the figures; True if an extra account costs less than the target."""
    extra = (many.rss_mb - one.rss_mb) / (many.accounts - 1)
    print(f"  {'accounts':<28} {'VmRSS':>9} {'VmHWM':>9} {'all online after':>17} "
          f"{'stopped after':>14}")  # fmt: skip
    for sample in (one, many):
        stopped = "STUCK" if sample.stop_s is None else f"{sample.stop_s:.2f} s"
        print(f"  {sample.accounts:<28} {sample.rss_mb:6.1f} MB {sample.hwm_mb:6.1f} MB "
              f"{sample.online_s:15.2f} s {stopped:>14}")  # fmt: skip
    print(f"  gateways: {gateways} (one per account, each its own Node process)")
    print(f"  increment per extra account: {extra:+.2f} MB "
          f"(({many.rss_mb:.1f} - {one.rss_mb:.1f}) / {many.accounts - 1})")  # fmt: skip
    print()
    print(f"  projection for {CITY_ACCOUNTS} accounts:")
    for k in (1, per_process):
        p = project(CITY_ACCOUNTS, k, one.rss_mb, extra)
        print(f"    {k:>3} per process: {p.processes:>3} processes, {p.total_mb / 1024:7.2f} GB "
              f"in all, the largest {p.largest_mb:7.1f} MB")  # fmt: skip
    ok = extra < TARGET_EXTRA_MB
    largest = project(per_process, per_process, one.rss_mb, extra).largest_mb
    print(f"  target increment < {TARGET_EXTRA_MB:.0f} MB per extra account: {verdict(ok)} "
          f"({extra:.2f} MB; a {per_process}-account process: {largest:.0f} MB)")  # fmt: skip
    stuck = [sample.accounts for sample in (one, many) if sample.stop_s is None]
    stops = not stuck
    print(f"  every process stops within {STOP_WITHIN:.0f} s of being told: {verdict(stops)}"
          + (f" (stuck: the process of {' and '.join(map(str, stuck))} account(s))"
             if stuck else ""))  # fmt: skip
    return ok and stops


# --- the parent: gateways, worlds, the two processes -----------------------------------------


def world(index: int) -> dict[str, Any]:
    """The default fixture world with the bot as ``wxid_gridbot_<index>`` and a resident of
    its own, ``wxid_resident_<index>``, in the grid group."""
    data: dict[str, Any] = copy.deepcopy(json.loads(harness.DEFAULT_WORLD.read_text("utf-8")))
    me = f"wxid_gridbot_{index}"
    data["self"]["id"] = me
    data["contacts"].append({"id": resident(index), "name": f"居民{index}"})
    for room in data["rooms"]:
        room["members"] = [me if m == DEFAULT_SELF else m for m in room["members"]]
        if room["topic"] == GRID_ROOM:
            room["members"].append(resident(index))
    return data


def resident(index: int) -> str:
    return f"wxid_resident_{index}"


async def _ask(gateway: harness.Gateway, index: int) -> None:
    """One query from the account's resident in the grid group; its reply must come back."""
    await gateway.say(resident(index), QUERY, room=GRID_ROOM)
    sent = await gateway.next_sent(within=REPLY_WITHIN)
    # the reply to this account's resident, from this account (its gateway reports it)
    if sent.get("room") != GRID_ROOM or resident(index) not in sent.get("mentions", []):
        raise RuntimeError(f"account {index}: unexpected reply {sent}")


async def _line(stream: asyncio.StreamReader, within: float, what: str) -> list[str]:
    line = await asyncio.wait_for(stream.readline(), within)
    words = line.decode().split()
    if not words or words[0] != what:
        raise RuntimeError(f"expected {what!r} from the bot process, got {line!r}")
    return words


async def measure(gateways: list[tuple[int, harness.Gateway]], config: Path, db_url: str,
                  env: dict[str, str], errors: TextIO) -> Sample:  # fmt: skip
    """Run a fresh bot process serving the accounts of ``gateways`` ((index, gateway)); each
    account answers one message; return the process's memory then."""
    sdk_cache = str(Path(env["GRIDBOT_CACHE_DIR"]) / "wechaty")
    accounts = [
        {"endpoint": gw.endpoint, "token": gw.token, "name": f"acct{i}", "cache_dir": sdk_cache}
        for i, gw in gateways
    ]
    started = time.perf_counter()
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", _CHILD, str(config), db_url, json.dumps(accounts),
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=errors,
        cwd=ROOT, env=env,
    )  # fmt: skip
    assert proc.stdin is not None
    assert proc.stdout is not None
    try:
        await _line(proc.stdout, ONLINE_WITHIN + 30.0, "online")
        online_s = time.perf_counter() - started
        await asyncio.gather(*(_ask(gw, i) for i, gw in gateways))
        proc.stdin.write(b"report\n")
        await proc.stdin.drain()
        _, rss, hwm = await _line(proc.stdout, 30.0, "memory")
        proc.stdin.write(b"stop\n")
        proc.stdin.close()
        stopping = time.perf_counter()
        code = await asyncio.wait_for(proc.wait(), STOP_WITHIN + 10.0)
        if code not in (0, STUCK):
            raise RuntimeError(f"the bot process exited {code}")
        stop_s = time.perf_counter() - stopping if code == 0 else None
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        if not proc.stdin.is_closing():
            proc.stdin.close()
        with contextlib.suppress(OSError):
            await proc.stdin.wait_closed()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(proc.stdout.read(), 5.0)  # to its end: the pipe closes
    return Sample(len(gateways), int(rss) / 1024, int(hwm) / 1024, online_s, stop_s)


async def _warm(config: Path, env: dict[str, str], errors: TextIO) -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", _WARM, str(config), stderr=errors, cwd=ROOT, env=env
    )
    try:
        code = await asyncio.wait_for(proc.wait(), 120.0)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    if code != 0:
        raise RuntimeError(f"filling jieba's cache failed (exit {code})")


async def run(accounts: int, grids: int, per_process: int, scratch: Path) -> bool:
    config = scratch / "config.yaml"
    settings = Town(grids).config(f"sqlite:///{scratch / 'unused.db'}")
    settings["grids"].append(GRID)
    config.write_text(yaml.safe_dump(settings, allow_unicode=True), encoding="utf-8")
    load_settings(config)  # a config the bot refuses fails here, not in both processes
    env = {**os.environ, "GRIDBOT_CACHE_DIR": str(scratch / "cache"), "PYTHONPATH": str(ROOT)}
    # index 0: the baseline's account; 1..N: the accounts of the process that serves N
    gateways: list[tuple[int, harness.Gateway]] = []
    for index in range(accounts + 1):
        path = scratch / f"world{index}.json"
        path.write_text(json.dumps(world(index), ensure_ascii=False), encoding="utf-8")
        gateways.append((index, harness.Gateway(world=path, start_timeout=GATEWAY_START_WITHIN)))
    errors_path = scratch / "bot-stderr.log"
    with errors_path.open("w", encoding="utf-8") as errors:
        try:
            started = time.perf_counter()
            results = await asyncio.gather(
                _warm(config, env, errors),
                *(gw.start() for _, gw in gateways),
                return_exceptions=True,
            )
            for result in results:
                if isinstance(result, BaseException):
                    raise result
            print(f"{len(gateways)} gateways up and jieba's cache warm after "
                  f"{time.perf_counter() - started:.1f} s\n")  # fmt: skip
            one = await measure(gateways[:1], config, f"sqlite:///{scratch / 'one.db'}", env,
                                errors)  # fmt: skip
            many = await measure(gateways[1:], config, f"sqlite:///{scratch / 'many.db'}", env,
                                 errors)  # fmt: skip
        except BaseException:
            errors.flush()
            tail = errors_path.read_text(encoding="utf-8").strip().splitlines()[-20:]
            print("the bot processes' stderr, last lines:\n  " + "\n  ".join(tail),
                  file=sys.stderr)  # fmt: skip
            raise
        finally:
            await asyncio.gather(*(gw.stop() for _, gw in gateways), return_exceptions=True)
    ok = report(one, many, gateways=len(gateways), per_process=per_process)
    for line in errors_path.read_text(encoding="utf-8").splitlines():
        if "did not stop" in line:  # which tasks, as the stuck process said
            print(f"    {line}")
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--accounts", type=int, default=20, help="N, at least 2")
    parser.add_argument("--grids", type=int, default=500)
    parser.add_argument("--per-process", type=int, default=80, help="K, for the projection")
    args = parser.parse_args(argv)
    if args.accounts < 2 or args.per_process < 1 or args.grids < 1:
        parser.error("--accounts must be at least 2, --per-process and --grids at least 1")
    try:
        harness.ensure_node_modules()
    except harness.GatewayUnavailable as exc:
        print(f"accounts: the Node test gateway can't run: {exc}", file=sys.stderr)
        return 2
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
          f"{platform.python_version()}")  # fmt: skip
    print(f"{args.grids} grids configured (+ {GRID_ROOM}); 1 account, then {args.accounts}, "
          "each in a fresh process\n")  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="gridbot-accounts-") as tmp:
        ok = asyncio.run(run(args.accounts, args.grids, args.per_process, Path(tmp)))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
