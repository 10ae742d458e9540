from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.settings import (
    ConfigError,
    Settings,
    config_warnings,
    deep_merge,
    format_loc,
    load_settings,
)

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


def test_workers_and_the_knowledge_base(tmp_path: Path) -> None:
    data = minimal()
    data["grids"][0]["workers"] = ["wxid_louzhang_hu"]
    data["faq"] = {"entries": [{"topic": "停车", "words": ["停车证"], "answer": "到物业办理。"}]}
    settings = load_settings(write(tmp_path, yaml.safe_dump(data, allow_unicode=True)))
    assert settings.grids[0].workers == ["wxid_louzhang_hu"]
    assert [e.topic for e in settings.faq.entries] == ["停车"]  # given: replaces the shipped
    assert load_settings(None).faq.entries  # the shipped one
    data["faq"] = {"entries": [{"topic": "停车", "words": [], "answer": "长" * 301}]}
    assert set(problems_of(tmp_path, data)) == {
        "faq.entries[0].words: must not be empty",
        "faq.entries[0].answer: String should have at most 300 characters",
    }


def test_leaders_given_as_text_name_the_key_path(tmp_path: Path) -> None:
    data = minimal()
    data["grids"].append({"code": "G04", "name": "四", "room": "四群", "leaders": "wxid_x"})
    assert problems_of(tmp_path, data) == ["grids[1].leaders: expected a list of contact ids"]


def test_a_leader_may_be_given_with_the_name_residents_know(tmp_path: Path) -> None:
    """Issue 18 item 11: replies name the leader as the manual shows, from the config."""
    data = minimal()
    data["grids"][0]["leaders"] = ["wxid_a", {"id": "wxid_leader_li", "name": " 李明 "}]
    grid = load_settings(write(tmp_path, yaml.safe_dump(data, allow_unicode=True))).grids[0]
    assert grid.leaders == ["wxid_a", "wxid_leader_li"]  # ids, wherever rights are checked
    assert grid.leader_names == {"wxid_leader_li": "李明"}
    assert Settings.model_validate({"grids": [grid.model_dump()]}).grids[0] == grid


@pytest.mark.parametrize(
    ("leader", "problem"),
    [
        ({"id": "wxid_b", "nmae": "李明"}, "grids[0].leaders[0]: unknown key 'nmae': a leader is"),
        ({"name": "李明"}, "grids[0].leaders[0]: the contact id is missing"),
        ({"id": "wxid_b", "name": ""}, "grids[0].leaders[0]: name: expected the name"),
        ({"id": "wxid_b", "name": "李" * 21}, "grids[0].leaders[0]: name: expected the name"),
        ({"id": "wxid_b", "name": ["李明"]}, "grids[0].leaders[0]: name: expected the name"),
        ({"id": "李 明", "name": "李明"}, "grids[0].leaders[0]: '李 明' is not a contact id"),
        (3, "grids[0].leaders: expected a list of contact ids"),
    ],
)
def test_a_leader_with_a_name_is_checked(tmp_path: Path, leader: object, problem: str) -> None:
    data = minimal()
    data["grids"][0]["leaders"] = [leader]
    [found] = problems_of(tmp_path, data)
    assert found.startswith(problem), found


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


# --- points (积分制) ---


def test_the_shipped_points_rules_merge_under_every_config(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, MINIMAL))
    points = settings.points
    assert points.rule("志愿服务") == points.rule("volunteer") == points.rule("志愿者")
    assert points.rules["litter"].kind == "penalty"
    assert points.item("肥皂") is not None
    assert points.notice.cron == "0 9 1 * *"
    assert points.replies == "group"


def test_a_city_changes_adds_and_removes_rules_key_by_key(tmp_path: Path) -> None:
    data = minimal()
    data["points"] = {
        "replies": "private",
        "rules": {
            "volunteer": {"points": 8},
            "litter": None,
            "blood_donation": {"name": "无偿献血", "kind": "award", "points": 20},
        },
        "households": {"G03": [["wxid_a", "wxid_b"]]},
    }
    settings = load_settings(write(tmp_path, yaml.safe_dump(data, allow_unicode=True)))
    points = settings.points
    assert points.replies == "private"
    assert points.rules["volunteer"].points == 8
    assert points.rules["volunteer"].name == "志愿服务"
    assert "litter" not in points.rules
    assert points.rule("无偿献血") is not None
    assert points.households == {"G03": [["wxid_a", "wxid_b"]]}


def test_the_points_section_may_be_a_file_of_its_own(tmp_path: Path) -> None:
    write(tmp_path, "rules:\n  meeting: {name: 开会, kind: award, points: 2}\n", "city-points.yaml")
    data = minimal() | {"points": "city-points.yaml"}
    settings = load_settings(write(tmp_path, yaml.safe_dump(data, allow_unicode=True)))
    assert list(settings.points.rules) == ["meeting"]
    assert settings.points.catalogue == {}


@pytest.mark.parametrize(
    ("points", "expected"),
    [
        ({"notice": {"cron": "every month"}}, "points.notice.cron: 'every month' is not a cron"),
        ({"notice": {"cron": "0 9 31 2 *"}}, None),  # a valid expression that never fires
        ({"replies": "wechat"}, "points.replies: Input should be 'group' or 'private'"),
        (
            {"rules": {"litter": {"points": 80}}},
            "points.rules.litter.points: 80 is above caps.penalty.per_command (50)",
        ),
        ({"rules": {"volunteer": {"points": 0}}}, "points.rules.volunteer.points: Input should"),
        (
            {"rules": {"volunteer": {"daily_cap": 2}}},
            "points.rules.volunteer: daily_cap is below the rule's points",
        ),
        (
            {"rules": {"meeting": {"name": "志愿服务"}}},
            "points.rules.meeting: '志愿服务' is already a name of rule 'volunteer'",
        ),
        ({"rules": {"meeting": {"aliases": ["10"]}}}, "points.rules.meeting: '10' would be read"),
        ({"rules": {"meeting": {"name": "屋场 会"}}}, "points.rules.meeting.name: '屋场 会' has a"),
        (
            {"rules": {"Bad-Code": {"name": "x", "kind": "award", "points": 1}}},
            "points.rules.Bad-Code: codes",
        ),
        ({"rules": {"x": {"name": "x", "kind": "bonus", "points": 1}}}, "points.rules.x.kind:"),
        (
            {"caps": {"award": {"per_command": 50, "per_day": 10}}},
            "points.caps.award: per_day is below per_command",
        ),
        (
            {"catalogue": {"towel": {"name": "肥皂"}}},
            "points.catalogue.towel.name: '肥皂' is already the name of item 'soap'",
        ),
        ({"catalogue": {"soap": {"stock": -1}}}, "points.catalogue.soap.stock: Input should"),
        ({"households": {"G99": [["wxid_a"]]}}, "points.households.G99: no grid has this code"),
        (
            {"households": {"G03": [["wxid_a"], ["wxid_a"]]}},
            "points.households.G03[1]: wxid_a is in two households",
        ),
        ({"base": {"period": "week"}}, "points.base.period: Input should be"),
        ({"rules": "none"}, "points.rules: expected a mapping of keys to values"),
    ],
)
def test_points_config_problems_name_the_key(
    tmp_path: Path, points: dict[str, Any], expected: str | None
) -> None:
    data = minimal() | {"points": points}
    if expected is None:
        load_settings(write(tmp_path, yaml.safe_dump(data, allow_unicode=True)))
        return
    found = problems_of(tmp_path, data)
    assert any(p.startswith(expected) for p in found), found


def test_the_wechat_section(tmp_path: Path) -> None:
    data = minimal() | {"wechat": {"endpoint": "10.0.0.5:8788", "health_log_minutes": 5}}
    path = write(tmp_path, yaml.safe_dump(data, allow_unicode=True))
    wechat = load_settings(path).wechat
    assert (wechat.endpoint, wechat.health_log_minutes) == ("10.0.0.5:8788", 5)
    assert load_settings(write(tmp_path, MINIMAL)).wechat.endpoint is None
    assert problems_of(tmp_path, minimal() | {"wechat": {"endpoint": "http://gw"}}) == [
        "wechat.endpoint: 'http://gw' is not host:port (e.g. 127.0.0.1:8788)"
    ]
    assert problems_of(tmp_path, minimal() | {"wechat": {"token": "secret"}}) == [
        "wechat.token: unknown key (check the spelling)"
    ]


def test_several_wechat_accounts(tmp_path: Path) -> None:
    accounts = [
        {"name": "east-1", "token_env": "GRIDBOT_TOKEN_EAST_1"},
        {"name": "east-2", "token_env": "GRIDBOT_TOKEN_EAST_2", "endpoint": "10.0.0.6:8788"},
    ]
    data = minimal() | {"wechat": {"accounts": accounts}}
    wechat = load_settings(write(tmp_path, yaml.safe_dump(data, allow_unicode=True))).wechat
    assert [(a.name, a.token_env, a.endpoint) for a in wechat.accounts] == [
        ("east-1", "GRIDBOT_TOKEN_EAST_1", None),
        ("east-2", "GRIDBOT_TOKEN_EAST_2", "10.0.0.6:8788"),
    ]
    twice = [accounts[0], {"name": "east-1", "token_env": "GRIDBOT_TOKEN_EAST_1"}]
    assert problems_of(tmp_path, minimal() | {"wechat": {"accounts": twice}}) == [
        "wechat.accounts[1].name: 'east-1' is given twice"
    ]
    same_token = [accounts[0], {"name": "east-3", "token_env": "GRIDBOT_TOKEN_EAST_1"}]
    assert problems_of(tmp_path, minimal() | {"wechat": {"accounts": same_token}}) == [
        "wechat.accounts[1].token_env: 'GRIDBOT_TOKEN_EAST_1' is given twice"
    ]
    bad = [{"name": "East 1", "token_env": "token-1", "token": "s3cret"}]
    assert problems_of(tmp_path, minimal() | {"wechat": {"accounts": bad}}) == [
        "wechat.accounts[0].name: lower-case letters, digits, '-' or '_' (max 32)",
        "wechat.accounts[0].token_env: an environment variable's name, e.g. GRIDBOT_TOKEN_1",
        "wechat.accounts[0].token: unknown key (check the spelling)",
    ]


NOTICE = {
    "id": "n1",
    "title": "提醒",
    "text": "注意防火",
    "targets": {"all": True},
    "cron": "0 9 * * *",
}


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"cron": "0 25 * * *"}, "notices[0].cron: '0 25 * * *' is not a cron expression"),
        ({"cron": "9点"}, "notices[0].cron: '9点' is not a cron expression"),
        ({"at": "2026-12-01 09:00"}, "notices[0]: give either cron (repeating) or at (once)"),
        ({"cron": None}, "notices[0]: give either cron (repeating) or at (once)"),
        ({"targets": {}}, "notices[0].targets: say which grids"),
        ({"targets": {"grids": ["G99"]}}, "notices[0].targets.grids: no such grid: 'G99'"),
        ({"targets": {"tags": ["mountain"]}}, "notices[0].targets: matches no grid"),
        ({"text": "长" * 1501}, "notices[0].text: String should have at most 1500 characters"),
        ({"text": ""}, "notices[0].text: must not be empty"),
        ({"id": "秸秆"}, "notices[0].id: notice ids are lower-case letters"),
        (
            {"active_from": "2026-12-01", "active_until": "2026-11-01"},
            "notices[0]: active_from is after active_until",
        ),
    ],
)
def test_notice_problems(tmp_path: Path, change: dict[str, Any], expected: str) -> None:
    data = minimal() | {"notices": [NOTICE | change]}
    problems = problems_of(tmp_path, data)
    assert any(p.startswith(expected) for p in problems), problems


def test_duplicate_notice_ids(tmp_path: Path) -> None:
    data = minimal() | {"notices": [NOTICE, NOTICE]}
    assert problems_of(tmp_path, data) == ["notices[1].id: duplicate notice id 'n1'"]


def test_notices_may_live_in_a_file_of_their_own(tmp_path: Path) -> None:
    (tmp_path / "notices.yaml").write_text(
        yaml.safe_dump([NOTICE], allow_unicode=True), encoding="utf-8"
    )
    settings = load_settings(write(tmp_path, MINIMAL + "notices: notices.yaml\n"))
    assert [n.id for n in settings.notices] == ["n1"]


def test_the_shipped_example_notices_are_valid(tmp_path: Path) -> None:
    shipped = Path(__file__).resolve().parents[2] / "config" / "notices.yaml"
    (tmp_path / "notices.yaml").write_text(shipped.read_text(encoding="utf-8"), encoding="utf-8")
    config = MINIMAL.replace("community: 幸福社区 ", "community: 幸福社区\n    tags: [rural] ")
    settings = load_settings(write(tmp_path, config + "notices: notices.yaml\n"))
    assert {n.id for n in settings.notices} >= {"straw-burning", "anti-fraud"}


def test_the_limits_section(tmp_path: Path) -> None:
    defaults = load_settings(write(tmp_path, MINIMAL)).limits
    # generous enough for real use: a resident with a few problems a day is normal
    assert defaults.tickets_per_day >= 5
    assert (defaults.replies, defaults.reply_window_minutes) == (10, 10)
    data = minimal() | {"limits": {"tickets_per_day": 3, "replies": 20}}
    limits = load_settings(write(tmp_path, yaml.safe_dump(data, allow_unicode=True))).limits
    assert (limits.tickets_per_day, limits.replies, limits.reply_window_minutes) == (3, 20, 10)
    # every reply has a ceiling, three times the repeats and bursts unless set
    assert (defaults.residents.ceiling, limits.residents.ceiling) == (30, 60)
    # leaders' and admins' own limits are higher, and never below the residents'
    assert (defaults.leaders.replies, defaults.admins.replies) == (30, 60)
    assert limits.leaders.at_least(limits.residents).replies == 30
    data = minimal() | {"limits": {"replies": 40, "leaders": {"replies": 35, "max_replies": 50}}}
    limits = load_settings(write(tmp_path, yaml.safe_dump(data, allow_unicode=True))).limits
    assert (limits.leaders.at_least(limits.residents).ceiling, limits.residents.ceiling) == (
        120,
        120,
    )


@pytest.mark.parametrize(
    ("limits", "expected"),
    [
        ({"tickets_per_day": 0}, "limits.tickets_per_day: Input should be greater than or equal"),
        ({"replies": 20, "max_replies": 15}, "limits: max_replies (15) is below replies (20)"),
        ({"leaders": {"max_replies": 5}}, "limits.leaders: max_replies (5) is below replies (30)"),
        ({"admins": {"tickets_per_day": 5}}, "limits.admins.tickets_per_day: unknown key"),
        ({"burst_seconds": -1}, "limits.burst_seconds: Input should be greater than or equal"),
        ({"replies": -5}, "limits.replies: Input should be greater than or equal to 1"),
        ({"replies": "很多"}, "limits.replies: expected a whole number"),
        ({"reply_window_minutes": 1441}, "limits.reply_window_minutes: Input should be less"),
        ({"replies_per_minute": 3}, "limits.replies_per_minute: unknown key (check the spelling)"),
        ([10], "limits: expected a mapping of keys to values"),
    ],
)
def test_limits_problems_name_the_key(tmp_path: Path, limits: Any, expected: str) -> None:
    problems = problems_of(tmp_path, minimal() | {"limits": limits})
    assert len(problems) == 1
    assert problems[0].startswith(expected), problems


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("grids:\n\t- code: G03\n", "line 2, column 1"),
        ("bot:\n\tname: x\n", "line 2, column 1"),
        ("bot:\n  name: x\n  \tfoo: y\n", "line 3, column 3"),
        ("admins:\n  -\twxid_a\n", "line 2, column 4"),
    ],
)
def test_a_tab_in_the_yaml_is_named_with_line_and_column(
    tmp_path: Path, text: str, where: str
) -> None:
    """Issue 18 item 12: libyaml said "found character that cannot start any token"."""
    with pytest.raises(ConfigError) as caught:
        load_settings(write(tmp_path, text))
    assert caught.value.problems == [
        f"{where}: invalid YAML: a tab character: YAML indents with spaces only (replace the tab)"
    ]


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("mysql://x", "database: mysql databases are not supported: use sqlite:///gridbot.db or"),
        ("oracle://scott@db", "database: oracle databases are not supported"),
        ("postgresql+asyncpg://u@h/d", "database: the database driver 'asyncpg' can't be used"),
        ("sqlite+nosuchdriver:///x.db", "database: the database driver 'nosuchdriver' can't"),
    ],
)
def test_a_database_the_bot_cannot_use_is_a_config_error(
    tmp_path: Path, url: str, expected: str
) -> None:
    """Issue 18 item 7: `database: mysql://x` passed check-config, then `gridbot run` died
    with a ModuleNotFoundError traceback."""
    [problem] = problems_of(tmp_path, minimal() | {"database": url})
    assert problem.startswith(expected), problem


def test_the_two_databases_the_bot_runs_on_are_accepted(tmp_path: Path) -> None:
    for url in ("sqlite:///gridbot.db", "postgresql://u@h/d", "postgresql+psycopg://u:p@h/d"):
        data = minimal() | {"database": url}
        assert load_settings(write(tmp_path, yaml.safe_dump(data))).database == url


def test_no_warnings_for_the_minimal_file_and_the_demo(tmp_path: Path) -> None:
    assert config_warnings(load_settings(write(tmp_path, MINIMAL))) == []
    assert config_warnings(load_settings(None)) == []


def test_a_grid_without_leaders_is_a_warning_naming_it(tmp_path: Path) -> None:
    """Issue 18 item 6: check-config said OK, and the grid's emergencies alerted nobody."""
    data = minimal()
    data["grids"].append({"code": "G04", "name": "幸福社区第4网格", "room": "四群"})
    warnings = config_warnings(load_settings(write(tmp_path, yaml.safe_dump(data))))
    assert warnings == [
        "grids[1].leaders: grid G04 (幸福社区第4网格) has no leaders: its emergencies alert "
        "no grid leader, and nobody there can use the leaders' commands"
    ]


def test_points_rules_may_be_for_grids_with_a_tag(tmp_path: Path) -> None:
    """Issue 18 item 11: the village rules (焚烧秸秆, 村规民约) are the rural grids' only."""
    shipped = load_settings(write(tmp_path, MINIMAL)).points.rules
    assert shipped["straw_burning"].tags == shipped["village_rules"].tags == ["rural"]
    assert not shipped["volunteer"].tags
    assert shipped["straw_burning"].applies_in(["rural", "hill"])
    assert not shipped["straw_burning"].applies_in([])
    assert shipped["volunteer"].applies_in([])
    demo = load_settings(None)
    assert [g.code for g in demo.grids if "rural" in g.tags] == ["G04"]
    data = minimal() | {"points": {"rules": {"volunteer": {"tags": "rural"}}}}
    assert problems_of(tmp_path, data) == ["points.rules.volunteer.tags: expected a list"]
    data = minimal() | {"points": {"rules": {"volunteer": {"tags": [""]}}}}
    assert problems_of(tmp_path, data) == ["points.rules.volunteer.tags[0]: must not be empty"]


def test_a_points_rule_no_grid_can_use_is_a_warning(tmp_path: Path) -> None:
    # The shipped village rules in a city without villages are no mistake (no warning, as in
    # test_no_warnings_for_the_minimal_file_and_the_demo); a tag the city wrote is checked.
    data = minimal()
    data["grids"][0]["tags"] = ["hill"]
    data["points"] = {
        "rules": {
            "volunteer": {"tags": ["rurl"]},
            "civility": {"tags": ["hill"]},
            "straw_burning": {"tags": ["mountain", "plain"]},
        }
    }
    warnings = config_warnings(load_settings(write(tmp_path, yaml.safe_dump(data))))
    assert warnings == [
        "points.rules.volunteer.tags: no grid has the tag rurl: the rule 志愿服务 can't be "
        "used in any grid",
        "points.rules.straw_burning.tags: no grid has any of the tags mountain, plain: the "
        "rule 焚烧秸秆 can't be used in any grid",
    ]


def test_a_schedule_that_never_runs_is_a_warning(tmp_path: Path) -> None:
    """Issue 17 item 15: a cron of 30 February passed without a word."""
    notice = {"title": "t", "text": "x", "targets": {"all": True}}
    season = {"active_from": "2026-11-01", "active_until": "2026-12-31", **notice}
    data = minimal() | {
        "tickets": {"sweep_cron": "0 9 30 2 *"},
        "points": {"notice": {"cron": "0 9 31 4,6 *"}},
        "notices": [
            {"id": "never", "cron": "0 9 31 11 *", **notice},
            {"id": "leap", "cron": "0 9 29 2 *", **notice},  # every fourth year: fine
            {"id": "season", "cron": "0 9 1 12 *", **season},
            {"id": "off-season", "cron": "0 9 1 10 *", **season},
        ],
    }
    warnings = config_warnings(load_settings(write(tmp_path, yaml.safe_dump(data))))
    assert warnings == [
        "tickets.sweep_cron: '0 9 30 2 *' never fires (no such day): deadlines would never "
        "be checked",
        "points.notice.cron: '0 9 31 4,6 *' never fires (no such day): no monthly 公示 would "
        "be sent",
        "notices[0].cron: '0 9 31 11 *' never fires (no such day)",
        "notices[3].cron: '0 9 1 10 *' never fires between active_from (2026-11-01) and "
        "active_until (2026-12-31)",
    ]


def test_the_web_console_is_off_on_this_machine_unless_told(tmp_path: Path) -> None:
    web = load_settings(write(tmp_path, MINIMAL)).web
    assert (web.enabled, web.host, web.port, web.base_url, web.session_hours) == (
        False, "127.0.0.1", 8080, None, 12,
    )  # fmt: skip
    assert web.url == "http://127.0.0.1:8080"
    assert web.login_link("abc") == "http://127.0.0.1:8080/login/abc"
    assert not web.secure
    # the demo serves it, as the README's first command shows
    assert load_settings(None).web.enabled


@pytest.mark.parametrize(
    ("web", "url", "secure"),
    [
        ({"host": "0.0.0.0", "port": 80}, "http://0.0.0.0:80", False),
        ({"host": "::1"}, "http://[::1]:8080", False),
        ({"base_url": "https://jiedao.example.cn/"}, "https://jiedao.example.cn", True),
        ({"base_url": " http://10.0.0.5:8080/gridbot/ "}, "http://10.0.0.5:8080/gridbot", False),
    ],
)
def test_the_address_people_open(
    tmp_path: Path, web: dict[str, Any], url: str, secure: bool
) -> None:
    settings = load_settings(write(tmp_path, yaml.safe_dump(minimal() | {"web": web})))
    assert settings.web.url == url
    assert settings.web.secure is secure


@pytest.mark.parametrize(
    ("web", "expected"),
    [
        ({"base_url": "ftp://x.cn"}, "web.base_url: 'ftp://x.cn' is not the console's address"),
        ({"base_url": "jiedao.example.cn"}, "web.base_url: 'jiedao.example.cn' is not"),
        ({"base_url": "https://x.cn/?a=1"}, "web.base_url: 'https://x.cn/?a=1' is not"),
        ({"base_url": "https://x.cn:99999"}, "web.base_url: 'https://x.cn:99999' is not"),
        ({"base_url": "https://x .cn"}, "web.base_url: 'https://x .cn' is not"),
        ({"host": "0.0.0.0 8080"}, "web.host: '0.0.0.0 8080' is not a host name or address"),
        ({"port": 0}, "web.port: Input should be greater than or equal to 1"),
        ({"port": 65536}, "web.port: Input should be less than or equal to 65535"),
        ({"session_hours": 0}, "web.session_hours: Input should be greater than or equal to 1"),
        ({"enabled": "maybe"}, "web.enabled: expected true or false"),
        ({"password": "x"}, "web.password: unknown key (check the spelling)"),
    ],
)
def test_web_problems_name_the_key(tmp_path: Path, web: dict[str, Any], expected: str) -> None:
    problems = problems_of(tmp_path, minimal() | {"web": web})
    assert len(problems) == 1
    assert problems[0].startswith(expected), problems


def test_a_console_open_to_the_network_without_its_address_is_a_warning(tmp_path: Path) -> None:
    data = minimal() | {"web": {"enabled": True, "host": "0.0.0.0"}}
    warnings = config_warnings(load_settings(write(tmp_path, yaml.safe_dump(data))))
    assert warnings == [
        "web.base_url: not given, so the login links /后台 sends begin http://0.0.0.0:8080, "
        "which no phone can open: give the address people reach the console at"
    ]
    data["web"]["base_url"] = "http://10.0.0.5:8080"
    assert config_warnings(load_settings(write(tmp_path, yaml.safe_dump(data)))) == []


def test_a_worker_may_be_given_with_a_name_as_a_leader_may(tmp_path: Path) -> None:
    """Issue 20: workers are written as leaders are, by id with a display name."""
    data = minimal()
    data["grids"][0]["workers"] = ["wxid_a", {"id": "wxid_louzhang_hu", "name": " 胡军 "}]
    grid = load_settings(write(tmp_path, yaml.safe_dump(data, allow_unicode=True))).grids[0]
    assert grid.workers == ["wxid_a", "wxid_louzhang_hu"]  # ids, wherever rights are checked
    assert grid.worker_names == {"wxid_louzhang_hu": "胡军"}
    assert grid.leader_names == {}
    assert Settings.model_validate({"grids": [grid.model_dump()]}).grids[0] == grid


@pytest.mark.parametrize(
    ("worker", "problem"),
    [
        ({"id": "wxid_b", "nmae": "胡军"}, "grids[0].workers[0]: unknown key 'nmae': a worker is"),
        ({"name": "胡军"}, "grids[0].workers[0]: the contact id is missing: a worker is"),
        ({"id": "wxid_b", "name": ""}, "grids[0].workers[0]: name: expected the name residents "
         "know the worker by"),
        ({"id": "wxid_b", "name": "胡" * 21}, "grids[0].workers[0]: name: expected the name"),
        ({"id": "胡 军", "name": "胡军"}, "grids[0].workers[0]: '胡 军' is not a contact id"),
        (3, "grids[0].workers: expected a list of contact ids"),
    ],
)  # fmt: skip
def test_a_worker_with_a_name_is_checked(tmp_path: Path, worker: object, problem: str) -> None:
    data = minimal()
    data["grids"][0]["workers"] = [worker]
    [found] = problems_of(tmp_path, data)
    assert found.startswith(problem), found


def test_alerts_are_off_by_default_and_the_robots_key_is_never_in_the_config(
    tmp_path: Path,
) -> None:
    settings = load_settings(write(tmp_path, MINIMAL))
    assert settings.alerts.wecom is None
    assert (settings.alerts.gateway_down_minutes, settings.alerts.outbox_backlog) == (5, 20)
    data = minimal() | {
        "alerts": {"wecom": {"url_env": "GRIDBOT_WECOM_WEBHOOK", "mentioned_list": ["@all"]}}
    }
    wecom = load_settings(write(tmp_path, yaml.safe_dump(data))).alerts.wecom
    assert wecom is not None
    assert (wecom.url_env, wecom.mentioned_list, wecom.escalation, wecom.per_minute) == (
        "GRIDBOT_WECOM_WEBHOOK", ["@all"], True, 20,
    )  # fmt: skip
    key = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=abc"
    bad = minimal() | {"alerts": {"wecom": {"url_env": key, "per_minute": 30}}}
    assert problems_of(tmp_path, bad) == [
        "alerts.wecom.url_env: an environment variable's name, e.g. GRIDBOT_WECOM_WEBHOOK",
        "alerts.wecom.per_minute: Input should be less than or equal to 20",
    ]


def test_backups_are_off_and_retention_on_by_default(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, MINIMAL))
    backup, retention = settings.backup, settings.retention
    assert (backup.enabled, backup.dir, backup.cron, backup.keep_days) == (
        False, Path("backups"), "30 3 * * *", 14,
    )  # fmt: skip
    assert (retention.mask_numbers_after_days, retention.archived_text_after_days) == (180, 365)
    assert retention.cron == "15 4 * * *"
    assert not load_settings(None).backup.enabled  # nor does the demo make any
    data = minimal() | {
        "backup": {"enabled": True, "dir": "/var/backups/gridbot", "keep_days": 30},
        "retention": {"mask_numbers_after_days": None, "archived_text_after_days": 730},
    }
    settings = load_settings(write(tmp_path, yaml.safe_dump(data)))
    assert settings.backup.dir == Path("/var/backups/gridbot")
    assert settings.retention.mask_numbers_after_days is None
    assert settings.retention.archived_text_after_days == 730


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"backup": {"keep_days": 0}}, "backup.keep_days: Input should be greater than or equal"),
        ({"backup": {"cron": "daily"}}, "backup.cron: 'daily' is not a cron expression"),
        ({"backup": {"enable": True}}, "backup.enable: unknown key (check the spelling)"),
        ({"retention": {"mask_numbers_after_days": 0}},
         "retention.mask_numbers_after_days: Input should be greater than or equal to 1"),
        ({"retention": {"archived_text_after_days": "a year"}},
         "retention.archived_text_after_days: expected a whole number"),
        ({"retention": {"cron": "4:15"}}, "retention.cron: '4:15' is not a cron expression"),
    ],
)  # fmt: skip
def test_backup_and_retention_problems_name_the_key(
    tmp_path: Path, change: dict[str, Any], expected: str
) -> None:
    problems = problems_of(tmp_path, minimal() | change)
    assert len(problems) == 1
    assert problems[0].startswith(expected), problems


def test_a_backup_or_purge_schedule_that_never_runs_is_a_warning(tmp_path: Path) -> None:
    never = "0 3 30 2 *"
    data = minimal() | {"backup": {"cron": never}, "retention": {"cron": never}}
    warnings = config_warnings(load_settings(write(tmp_path, yaml.safe_dump(data))))
    # backups off: their schedule is nothing to warn of
    assert warnings == [
        "retention.cron: '0 3 30 2 *' never fires (no such day): personal data would never "
        "be purged"
    ]
    data["backup"]["enabled"] = True
    warnings = config_warnings(load_settings(write(tmp_path, yaml.safe_dump(data))))
    assert warnings[0] == (
        "backup.cron: '0 3 30 2 *' never fires (no such day): no daily backup would be made"
    )
