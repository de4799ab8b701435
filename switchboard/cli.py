"""``switchboard``: the operator's command line.

It acts on whatever the environment points at (``TABLE_NAME``, ``SIP_MEDIA_APPLICATION_ID``,
boto3 credentials and ``AWS_ENDPOINT_URL*``), exactly like the Lambdas, so the same commands work
against a deployed stack and against ``switchboard dev``.

Exit status: 0 done (including "already so"), 1 the change failed, 2 the input was refused or the
configuration is incomplete (the reason goes to stderr).
"""

from __future__ import annotations

import argparse
import getpass
import os
import signal
import sys
import threading
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from switchboard.domain.durations import describe_duration
from switchboard.domain.rules import (
    DEFAULT_RING_TIMEOUT,
    CallerIdMode,
    FailureAction,
    GreetingMode,
)
from switchboard.ports import StorageError
from switchboard.service import ChangeFailedError, ForwardRequest, RefusedError
from switchboard.settings import ConfigurationError, load
from switchboard.wording import destinations_text, rule_details

if TYPE_CHECKING:
    from switchboard.adapters.pool import DynamoDnisPool
    from switchboard.domain.pool import DnisPair
    from switchboard.policy import DestinationPolicy

EXIT_OK, EXIT_FAILED, EXIT_REFUSED = 0, 1, 2


def _actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


def _use_running_stack_if_any() -> None:
    """Without AWS endpoints in the environment, talk to a running ``switchboard dev``, if any."""
    if os.environ.get("AWS_ENDPOINT_URL") or os.environ.get("TABLE_NAME"):
        return
    from switchboard.local.stack import running_stack_env

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
    _use_running_stack_if_any()
    if not os.environ.get("TABLE_NAME"):
        raise ConfigurationError(NO_STACK)


def _service(need_routing: bool) -> Any:
    from switchboard.wiring import forwarding_service

    _require_table()
    return forwarding_service(load(), need_routing=need_routing)


def cmd_forward_set(args: argparse.Namespace) -> int:
    service = _service(need_routing=True)
    result = service.set_forward(
        ForwardRequest(
            number=args.number,
            destinations=args.destinations,
            greeting=args.greeting,
            failure=args.failure,
            caller_id=args.caller_id,
            ring_timeout=args.timeout,
            expires_in=args.expires,
        ),
        actor=_actor(),
    )
    print(result.message)  # the rule's summary says when it expires
    for step in result.routing_steps:
        print(f"  routing: {step}")
    return EXIT_OK


def cmd_forward_remove(args: argparse.Namespace) -> int:
    result = _service(need_routing=True).remove_forward(args.number, actor=_actor())
    print(result.message)
    for step in result.routing_steps:
        print(f"  routing: {step}")
    return EXIT_OK


def cmd_forward_list(args: argparse.Namespace) -> int:
    rules = _service(need_routing=False).list_forwards()
    if not rules:
        print("No forwards.")
        return EXIT_OK
    # The same words as Slack's list: number → destinations, then options and expiry.
    for rule in rules:
        print(f"{rule.number} → {destinations_text(rule)}")
        print(f"    {rule_details(rule)}")
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
    now_ms = int(datetime.now(UTC).timestamp() * 1000)
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
        now_ms = int(datetime.now(UTC).timestamp() * 1000)
        held = describe_duration(int(dropped.age_seconds(now_ms)))
        print(f"Released DNIS pair {pair} (held by call {dropped.transaction_id} for {held}).")
    return EXIT_OK


def cmd_dev(args: argparse.Namespace) -> int:
    from switchboard.local.dev import serve

    return serve(quiet=args.quiet, console=not args.no_console, bot_port=args.bot_port)


def cmd_slack(args: argparse.Namespace) -> int:
    from switchboard.local.slack_console import main as console

    return console(user=args.user)


def cmd_call(args: argparse.Namespace) -> int:
    from switchboard.local.calls import TransferScript, run_call

    transfer = None
    if (args.transfer_at is None) != (args.transfer_to is None):
        print("switchboard: --transfer-at and --transfer-to go together", file=sys.stderr)
        return EXIT_REFUSED
    if args.transfer_at is not None:
        transfer = TransferScript(
            at_seconds=args.transfer_at,
            target=args.transfer_to,
            arn=args.transfer_arn or "",
            via=args.transfer_via,
            target_behaviour=args.target_behaviour,
        )
    elif args.transfer_arn or args.transfer_via:
        print(
            "switchboard: --transfer-arn and --transfer-via need --transfer-at and --transfer-to",
            file=sys.stderr,
        )
        return EXIT_REFUSED
    _use_running_stack_if_any()
    return run_call(
        number=args.number,
        caller=args.caller,
        behaviours=args.behaviours or [],
        talk_seconds=args.talk,
        ring_seconds=args.ring,
        caller_hangs_up_after=args.caller_hangs_up_after,
        transfer=transfer,
        realtime=args.realtime,
    )


def cmd_demo(args: argparse.Namespace) -> int:
    from switchboard.local.demo import run_demo

    return run_demo()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="switchboard",
        description="Forward calls to our Amazon Chime SDK numbers; run the local stack.",
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
    set_.add_argument("number", metavar="OUR_NUMBER")
    set_.add_argument(
        "destinations",
        nargs="+",
        metavar="DESTINATION",
        help="phone numbers tried in order, or `connect` alone for an Amazon Connect entry number "
        "(the same destinations Slack accepts)",
    )
    set_.add_argument("--greeting", choices=[m.value for m in GreetingMode], help="default loop")
    set_.add_argument("--failure", choices=[m.value for m in FailureAction], help="default prompt")
    set_.add_argument("--caller-id", choices=[m.value for m in CallerIdMode], help="default dialed")
    set_.add_argument(
        "--timeout",
        type=int,
        metavar="SECONDS",
        help=f"ring time per destination, 1-120 (default {DEFAULT_RING_TIMEOUT})",
    )
    set_.add_argument("--expires", metavar="DURATION", help="e.g. 30m, 2h, 1d (1 minute to 30 days)")
    set_.set_defaults(func=cmd_forward_set)

    remove = forward.add_parser(
        "remove", aliases=["off"], help="stop forwarding; route back to the voice connector"
    )
    remove.add_argument("number", metavar="OUR_NUMBER")
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
    pool_add.add_argument("sma_number", metavar="SMA_NUMBER")
    pool_add.add_argument("connect_number", metavar="CONNECT_NUMBER")
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

    dev = commands.add_parser(
        "dev",
        help="run the whole system locally (no AWS account, no Slack workspace needed) until Ctrl-C",
        description="Run the local stack and the Slack bot. With SLACK_APP_TOKEN (xapp-…) and "
        "SLACK_BOT_TOKEN set, the bot joins that Slack workspace over Socket Mode; otherwise it talks "
        "to a local Slack stand-in, and on a terminal a Slack console lets you type /forward.",
    )
    dev.add_argument("--quiet", action="store_true", help="print only the export lines (no console)")
    dev.add_argument(
        "--no-console", action="store_true", help="do not open the Slack console, even on a terminal"
    )
    dev.add_argument(
        "--bot-port",
        type=int,
        default=0,
        metavar="PORT",
        help="serve the bot's Slack request URL on this local port (default: a free one)",
    )
    dev.set_defaults(func=cmd_dev)

    slack = commands.add_parser(
        "slack",
        help="a terminal Slack console: type /forward, fill in modals, use the App Home",
        description="Talk to the local bot as a Slack user would: on a running 'switchboard dev', "
        "else on a fresh in-process local stack. Reads standard input, so a script can be piped in.",
    )
    slack.add_argument("--user", default="U0LOCALUSER", metavar="USER_ID", help="act as this Slack user")
    slack.set_defaults(func=cmd_slack)

    call = commands.add_parser(
        "call",
        help="place a simulated call to one of our numbers and print its timeline",
        description="Simulate a call through sma.app.handler. Destination behaviours apply in order: "
        "'--no-answer --answer' means the first destination rings out and the second answers. "
        "Uses a running 'switchboard dev' if there is one, else an in-process local stack.",
    )
    call.add_argument("number", metavar="OUR_NUMBER")
    call.add_argument(
        "--from",
        dest="caller",
        default="+13035550123",
        metavar="CALLER",
        help="the calling number (default +13035550123)",
    )
    for flag, what in (
        ("answer", "answers"),
        ("no-answer", "does not answer"),
        ("busy", "is busy"),
        ("unreachable", "cannot be reached"),
    ):
        call.add_argument(
            f"--{flag}",
            dest="behaviours",
            action="append_const",
            const=flag,
            help=f"the next destination {what}",
        )
    call.add_argument(
        "--talk", type=float, default=20.0, metavar="SECONDS", help="talk time before the callee hangs up"
    )
    call.add_argument(
        "--ring", type=float, default=4.0, metavar="SECONDS", help="ring time before a destination answers"
    )
    call.add_argument(
        "--caller-hangs-up-after", type=float, metavar="SECONDS", help="caller gives up after this long"
    )
    call.add_argument(
        "--realtime",
        action="store_true",
        help="run the call on the wall clock instead of at once, so it can be transferred from Slack "
        "(`switchboard slack`: /forward calls, /forward transfer) while it is connected",
    )
    transfer = call.add_argument_group(
        "take back and transfer",
        "At --transfer-at seconds (simulated time) the call is taken back from wherever it is bridged "
        "and transferred to --transfer-to, through a real UpdateSipMediaApplicationCall to the local "
        "Chime SDK Voice emulator.",
    )
    transfer.add_argument("--transfer-at", type=float, metavar="SECONDS", help="when to ask for the transfer")
    transfer.add_argument(
        "--transfer-to", metavar="TARGET", help="a phone number, or a SIP user with --transfer-arn"
    )
    transfer.add_argument(
        "--transfer-arn", metavar="ARN", help="voice connector ARN (arn:aws:chime:…:vc/<id>) of a SIP target"
    )
    transfer.add_argument(
        "--transfer-via",
        choices=["connect", "api"],
        help="connect: invoke connect_lambda.app.handler with a TransferCall event from the call's DNIS "
        "pair, as the contact flow does (default for an Amazon Connect entry number); api: call "
        "UpdateSipMediaApplicationCall directly, as the Slack bot does (default otherwise)",
    )
    transfer.add_argument(
        "--target-behaviour",
        choices=["answer", "no-answer", "busy", "unreachable"],
        default="answer",
        help="what the transfer target does (default answer)",
    )
    call.set_defaults(func=cmd_call)

    demo = commands.add_parser("demo", help="scripted end-to-end story on a fresh local stack")
    demo.set_defaults(func=cmd_demo)
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
    args, unknown = parser.parse_known_args(_attach_dashed_values(sys.argv[1:] if argv is None else argv))
    if unknown:
        owner: argparse.ArgumentParser = getattr(args, "parser", parser)
        owner.error(f"unrecognized arguments: {' '.join(unknown)}")
    return args


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
        print(f"switchboard: {error}", file=sys.stderr)
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
