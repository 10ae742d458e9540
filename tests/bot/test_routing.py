from __future__ import annotations

import pytest

from bot.context import Context
from bot.routing import Role, Router, Scope


async def noop(ctx: Context) -> None:
    return None


def test_command_registration_keeps_rights_and_help_text() -> None:
    router = Router("r")
    router.command("派单", "指派", role=Role.LEADER, scope=Scope.GROUP, usage="/派单 12 @人",
                   summary="指派工单")(noop)  # fmt: skip
    [spec] = router.handlers
    assert spec.command is not None
    assert spec.command.name == "派单"
    assert spec.command.names == ("派单", "指派")
    assert (spec.command.role, spec.command.scope) == (Role.LEADER, Scope.GROUP)
    assert spec.block
    assert spec.router == "r"


def test_usage_defaults_to_the_command() -> None:
    router = Router("r")
    router.command("帮助", summary="帮助")(noop)
    assert router.handlers[0].command is not None
    assert router.handlers[0].command.usage == "/帮助"


def test_a_command_needs_a_name() -> None:
    with pytest.raises(ValueError, match="name"):
        Router("r").command(summary="x")


def test_message_handlers_keep_priority_block_and_filters() -> None:
    router = Router("r")

    def accepts(ctx: Context) -> bool:
        return True

    router.message(accepts, priority=5, block=False)(noop)
    [spec] = router.handlers
    assert (spec.priority, spec.block, spec.filters) == (5, False, (accepts,))


def test_roles_are_ordered() -> None:
    assert Role.RESIDENT < Role.LEADER < Role.ADMIN
