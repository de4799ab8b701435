"""The CLI offers every command, the local ones registered from switchboard_local by entry point."""

from __future__ import annotations

import argparse
from importlib.metadata import entry_points

from switchboard import cli


def _commands(parser: argparse.ArgumentParser) -> list[str]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return list(action.choices)
    return []


def test_the_local_commands_are_registered_through_the_entry_point_group() -> None:
    registered = {entry.value for entry in entry_points(group=cli.COMMANDS_GROUP)}
    assert registered == {"switchboard_local.commands:register"}


def test_the_parser_has_the_operator_and_the_local_commands_in_order() -> None:
    assert _commands(cli.build_parser()) == ["forward", "pool", "dev", "slack", "call", "demo"]
