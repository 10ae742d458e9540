"""Helpers for the web console's tests: tickets written straight into the database, and a
login as the link /后台 sends would make it."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient

from bot.settings import Settings
from storage import grids as grid_store
from storage import tickets as ticket_store
from storage import web_auth
from storage.db import Database
from storage.models import Ticket, TicketStatus

CSRF_FIELD = re.compile(r'name="csrf" value="([^"]+)"')

# the `audit_log` fixture: the lines logged on gridbot.audit so far
AuditLog = Callable[[], list[str]]


def add_grids(db: Database, settings: Settings) -> None:
    """The config's grids in the database, as the bot writes them at its start."""
    with db.session() as session:
        grid_store.sync_grids(
            session=session,
            specs=(
                grid_store.GridSpec(g.code, g.name, g.room, g.community) for g in settings.grids
            ),
        )
        session.commit()


def add_ticket(db: Database, at: datetime, **fields: Any) -> Ticket:
    """A ticket as the bot opens one (its "created" event and first reporter with it);
    ``fields`` over a resident's lamp in G03, due a day later."""
    values: dict[str, Any] = {
        "grid_code": "G03",
        "reporter_id": "wxid_resident_zhang",
        "reporter_name": "张阿姨",
        "text": "3栋楼道灯坏了",
        "category": "facility",
        "created_at": at,
        "due_at": at + timedelta(days=1),
        "status": TicketStatus.OPEN,
    } | fields
    with db.session() as session:
        ticket = ticket_store.create(session=session, ticket=Ticket(**values))
        session.commit()
        return ticket


def login_link(db: Database, contact_id: str, now: datetime) -> str:
    """The path of a fresh login link for ``contact_id`` (as /后台 would send)."""
    with db.session() as session:
        token = web_auth.create_login_token(session=session, contact_id=contact_id, now=now)
        session.commit()
    return f"/login/{token}"


def log_in(client: TestClient, db: Database, contact_id: str, now: datetime) -> str:
    """Log ``client`` in as ``contact_id``; the session's CSRF token, read off a page."""
    response = client.post(login_link(db, contact_id, now))
    assert response.status_code == 303, response.text
    page = client.get("/tickets")
    assert page.status_code == 200, page.text
    found = CSRF_FIELD.search(page.text)
    assert found is not None
    return found.group(1)
