"""Shared fixtures. Helpers live in tests/auxil/.

Database fixtures run each test on SQLite and on a real PostgreSQL server that the session
starts (see tests/auxil/postgres.py). Without the server binaries the PostgreSQL runs are
skipped, unless GRIDBOT_REQUIRE_POSTGRES=1 (as in CI), where they fail.
"""

from __future__ import annotations

import copy
import logging
import os
import shutil
import socket
import tempfile
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from importlib.resources import files
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml
from fastapi.testclient import TestClient

from bot.app import App, build_app
from bot.clock import ManualClock
from bot.models import read_model
from bot.settings import Settings, deep_merge
from nlp.classifier import Classifier
from nlp.vocabulary import Vocabulary
from storage import migrate
from storage.db import Database
from tests.auxil.chat import Chat, RecordingSender
from tests.auxil.postgres import PostgresServer, find_bin_dir
from tests.auxil.training_data import write_training_data
from tests.auxil.web import AuditLog, add_grids
from tests.gateway import harness
from web.app import create_app

TZ = ZoneInfo("Asia/Shanghai")

SETTINGS: dict[str, Any] = {
    "timezone": "Asia/Shanghai",
    "database": "sqlite:///unused.db",
    "bot": {"name": "社区小助手"},
    "admins": ["wxid_street_admin"],
    "grids": [
        {
            "code": "G03",
            "name": "幸福社区第3网格",
            "room": "幸福社区第3网格",
            "leaders": ["wxid_leader_li"],
            "workers": ["wxid_louzhang_hu"],
            "community": "幸福社区",
        },
        {
            "code": "G04",
            "name": "幸福社区第4网格",
            "room": "幸福社区第4网格",
            "leaders": ["wxid_leader_zhao"],
            "community": "幸福社区",
        },
    ],
    "escalation": {"room": "幸福社区指挥中心"},
    # Replies at once: tests of the throttle set it themselves.
    "sending": {"interval_seconds": 0, "jitter_seconds": 0, "per_minute": 600},
}


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PostgresServer]:
    if find_bin_dir() is None:
        reason = "PostgreSQL server binaries not found (apt-get install postgresql)"
        if os.environ.get("GRIDBOT_REQUIRE_POSTGRES") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    # Not pytest's tmp_path: under root the server runs as `postgres`, which can't enter it.
    base = Path(tempfile.mkdtemp(prefix="gridbot-pg-"))
    server = PostgresServer(base)
    try:
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database on each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/test.db"
        return
    server: PostgresServer = request.getfixturevalue("pg_server")
    name = server.create_database()
    yield server.url(name)
    server.drop_database(name)


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    """A database at the current schema, on each backend."""
    database = Database.from_url(db_url)
    migrate.upgrade(database.engine)
    yield database
    database.dispose()


@pytest.fixture
def sqlite_db(tmp_path: Path) -> Iterator[Database]:
    """A SQLite database at the current schema, for tests about logic, not storage."""
    database = Database.from_url(f"sqlite:///{tmp_path}/test.db")
    migrate.upgrade(database.engine)
    yield database
    database.dispose()


def shipped_points() -> dict[str, Any]:
    data = yaml.safe_load((files("config") / "points.yaml").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def settings_with_points(override: dict[str, Any]) -> Settings:
    """The test settings with ``override`` merged over the shipped points section, as a
    city's config file would be."""
    data = copy.deepcopy(SETTINGS)
    data["points"] = deep_merge(shipped_points(), override)
    return Settings.model_validate(data)


@pytest.fixture
def points_config() -> dict[str, Any] | None:
    """Overrides of the shipped points rules (``{}``: the rules as shipped) for the tests of
    a module that sets it, or one case of a parametrize; None: the test settings as they are."""
    return None


@pytest.fixture
def settings(points_config: dict[str, Any] | None) -> Settings:
    if points_config is None:
        return Settings.model_validate(SETTINGS)
    return settings_with_points(points_config)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2026, 11, 22, 9, 0, tzinfo=TZ))


@pytest.fixture
def sender() -> RecordingSender:
    return RecordingSender()


@pytest.fixture
async def app(
    settings: Settings,
    clock: ManualClock,
    sqlite_db: Database,
    sender: RecordingSender,
    classifier: Classifier,
) -> AsyncIterator[App]:
    """The bot on the test settings, started (its scheduler stepped by ``clock``)."""
    started = build_app(settings, clock=clock, db=sqlite_db, sender=sender, classifier=classifier)
    await started.start()
    yield started
    started.stop()


@pytest.fixture
def chat(app: App, clock: ManualClock, sender: RecordingSender) -> Chat:
    return Chat(app, clock, sender)


# --- classification: jieba's dictionary loads once per session (about a second) ---


@pytest.fixture(scope="session")
def shipped_vocabulary_data() -> dict[str, Any]:
    """config/categories.yaml as parsed YAML; do not mutate (use `vocabulary_data`)."""
    text = (files("config") / "categories.yaml").read_text(encoding="utf-8")
    data = yaml.safe_load(text)
    assert isinstance(data, dict)
    return data


@pytest.fixture
def vocabulary_data(shipped_vocabulary_data: dict[str, Any]) -> dict[str, Any]:
    """A private copy of the shipped YAML data, for tests that break it on purpose."""
    return copy.deepcopy(shipped_vocabulary_data)


@pytest.fixture(scope="session")
def vocabulary(shipped_vocabulary_data: dict[str, Any]) -> Vocabulary:
    return Vocabulary.model_validate(shipped_vocabulary_data)


@pytest.fixture(scope="session")
def jieba_cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("jieba-cache")


@pytest.fixture(scope="session")
def classifier(vocabulary: Vocabulary, jieba_cache_dir: Path) -> Classifier:
    """A Classifier on the shipped categories.yaml, shared by the whole session."""
    return Classifier(vocabulary, cache_dir=jieba_cache_dir)


@pytest.fixture(scope="session")
def learned_classifier(vocabulary: Vocabulary, jieba_cache_dir: Path) -> Classifier:
    """The shipped classifier with the model the shipped config uses (config/models)."""
    model = read_model(Path(str(files("config") / "models")), "v3")
    return Classifier(vocabulary, cache_dir=jieba_cache_dir, model=model)


@pytest.fixture
async def learned_chat(
    settings: Settings,
    clock: ManualClock,
    sqlite_db: Database,
    sender: RecordingSender,
    learned_classifier: Classifier,
) -> AsyncIterator[Chat]:
    """A chat with the bot on the test settings and the learned classifier."""
    app = build_app(
        settings, clock=clock, db=sqlite_db, sender=sender, classifier=learned_classifier
    )
    await app.start()
    yield Chat(app, clock, sender)
    app.stop()


# --- the Node puppet-service gateway (tests/gateway) for the WeChat integration tests ---


@pytest.fixture(scope="session")
def gateway_ready() -> None:
    """Node.js and the gateway's npm packages (installed from the lock file if missing).

    Skips only when Node.js or npm is absent; a failing `npm ci` is an error.
    """
    try:
        harness.check_node()
    except harness.GatewayUnavailable as exc:
        pytest.skip(f"the WeChat gateway tests need Node.js: {exc}")
    if not harness.node_modules_installed() and shutil.which("npm") is None:
        pytest.skip("the WeChat gateway tests need npm to install tests/gateway/node_modules")
    harness.ensure_node_modules()


@pytest.fixture
async def gateway(gateway_ready: None) -> AsyncIterator[harness.Gateway]:
    """A running gateway on 127.0.0.1 with the default fixture world (幸福社区第3网格 with
    张阿姨, 王大爷 and 李网格长; 幸福社区指挥中心; 广场舞爱好者, a group in no grid), stopped
    (its node process gone) after the test."""
    gw = harness.Gateway()
    await gw.start()
    try:
        yield gw
    finally:
        await gw.stop()


@pytest.fixture
def training_data(tmp_path: Path) -> Path:
    """A small labelled data folder for `gridbot train` (tests/auxil/training_data.py)."""
    return write_training_data(tmp_path / "data")


# --- the web console (web/) ---


@pytest.fixture
def audit_log(caplog: pytest.LogCaptureFixture) -> AuditLog:
    """What is logged on gridbot.audit (the console's and commands' record) from now on."""
    caplog.set_level(logging.INFO, "gridbot.audit")
    return lambda: [r.getMessage() for r in caplog.records if r.name == "gridbot.audit"]


@pytest.fixture(scope="module")
def port() -> int:
    """A free port to serve the console on (the browser tests' server)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        free: int = sock.getsockname()[1]
    return free


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    """Where the browser tests' screenshots go: GRIDBOT_SCREENSHOTS=docs/web makes them the
    README's."""
    folder = Path(os.environ.get("GRIDBOT_SCREENSHOTS") or tmp_path / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def web_client(settings: Settings, sqlite_db: Database, clock: ManualClock) -> Iterator[TestClient]:
    """The console on the test settings and database (their grids in it), as a browser at
    its default address sees it; redirects are not followed, so tests see them."""
    add_grids(sqlite_db, settings)
    app = create_app(settings, sqlite_db, clock)
    with TestClient(app, base_url=settings.web.url, follow_redirects=False) as client:
        yield client
