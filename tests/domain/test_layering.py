"""domain/ sits below both faces: it imports neither the chat's handlers and runtime context
nor the web, so the web can call it without a chat message, and the chat's refactors can't
leak into it."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import domain

DOMAIN = Path(domain.__file__).parent
FORBIDDEN = ("handlers", "web", "bot.context", "bot.dispatcher", "bot.app", "bot.scheduler")


def imported(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module is not None:
            names.add(node.module)
            # `from bot import context` imports bot.context
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def forbidden(name: str) -> bool:
    return any(name == f or name.startswith(f + ".") for f in FORBIDDEN)


def test_no_domain_module_imports_a_face_or_the_chat_runtime() -> None:
    modules = sorted(DOMAIN.glob("*.py"))
    assert DOMAIN / "tickets.py" in modules
    found = {p.name: sorted(n for n in imported(p) if forbidden(n)) for p in modules}
    assert {name: bad for name, bad in found.items() if bad} == {}


def test_the_check_sees_a_forbidden_import() -> None:
    assert forbidden("handlers.ticket_access")
    assert forbidden("bot.context")
    assert not forbidden("bot.contexts")
    assert not forbidden("bot.events")


def test_importing_the_domain_loads_no_face_nor_the_chat_runtime() -> None:
    """Also what the domain imports through others (bot.settings, storage, nlp)."""
    modules = [f"domain.{p.stem}" for p in sorted(DOMAIN.glob("*.py")) if p.stem != "__init__"]
    code = (
        "import importlib, sys\n"
        f"for m in {modules!r}: importlib.import_module(m)\n"
        "print('\\n'.join(sorted(sys.modules)))\n"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=DOMAIN.parent,
    ).stdout.split()
    assert "domain.tickets" in loaded
    assert [name for name in loaded if forbidden(name)] == []
