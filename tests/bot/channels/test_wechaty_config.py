"""bot.channels.wechaty_config: endpoint and token from the environment and the config."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.channels.wechaty_config import (
    WechatyConfig,
    WechatyConfigError,
    config_from_env,
    configs_from_env,
    token_configured,
)
from bot.settings import Settings
from tests.conftest import SETTINGS

ENV = {"WECHATY_PUPPET_SERVICE_TOKEN": "s3cret", "WECHATY_PUPPET_SERVICE_ENDPOINT": "gw:8788"}


def with_wechat(**wechat: object) -> Settings:
    return Settings.model_validate(SETTINGS | {"wechat": wechat})


def test_endpoint_and_token_from_the_environment(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("GRIDBOT_CACHE_DIR", str(tmp_path))
    config = config_from_env(settings, ENV)
    assert (config.endpoint, config.token) == ("gw:8788", "s3cret")
    assert config.health_interval == 600.0
    assert config.cache_dir == tmp_path / "wechaty"


def test_the_config_may_give_the_endpoint_and_the_health_interval() -> None:
    settings = with_wechat(endpoint="10.0.0.5:9001", health_log_minutes=1)
    token_only = {"WECHATY_PUPPET_SERVICE_TOKEN": "s3cret"}
    config = config_from_env(settings, token_only)
    assert config.endpoint == "10.0.0.5:9001"
    assert config.health_interval == 60.0
    assert config_from_env(settings, ENV).endpoint == "gw:8788"  # the environment wins


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({}, "no puppet-service token: set WECHATY_PUPPET_SERVICE_TOKEN"),
        ({"WECHATY_PUPPET_SERVICE_TOKEN": " "}, "no puppet-service token"),
        ({"WECHATY_PUPPET_SERVICE_TOKEN": "t"}, "no puppet-service endpoint"),
        (ENV | {"WECHATY_PUPPET_SERVICE_ENDPOINT": "http://gw"}, "is not host:port"),
    ],
)
def test_what_is_missing_is_named(settings: Settings, env: dict[str, str], message: str) -> None:
    with pytest.raises(WechatyConfigError, match=message):
        config_from_env(settings, env)


def test_token_configured() -> None:
    assert token_configured(ENV)
    assert not token_configured({"WECHATY_PUPPET_SERVICE_TOKEN": ""})
    assert not token_configured({})


def test_the_token_is_never_shown() -> None:
    config = WechatyConfig(endpoint="127.0.0.1:1", token="s3cret")
    assert "s3cret" not in repr(config)
    assert "s3cret" not in str(config)


def test_one_account_without_accounts_in_the_config(settings: Settings) -> None:
    [config] = configs_from_env(settings, ENV)
    assert (config.name, config.endpoint, config.token) == ("", "gw:8788", "s3cret")
    assert config.token_env == "WECHATY_PUPPET_SERVICE_TOKEN"


def test_each_configured_account_with_its_own_token_and_endpoint() -> None:
    settings = with_wechat(
        endpoint="10.0.0.5:9001",
        accounts=[
            {"name": "east-1", "token_env": "TOKEN_EAST_1"},
            {"name": "east-2", "token_env": "TOKEN_EAST_2", "endpoint": "10.0.0.6:9001"},
        ],
    )
    env = {"TOKEN_EAST_1": "t1 ", "TOKEN_EAST_2": "t2", "WECHATY_PUPPET_SERVICE_TOKEN": "t0"}
    configs = configs_from_env(settings, env)
    assert [(c.name, c.endpoint, c.token, c.token_env) for c in configs] == [
        ("east-1", "10.0.0.5:9001", "t1", "TOKEN_EAST_1"),
        ("east-2", "10.0.0.6:9001", "t2", "TOKEN_EAST_2"),
    ]
    assert "t1" not in repr(configs[0])
    with pytest.raises(WechatyConfigError, match=r"no puppet-service token in TOKEN_EAST_2$"):
        configs_from_env(settings, {"TOKEN_EAST_1": "t1", "TOKEN_EAST_2": " "})


def test_an_account_without_an_endpoint_needs_the_default_one() -> None:
    settings = with_wechat(accounts=[{"name": "a", "token_env": "TOKEN_A"}])
    with pytest.raises(WechatyConfigError, match="no puppet-service endpoint"):
        configs_from_env(settings, {"TOKEN_A": "t"})
    env = {"TOKEN_A": "t", "WECHATY_PUPPET_SERVICE_ENDPOINT": "gw:1"}
    assert [c.endpoint for c in configs_from_env(settings, env)] == ["gw:1"]
