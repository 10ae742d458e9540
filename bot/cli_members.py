"""`gridbot members [--grid G03]`: everyone the bot has seen in each grid's group, with the
contact id the config's `leaders:` and `workers:` are written with (domain/members.py); the
chat's `/成员` for the IT person."""

from __future__ import annotations

import argparse
import sys
import unicodedata
from typing import TYPE_CHECKING, Any

from bot.cli_args import OpenDatabase, SettingsOf, database_missing, handle_with
from bot.settings import GridSettings, Settings

if TYPE_CHECKING:
    from domain.members import GroupMember

__all__ = ["add_parsers"]

EXIT_OK, EXIT_USAGE = 0, 2

HEADINGS = ("CONTACT ID", "NAME IN GROUP", "ROLE", "LAST SEEN")
NAME_WIDTH = 24  # display columns of a name: one row stays one line


def add_parsers(
    sub: Any, with_db: argparse.ArgumentParser, settings_of: SettingsOf, open_database: OpenDatabase
) -> None:
    members = sub.add_parser(
        "members",
        parents=[with_db],
        help="list everyone the bot has seen in each grid's group, with their contact ids",
        description="For each grid (or the one --grid names), everyone the bot has seen speak "
        "in its group: contact id, name in the group, role, last seen (in the config's "
        "timezone); then the leaders and workers the config names who have not spoken there "
        "(a wrong id looks like this). Copy a contact id into grids[].leaders or "
        "grids[].workers, e.g. {id: wxid_…, name: 李明}.",
    )
    members.add_argument("--grid", metavar="CODE", help="only this grid (e.g. G03)")
    handle_with(members, _run, settings_of, open_database)


def _width(text: str) -> int:
    """Terminal columns ``text`` takes: Chinese characters take two."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _fit(text: str, width: int) -> str:
    """``text`` cut to ``width`` columns (with "…") and padded to them."""
    text = " ".join(text.split())
    if _width(text) > width:
        while _width(text) > width - 1:
            text = text[:-1]
        text += "…"
    return text + " " * (width - _width(text))


def _role(member: GroupMember) -> str:
    from domain.members import Standing

    label = {
        Standing.ADMIN: "admin",
        Standing.LEADER: "leader (config)",
        Standing.LEADER_IN_DB: "leader (database: /设网格长)",
        Standing.WORKER: "worker (config)",
        Standing.RESIDENT: "resident",
    }[member.standing]
    return f"{label}, config name {member.config_name}" if member.config_name else label


def _grids(args: argparse.Namespace, settings: Settings) -> list[GridSettings] | None:
    if args.grid is None:
        return list(settings.grids)
    grid = settings.grid(args.grid) or next(
        (g for g in settings.grids if g.code.lower() == args.grid.lower()), None
    )
    return [grid] if grid is not None else None


def _run(args: argparse.Namespace, settings: Settings, open_database: OpenDatabase) -> int:
    from bot.logs import setup_logging
    from domain.members import group_members

    setup_logging(args.log_level or "WARNING")
    grids = _grids(args, settings)
    if grids is None:
        codes = ", ".join(g.code for g in settings.grids)
        print(f"gridbot members: no grid {args.grid!r} in the config ({codes})", file=sys.stderr)
        return EXIT_USAGE
    if database_missing(settings, "gridbot"):
        return EXIT_USAGE
    db = open_database(settings.database)
    try:
        with db.session() as session:
            listed = [(grid, group_members(session, settings, grid)) for grid in grids]
    finally:
        db.dispose()
    tz = settings.tz
    for i, (grid, people) in enumerate(listed):
        if i:
            print()
        seen = sum(member.last_seen is not None for member in people)
        print(f"{grid.code} {grid.name} (group {grid.room!r}): {seen} member(s) seen")
        if not people:
            continue
        rows = [
            (
                member.contact_id,
                member.display_name if member.display_name is not None else "-",
                _role(member),
                member.last_seen.astimezone(tz).strftime("%Y-%m-%d %H:%M")
                if member.last_seen
                else "never spoke there",
            )
            for member in people
        ]
        id_width = max(_width(h) for h in (HEADINGS[0], *(r[0] for r in rows)))
        role_width = max(_width(h) for h in (HEADINGS[2], *(r[2] for r in rows)))
        widths = (id_width, NAME_WIDTH, role_width)
        for row in (HEADINGS, *rows):
            cells = [_fit(cell, width) for cell, width in zip(row, widths, strict=False)]
            print("  " + "  ".join([*cells, row[3]]).rstrip())
    return EXIT_OK
