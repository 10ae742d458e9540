"""The figures of /统计 and of the web console's 统计 page, by their documented definitions."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlmodel import Session

from bot.settings import Settings
from domain.actor import actor_for
from domain.errors import NotAllowed
from domain.ticket_stats import figures, percent, period_start, report, worst_grids
from storage import tickets as ticket_store
from storage.db import Database
from storage.grids import GridSpec, sync_grids
from storage.models import Ticket, TicketStatus
from storage.tickets import TicketFacts
from tests.conftest import TZ

T0 = datetime(2026, 11, 2, 9, tzinfo=UTC)


def fact(
    status: str,
    *,
    resolved_after: float | None = None,
    due_after: float = 48,
    rating: str | None = None,
    category: str = "facility",
    reopened: int = 0,
) -> TicketFacts:
    resolved = T0 + timedelta(hours=resolved_after) if resolved_after is not None else None
    return TicketFacts(
        "G03", category, status, T0, T0 + timedelta(hours=due_after), resolved, rating, reopened
    )


def test_figures_follow_the_documented_definitions() -> None:
    f = figures(
        [
            fact("archived", resolved_after=10, rating="satisfied"),
            fact("archived", resolved_after=60, rating="none"),  # late, never rated
            fact("resolved", resolved_after=20, category="environment", reopened=2),
            fact("assigned"),
            fact("dismissed"),
            fact("open", rating="unsatisfied", reopened=1),  # reopened after 不满意
        ]
    )
    assert (f.accepted, f.done, f.working, f.dismissed) == (6, 3, 2, 1)
    assert f.done_rate == 3 / 5
    assert f.on_time_rate == 2 / 3
    assert f.hours_to_resolve == 30
    assert (f.rated, f.satisfied, f.satisfaction) == (2, 1, 0.5)
    assert f.by_category == {"facility": 5, "environment": 1}
    assert f.reopened == 2  # tickets, not times


def test_rates_of_nothing_are_shown_as_a_dash() -> None:
    f = figures([fact("dismissed")])
    assert (f.done_rate, f.on_time_rate, f.satisfaction) == (None, None, None)
    assert percent(None) == "—"
    assert percent(2 / 3) == "66.7%"


def test_periods_start_on_monday_and_the_first() -> None:
    now = datetime(2026, 11, 22, 15, 30, tzinfo=TZ)  # a Sunday
    assert period_start(now, "本周") == (datetime(2026, 11, 16, tzinfo=TZ), "本周")
    assert period_start(now, "") == (datetime(2026, 11, 1, tzinfo=TZ), "本月")


def test_the_worst_grids_resolve_least() -> None:
    done = figures([fact("archived", resolved_after=10)])
    half = figures([fact("archived", resolved_after=10), fact("open")])
    half_late = figures([fact("archived", resolved_after=60), fact("open")])
    nothing = figures([fact("dismissed")])  # nothing to resolve: no rate to rank by
    ranked = worst_grids({"A": done, "B": half, "C": half_late, "D": nothing}, 2)
    assert [code for code, _f in ranked] == ["C", "B"]


@pytest.fixture
def session(sqlite_db: Database) -> Iterator[Session]:
    """G03: two tickets the week of 11-16 (one resolved on time), one of 11-23 (another
    category); G04: one of 11-16. Times are local (Shanghai)."""
    with sqlite_db.session() as s:
        sync_grids(session=s, specs=[GridSpec("G03", "三", "三群"), GridSpec("G04", "四", "四群")])
        for grid, day, category, status in (
            ("G03", 16, "facility", TicketStatus.RESOLVED),
            ("G03", 22, "facility", TicketStatus.OPEN),
            ("G03", 23, "environment", TicketStatus.OPEN),
            ("G04", 17, "facility", TicketStatus.OPEN),
        ):
            # 00:30 local is the day before in UTC: the week is the grids' own
            at = datetime(2026, 11, day, 0, 30, tzinfo=TZ)
            ticket_store.create(
                session=s,
                ticket=Ticket(
                    grid_code=grid,
                    reporter_id="wxid_a",
                    reporter_name="A",
                    text="路灯坏了",
                    category=category,
                    status=status,
                    created_at=at,
                    due_at=at + timedelta(days=1),
                    resolved_at=at + timedelta(hours=5)
                    if status == TicketStatus.RESOLVED
                    else None,
                ),
            )
        s.commit()
        yield s


def test_a_report_per_grid_category_and_week(session: Session, settings: Settings) -> None:
    admin = actor_for(session, settings, "wxid_street_admin")
    assert admin is not None
    start, end = datetime(2026, 11, 9, tzinfo=TZ), datetime(2026, 11, 24, tzinfo=TZ)
    found = report(session, settings, admin, start, end)
    assert found.total.accepted == 4
    assert {code: f.accepted for code, f in found.grids.items()} == {"G03": 3, "G04": 1}
    assert {code: f.accepted for code, f in found.categories.items()} == {
        "facility": 3,
        "environment": 1,
    }
    # every week of the period, an empty one too
    assert [(monday, f.accepted, f.done) for monday, f in found.weeks] == [
        (date(2026, 11, 9), 0, 0),
        (date(2026, 11, 16), 3, 1),
        (date(2026, 11, 23), 1, 0),
    ]
    assert report(session, settings, admin, start, end, grid="G04").total.accepted == 1


def test_a_leader_reads_his_grids_figures_only(session: Session, settings: Settings) -> None:
    li = actor_for(session, settings, "wxid_leader_li")  # leads G03
    assert li is not None
    start, end = datetime(2026, 11, 1, tzinfo=TZ), datetime(2026, 12, 1, tzinfo=TZ)
    found = report(session, settings, li, start, end)
    assert (found.total.accepted, list(found.grids)) == (3, ["G03"])
    with pytest.raises(NotAllowed):
        report(session, settings, li, start, end, grid="G04")
