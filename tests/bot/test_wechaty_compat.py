"""bot.wechaty_compat: the Python wechaty SDK imports and works on the running Python."""

from __future__ import annotations

import gc
import importlib
import importlib.util
import logging
import os
import socket
import sys
import tempfile
import warnings
from pathlib import Path

import pytest

from bot import wechaty_compat
from bot.wechaty_compat import WechatyImportError, load_wechaty, reset_object_pools

# The SDK creates its cache folder (CACHE_DIR, default ./.wechaty) on import: not in the repo.
SDK_CACHE_DIR = Path(tempfile.gettempdir()) / "gridbot-wechaty-cache"


def test_load_wechaty_returns_the_module_once() -> None:
    wechaty = load_wechaty(cache_dir=os.environ.get("CACHE_DIR") or SDK_CACHE_DIR)
    assert wechaty is sys.modules["wechaty"]
    assert load_wechaty() is wechaty


def test_names_the_channel_uses_exist() -> None:
    wechaty = load_wechaty()
    for name in (
        "Wechaty",
        "WechatyOptions",
        "Message",
        "Room",
        "Contact",
        "FileBox",
        "UrlLink",
        "MessageType",
        "ScanStatus",
        "WechatyPlugin",
    ):
        assert hasattr(wechaty, name), name
    for member in (
        "MESSAGE_TYPE_TEXT",
        "MESSAGE_TYPE_IMAGE",
        "MESSAGE_TYPE_URL",
        "MESSAGE_TYPE_ATTACHMENT",
        "MESSAGE_TYPE_AUDIO",
        "MESSAGE_TYPE_VIDEO",
        "MESSAGE_TYPE_UNSPECIFIED",
    ):
        assert hasattr(wechaty.MessageType, member), member
    for method in ("start", "stop", "init_puppet", "init_puppet_event_bridge", "user_self"):
        assert callable(getattr(wechaty.Wechaty, method)), method
    for method in ("say", "room", "talker", "text", "type", "is_self", "mention_list"):
        assert callable(getattr(wechaty.Message, method)), method
    for method in ("say", "topic", "member_list", "alias", "find", "find_all", "load"):
        assert callable(getattr(wechaty.Room, method)), method

    puppet = importlib.import_module("wechaty_puppet")
    assert issubclass(puppet.WechatyPuppetConfigurationError, puppet.WechatyPuppetError)
    service = importlib.import_module("wechaty_puppet_service")
    assert hasattr(service, "PuppetService")
    grpc_errors = importlib.import_module("grpclib.exceptions")
    assert hasattr(grpc_errors, "GRPCError")
    assert hasattr(grpc_errors, "StreamTerminatedError")


def test_options_can_be_built() -> None:
    wechaty = load_wechaty()
    puppet = importlib.import_module("wechaty_puppet")
    options = wechaty.WechatyOptions(
        puppet_options=puppet.PuppetOptions(end_point="127.0.0.1:1", token="t"),
        host="127.0.0.1",
    )
    assert options.puppet_options.token == "t"
    assert hash(puppet.PuppetOptions()) is not None  # fix 1


def test_telnetlib_stand_in_is_not_left_behind() -> None:
    load_wechaty()
    loaded = sys.modules.get("telnetlib")  # absent, or the real module if imported elsewhere
    assert loaded is None or loaded.Telnet is not wechaty_compat._TelnetStandIn


def test_ping_endpoint_works_and_closes_its_socket() -> None:
    load_wechaty()
    utils = importlib.import_module("wechaty_puppet_service.utils")
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            assert utils.ping_endpoint(f"127.0.0.1:{port}") is True
            gc.collect()
    assert utils.ping_endpoint(f"127.0.0.1:{port}") is False  # nothing listens any more


def test_serialising_a_file_box_emits_no_warning() -> None:
    wechaty = load_wechaty()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        file_box = wechaty.FileBox.from_base64(b"aGVsbG8=", name="a.png")
        assert '"boxType": 1' in file_box.to_json_str()  # fix 3


def test_too_new_dependencies_are_explained() -> None:
    pyee = ImportError("cannot import name 'AsyncIOEventEmitter' from 'pyee'")
    urllib3 = ImportError("cannot import name 'get_host' from 'urllib3'")
    for error, pin in ((pyee, "pyee<9"), (urllib3, "urllib3<2")):
        explained = wechaty_compat._explain(error)
        assert isinstance(explained, WechatyImportError)
        assert pin in str(explained)
    assert wechaty_compat._explain(ImportError("cannot import name 'x' from 'y'")) is None


def test_a_missing_sdk_is_explained_with_the_readmes_install_command(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Issue 18 item 8: the hint said `pip install 'gridbot[wechat]'`, which fetches whatever
    an index holds under that name."""
    hint = "run `pip install -e '.[wechat]'` in GridBot's folder"
    for name in ("wechaty", "pyee"):  # the SDK, or one of the dependencies its extra pins
        missing = ModuleNotFoundError(f"No module named {name!r}", name=name)
        explained = wechaty_compat._explain(missing)
        assert isinstance(explained, WechatyImportError)
        assert hint in str(explained)
    assert wechaty_compat.missing_sdk() is None  # installed here
    monkeypatch.setitem(sys.modules, "wechaty_puppet_service", None)  # as if it were not
    assert wechaty_compat.missing_sdk() == (
        f"the wechaty SDK is not installed (no module 'wechaty_puppet_service'): {hint} "
        "(the `wechat` extra)"
    )


def test_reset_object_pools() -> None:
    wechaty = load_wechaty()
    wechaty.Room._pool["x@chatroom"] = object()
    wechaty.Contact._pool["wxid_x"] = object()
    reset_object_pools()
    assert "x@chatroom" not in wechaty.Room._pool
    assert "wxid_x" not in wechaty.Contact._pool


@pytest.mark.skipif(sys.version_info < (3, 13), reason="telnetlib exists before 3.13")
def test_no_telnetlib_on_313() -> None:
    load_wechaty()
    assert importlib.util.find_spec("telnetlib") is None


def test_sdk_logs_go_through_the_application_with_the_token_masked(
    caplog: pytest.LogCaptureFixture,
) -> None:
    load_wechaty(cache_dir=os.environ.get("CACHE_DIR") or SDK_CACHE_DIR)
    wechaty_compat.route_sdk_logging(logging.WARNING, secrets=["s3cret-token"])
    sdk_logger = logging.getLogger("PuppetService")
    assert sdk_logger.handlers == []
    assert sdk_logger.propagate
    with caplog.at_level(logging.INFO):
        sdk_logger.info("receive message info")  # below the level given: dropped
        sdk_logger.warning("there are endpoint<%s> and token<%s>", "gw:1", "s3cret-token")
    assert [r.getMessage() for r in caplog.records if r.name == "PuppetService"] == [
        "there are endpoint<gw:1> and token<***>"
    ]
    # Again with another account's secret: one filter, masking both.
    wechaty_compat.route_sdk_logging(logging.ERROR, secrets=["other"])
    assert len(sdk_logger.filters) == 1
    assert sdk_logger.level == logging.ERROR
    caplog.clear()
    sdk_logger.error("tokens <%s> <%s>", "s3cret-token", "other")
    assert [r.getMessage() for r in caplog.records if r.name == "PuppetService"] == [
        "tokens <***> <***>"
    ]


def test_own_object_pools_keep_each_instances_objects_apart() -> None:
    wechaty = load_wechaty()
    user = importlib.import_module("wechaty.user")

    class Bot:  # as Wechaty.init_puppet() binds them: a subclass of each per instance
        def __init__(self) -> None:
            for name in ("Contact", "ContactSelf", "Room", "Tag"):
                setattr(self, name, type(name, (getattr(user, name),), {}))

    first, second = Bot(), Bot()
    for bot in (first, second):
        wechaty_compat.own_object_pools(bot)
    first.Room._pool["x@chatroom"] = "first's"  # type: ignore[attr-defined]
    first.Contact._pool["wxid_x"] = "first's"  # type: ignore[attr-defined]
    assert "x@chatroom" not in second.Room._pool  # type: ignore[attr-defined]
    assert "wxid_x" not in second.Contact._pool  # type: ignore[attr-defined]
    assert "wxid_x" not in second.ContactSelf._pool  # type: ignore[attr-defined]
    assert "x@chatroom" not in wechaty.Room._pool
    pool = first.Room._pool  # type: ignore[attr-defined]
    wechaty_compat.own_object_pools(first)  # again: the pools it has are kept
    assert first.Room._pool is pool  # type: ignore[attr-defined]


def test_forget_room_payloads() -> None:
    class Room:
        def __init__(self, payload: object) -> None:
            self._payload = payload

    rooms = [Room({"topic": "旧群名"}), Room(None)]
    wechaty_compat.forget_room_payloads(rooms)
    assert [room._payload for room in rooms] == [None, None]
