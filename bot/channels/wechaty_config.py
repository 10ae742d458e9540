"""Where the WeChat channel finds its puppet service: endpoint and token."""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from bot.paths import cache_dir
from bot.settings import Settings

ENDPOINT_VARIABLE: Final = "WECHATY_PUPPET_SERVICE_ENDPOINT"
TOKEN_VARIABLE: Final = "WECHATY_PUPPET_SERVICE_TOKEN"
_ENDPOINT: Final = re.compile(r"^[^\s:/]+:\d{1,5}$")


class WechatyConfigError(Exception):
    """The channel can't be set up as configured (no token, a malformed endpoint)."""


@dataclass(frozen=True)
class WechatyConfig:
    endpoint: str  # host:port of the puppet service
    token: str
    name: str = ""  # the account's name in the config, for the log (one account: none)
    token_env: str = TOKEN_VARIABLE  # where the token came from: what the operator checks
    health_interval: float = 600.0  # seconds between health lines in the log
    probe_interval: float = 120.0  # seconds of silence before the connection is probed
    probe_timeout: float = 10.0  # seconds the puppet service has to answer the probe
    cache_dir: Path | None = None  # the SDK's CACHE_DIR

    def __repr__(self) -> str:  # never print the token
        return f"WechatyConfig(name={self.name!r}, endpoint={self.endpoint!r}, token='***')"


def token_configured(environ: Mapping[str, str] = os.environ) -> bool:
    return bool(environ.get(TOKEN_VARIABLE, "").strip())


def config_from_env(settings: Settings, environ: Mapping[str, str] = os.environ) -> WechatyConfig:
    """The channel's settings for the one account of WECHATY_PUPPET_SERVICE_TOKEN: endpoint
    and token from the environment (the endpoint may also come from the config's
    ``wechat.endpoint``); raises :class:`WechatyConfigError`."""
    token = environ.get(TOKEN_VARIABLE, "").strip()
    if not token:
        raise WechatyConfigError(
            f"no puppet-service token: set {TOKEN_VARIABLE} (and {ENDPOINT_VARIABLE})"
        )
    endpoint = _default_endpoint(settings, environ)
    return _config(settings, token, endpoint, name="", token_env=TOKEN_VARIABLE)


def configs_from_env(
    settings: Settings, environ: Mapping[str, str] = os.environ
) -> list[WechatyConfig]:
    """One config per account the process serves: the config's ``wechat.accounts``, each
    with the token in the variable it names, or else the one of :func:`config_from_env`."""
    accounts = settings.wechat.accounts
    if not accounts:
        return [config_from_env(settings, environ)]
    missing = [a.token_env for a in accounts if not environ.get(a.token_env, "").strip()]
    if missing:
        raise WechatyConfigError(f"no puppet-service token in {', '.join(missing)}")
    default = None
    if any(a.endpoint is None for a in accounts):
        default = _default_endpoint(settings, environ)
    return [
        _config(
            settings,
            environ[a.token_env].strip(),
            a.endpoint or default or "",
            name=a.name,
            token_env=a.token_env,
        )
        for a in accounts
    ]


def _default_endpoint(settings: Settings, environ: Mapping[str, str]) -> str:
    endpoint = environ.get(ENDPOINT_VARIABLE, "").strip() or settings.wechat.endpoint or ""
    if not endpoint:
        raise WechatyConfigError(
            f"no puppet-service endpoint: set {ENDPOINT_VARIABLE} to host:port "
            "(or wechat.endpoint in the config)"
        )
    if not _ENDPOINT.match(endpoint):
        raise WechatyConfigError(f"the puppet-service endpoint {endpoint!r} is not host:port")
    return endpoint


def _config(
    settings: Settings, token: str, endpoint: str, *, name: str, token_env: str
) -> WechatyConfig:
    # The SDK writes its cache folder on import; never into the working directory.
    base = cache_dir()
    return WechatyConfig(
        endpoint=endpoint,
        token=token,
        name=name,
        token_env=token_env,
        health_interval=settings.wechat.health_log_minutes * 60.0,
        cache_dir=(base if base is not None else Path(tempfile.gettempdir())) / "wechaty",
    )
