"""``switchboard dev``: the whole system locally — AWS side and Slack side — until Ctrl-C.

It starts ``LocalStack(with_slack=True)`` and serves the bot over HTTP (:class:`BotServer`), then
picks how Slack reaches the bot (:func:`choose_mode`):

* ``SLACK_APP_TOKEN`` (``xapp-…``) and ``SLACK_BOT_TOKEN`` in the environment → **Socket Mode**: the
  bot, with the same listeners, connects to that real workspace over a WebSocket (no public URL,
  no tunnel needed). The AWS side stays local.
* otherwise, standard input is a terminal → the **terminal Slack console** on the local stand-in.
* otherwise (a script, a CI job, ``--no-console``, ``--quiet``) → wait for Ctrl-C / SIGTERM; other
  shells use the stack through ``switchboard forward``, ``switchboard call`` and ``switchboard slack``.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from slack_bolt.lazy_listener import LazyListenerRunner, ThreadLazyListenerRunner
from slack_bolt.request import BoltRequest

from switchboard.dev_state import state_file
from switchboard.settings import ConfigurationError
from switchboard_local.console_output import background_output_to
from switchboard_local.stack import (
    ALERTS_CHANNEL,
    LOCAL_OPS_GROUP,
    LOCAL_USER,
    STREAM_POLL_SECONDS,
    LocalStack,
    claim_state_file,
    release_state_file,
)

Mode = Literal["socket", "console", "wait"]


@dataclass(frozen=True)
class DevMode:
    """How Slack reaches the bot in this run, and anything the user should know about the choice."""

    kind: Mode
    note: str = ""


def choose_mode(environ: Mapping[str, str], *, interactive: bool, console: bool = True) -> DevMode:
    """Socket Mode when the environment holds a real Slack app's tokens, else the console on a
    terminal (``interactive``), else just serve. Half a token pair is explained, not guessed at."""
    app_token = environ.get("SLACK_APP_TOKEN", "").strip()
    bot_token = environ.get("SLACK_BOT_TOKEN", "").strip()
    if app_token and bot_token:
        if not app_token.startswith("xapp-"):
            raise ConfigurationError(
                "SLACK_APP_TOKEN must be an app-level token (xapp-…, scope connections:write) for Socket Mode"
            )
        return DevMode("socket")
    note = ""
    if app_token:
        note = (
            "SLACK_APP_TOKEN is set but SLACK_BOT_TOKEN is not: Socket Mode needs both, so the bot "
            "talks to the local Slack stand-in."
        )
    elif bot_token:
        note = (
            "SLACK_BOT_TOKEN is set but SLACK_APP_TOKEN (xapp-…) is not: Socket Mode needs both, so "
            "the bot talks to the local Slack stand-in."
        )
    return DevMode("console" if interactive and console else "wait", note)


class SocketModeLazyRunner(LazyListenerRunner):
    """Runs a lazy listener on a thread when its request came over Socket Mode, and through the
    Lambda re-invocation otherwise.

    ``bot.app`` wraps its App in Bolt's Lambda adapter, which replaces the App's lazy runner with one
    that re-invokes the function with the original API Gateway event. A Socket Mode request has no
    such event: every command with lazy work would fail (Bolt answers 500, the user sees an error
    and nothing happens). So those run on the App's thread pool, as in any long-running Bolt app;
    requests through the local HTTP bot keep the Lambda path.
    """

    def __init__(self, app: Any) -> None:
        runner = app.listener_runner
        self.logger = app.logger
        self.lambda_runner: LazyListenerRunner = runner.lazy_listener_runner
        self.thread_runner: LazyListenerRunner = ThreadLazyListenerRunner(
            app.logger, runner.listener_executor
        )

    def start(self, function: Callable[..., None], request: BoltRequest) -> None:
        runner = self.lambda_runner if "lambda_request" in request.context else self.thread_runner
        runner.start(function, request)

    @classmethod
    def install(cls, app: Any) -> SocketModeLazyRunner:
        """Put the runner on ``app`` (idempotent) and return it."""
        current = app.listener_runner.lazy_listener_runner
        if isinstance(current, cls):
            return current
        runner = cls(app)
        app.listener_runner.lazy_listener_runner = runner
        return runner


def run_socket_mode(app_token: str, wait: Callable[[], None], quiet: bool = False) -> int:
    """Connect ``bot.app`` to the user's workspace over Socket Mode until ``wait`` returns."""
    from slack_bolt.adapter.socket_mode import SocketModeHandler
    from slack_sdk.errors import SlackApiError

    import bot.app

    SocketModeLazyRunner.install(bot.app.app)
    handler = SocketModeHandler(bot.app.app, app_token)
    try:
        handler.connect()  # type: ignore[no-untyped-call]
    except SlackApiError as error:
        print(
            f"switchboard: Slack refused the Socket Mode connection: {error.response.get('error')}",
            file=sys.stderr,
        )
        return 2
    except OSError as error:
        print(f"switchboard: could not reach Slack for Socket Mode: {error}", file=sys.stderr)
        return 2
    if not quiet:
        print("Connected to your Slack workspace over Socket Mode. Ctrl-C stops it.", flush=True)
    try:
        wait()
    finally:
        handler.close()  # type: ignore[no-untyped-call]
    return 0


def _exports(env: Mapping[str, str]) -> str:
    return "\n".join(f"export {key}={shlex.quote(value)}" for key, value in sorted(env.items()))


def path_hint(path: str, bin_dir: Path, cwd: Path) -> str:
    """How to get this checkout's ``switchboard`` on the PATH of another shell, or "" when it is
    there already (or this Python is no virtual environment): `make run` does not activate it."""
    if str(bin_dir) in path.split(os.pathsep) or not (bin_dir / "activate").is_file():
        return ""
    activate = bin_dir / "activate"
    with contextlib.suppress(ValueError):
        activate = activate.relative_to(cwd)
    return f"first `. {activate}` there: the `switchboard` command is in the project's virtual environment"


def _banner(stack: LocalStack, bot_url: str, mode: DevMode) -> str:
    env = stack.env()
    lines = [
        "switchboard local stack is up (no AWS account involved).",
        "",
        f"  DynamoDB, S3, Secrets Manager (moto): {env['AWS_ENDPOINT_URL']}",
        f"  Chime SDK Voice emulator:             {env['AWS_ENDPOINT_URL_CHIME_SDK_VOICE']}",
        f"  Amazon Connect emulator:              {env['AWS_ENDPOINT_URL_CONNECT']}",
        f"  Lambda Invoke (bot's lazy listeners): {env['AWS_ENDPOINT_URL_LAMBDA']}",
        f"  table {env['TABLE_NAME']} (from template.yaml), prompts in s3://{env['PROMPT_BUCKET']}/prompts/",
        f"  SIP media application {env['SIP_MEDIA_APPLICATION_ID']}, "
        f"voice connector {env['VOICE_CONNECTOR_ID']}",
        f"  our numbers: {', '.join(stack.numbers)} (all on the voice connector)",
        f"    and {', '.join(stack.connect_numbers)} "
        "(claimed in the Amazon Connect instance, on its own flow)",
        "",
        f"  Slack bot (bot.app.handler):          POST {bot_url}",
    ]
    admins = os.environ.get("FORWARD_ADMINS", "")
    if mode.kind == "socket":
        alerts = os.environ.get("ALERT_CHANNEL") or "nowhere (set ALERT_CHANNEL=C…)"
        lines += [
            "  Slack: your workspace, over Socket Mode (SLACK_APP_TOKEN, SLACK_BOT_TOKEN)",
            f"  alerts to {alerts}; FORWARD_ADMINS={admins or '(empty)'}",
        ]
        if not admins:
            lines.append(
                "  Nobody may change forwards from Slack until FORWARD_ADMINS has your user ID (U…)."
            )
    elif stack.slack is not None:
        lines += [
            f"  Slack Web API stand-in:               {stack.slack.api_url}",
            f"  local workspace: you are @{LOCAL_USER} (in group {LOCAL_OPS_GROUP}), alerts go to "
            f"#{ALERTS_CHANNEL}; FORWARD_ADMINS={admins or '(empty)'}",
        ]
    if stack.pump is not None:
        lines.append(
            f"  call alerts: table stream → bot.notifier.handler (stream pump, every "
            f"{STREAM_POLL_SECONDS:g} s) → {env.get('ALERT_CHANNEL') or os.environ.get('ALERT_CHANNEL', '')}"
        )
    elif stack.pump_note:
        lines.append(f"  call alerts: {stack.pump_note}")
    if mode.note:
        lines += ["", f"Note: {mode.note}"]
    entry, sma_number = stack.numbers[2 % len(stack.numbers)], stack.numbers[-1]
    lines += [
        "",
        "In another shell, the switchboard commands find this stack by themselves:",
    ]
    hint = path_hint(os.environ.get("PATH", ""), Path(sys.executable).parent, Path.cwd())
    if hint:
        lines.append(f"  {hint}")
    lines += [
        f"  switchboard forward set {stack.numbers[0]} +12065550111 +13125550122",
        f"  switchboard call {stack.numbers[0]} --no-answer --answer",
        "  switchboard forward list",
        f"  switchboard pool add {sma_number} +18005550111 && switchboard forward set {entry} connect",
        f"  switchboard call {entry} --transfer-at 10 --transfer-to +12065550111   # Connect hands it on",
    ]
    if stack.connect_numbers:
        connect_number = stack.connect_numbers[0]
        lines += [
            f"  switchboard forward set {connect_number} +12065550111   # a number in Amazon Connect",
            f"  switchboard call {connect_number} --answer",
        ]
    if stack.slack is not None:
        lines.append("  switchboard slack          # the terminal Slack console on this stack")
    lines += [
        "",
        "To point other tools (aws cli, boto3 scripts, curl signed with SLACK_SIGNING_SECRET) at it:",
        _exports(env),
        "",
    ]
    return "\n".join(lines)


def serve(quiet: bool = False, console: bool = True, bot_port: int = 0) -> int:
    mode = choose_mode(os.environ, interactive=sys.stdin.isatty() and not quiet, console=console)
    # Checked before anything starts: an unsafe state directory is refused, not written into, and
    # a second stack of this user is refused rather than taking over the first one's state file.
    state_path = state_file(create_dir=True)
    claim_state_file(state_path)
    # At the console, the bot's and notifier's logs and metrics (for CloudWatch) go to a log file
    # next to the state file; the terminal shows what a Slack user would see.
    log_path = state_path.with_name("dev.log") if mode.kind == "console" else None
    routed = background_output_to(log_path) if log_path else contextlib.nullcontext()
    try:
        with routed:
            return _serve(state_path, mode, quiet, bot_port, log_path)
    finally:
        release_state_file(state_path)


def _serve(state_path: Path, mode: DevMode, quiet: bool, bot_port: int, log_path: Path | None) -> int:
    from switchboard.cli import wait_for_interrupt
    from switchboard_local.slack.bot_server import BotServer

    stack = LocalStack(with_slack=True, real_slack=mode.kind == "socket")
    server: BotServer | None = None
    try:
        stack.start()
        # The bot and its lazy listeners run in this process and build their clients from os.environ.
        with stack.applied():
            server = BotServer.for_stack(stack, port=bot_port).start()
            stack.write_state_file(state_path, bot_url=server.url)
            if quiet:
                print(_exports(stack.env()), flush=True)
            else:
                print(_banner(stack, server.url, mode), flush=True)
            if log_path is not None:
                print(f"The stack's logs and metrics go to {log_path}.", flush=True)
            if mode.kind == "socket":
                return run_socket_mode(os.environ["SLACK_APP_TOKEN"].strip(), wait_for_interrupt, quiet)
            if mode.kind == "console":
                return _console(server.url, stack.env()["SLACK_SIGNING_SECRET"])
            if not quiet:
                print("Ctrl-C stops it.", flush=True)
            wait_for_interrupt()
            return 0
    finally:
        if server is not None:
            server.stop()
        stack.stop()
        if not quiet:
            print("\nlocal stack stopped.", flush=True)


def _console(bot_url: str, secret: str) -> int:
    from switchboard_local.slack.console import LocalWorkspace, run_console

    def stop(*_: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)  # leave input() and stop the stack cleanly
    workspace = LocalWorkspace(bot_url, secret).connect()
    print("quit, Ctrl-D or Ctrl-C stops the stack.\n", flush=True)
    return run_console(workspace)
