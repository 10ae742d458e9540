from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.settings import ConfigError, Settings, deep_merge, format_loc, load_settings

MINIMAL = """\
timezone: Asia/Shanghai
database: sqlite:///gridbot.db          # any SQLAlchemy URL, e.g. postgresql+psycopg://...
bot: {name: 社区小助手}
admins: [wxid_street_admin]             # street-level administrators (contact ids)
grids:
  - code: G03
    name: 幸福社区第3网格
    room: 幸福社区第3网格                  # the group's topic as shown in WeChat
    leaders: [wxid_leader_li]             # contact ids of grid leaders / informants
    community: 幸福社区                   # optional, for escalation and stats
escalation:
  room: 幸福社区指挥中心                    # optional: where escalated and urgent items go
"""


def write(tmp_path: Path, text: str, name: str = "gridbot.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def problems_of(tmp_path: Path, data: Any) -> list[str]:
    path = write(tmp_path, yaml.safe_dump(data, allow_unicode=True))
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    assert caught.value.file == str(path)
    return caught.value.problems


def minimal() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(MINIMAL)
    return data


def test_the_minimal_file_from_the_issue_works_as_is(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, MINIMAL))
    assert settings.grids[0].code == "G03"
    assert settings.grids[0].leaders == ["wxid_leader_li"]
    assert settings.escalation.room == "幸福社区指挥中心"
    assert settings.tz.key == "Asia/Shanghai"
    assert settings.grid_by_room("幸福社区第3网格") is settings.grids[0]


def test_the_shipped_demo_config_loads() -> None:
    settings = load_settings(None)
    assert settings.grids
    assert settings.console.people


def test_leaders_given_as_text_name_the_key_path(tmp_path: Path) -> None:
    data = minimal()
    data["grids"].append({"code": "G04", "name": "四", "room": "四群", "leaders": "wxid_x"})
    assert problems_of(tmp_path, data) == ["grids[1].leaders: expected a list of contact ids"]


def test_a_display_name_is_not_a_contact_id(tmp_path: Path) -> None:
    data = minimal()
    data["grids"][0]["leaders"] = ["李 网格长"]
    [problem] = problems_of(tmp_path, data)
    assert problem.startswith("grids[0].leaders[0]: '李 网格长' is not a contact id")


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"timezone": "Mars/Base"}, "timezone: unknown timezone 'Mars/Base' (e.g. Asia/Shanghai)"),
        ({"database": "nonsense"}, "database: not a database URL"),
        ({"admins": "wxid_a"}, "admins: expected a list of contact ids"),
        ({"grids": []}, "grids: must not be empty"),
        ({"grid": []}, "grid: unknown key (check the spelling)"),
        ({"bot": "x"}, "bot: expected a mapping of keys to values"),
    ],
)
def test_top_level_problems(tmp_path: Path, change: dict[str, Any], expected: str) -> None:
    data = minimal() | change
    assert any(p.startswith(expected) for p in problems_of(tmp_path, data)), expected


def test_missing_required_grid_keys(tmp_path: Path) -> None:
    data = minimal()
    data["grids"][0] = {"code": "G 3"}
    assert problems_of(tmp_path, data) == [
        "grids[0].code: grid codes are 1-32 letters, digits, '-' or '_' (e.g. G03)",
        "grids[0].name: required",
        "grids[0].room: required",
    ]


def test_duplicate_codes_and_rooms(tmp_path: Path) -> None:
    data = minimal()
    data["grids"].append(dict(data["grids"][0]))
    assert problems_of(tmp_path, data) == ["grids[1].code: duplicate grid code 'G03'"]
    data["grids"][1]["code"] = "G04"
    assert problems_of(tmp_path, data) == [
        "grids[1].room: room '幸福社区第3网格' is already the room of grids[0]"
    ]


def test_a_grid_room_cannot_be_the_escalation_room(tmp_path: Path) -> None:
    data = minimal()
    data["escalation"]["room"] = data["grids"][0]["room"]
    assert problems_of(tmp_path, data) == [
        "grids[0].room: a grid's room can't be the escalation room"
    ]


def test_invalid_yaml_gives_line_and_column(tmp_path: Path) -> None:
    path = write(tmp_path, "grids: [\n  - a: b\n")
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    [problem] = caught.value.problems
    assert problem.startswith("line 2, column 3: invalid YAML")


@pytest.mark.parametrize("text", ["", "- a\n- b\n", "just text\n"])
def test_a_file_that_is_not_a_mapping(tmp_path: Path, text: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(write(tmp_path, text))
    assert caught.value.problems[0] in (
        "(top level): expected a mapping of keys to values",
        "grids: required",
    )


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(tmp_path / "nope.yaml")
    assert caught.value.problems == ["file not found"]
    assert "nope.yaml" in str(caught.value)


def test_deep_merge_merges_mappings_and_replaces_the_rest() -> None:
    base = {"a": {"x": 1, "y": [1, 2]}, "b": 1}
    assert deep_merge(base, {"a": {"y": [3]}, "c": 2}) == {"a": {"x": 1, "y": [3]}, "b": 1, "c": 2}
    assert base == {"a": {"x": 1, "y": [1, 2]}, "b": 1}


def test_format_loc() -> None:
    assert format_loc(("grids", 1, "leaders", 0)) == "grids[1].leaders[0]"
    assert format_loc(()) == "(top level)"


def test_settings_are_frozen(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, MINIMAL))
    with pytest.raises(ValueError, match="frozen"):
        settings.timezone = "UTC"  # type: ignore[misc]
    assert isinstance(settings, Settings)
