"""Cold start to the first reply, and resident memory, of a bot with a city's grids.

    .venv/bin/python bench/startup.py                 # 500 grids, 5 runs
    .venv/bin/python bench/startup.py --grids 2000 --runs 3

Each run is a fresh process: ``gridbot replay`` of one resident's ``/帮助`` in the first
grid's group, on a database the previous runs left (a restart, as a bot's every start after
the first), with jieba's dictionary cache warm (a first, unmeasured run fills it, in a cache
folder of this benchmark's own). Measured from starting the process to the reply's line on
its stdout; the peak resident set size is the kernel's VmHWM, which each process reports as
it exits (``wait4``'s would count the copy of this process the child was forked from).

Baselines, measured in the same run, each in a fresh process too: the interpreter alone
(``python -c pass``), and the classifier alone (import it, read the vocabulary, load jieba's
dictionary from the warm cache), which is the most of a start that the bot itself cannot
shorten. Targets (issue #9): <= 1.5 s to the first reply, <= 200 MB.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # runnable as a plain script from anywhere
    sys.path.insert(0, str(ROOT))

import yaml  # noqa: E402

from bench.figures import verdict  # noqa: E402
from bench.traffic import START, Town  # noqa: E402

# Every measured process ends by writing its VmHWM (peak resident set) to stderr.
_REPORT_PEAK = """
import atexit, sys
def _peak():
    with open("/proc/self/status") as status:
        peak = [line.split()[1] for line in status if line.startswith("VmHWM:")][0]
    print("peak-kb", peak, file=sys.stderr, flush=True)
atexit.register(_peak)
"""
# What the `gridbot` script runs, after the line above.
_GRIDBOT = _REPORT_PEAK + "from bot.cli import main\nsys.exit(main(sys.argv[1:]))\n"
TARGET_SECONDS = 1.5
TARGET_MB = 200.0

_CLASSIFIER_ONLY = (
    _REPORT_PEAK
    + """
from importlib.resources import files
from pathlib import Path
import os
import yaml
from nlp.classifier import Classifier
from nlp.vocabulary import Vocabulary
data = yaml.safe_load((files("config") / "categories.yaml").read_text(encoding="utf-8"))
Classifier(Vocabulary.model_validate(data), cache_dir=Path(os.environ["GRIDBOT_CACHE_DIR"]))
print("ready", flush=True)
"""
)


@dataclass(frozen=True)
class Start:
    seconds: float  # process start to the first line on stdout
    peak_mb: float  # VmHWM


def run(argv: list[str], env: dict[str, str]) -> Start:
    """Start ``argv``; time it to its first stdout line; wait for it and read its peak RSS."""
    started = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                            cwd=ROOT, text=True)  # fmt: skip
    assert proc.stdout is not None
    assert proc.stderr is not None
    first = proc.stdout.readline()
    seconds = time.perf_counter() - started
    rest = proc.stdout.read()
    errors = proc.stderr.read()
    _pid, status, usage = os.wait4(proc.pid, 0)  # usage: see _REPORT_PEAK
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0 or not first:
        raise RuntimeError(f"{argv[:3]} exited {proc.returncode}: {errors.strip()[-500:]}")
    del rest, usage
    peak = [line.split()[1] for line in errors.splitlines() if line.startswith("peak-kb ")]
    return Start(seconds, int(peak[-1]) / 1024)


def summary(name: str, starts: list[Start]) -> tuple[float, float]:
    seconds = statistics.median(s.seconds for s in starts)
    peak = max(s.peak_mb for s in starts)
    runs = ", ".join(f"{s.seconds:.2f}" for s in starts)
    print(f"  {name:<34} {seconds:6.2f} s  (runs: {runs})   peak RSS {peak:6.1f} MB")
    return seconds, peak


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--grids", type=int, default=500)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)

    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
          f"{platform.python_version()}")  # fmt: skip
    town = Town(args.grids)
    with tempfile.TemporaryDirectory(prefix="gridbot-startup-") as tmp:
        scratch = Path(tmp)
        config = scratch / "config.yaml"
        db_url = f"sqlite:///{scratch / 'gridbot.db'}"
        config.write_text(yaml.safe_dump(town.config(db_url), allow_unicode=True),
                          encoding="utf-8")  # fmt: skip
        env = {**os.environ, "GRIDBOT_CACHE_DIR": str(scratch / "cache"), "PYTHONPATH": str(ROOT)}

        def bot_run(n: int) -> Start:
            events = scratch / f"events{n}.jsonl"
            # a new resident each time, later each time: a restart that resumes the replay
            # (and the anti-flood rules) must not take it for something already answered
            event = {"ts": (START + timedelta(minutes=n)).isoformat(), "room": town.room(0),
                     "from": town.resident(0, n), "name": f"居民{n}", "text": "/帮助",
                     "id": f"start{n}"}  # fmt: skip
            events.write_text(json.dumps(event, ensure_ascii=False) + "\n", encoding="utf-8")
            args = ["replay", "--config", str(config), "--db", db_url, str(events)]
            return run([sys.executable, "-c", _GRIDBOT, *args], env)

        bot_run(0)  # fills jieba's cache and makes the database: a first start, not measured
        print(
            f"{args.grids} grids configured; {args.runs} runs each, fresh processes, warm cache\n"
        )
        interpreter, classifier, bot = [], [], []
        for n in range(1, args.runs + 1):  # interleaved: every kind sees the same machine
            interpreter.append(run([sys.executable, "-c", _REPORT_PEAK + "print('ready')"], env))
            classifier.append(run([sys.executable, "-c", _CLASSIFIER_ONLY], env))
            bot.append(bot_run(n))
    base_s, base_mb = summary("baseline: the interpreter alone", interpreter)
    cls_s, cls_mb = summary("baseline: classifier alone", classifier)
    bot_s, bot_mb = summary(f"gridbot, {args.grids} grids, to first reply", bot)
    print()
    print(f"  start: bot / classifier alone {bot_s / cls_s:5.2f}x, "
          f"bot - classifier alone {bot_s - cls_s:+.2f} s")  # fmt: skip
    print(f"  memory: bot / classifier alone {bot_mb / cls_mb:5.2f}x, "
          f"bot - interpreter {bot_mb - base_mb:+.1f} MB")  # fmt: skip
    ok_s, ok_mb = bot_s <= TARGET_SECONDS, bot_mb <= TARGET_MB
    print(f"  target cold start <= {TARGET_SECONDS} s: {verdict(ok_s)} ({bot_s:.2f} s)")
    print(f"  target peak RSS <= {TARGET_MB:.0f} MB: {verdict(ok_mb)} ({bot_mb:.1f} MB)")
    del base_s
    return 0 if ok_s and ok_mb else 1


if __name__ == "__main__":
    sys.exit(main())
