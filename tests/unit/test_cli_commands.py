"""The CLI offers every command, the local ones registered from switchboard_local by entry point."""

from __future__ import annotations

import argparse
from importlib.metadata import entry_points

import pytest

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


def _sub(parser: argparse.ArgumentParser, *names: str) -> argparse.ArgumentParser:
    for name in names:
        subcommands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        parser = subcommands.choices[name]
    return parser


def test_the_help_names_both_backends() -> None:
    text = cli.build_parser().description or ""
    assert "Amazon Chime SDK" in text
    assert "Amazon Connect" in text


def test_forward_set_help_says_what_each_choice_does_not_only_its_default() -> None:
    text = " ".join(_sub(cli.build_parser(), "forward", "set").format_help().split())
    assert "while it rings" in text  # --greeting
    assert "when nobody answers" in text  # --failure
    assert "prompt: the failure message" in text
    assert "what the destination sees" in text  # --caller-id
    assert "one of our numbers" in text  # OUR_NUMBER


@pytest.mark.parametrize("option", ["--talk", "--ring", "--caller-hangs-up-after", "--transfer-at"])
def test_a_negative_call_time_is_refused_saying_so(option: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(["call", "+12025550100", option, "-5"])
    assert exited.value.code == 2
    assert f"argument {option}: -5 seconds: a time in the call cannot be negative" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "suggestion"),
    [
        (["froward", "list"], "did you mean 'forward'?"),
        (["forward", "sett", "+12025550100"], "did you mean 'set'?"),
    ],
)
def test_a_mistyped_command_gets_a_suggestion(
    argv: list[str], suggestion: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(argv)
    assert exited.value.code == 2
    assert suggestion in capsys.readouterr().err


def test_call_help_covers_amazon_connect_numbers_and_states_its_defaults() -> None:
    text = " ".join(_sub(cli.build_parser(), "call").format_help().split())
    assert (
        "Amazon Connect" in text.split("positional arguments")[0]
    )  # the description, not only --transfer-via
    assert "talk time before the callee hangs up (default 20)" in text
    assert "ring time before a destination answers (default 4)" in text
    assert "OUR_NUMBER one of our numbers" in text


def test_every_number_argument_says_which_number_it_wants() -> None:
    parser = cli.build_parser()
    remove = " ".join(_sub(parser, "forward", "remove").format_help().split())
    assert "OUR_NUMBER one of our numbers" in remove
    pool_add = " ".join(_sub(parser, "pool", "add").format_help().split())
    assert "SMA_NUMBER one of our numbers on the SIP media application" in pool_add
    assert "CONNECT_NUMBER a number claimed in Amazon Connect" in pool_add


def test_an_option_value_with_a_space_is_shown_quoted(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(["forward", "set", "+12025550100", "+12065550111", "--expires", "2", "hours"])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert "unrecognized arguments: hours" in err
    assert """did you mean --expires "2 hours"?""" in err


def test_a_destination_after_the_options_gets_no_quoting_hint(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli.main(["forward", "set", "+12025550100", "+12065550111", "--greeting", "once", "206-555-0122"])
    assert "did you mean" not in capsys.readouterr().err
