"""The local commands of the ``switchboard`` CLI: ``dev``, ``slack``, ``call`` and ``demo``.

They need the local stack (moto, the emulators), which never ships, so ``switchboard/cli.py`` does
not import them: :func:`register` is declared in pyproject.toml under the ``switchboard.commands``
entry-point group and the CLI calls it while it builds its parser. Same flags, same exit codes.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from switchboard.cli import EXIT_REFUSED, use_running_stack_if_any

if TYPE_CHECKING:
    from switchboard_local.connect_calls import ConnectTransfer
    from switchboard_local.pstn.calls import TransferScript


def cmd_dev(args: argparse.Namespace) -> int:
    from switchboard_local.dev import serve

    return serve(quiet=args.quiet, console=not args.no_console, bot_port=args.bot_port)


def cmd_slack(args: argparse.Namespace) -> int:
    from switchboard_local.slack.console import main as console

    return console(user=args.user)


def cmd_call(args: argparse.Namespace) -> int:
    from switchboard_local.pstn.calls import TransferScript, run_call

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
    if args.voicemail_ends and args.voicemail is None:
        print("switchboard: --voicemail-ends needs --voicemail TEXT", file=sys.stderr)
        return EXIT_REFUSED
    from switchboard_local.pstn.calls import parse_call_time

    try:
        at_ms = parse_call_time(args.at) if args.at else None
    except ValueError as error:
        print(f"switchboard: {error}", file=sys.stderr)
        return EXIT_REFUSED
    if at_ms is not None and args.realtime:
        print(
            "switchboard: --at and --realtime do not go together (a real-time call is now)", file=sys.stderr
        )
        return EXIT_REFUSED
    use_running_stack_if_any()
    from switchboard_local.connect_calls import is_connect_number, run_connect_call

    if is_connect_number(args.number):
        if args.voicemail is not None:
            print(
                "switchboard: Amazon Connect numbers take no voicemail (docs/connect.md says why)",
                file=sys.stderr,
            )
            return EXIT_REFUSED
        connect_transfer = None
        if transfer is not None:
            if transfer.via is not None:
                print(
                    "switchboard: --transfer-via is for calls on the SIP media application; a call on "
                    "Amazon Connect is transferred as Slack transfers it (queued until the callee hangs up)",
                    file=sys.stderr,
                )
                return EXIT_REFUSED
            try:
                connect_transfer = _connect_transfer(transfer)
            except ValueError as error:
                print(f"switchboard: {error}", file=sys.stderr)
                return EXIT_REFUSED
        return run_connect_call(
            number=args.number,
            caller=args.caller,
            behaviours=args.behaviours or [],
            talk_seconds=args.talk,
            ring_seconds=args.ring,
            caller_hangs_up_after=args.caller_hangs_up_after,
            at_ms=at_ms,
            transfer=connect_transfer,
            realtime=args.realtime,
        )
    return run_call(
        number=args.number,
        caller=args.caller,
        behaviours=args.behaviours or [],
        talk_seconds=args.talk,
        ring_seconds=args.ring,
        caller_hangs_up_after=args.caller_hangs_up_after,
        transfer=transfer,
        realtime=args.realtime,
        voicemail=args.voicemail,
        voicemail_ends=args.voicemail_ends or "#",
        at_ms=at_ms,
    )


def _connect_transfer(script: TransferScript) -> ConnectTransfer:
    """``--transfer-to`` checked as the bot checks a target typed in Slack (``ValueError``: why
    not); whether the call can take it is decided at ``--transfer-at``, as in Slack."""
    from bot.transfers import transfer_rules
    from switchboard.settings import load
    from switchboard.wiring import policy_for
    from switchboard_local.connect_calls import ConnectTransfer

    settings = load()
    target = policy_for(settings).transfer_target(script.target, transfer_rules(settings), script.arn)
    return ConnectTransfer(script.at_seconds, target, script.target_behaviour)


def cmd_demo(args: argparse.Namespace) -> int:
    from switchboard_local.demo import run_demo

    return run_demo()


def call_seconds(text: str) -> float:
    """A time in a simulated call (``--talk 30``): 0 or more seconds."""
    try:
        seconds = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if seconds < 0:
        raise argparse.ArgumentTypeError(f"{text} seconds: a time in the call cannot be negative")
    return seconds


def register(commands: argparse._SubParsersAction[Any]) -> None:
    """Add the local commands to the CLI's sub-command parsers."""
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
        description="Simulate a call to one of our numbers: through the SIP media application's handler "
        "(sma.app.handler) or, for a number in Amazon Connect, through the forwarding contact flow and "
        "its Lambda. Destination behaviours apply in order: "
        "'--no-answer --answer' means the first destination rings out and the second answers. "
        "Uses a running 'switchboard dev' if there is one, else an in-process local stack.",
    )
    call.add_argument("number", metavar="OUR_NUMBER", help="one of our numbers, e.g. +12025550100")
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
        "--talk",
        type=call_seconds,
        default=20.0,
        metavar="SECONDS",
        help="talk time before the callee hangs up (default 20)",
    )
    call.add_argument(
        "--ring",
        type=call_seconds,
        default=4.0,
        metavar="SECONDS",
        help="ring time before a destination answers (default 4)",
    )
    call.add_argument(
        "--caller-hangs-up-after",
        type=call_seconds,
        metavar="SECONDS",
        help="caller gives up after this long",
    )
    call.add_argument(
        "--realtime",
        action="store_true",
        help="run the call on the wall clock instead of at once, so it can be transferred from Slack "
        "(`switchboard slack`: /forward calls, /forward transfer) while it is connected",
    )
    voicemail = call.add_argument_group(
        "voicemail",
        "For a forward with `--failure voicemail`: what the caller says once nobody answers (without "
        "--answer/--busy/... no destination answers); the recording goes to the local recordings bucket.",
    )
    voicemail.add_argument("--voicemail", metavar="TEXT", help='the caller\'s message, e.g. "call me back"')
    voicemail.add_argument(
        "--voicemail-ends",
        choices=["#", "silence", "hangup"],
        help="after the message the caller presses # (default), stays silent, or hangs up",
    )
    call.add_argument(
        "--at",
        metavar="TIME",
        help="when the call happens, on simulated time, e.g. '2026-12-01 20:00 America/Chicago' or "
        "2026-12-02T02:00Z (default now): business hours pick the destinations of that moment",
    )
    transfer = call.add_argument_group(
        "take back and transfer",
        "At --transfer-at seconds (simulated time) the call is taken back from wherever it is bridged "
        "and transferred to --transfer-to, through a real UpdateSipMediaApplicationCall to the local "
        "Chime SDK Voice emulator. On an Amazon Connect number the transfer is asked for as Slack's "
        "/forward transfer asks it (the same checks and refusals): queued, and made when the callee "
        "hangs up.",
    )
    transfer.add_argument(
        "--transfer-at", type=call_seconds, metavar="SECONDS", help="when to ask for the transfer"
    )
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
