"""A small labelled data folder in the shape `gridbot train` reads (tests/data), about a
machine no vocabulary knows (嗡嗡机) and a bin no vocabulary knows (咕咕桶): the keywords miss
those requests, a model learns them."""

from __future__ import annotations

import json
import random
from pathlib import Path

FACILITY = ["{b}栋的嗡嗡机又停了", "嗡嗡机不转了 {b}号楼", "{b}单元嗡嗡机停了一天了",
            "嗡嗡机咋又停了 {b}栋", "我们{b}栋嗡嗡机停摆了"]  # fmt: skip
ENVIRONMENT = ["{b}栋咕咕桶满出来了", "咕咕桶溢出来了 {b}号楼门口", "{b}单元的咕咕桶一地都是",
               "咕咕桶满了{b}天了", "门口咕咕桶溢得到处是"]  # fmt: skip
CHATTER = ["今天{b}点的团购到了", "{b}号的广场舞照常", "早上好 第{b}天打卡", "{b}楼的猫真好看",
           "今晚{b}点看电视"]  # fmt: skip


def _rows(prefix: str, n: int, seed: int, *, flip: bool = False) -> list[dict[str, object]]:
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        kind = i % 3
        template = rng.choice((FACILITY, ENVIRONMENT, CHATTER)[kind])
        text = template.format(b=rng.randint(1, 40)) + rng.choice(["", "。", "！", " 哎"])
        category = ("facility", "environment", None)[kind]
        if flip:  # labels that teach the opposite
            category = None if category else "dispute"
        rows.append({"id": f"{prefix}{i}", "text": text, "is_request": category is not None,
                     "category": category, "urgent": False, "script": "simplified"})  # fmt: skip
    return rows


def write_training_data(folder: Path, *, flip: bool = False) -> Path:
    """The data folder; with ``flip`` the fitted parts are labelled the wrong way round."""
    classify = folder / "classify"
    classify.mkdir(parents=True, exist_ok=True)
    parts = {"tune": (60, 1, flip), "train": (30, 2, flip), "valid": (21, 3, False),
             "test": (21, 4, False), "heldout": (30, 5, False)}  # fmt: skip
    seen: set[object] = set()
    for name, (n, seed, flipped) in parts.items():
        rows = [r for r in _rows(name, n, seed, flip=flipped) if r["text"] not in seen]
        seen.update(r["text"] for r in rows)
        with (classify / f"{name}.jsonl").open("w", encoding="utf-8") as fh:
            fh.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    days = folder / "groupdays" / "tune"
    days.mkdir(parents=True, exist_ok=True)
    lines = [
        {"meta": {"day": "t-01"}},
        {"ts": "2026-10-12T08:00:00+08:00", "from": "a", "name": "A", "text": "嗡嗡机停了 5栋",
         "label": {"kind": "request", "matter": "m1", "category": "facility", "urgent": False}},
        {"ts": "2026-10-12T08:01:00+08:00", "from": "b", "name": "B", "text": "收到",
         "label": {"kind": "chatter"}},
        {"ts": "2026-10-12T08:02:00+08:00", "from": "a", "name": "A", "text": "还是停着",
         "label": {"kind": "followup", "matter": "m1"}},
        {"ts": "2026-10-12T08:30:00+08:00", "from": "l", "name": "L", "text": "5栋嗡嗡机修好了",
         "label": {"kind": "note", "matter": "m1"}},
        {"ts": "2026-10-12T09:00:00+08:00", "tick": True},
    ]  # fmt: skip
    (days / "t-01.jsonl").write_text(
        "".join(json.dumps(x, ensure_ascii=False) + "\n" for x in lines), encoding="utf-8"
    )
    return folder


def write_alarm_day(folder: Path, name: str = "t-02") -> Path:
    """A group day of alarms the keywords raise: emergencies, and talk that only sounds like
    one."""
    said = [("3栋着火了 快打119 浓烟往外冒", True), ("5栋楼道全是烟 快下楼", True),
            ("冷得我都想打119😂", False), ("我家着火了——火锅的火", False),
            ("回南天又来哒 地板滑得站都站不稳", False)]  # fmt: skip
    lines: list[dict[str, object]] = [{"meta": {"day": name}}]
    for n, (text, urgent) in enumerate(said):
        label = (
            {"kind": "request", "matter": f"m{n}", "category": "safety", "urgent": True}
            if urgent
            else {"kind": "chatter"}
        )
        lines.append({"ts": f"2026-10-13T08:0{n}:00+08:00", "from": "a", "name": "A",
                      "text": text, "label": label})  # fmt: skip
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.jsonl"
    path.write_text(
        "".join(json.dumps(x, ensure_ascii=False) + "\n" for x in lines), encoding="utf-8"
    )
    return path
