from __future__ import annotations

import itertools
import json
import re
from pathlib import Path

from bench.traffic import Town, events, write
from nlp.classifier import Classifier


def test_the_stream_is_deterministic_and_mixed_as_the_issue_asks(classifier: Classifier) -> None:
    town = Town(grids=5)
    first = list(events(town, 600, seed=3, classifier=classifier))
    assert first == list(events(town, 600, seed=3, classifier=classifier))
    assert [e["id"] for e in first] == [f"m{n}" for n in range(1, 601)]
    assert all(a["ts"] < b["ts"] for a, b in itertools.pairwise(first))
    commands = [e for e in first if e["text"].startswith(("/", "积分", "我的工单", "查询"))]
    assert 0.10 <= len(commands) / len(first) <= 0.20
    assert {e["room"] for e in first} == {town.room(g) for g in range(5)}


def test_commands_name_their_own_grids_tickets(classifier: Classifier) -> None:
    town = Town(grids=4)
    stream = list(events(town, 800, seed=5, classifier=classifier))
    opened: dict[int, str] = {}  # ticket number -> room, numbered as the bot numbers them
    for event in stream:
        if event["from"].startswith("wxid_leader_"):
            found = re.match(r"/(派单|办结) (\d+)", event["text"])
            if found and int(found[2]) in opened:
                assert opened[int(found[2])] == event["room"]
            continue
        read = classifier.classify(event["text"])
        query = re.fullmatch(r"积分|我的工单|查询 \d+|/帮助", event["text"])
        if not query and read.is_request and read.category is not None:
            opened[len(opened) + 1] = event["room"]
    assert opened


def test_write_gives_a_config_and_events_for_gridbot_replay(
    tmp_path: Path, classifier: Classifier
) -> None:
    path = write(tmp_path, Town(grids=3), 20, database="sqlite:///x.db")
    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 20
    assert all(json.loads(line)["room"] for line in lines)
    assert "T00002" in (tmp_path / "config.yaml").read_text(encoding="utf-8")
