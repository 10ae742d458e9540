"""bot.channels.wechaty_connection without a gateway: which failures are worth retrying, how
they are reported, the offline state. Against a real gateway:
tests/integration/test_wechaty_channel.py."""

from __future__ import annotations

from types import SimpleNamespace

from grpclib.const import Status
from grpclib.exceptions import GRPCError, StreamTerminatedError

from bot.channels.wechaty_config import WechatyConfig
from bot.channels.wechaty_connection import PuppetConnection, describe, transient


def test_which_failures_are_worth_retrying() -> None:
    assert transient(GRPCError(Status.UNAVAILABLE, "down"))
    assert transient(GRPCError(Status.UNKNOWN, "Error: not logged in\n    at ..."))
    assert not transient(GRPCError(Status.UNKNOWN, "Error: unknown conversation id: x"))
    assert not transient(GRPCError(Status.INVALID_ARGUMENT, "bad"))
    assert transient(ConnectionRefusedError())
    assert transient(TimeoutError())
    assert transient(StreamTerminatedError("Connection lost"))
    assert not transient(ValueError("unknown file_box json object"))


def test_gateway_stack_traces_are_cut_to_their_first_line() -> None:
    error = GRPCError(Status.UNKNOWN, "Error: no payload found for id x\n    at Mocker.f (a.js:1)")
    assert describe(error) == "gRPC UNKNOWN: Error: no payload found for id x"
    assert describe(GRPCError(Status.UNAVAILABLE)) == "gRPC UNAVAILABLE"
    refused = ConnectionRefusedError(111, "refused")
    assert describe(refused) == "ConnectionRefusedError: [Errno 111] refused"


def test_a_new_connection_is_offline() -> None:
    connection = PuppetConnection(
        WechatyConfig(endpoint="127.0.0.1:1", token="t"),
        on_message=lambda message_id: None,
        on_renamed=lambda room_id: None,
        on_online=lambda: None,
    )
    assert not connection.online
    assert connection.self_id is None
    assert connection.state().endswith(" s, 0 failed attempt(s) to connect")
    connection.close()  # nothing to close: fine


def test_logouts_and_the_puppets_errors_are_handed_on() -> None:
    seen: list[tuple[str, str]] = []
    connection = PuppetConnection(
        WechatyConfig(endpoint="127.0.0.1:1", token="t"),
        on_message=lambda message_id: None,
        on_renamed=lambda room_id: None,
        on_online=lambda: None,
        on_logout=lambda reason: seen.append(("logout", reason)),
        on_error=lambda text: seen.append(("error", text)),
    )
    assert not connection.connected
    connection._on_login(SimpleNamespace(contact_id="wxid_bot"))
    assert connection.connected
    assert connection.online
    connection._on_logout(SimpleNamespace(contact_id="wxid_bot", data="kicked out"))
    connection._on_logout(SimpleNamespace(contact_id="wxid_bot"))
    connection._on_error(SimpleNamespace(data="the account is restricted"))
    assert not connection.online
    assert seen == [
        ("logout", "kicked out"),
        ("logout", ""),
        ("error", "the account is restricted"),
    ]
