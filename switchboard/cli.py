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
from typing import Any

from switchboard.domain.durations import describe_duration
from switchboard.domain.rules import (
    DEFAULT_RING_TIMEOUT,
    CallerIdMode,
    FailureAction,
    ForwardRule,
    GreetingMode,
)
from switchboard.ports import StorageError
from switchboard.service import ChangeFailedError, ForwardRequest, RefusedError
from switchboard.settings import ConfigurationError, load

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


def _service(need_routing: bool) -> Any:
    from switchboard.wiring import forwarding_service

    _use_running_stack_if_any()
    return forwarding_service(load(), need_routing=need_routing)


def _expiry(rule: ForwardRule) -> str:
    if rule.expires_at is None:
        return "never"
    when = datetime.fromtimestamp(rule.expires_at, UTC).strftime("%Y-%m-%d %H:%M UTC")
    left = rule.expires_at - int(datetime.now(UTC).timestamp())
    return f"{when} (expired)" if left <= 0 else f"{when} (in {describe_duration(left)})"


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
    print(result.message)
    for step in result.routing_steps:
        print(f"  routing: {step}")
    if result.new and result.new.expires_at:
        print(f"  expires: {_expiry(result.new)}")
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
    print(f"{'number':<14}  {'destinations':<42}  {'greeting':<8}  {'then':<6}  {'caller id':<9}  expires")
    for rule in rules:
        print(
            f"{rule.number:<14}  {', '.join(rule.destinations):<42}  {rule.greeting.value:<8}  "
            f"{rule.failure.value:<6}  {rule.caller_id.value:<9}  {_expiry(rule)}"
        )
    return EXIT_OK


def cmd_dev(args: argparse.Namespace) -> int:
    from switchboard.local.dev import serve

    return serve(quiet=args.quiet)


def cmd_call(args: argparse.Namespace) -> int:
    from switchboard.local.calls import run_call

    _use_running_stack_if_any()
    return run_call(
        number=args.number,
        caller=args.caller,
        behaviours=args.behaviours or [],
        talk_seconds=args.talk,
        ring_seconds=args.ring,
        caller_hangs_up_after=args.caller_hangs_up_after,
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
    set_.add_argument("destinations", nargs="+", metavar="DESTINATION")
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

    dev = commands.add_parser("dev", help="run the local stack (no AWS account needed) until Ctrl-C")
    dev.add_argument("--quiet", action="store_true", help="print only the export lines")
    dev.set_defaults(func=cmd_dev)

    call = commands.add_parser(
        "call",
        help="place a simulated call to one of our numbers and print its timeline",
        description="Simulate a call through sma.app.handler. Destination behaviours apply in order: "
        "'--no-answer --answer' means the first destination rings out and the second answers. "
        "Uses a running 'switchboard dev' if there is one, else an in-process local stack.",
    )
    call.add_argument("number", metavar="OUR_NUMBER")
    call.add_argument("--from", dest="caller", default="+13035550123", metavar="CALLER")
    for flag in ("answer", "no-answer", "busy", "unreachable"):
        call.add_argument(
            f"--{flag}",
            dest="behaviours",
            action="append_const",
            const=flag,
            help=f"the next destination will {flag.replace('-', ' ')}",
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
    call.set_defaults(func=cmd_call)

    demo = commands.add_parser("demo", help="scripted end-to-end story on a fresh local stack")
    demo.set_defaults(func=cmd_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code: int = args.func(args)
    except (RefusedError, ConfigurationError) as error:
        print(f"switchboard: {error}", file=sys.stderr)
        return EXIT_REFUSED
    except ChangeFailedError as error:
        state = "" if error.consistent else " (WARNING: not everything could be put back)"
        print(f"switchboard: {error}{state}", file=sys.stderr)
        return EXIT_FAILED
    except StorageError as error:
        print(f"switchboard: {error}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        return 130
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
