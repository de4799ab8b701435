"""The /forward grammar: every subcommand, options in any order, Slack's link markup, bad input."""

from __future__ import annotations

import pytest

from bot.commands import (
    USAGE,
    CommandSyntaxError,
    ListForwards,
    ListLiveCalls,
    OpenModal,
    RemoveForward,
    SetForward,
    ShowHelp,
    ShowStatus,
    TransferCall,
    parse,
    split_destinations,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", OpenModal()),
        ("   ", OpenModal()),
        ("help", ShowHelp()),
        ("HELP", ShowHelp()),
        ("list", ListForwards()),
        ("List", ListForwards()),
        ("status +12025550100", ShowStatus("+12025550100")),
        ("remove (202) 555-0100", RemoveForward("(202) 555-0100")),
        ("OFF 202.555.0100", RemoveForward("202.555.0100")),
        ("calls", ListLiveCalls()),
        ("transfer +12025550100 to +13125550199", TransferCall("+12025550100", "+13125550199")),
        ("Transfer (202) 555-0100 TO (312) 555-0199", TransferCall("(202) 555-0100", "(312) 555-0199")),
        ("transfer 3f2a9c1e-77aa to sip:agent-7", TransferCall("3f2a9c1e-77aa", "sip:agent-7")),
        (
            "transfer <tel:+12025550100|+1 202-555-0100> to +13125550199",
            TransferCall("+1 202-555-0100", "+13125550199"),
        ),
    ],
)
def test_simple_subcommands(text: str, expected: object) -> None:
    assert parse(text) == expected


def test_full_set_command_with_every_option() -> None:
    command = parse(
        "+12025550100 to +12065550111, +13125550122 for 2h greeting once then hangup callerid caller "
        "timeout 20"
    )
    assert command == SetForward(
        number="+12025550100",
        destinations=("+12065550111", "+13125550122"),
        expires_in="2h",
        greeting="once",
        failure="hangup",
        caller_id="caller",
        ring_timeout=20,
    )


def test_options_in_any_order_and_case() -> None:
    command = parse("(202) 555-0100 TO 206 555 0111 Greeting NONE For 30m Caller-ID dialed")
    assert isinstance(command, SetForward)
    assert command.number == "(202) 555-0100"
    assert command.destinations == ("206 555 0111",)
    assert (command.greeting, command.expires_in, command.caller_id) == ("NONE", "30m", "dialed")


def test_then_separates_destinations_unless_it_names_the_failure_action() -> None:
    command = parse("+12025550100 to +12065550111 then +13125550122 then hang up")
    assert isinstance(command, SetForward)
    assert command.destinations == ("+12065550111", "+13125550122")
    assert command.failure == "hangup"


def test_slack_phone_links_are_unwrapped() -> None:
    command = parse("<tel:+12025550100|+1 202 555 0100> to <tel:+12065550111|(206) 555-0111>")
    assert isinstance(command, SetForward)
    assert command.number == "+1 202 555 0100"
    assert command.destinations == ("(206) 555-0111",)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("+1206 555 0111, +1312 555 0122", ("+1206 555 0111", "+1312 555 0122")),
        ("+12065550111 +13125550122", ("+12065550111", "+13125550122")),
        ("206-555-0111 and 312-555-0122; 404-555-0133", ("206-555-0111", "312-555-0122", "404-555-0133")),
    ],
)
def test_destination_lists(text: str, expected: tuple[str, ...]) -> None:
    assert split_destinations(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("frobnicate", "I don't understand"),
        ("remove", "needs one of our numbers"),
        ("status", "needs one of our numbers"),
        ("list everything", "takes no arguments"),
        ("+12025550100 to +12065550111 for", "`for` needs a value"),
        ("+12025550100 to +12065550111 timeout soon", "number of seconds"),
        ("+12025550100 to +12065550111 greeting once greeting none", "given twice"),
        ("+12025550100 to for 2h", "say where to forward to"),
        ("transfer", "say which call and where to"),
        ("transfer +12025550100", "say which call and where to"),
        ("transfer to +13125550199", "say which call and where to"),
        ("transfer +12025550100 to sip:a or sip:b", "one target"),
        ("calls now", "takes no arguments"),
    ],
)
def test_bad_input_says_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(CommandSyntaxError, match=message):
        parse(text)


def test_usage_mentions_every_subcommand() -> None:
    for word in (
        "/forward remove",
        "/forward list",
        "/forward status",
        "/forward help",
        "/forward calls",
        "/forward transfer",
        "sip:<user>",
        "for 2h",
        "greeting",
    ):
        assert word in USAGE


@pytest.mark.parametrize(
    ("text", "failure", "longest"),
    [
        ("+12025550100 to +12065550111 then voicemail", "voicemail", None),
        ("+12025550100 to +12065550111 then voicemail 90s", "voicemail", 90),
        ("+12025550100 to +12065550111 then Voice Mail up to 2m timeout 20", "voicemail", 120),
        ("+12025550100 to +12065550111 then +13125550122 then voicemail 45 seconds", "voicemail", 45),
    ],
)
def test_then_voicemail_takes_an_optional_length(text: str, failure: str, longest: int | None) -> None:
    command = parse(text)

    assert isinstance(command, SetForward)
    assert (command.failure, command.voicemail_max_seconds) == (failure, longest)


def test_a_voicemail_length_that_is_not_a_length_says_so() -> None:
    with pytest.raises(CommandSyntaxError, match="optional length like `90s`"):
        parse("+12025550100 to +12065550111 then voicemail forever")
