"""``switchboard dev`` with the Slack side: the bot served over real HTTP, and how Slack reaches it.

``bot.app`` binds its settings once per process (and ``test_bot.py`` imports it here with its own),
so the stack under test runs in a ``switchboard dev`` subprocess, driven as a user would: signed
Slack requests posted with ``urllib`` to the URL it prints, other ``switchboard`` commands finding it
through its state file (kept in a private ``TMPDIR``). Socket Mode needs a real workspace: here
only the choice of mode and the lazy-listener runner it relies on are tested.
"""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from slack_bolt import App
from slack_bolt.adapter.aws_lambda import SlackRequestHandler
from slack_bolt.adapter.aws_lambda.lazy_listener_runner import LambdaLazyListenerRunner
from slack_bolt.adapter.socket_mode.internals import run_bolt_app
from slack_bolt.request import BoltRequest
from slack_sdk import WebClient
from slack_sdk.socket_mode.request import SocketModeRequest

from switchboard.settings import ConfigurationError
from switchboard_local.dev import SocketModeLazyRunner, choose_mode
from switchboard_local.slack.requests import sign, slash_command_body
from switchboard_local.slack.standin import SlackStandIn

ROOT = Path(__file__).resolve().parents[2]
OURS, FIRST = "+12025550103", "+12065550111"


def clean_env(tmp: Path) -> dict[str, str]:
    """The user's environment without anything that points at a stack or a Slack app."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("AWS_", "SLACK_", "POWERTOOLS_"))
        and key not in ("TABLE_NAME", "PROMPT_BUCKET", "SIP_MEDIA_APPLICATION_ID", "VOICE_CONNECTOR_ID")
        and key not in ("FORWARD_ADMINS", "ALERT_CHANNEL", "MANAGED_NUMBERS", "XDG_RUNTIME_DIR")
    }
    env.update({"PYTHONPATH": str(ROOT), "TMPDIR": str(tmp), "PYTHONUNBUFFERED": "1"})
    return env


@dataclass
class Dev:
    process: subprocess.Popen[str]
    output: list[str]
    bot_url: str
    env: dict[str, str]
    tmp: Path

    @property
    def origin(self) -> str:
        return self.bot_url.removesuffix("/slack/events")

    def post(self, body: str, headers: dict[str, str]) -> tuple[int, str]:
        request = urllib.request.Request(self.bot_url, data=body.encode(), headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()

    def activity(self) -> dict[str, Any]:
        with urllib.request.urlopen(f"{self.origin}/_local/activity?wait=20", timeout=60) as response:
            data: dict[str, Any] = json.loads(response.read())
        return data

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "switchboard.cli", *args],
            env=clean_env(self.tmp),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )


@pytest.fixture(scope="module")
def dev(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dev]:
    tmp = tmp_path_factory.mktemp("dev")
    process = subprocess.Popen(
        [sys.executable, "-m", "switchboard.cli", "dev"],
        env=clean_env(tmp),
        stdin=subprocess.DEVNULL,  # not a terminal: no console, serve until SIGTERM
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    lines: queue.Queue[str] = queue.Queue()
    output: list[str] = []

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.put(line)

    threading.Thread(target=pump, daemon=True).start()
    deadline = time.monotonic() + 90
    while not any("Ctrl-C stops it." in line for line in output):
        remaining = deadline - time.monotonic()
        assert remaining > 0, "switchboard dev did not start:\n" + "".join(output)
        try:
            output.append(lines.get(timeout=remaining))
        except queue.Empty:
            break
    text = "".join(output)
    match = re.search(r"POST (http://127\.0\.0\.1:\d+/slack/events)", text)
    assert match, text
    env = dict(re.findall(r"^export (\w+)=(\S+)$", text, re.MULTILINE))
    yield Dev(process, output, match.group(1), env, tmp)
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=120)  # a loaded machine stops the stack slowly


def test_dev_names_the_amazon_connect_number_beside_ours(dev: Dev) -> None:
    text = "".join(dev.output)
    assert "Amazon Connect emulator:" in text
    assert "+13125550190 (claimed in the Amazon Connect instance, on its own flow)" in text
    assert f"switchboard forward set +13125550190 {FIRST}" in text


def test_the_switchboard_command_hint_says_how_to_get_it_on_the_path(tmp_path: Path) -> None:
    from switchboard_local.dev import path_hint

    bin_dir = tmp_path / "repo" / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    (bin_dir / "activate").write_text("")
    hint = path_hint(path="/usr/bin:/bin", bin_dir=bin_dir, cwd=tmp_path / "repo")
    assert "`. .venv/bin/activate`" in hint
    assert path_hint(path=f"{bin_dir}:/usr/bin", bin_dir=bin_dir, cwd=tmp_path / "repo") == ""
    assert path_hint(path="/usr/bin", bin_dir=tmp_path / "no-venv", cwd=tmp_path) == ""


def test_dev_prints_the_slack_side_and_its_exports(dev: Dev) -> None:
    text = "".join(dev.output)
    assert "Slack Web API stand-in:" in text
    assert "you are @U0LOCALUSER (in group S0LOCALOPS), alerts go to #C0ALERTS" in text
    assert "switchboard slack" in text
    for name in ("SLACK_SIGNING_SECRET", "SLACK_BOT_TOKEN", "SLACK_API_URL", "AWS_ENDPOINT_URL_LAMBDA"):
        assert dev.env.get(name), name
    assert dev.env["ALERT_CHANNEL"] == "C0ALERTS"
    assert dev.env["FORWARD_ADMINS"] == "U0LOCALUSER"
    assert len(dev.env["SLACK_SIGNING_SECRET"]) >= 32
    state = json.loads((dev.tmp / f"switchboard-{os.getuid()}" / "dev.json").read_text())
    assert state["bot_url"] == dev.bot_url
    assert (dev.tmp / f"switchboard-{os.getuid()}" / "dev.json").stat().st_mode & 0o077 == 0


def test_a_signed_slash_command_over_http_forwards_and_announces(dev: Dev) -> None:
    response_url = dev.env["SLACK_API_URL"].removesuffix("api/") + "response/http-test"
    body = slash_command_body("/forward", f"{OURS} to {FIRST}", "U0LOCALUSER", response_url=response_url)
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        **sign(body, dev.env["SLACK_SIGNING_SECRET"]),
    }

    started = time.monotonic()
    status, ack = dev.post(body, headers)
    assert status == 200, ack
    assert time.monotonic() - started < 3
    assert f"Forwarding {OURS} → {FIRST}" in ack

    activity = dev.activity()
    assert activity["idle"]
    assert activity["failed"] == []
    (reply,) = [r for r in activity["responses"] if r["name"] == "http-test"]
    assert reply["args"]["text"].startswith(f":white_check_mark: Now forwarding {OURS} → {FIRST}")
    alerts = [
        c
        for c in activity["calls"]
        if c["method"] == "chat.postMessage" and c["args"]["channel"] == "C0ALERTS"
    ]
    assert any(f"<@U0LOCALUSER> forwarded *{OURS}*" in c["args"]["text"] for c in alerts)

    listed = dev.cli("forward", "list")  # finds the running stack through its state file
    assert listed.returncode == 0, listed.stderr
    assert OURS in listed.stdout
    assert FIRST in listed.stdout


def test_a_forged_signature_is_refused_over_http(dev: Dev) -> None:
    body = slash_command_body("/forward", f"remove {OURS}", "U0LOCALUSER")
    headers = {"Content-Type": "application/x-www-form-urlencoded", **sign(body, "not-the-secret")}
    status, _ = dev.post(body, headers)
    assert status == 401


def test_unknown_paths_are_not_found(dev: Dev) -> None:
    with pytest.raises(urllib.error.HTTPError) as error:
        urllib.request.urlopen(f"{dev.origin}/nothing-here", timeout=10)
    assert error.value.code == 404


def test_a_second_dev_is_refused_and_leaves_the_first_one_reachable(dev: Dev) -> None:
    second = subprocess.run(
        [sys.executable, "-m", "switchboard.cli", "dev"],
        env=clean_env(dev.tmp),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert second.returncode == 2, second.stdout + second.stderr
    assert f"a local stack is already running (switchboard dev, process {dev.process.pid}" in second.stderr
    assert dev.bot_url in second.stderr
    # The refused one neither took over nor deleted the first one's state file.
    listed = dev.cli("forward", "list")
    assert listed.returncode == 0, listed.stderr


def test_sigterm_stops_the_stack_and_removes_the_state_file(dev: Dev) -> None:
    dev.process.send_signal(signal.SIGTERM)
    assert dev.process.wait(timeout=120) == 0
    assert not (dev.tmp / f"switchboard-{os.getuid()}" / "dev.json").exists()
    with pytest.raises(urllib.error.URLError, match="Connection refused"):
        urllib.request.urlopen(dev.origin, timeout=5)


# -- how Slack reaches the bot --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("environ", "interactive", "console", "expected", "note"),
    [
        ({"SLACK_APP_TOKEN": "xapp-1-A1-2-abc", "SLACK_BOT_TOKEN": "xoxb-1-2"}, True, True, "socket", ""),
        ({"SLACK_APP_TOKEN": "xapp-1-A1-2-abc", "SLACK_BOT_TOKEN": "xoxb-1-2"}, False, False, "socket", ""),
        ({}, True, True, "console", ""),
        ({}, False, True, "wait", ""),
        ({}, True, False, "wait", ""),
        ({"SLACK_APP_TOKEN": "xapp-1-A1-2-abc"}, True, True, "console", "SLACK_BOT_TOKEN is not"),
        ({"SLACK_BOT_TOKEN": "xoxb-1-2"}, False, True, "wait", "SLACK_APP_TOKEN (xapp-…) is not"),
        ({"SLACK_APP_TOKEN": " ", "SLACK_BOT_TOKEN": ""}, True, True, "console", ""),
    ],
)
def test_choose_mode(
    environ: dict[str, str], interactive: bool, console: bool, expected: str, note: str
) -> None:
    mode = choose_mode(environ, interactive=interactive, console=console)
    assert mode.kind == expected
    assert note in mode.note
    assert bool(mode.note) == bool(note)


def test_dev_with_slack_tokens_goes_for_socket_mode_with_the_users_workspace(tmp_path: Path) -> None:
    """No real workspace here: a Slack Web API stand-in plays it and refuses ``apps.connections.open``,
    which shows the bot was built with the user's token and API URL and that the failure is reported
    and cleaned up."""
    with SlackStandIn(tokens=["xoxb-users-own"]) as slack:
        env = clean_env(tmp_path)
        env.update(
            SLACK_APP_TOKEN="xapp-1-A0USR-1-x",
            SLACK_BOT_TOKEN="xoxb-users-own",
            SLACK_API_URL=slack.api_url,
            FORWARD_ADMINS="U0REALUSER",
        )
        result = subprocess.run(
            [sys.executable, "-m", "switchboard.cli", "dev"],
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert result.returncode == 2, result.stdout + result.stderr
        assert "Slack: your workspace, over Socket Mode" in result.stdout
        assert "FORWARD_ADMINS=U0REALUSER" in result.stdout
        assert "Slack Web API stand-in" not in result.stdout  # no local stand-in: the real one is used
        assert "xoxb-users-own" not in result.stdout  # the user's token is not echoed in the exports
        assert "Slack refused the Socket Mode connection: unknown_method" in result.stderr
        assert "local stack stopped." in result.stdout
        assert [c.method for c in slack.calls] == ["apps.connections.open"]
        assert not (tmp_path / f"switchboard-{os.getuid()}" / "dev.json").exists()


def test_socket_mode_needs_an_app_level_token() -> None:
    with pytest.raises(ConfigurationError, match="xapp-"):
        choose_mode({"SLACK_APP_TOKEN": "xoxb-oops", "SLACK_BOT_TOKEN": "xoxb-1"}, interactive=True)


def test_socket_mode_requests_run_lazy_listeners_on_threads_http_ones_via_lambda() -> None:
    """The Lambda adapter (as ``bot.app`` uses it) replaces the lazy runner with Lambda re-invocation;
    a Socket Mode request has no Lambda event, so after install its lazy listener runs on a thread
    while HTTP (Lambda) requests keep the re-invocation."""
    with SlackStandIn(tokens=["xoxb-test"]) as slack:
        app = App(
            signing_secret="unused-in-socket-mode",
            client=WebClient(token="xoxb-test", base_url=slack.api_url),
            process_before_response=True,
            token_verification_enabled=False,
        )
        done = threading.Event()
        seen: list[str] = []

        def ack_forward(ack: Any) -> None:
            ack(text="working on it")

        def run_forward(command: dict[str, Any]) -> None:
            seen.append(command["text"])
            done.set()

        app.command("/forward")(ack=ack_forward, lazy=[run_forward])
        SlackRequestHandler(app)  # as bot.app does: lazy listeners now re-invoke the Lambda
        assert isinstance(app.listener_runner.lazy_listener_runner, LambdaLazyListenerRunner)

        runner = SocketModeLazyRunner.install(app)
        assert SocketModeLazyRunner.install(app) is runner  # idempotent

        payload = {
            "command": "/forward",
            "text": "list",
            "user_id": "U0LOCALUSER",
            "channel_id": "C0OPERATIONS",
            "team_id": "T0SWITCHBD",
            "response_url": slack.response_url("socket"),
            "trigger_id": "1.2.abc",
        }
        request = SocketModeRequest(type="slash_commands", envelope_id="env-1", payload=payload)
        response = run_bolt_app(app, request)  # what SocketModeHandler.handle does
        assert response.status == 200
        assert "working on it" in response.body
        assert done.wait(5), "the lazy listener did not run"
        assert seen == ["list"]

        started: list[BoltRequest] = []

        class Recorder(LambdaLazyListenerRunner):
            def start(self, function: Any, request: BoltRequest) -> None:
                started.append(request)

        runner.lambda_runner = Recorder(app.logger)
        http_request = BoltRequest(body="command=%2Fforward", context={"lambda_request": {"headers": {}}})
        runner.start(run_forward, http_request)
        assert started == [http_request]


def test_without_a_stack_or_aws_settings_the_cli_says_how_to_start_one(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "switchboard.cli", "forward", "list"],
        env=clean_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2
    assert "no local stack is running: start one with `make run`" in done.stderr
    assert "TABLE_NAME" in done.stderr
