from __future__ import annotations

import httpx
import pytest

from bot.clock import ManualClock
from bot.settings import Settings
from storage.db import Database
from web.serve import bind, serving


async def test_serves_on_the_running_loop_and_stops(
    settings: Settings, sqlite_db: Database, clock: ManualClock
) -> None:
    sock = bind("127.0.0.1", 0)
    port = sock.getsockname()[1]
    async with serving(settings, sqlite_db, clock, sock):
        async with httpx.AsyncClient() as client:
            response = await client.get(f"http://127.0.0.1:{port}/")
        assert response.status_code == 200
        assert "指挥中心后台" in response.text
        assert "server" not in response.headers  # no uvicorn banner
    with pytest.raises(httpx.ConnectError):
        async with httpx.AsyncClient() as client:
            await client.get(f"http://127.0.0.1:{port}/")
    assert sock.fileno() == -1  # closed


def test_a_port_taken_is_said_not_a_crash() -> None:
    taken = bind("127.0.0.1", 0)
    try:
        with pytest.raises(OSError, match="in use"):
            bind("127.0.0.1", taken.getsockname()[1])
    finally:
        taken.close()


def test_a_host_name_is_bound_as_its_address() -> None:
    sock = bind("localhost", 0)
    try:
        assert sock.getsockname()[0] in ("::1", "127.0.0.1")
    finally:
        sock.close()
