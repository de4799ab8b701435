"""``switchboard``: the operator's command line.

It acts on whatever the environment points at (``TABLE_NAME``, ``SIP_MEDIA_APPLICATION_ID``,
boto3 credentials and ``AWS_ENDPOINT_URL*``), exactly like the Lambdas, so the same commands work
against a deployed stack and against ``switchboard dev``.

Exit status: 0 done (including "already so"), 1 the change failed, 2 the input was refused or the
configuration is incomplete (the reason goes to stderr).
"""

from __future__ import annotations

import argparse
import difflib
import getpass
import os
import re
import signal
import sys
import threading
import time
from collections.abc import Sequence
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any, NoReturn

from switchboard.domain.durations import describe_duration
from switchboard.domain.people import SourceKind
from switchboard.domain.rules import (
    DEFAULT_RING_TIMEOUT,
    DEFAULT_VOICEMAIL_SECONDS,
    MAX_VOICEMAIL_SECONDS,
    MIN_VOICEMAIL_SECONDS,
    CallerIdMode,
    FailureAction,
    ForwardRule,
    GreetingMode,
)
from switchboard.ports import StorageError
from switchboard.service import ChangeFailedError, ForwardRequest, RefusedError
from switchboard.settings import ConfigurationError, load
from switchboard.wording import NO_FORWARDS, branch_text, destinations_text, for_cli, rule_details

if TYPE_CHECKING:
    from switchboard.adapters.pool import DynamoDnisPool
    from switchboard.domain.pool import DnisPair
    from switchboard.policy import DestinationPolicy

EXIT_OK, EXIT_FAILED, EXIT_REFUSED = 0, 1, 2

# Entry-point group of the commands other distributions add: each is a callable taking the
# sub-command parsers (``argparse._SubParsersAction``), like Flask's ``flask.commands``.
COMMANDS_GROUP = "switchboard.commands"


def actor() -> str:
    """Who the CLI acts as, in the audit trail (announcements, history, queued transfers)."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


def use_running_stack_if_any() -> None:
    """Without AWS endpoints in the environment, talk to a running ``switchboard dev``, if any."""
    if os.environ.get("AWS_ENDPOINT_URL") or os.environ.get("TABLE_NAME"):
        return
    from switchboard.dev_state import running_stack_env

    env = running_stack_env()
    if env:
        for key, value in env.items():
            os.environ.setdefault(key, value)


NO_STACK = (
    "no local stack is running: start one with `make run` (or set TABLE_NAME, "
    "SIP_MEDIA_APPLICATION_ID and your AWS credentials to use AWS)"
)


def _require_table() -> None:
    """Commands that change or read the table need a running stack or an AWS configuration."""
    use_running_stack_if_any()
    if not os.environ.get("TABLE_NAME"):
        raise ConfigurationError(NO_STACK)


def _service(need_routing: bool) -> Any:
    from switchboard.wiring import forwarding_service

    _require_table()
    return forwarding_service(load(), need_routing=need_routing)


# The slash command's words (`/forward +1… to +1… then voicemail for 2h`) typed at the CLI, and the
# CLI's option for each: "then is not a phone number" would not say what to type instead.
_SLACK_WORDS = {
    "to": "",
    "then": "--failure",
    "for": "--expires",
    "else": "--else-to",
    "greeting": "--greeting",
    "callerid": "--caller-id",
    "timeout": "--timeout",
}


def _slack_words_refusal(destinations: Sequence[str]) -> str | None:
    """Why ``destinations`` look like Slack's syntax, saying what the CLI takes instead; or None."""
    for index, word in enumerate(destinations):
        option = _SLACK_WORDS.get(word.lower())
        if option is None:
            continue
        if not option:
            return "the command line takes no `to`: switchboard forward set OUR_NUMBER DESTINATION…"
        value = destinations[index + 1] if index + 1 < len(destinations) else "…"
        if word.lower() == "else" and value.lower() == "to" and index + 2 < len(destinations):
            value = destinations[index + 2]
        return f"`{word} {value}` is how Slack says it; on the command line use {option} {value}"
    return None


def cmd_forward_set(args: argparse.Namespace) -> int:
    slack_words = _slack_words_refusal(args.destinations)
    if slack_words:
        print(f"switchboard: {slack_words}", file=sys.stderr)
        return EXIT_REFUSED
    service = _service(need_routing=True)
    result = service.set_forward(
        ForwardRequest(
            number=args.number,
            destinations=args.destinations,
            greeting=args.greeting,
            failure=args.failure,
            caller_id=args.caller_id,
            ring_timeout=args.timeout,
            voicemail_max_seconds=args.voicemail_max,
            expires_in=args.expires,
            hours=args.hours,
            timezone=args.timezone,
            else_destinations=args.else_to,
        ),
        actor=actor(),
    )
    print(result.message)  # the rule's summary says when it expires
    replaced = _people(result.old) if result.old is not None and result.changed else ""
    if replaced:
        # The CLI takes numbers only: a forward that named Slack people now names none.
        print(
            f"  note: this replaces the Slack people the forward named ({replaced}); it now rings these "
            "numbers only and is no longer kept in sync with Slack"
        )
    for step in result.routing_steps:
        print(f"  routing: {step}")
    return EXIT_OK


def _people(rule: ForwardRule) -> str:
    """``@sre-oncall (alice, bob), @carol``: the Slack people a forward names, or ""."""
    named = [source for source in (*rule.sources, *rule.else_sources) if source.is_person]
    return ", ".join(
        f"{source.handle} ({', '.join(p.name or p.user_id for p in source.people)})"
        if source.kind is SourceKind.GROUP
        else source.handle
        for source in named
    )


def cmd_forward_remove(args: argparse.Namespace) -> int:
    result = _service(need_routing=True).remove_forward(args.number, actor=actor())
    print(result.message)
    for step in result.routing_steps:
        print(f"  routing: {step}")
    return EXIT_OK


def cmd_forward_list(args: argparse.Namespace) -> int:
    rules = _service(need_routing=False).list_forwards()
    if not rules:
        print(NO_FORWARDS)
        return EXIT_OK
    # The same words as Slack's list: number → destinations, then options and expiry.
    for rule in rules:
        print(f"{rule.number} → {destinations_text(rule)}")
        print(f"    {rule_details(rule)}")
        if rule.hours is not None:
            print(f"    {branch_text(rule)}")
        if rule.names_people:
            print(f"    from Slack: {_people(rule)}")
    return EXIT_OK


def _pool() -> tuple[DynamoDnisPool, DestinationPolicy]:
    """The DNIS pool and the number policy the environment points at."""
    from switchboard.adapters.pool import DynamoDnisPool
    from switchboard.wiring import dynamodb_client, policy_for

    _require_table()
    settings = load()
    pool = DynamoDnisPool(
        dynamodb_client(), settings.table_name, stale_after_seconds=settings.dnis_claim_stale_seconds
    )
    return pool, policy_for(settings)


def _pool_pair(policy: DestinationPolicy, sma_number: str, connect_number: str) -> DnisPair:
    from switchboard.domain.pool import checked_pair

    return checked_pair(policy.our_number(sma_number), policy.our_number(connect_number))


def cmd_pool_add(args: argparse.Namespace) -> int:
    pool, policy = _pool()
    try:
        pair = _pool_pair(policy, args.sma_number, args.connect_number)
    except ValueError as error:  # not a number, or not a pair
        print(f"switchboard: {error}", file=sys.stderr)
        return EXIT_REFUSED
    if pool.add(pair):
        print(f"Added DNIS pair {pair} (free).")
    else:
        print(f"DNIS pair {pair} is already in the pool; left as it is.")
    return EXIT_OK


def cmd_pool_list(args: argparse.Namespace) -> int:
    from switchboard.domain.pool import is_stale

    pool, _ = _pool()
    entries = pool.list_pairs()
    if not entries:
        print("The DNIS pool is empty. Add pairs with: switchboard pool add <sma-number> <connect-number>")
        return EXIT_OK
    now_ms = int(time.time() * 1000)
    header = ("sma number", "connect number", "state", "age", "caller")
    print("{:<16}  {:<16}  {:<7}  {:<10}  {:<16}  transaction".format(*header))
    stale = 0
    for entry in entries:
        claim = entry.claim
        if claim is None:
            state, age, caller, transaction = "free", "-", "-", "-"
        else:
            state = "claimed"
            age = describe_duration(int(claim.age_seconds(now_ms)))
            if is_stale(claim.claimed_at, now_ms, pool.stale_after_seconds):
                age += " (stale)"
                stale += 1
            caller, transaction = claim.original_calling_number or "(withheld)", claim.transaction_id
        print(
            f"{entry.pair.sma_number:<16}  {entry.pair.connect_number:<16}  {state:<7}  {age:<10}  "
            f"{caller:<16}  {transaction}"
        )
    free = sum(1 for entry in entries if entry.free)
    summary = f"{len(entries)} pairs: {free} free, {len(entries) - free} claimed"
    if stale:
        summary += f" ({stale} stale: reclaimable by the next call when no pair is free)"
    print(summary)
    return EXIT_OK


def cmd_pool_release(args: argparse.Namespace) -> int:
    from switchboard.domain.pool import PairNotFoundError

    pool, policy = _pool()
    try:
        pair = _pool_pair(policy, args.sma_number, args.connect_number)
        dropped = pool.force_release(pair)
    except (ValueError, PairNotFoundError) as error:
        print(f"switchboard: {error}", file=sys.stderr)
        return EXIT_REFUSED
    if dropped is None:
        print(f"DNIS pair {pair} was already free.")
    else:
        now_ms = int(time.time() * 1000)
        held = describe_duration(int(dropped.age_seconds(now_ms)))
        print(f"Released DNIS pair {pair} (held by call {dropped.transaction_id} for {held}).")
    return EXIT_OK


_INVALID_CHOICE = re.compile(r"invalid choice: '(?P<typed>[^']*)' \(choose from (?P<choices>.*)\)")


class _Parser(argparse.ArgumentParser):
    """argparse, plus "did you mean 'set'?" after a mistyped command (Python 3.14 has its own)."""

    def error(self, message: str) -> NoReturn:
        invalid = _INVALID_CHOICE.search(message)
        if invalid:
            # Quoted up to Python 3.12, bare from 3.13 on.
            choices = [choice.strip("'") for choice in invalid["choices"].split(", ")]
            close = difflib.get_close_matches(invalid["typed"], choices, n=1)
            if close:
                message += f"; did you mean '{close[0]}'?"
        super().error(message)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="switchboard",
        description="Forward calls to our numbers (Amazon Chime SDK SIP media application or Amazon "
        "Connect); run the local stack.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    forward = commands.add_parser("forward", help="set, remove or list forwards").add_subparsers(
        dest="forward_command", required=True, metavar="SUBCOMMAND"
    )
    set_ = forward.add_parser(
        "set",
        help="forward one of our numbers to 1-5 destinations, tried in order",
        description="Forward OUR_NUMBER to DESTINATION(s), tried in order (follow-me). Options left "
        "out keep the current forward's value; a forward without --expires does not expire.",
    )
    set_.add_argument("number", metavar="OUR_NUMBER", help="one of our numbers, e.g. +12025550100")
    set_.add_argument(
        "destinations",
        nargs="+",
        metavar="DESTINATION",
        help="phone numbers tried in order, or `connect` alone for an Amazon Connect entry number "
        "(the same destinations Slack accepts)",
    )
    set_.add_argument(
        "--greeting",
        choices=[m.value for m in GreetingMode],
        help="what the caller hears while it rings: the greeting looped (ringback), played once, or "
        "none (default loop)",
    )
    set_.add_argument(
        "--failure",
        choices=[m.value for m in FailureAction],
        help="when nobody answers: prompt: the failure message, then hang up; hangup; voicemail: "
        "take a message for the alert thread (default prompt)",
    )
    set_.add_argument(
        "--caller-id",
        choices=[m.value for m in CallerIdMode],
        help="what the destination sees: dialed: our number (hides both parties); caller: the "
        "caller's number (default dialed)",
    )
    set_.add_argument(
        "--timeout",
        type=int,
        metavar="SECONDS",
        help=f"ring time per destination, 1-120 (default {DEFAULT_RING_TIMEOUT})",
    )
    set_.add_argument(
        "--voicemail-max",
        type=int,
        metavar="SECONDS",
        help=f"longest voicemail with --failure voicemail, {MIN_VOICEMAIL_SECONDS}-{MAX_VOICEMAIL_SECONDS}"
        f" (default {DEFAULT_VOICEMAIL_SECONDS})",
    )
    set_.add_argument("--expires", metavar="DURATION", help="e.g. 30m, 2h, 1d (1 minute to 30 days)")
    set_.add_argument(
        "--hours",
        metavar="WINDOW",
        help='business hours, e.g. "mon-fri 09:00-17:30", "sat,sun 10:00-14:00", "22:00-06:00" '
        "(overnight); outside them calls go to --else-to; without --hours, none",
    )
    set_.add_argument("--timezone", metavar="ZONE", help="IANA time zone of --hours, e.g. America/Chicago")
    set_.add_argument(
        "--else-to",
        nargs="+",
        default=[],
        metavar="DESTINATION",
        help="where calls go outside --hours, tried in order (checked like the destinations)",
    )
    set_.set_defaults(func=cmd_forward_set)

    remove = forward.add_parser(
        "remove", aliases=["off"], help="stop forwarding; calls go where they went before the forward"
    )
    remove.add_argument("number", metavar="OUR_NUMBER", help="one of our numbers, e.g. +12025550100")
    remove.set_defaults(func=cmd_forward_remove)

    list_ = forward.add_parser("list", help="list every forward")
    list_.set_defaults(func=cmd_forward_list)

    pool = commands.add_parser(
        "pool",
        help="the DNIS pool: (SMA number, Connect number) pairs that carry calls to Amazon Connect",
    ).add_subparsers(dest="pool_command", required=True, metavar="SUBCOMMAND")
    pool_add = pool.add_parser(
        "add",
        help="add a free pair: calls to Connect go from SMA_NUMBER to CONNECT_NUMBER",
        description="Add the pair (SMA_NUMBER, CONNECT_NUMBER) to the pool, free. Idempotent: an "
        "existing pair is left as it is.",
    )
    pool_add.add_argument(
        "sma_number",
        metavar="SMA_NUMBER",
        help="one of our numbers on the SIP media application: the caller ID",
    )
    pool_add.add_argument(
        "connect_number",
        metavar="CONNECT_NUMBER",
        help="a number claimed in Amazon Connect: what the call dials",
    )
    pool_add.set_defaults(func=cmd_pool_add)
    pool_list = pool.add_parser("list", help="list the pairs: free or claimed, by which call, since when")
    pool_list.set_defaults(func=cmd_pool_list)
    pool_release = pool.add_parser(
        "release",
        help="free a pair whatever call holds it (repair; calls release their pair themselves)",
    )
    pool_release.add_argument("sma_number", metavar="SMA_NUMBER")
    pool_release.add_argument("connect_number", metavar="CONNECT_NUMBER")
    pool_release.set_defaults(func=cmd_pool_release)

    # The local commands (dev, slack, call, demo) register themselves from switchboard_local, which
    # never ships to a Lambda: entry points keep this module from importing it (docs/architecture.md).
    for entry_point in entry_points(group=COMMANDS_GROUP):
        entry_point.load()(commands)
    _remember_parsers(parser)
    return parser


# Options whose value may start with "-" (a mistyped "--expires -1h"): argparse would take the value
# for an option and answer "expected one argument"; passed as --expires=-1h, our own check explains.
_VALUE_OPTIONS = ("--expires", "--timeout", "--talk", "--ring", "--transfer-at", "--caller-hangs-up-after")


def _attach_dashed_values(argv: Sequence[str]) -> list[str]:
    joined: list[str] = []
    tokens = list(argv)
    index = 0
    while index < len(tokens):
        token = tokens[index]
        following = tokens[index + 1] if index + 1 < len(tokens) else ""
        if token in _VALUE_OPTIONS and following[:1] == "-" and following[1:2].isdigit():
            joined.append(f"{token}={following}")
            index += 2
            continue
        joined.append(token)
        index += 1
    return joined


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    """Parse, and report an unknown option with the usage of the sub-command it was given to."""
    parser = build_parser()
    tokens = _attach_dashed_values(sys.argv[1:] if argv is None else argv)
    args, unknown = parser.parse_known_args(tokens)
    if unknown:
        owner: argparse.ArgumentParser = getattr(args, "parser", parser)
        owner.error(f"unrecognized arguments: {' '.join(unknown)}{_quoting_hint(tokens, unknown[0])}")
    return args


_PHONE_LIKE = re.compile(r"[0-9().\s-]{7,}")


def _quoting_hint(tokens: Sequence[str], stray: str) -> str:
    """`--expires 2 hours`: the stray word most likely belongs to the option's value, unquoted."""
    # A phone number there is a destination typed after the options, not part of a value.
    if stray.startswith(("-", "+")) or _PHONE_LIKE.fullmatch(stray) or stray not in tokens:
        return ""
    at = tokens.index(stray)
    if at < 2 or not tokens[at - 2].startswith("--") or tokens[at - 1].startswith("-"):
        return ""
    return f'; did you mean {tokens[at - 2]} "{tokens[at - 1]} {stray}"?'


def _remember_parsers(parser: argparse.ArgumentParser) -> None:
    """Every sub-command records its own parser, so errors show that sub-command's usage."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                sub.set_defaults(parser=sub)
                _remember_parsers(sub)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse(argv)
    try:
        code: int = args.func(args)
    except (RefusedError, ConfigurationError) as error:
        print(f"switchboard: {for_cli(str(error))}", file=sys.stderr)
        return EXIT_REFUSED
    except ChangeFailedError as error:
        state = "" if error.consistent else " (WARNING: not everything could be put back)"
        print(f"switchboard: {error}{state}", file=sys.stderr)
        if error.detail:  # the operator's terminal may show what Slack users are not shown
            print(f"switchboard: detail: {error.detail}", file=sys.stderr)
        return EXIT_FAILED
    except StorageError as error:
        print(f"switchboard: {error}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (`switchboard forward list | head -1`): the command itself is done.
        # Point stdout at /dev/null so the interpreter's final flush does not fail again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK
    return code


def wait_for_interrupt() -> None:
    """Block until Ctrl-C or SIGTERM (used by ``switchboard dev``)."""
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        while not stop.wait(3600):
            pass
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    raise SystemExit(main())
