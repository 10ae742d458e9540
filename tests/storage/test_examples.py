from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from storage import examples
from storage.db import Database
from storage.grids import GridSpec, sync_grids
from storage.models import ExampleSource, TrainingExample

T0 = datetime(2026, 11, 22, 1, 0, tzinfo=UTC)
DATA = Path(__file__).parents[1] / "data" / "classify" / "tune.jsonl"


@pytest.fixture
def grids(db: Database) -> Database:
    with db.session() as s:
        sync_grids(session=s, specs=[GridSpec("G03", "三", "三群"), GridSpec("G04", "四", "四群")])
        s.commit()
    return db


def add(
    db: Database,
    text: str,
    category: str | None = "facility",
    *,
    grid: str = "G03",
    at: datetime = T0,
    source: ExampleSource = ExampleSource.RECLASSIFY,
) -> TrainingExample | None:
    with db.session() as s:
        example = examples.add(
            session=s,
            text=text,
            is_request=category is not None,
            category=category,
            source=source,
            grid_code=grid,
            contact_id="wxid_leader_li",
            at=at,
        )
        s.commit()
        if example is not None:
            s.refresh(example)
        return example


def rows(db: Database, **kwargs: Any) -> list[dict[str, Any]]:
    with db.session() as s:
        return examples.rows(session=s, **kwargs)


def test_rows_have_the_shape_of_the_labelled_data_sets(grids: Database) -> None:
    add(grids, "3栋路灯坏了")
    add(grids, "收到，谢谢", None, source=ExampleSource.DISMISS)
    add(grids, "樓道燈壞了", "facility", source=ExampleSource.ACCEPT)
    listed = rows(grids)
    shape = set(json.loads(DATA.read_text(encoding="utf-8").splitlines()[0]))
    assert all(set(row) == shape for row in listed)
    assert listed == [
        {"id": "c1", "text": "3栋路灯坏了", "is_request": True, "category": "facility",
         "urgent": False, "script": "simplified"},
        {"id": "c2", "text": "收到，谢谢", "is_request": False, "category": None,
         "urgent": False, "script": "simplified"},
        {"id": "c3", "text": "樓道燈壞了", "is_request": True, "category": "facility",
         "urgent": False, "script": "traditional"},
    ]  # fmt: skip


def test_the_text_is_kept_masked_and_cut(grids: Database) -> None:
    phone = "13812345678"
    example = add(grids, f"  电梯坏了，打我电话{phone}，身份证110105199001011234  ")
    assert example is not None
    assert example.text == "电梯坏了，打我电话138****5678，身份证110105********1234"
    # masked before it is cut: a number at the cut is not left half readable
    long = add(grids, "楼" * (examples.MAX_TEXT_CHARS - 5) + phone)
    assert long is not None
    assert len(long.text) == examples.MAX_TEXT_CHARS
    assert long.text.endswith("138**")
    assert add(grids, "   ") is None
    assert [r["id"] for r in rows(grids)] == ["c1", "c2"]


def test_a_later_correction_of_the_same_text_replaces_an_earlier_one(grids: Database) -> None:
    add(grids, "楼下垃圾没人收", "facility", source=ExampleSource.ACCEPT)
    add(grids, "广场舞太吵了", "dispute")
    add(grids, "楼下垃圾没人收", "environment", at=T0 + timedelta(hours=1))
    assert [(r["id"], r["category"]) for r in rows(grids)] == [
        ("c2", "dispute"),
        ("c3", "environment"),
    ]


def test_rows_since_a_time_and_of_a_grid(grids: Database) -> None:
    add(grids, "一", at=T0)
    add(grids, "二", at=T0 + timedelta(days=1))
    add(grids, "三", grid="G04", at=T0 + timedelta(days=2))
    assert [r["text"] for r in rows(grids, since=T0 + timedelta(days=1))] == ["二", "三"]
    assert [r["text"] for r in rows(grids, grid_code="G04")] == ["三"]
    assert [r["text"] for r in rows(grids, since=T0, grid_code="G03")] == ["一", "二"]


def test_delete_before_a_time_and_by_id(grids: Database) -> None:
    for day in range(3):
        add(grids, f"第{day}天", at=T0 + timedelta(days=day))
    with grids.session() as s:
        assert examples.delete_before(session=s, before=T0 + timedelta(days=1)) == 1
        assert examples.delete_one(session=s, example_id=3)
        assert not examples.delete_one(session=s, example_id=3)
        s.commit()
    assert [r["id"] for r in rows(grids)] == ["c2"]


@pytest.mark.parametrize(
    ("is_request", "category", "error"),
    [
        (True, None, "a request has a category"),
        (False, "facility", "a request has a category"),
        (True, "weather", "unknown category"),
    ],
)
def test_a_label_must_be_one_the_data_sets_have(
    grids: Database, is_request: bool, category: str | None, error: str
) -> None:
    with grids.session() as s, pytest.raises(ValueError, match=error):
        examples.add(
            session=s,
            text="路灯坏了",
            is_request=is_request,
            category=category,
            source=ExampleSource.RECLASSIFY,
            grid_code="G03",
            contact_id="wxid_leader_li",
            at=T0,
        )
