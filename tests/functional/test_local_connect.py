"""The local stack's Amazon Connect side end to end, as an operator would use it: the CLI forwards a
number claimed in the emulated instance (associating the forwarding flow), `switchboard call` runs
a call through the shipped flow and the real Lambda, and the removal puts the old flow back."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from switchboard_local.stack import CONNECT_NUMBERS, LocalStack
from tests.helpers import run_switchboard

pytestmark = pytest.mark.functional

NUMBER = CONNECT_NUMBERS[0]
D1, D2 = "+12065550111", "+13125550122"


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    with LocalStack() as running:
        yield running


def flow_name(stack: LocalStack) -> str:
    return stack.connect.flows.get(stack.connect.flow_of(NUMBER), "")


def test_forward_call_and_remove_a_connect_number(stack: LocalStack) -> None:
    assert flow_name(stack) == "Main IVR"

    done = run_switchboard(stack, "forward", "set", NUMBER, D1, D2, "--timeout", "15", "--greeting", "none")
    assert done.returncode == 0, done.stderr
    assert flow_name(stack) == "switchboard forwarding"

    call = run_switchboard(stack, "call", NUMBER, "--no-answer")
    assert call.returncode == 0, call.stdout + call.stderr
    assert call.stdout.startswith(f"Simulated Amazon Connect call +13035550123 → {NUMBER} on the local")
    assert stack.connect.instance_id not in call.stdout  # an id that tells the reader nothing
    assert f"dials {D1}" in call.stdout
    assert f"{D1} does not answer" in call.stdout
    assert f"{D2} answers" in call.stdout
    assert "outcome bridged" in call.stdout
    assert "FLAG" not in call.stdout

    removed = run_switchboard(stack, "forward", "remove", NUMBER)
    assert removed.returncode == 0, removed.stderr
    assert flow_name(stack) == "Main IVR"


def test_a_connect_number_without_a_forward_keeps_its_own_flow(stack: LocalStack) -> None:
    call = run_switchboard(stack, "call", NUMBER)

    assert call.returncode == 0, call.stderr
    assert f"{NUMBER} has no forward, so Amazon Connect runs its own flow" in call.stdout
    assert f"switchboard forward set {NUMBER} DESTINATION" in call.stdout
    assert "contact flow" not in call.stdout  # its id means nothing to the reader


# -- `switchboard call --transfer-at / --realtime` on an Amazon Connect number -------------------------

TARGET = "+14155550199"


@pytest.fixture
def forwarded(stack: LocalStack) -> Iterator[str]:
    """NUMBER forwarded to D1, 15 s ring time, no greeting: D1 is dialled at once."""
    done = run_switchboard(stack, "forward", "set", NUMBER, D1, "--timeout", "15", "--greeting", "none")
    assert done.returncode == 0, done.stderr
    yield NUMBER
    assert run_switchboard(stack, "forward", "remove", NUMBER).returncode == 0


def line_of(lines: list[str], text: str) -> int:
    """The index of the first timeline line containing ``text``."""
    return next(i for i, line in enumerate(lines) if text in line)


def test_a_transfer_after_the_callee_answered_is_queued_and_made_when_they_hang_up(
    stack: LocalStack, forwarded: str
) -> None:
    call = run_switchboard(
        stack, "call", forwarded, "--answer", "--talk", "30", "--transfer-at", "20", "--transfer-to", TARGET
    )

    assert call.returncode == 0, call.stdout + call.stderr
    lines = call.stdout.splitlines()
    queued = line_of(lines, f"queued until {D1} hangs up (Amazon Connect)")
    assert lines[queued].lstrip().startswith("20.0s")  # asked at the scripted moment
    hung_up = line_of(lines, f"{D1} hangs up; the flow resumes")
    please_hold = line_of(lines, "plays please_hold.wav")
    dialled = line_of(lines, f"dials {TARGET}")
    assert queued < hung_up < please_hold < dialled
    assert "call record: outcome transferred" in call.stdout
    made_at = lines[dialled].split("s", 1)[0].strip()
    assert (
        f"transfer at 20s: queued until {D1} hangs up (Amazon Connect); made at {made_at}s "
        f"(please hold, then {TARGET})"
    ) in call.stdout
    assert "FLAG" not in call.stdout


def test_a_transfer_while_the_callee_may_still_be_ringing_is_refused_saying_why(
    stack: LocalStack, forwarded: str
) -> None:
    call = run_switchboard(stack, "call", forwarded, "--transfer-at", "5", "--transfer-to", TARGET)

    assert call.returncode == 0, call.stdout + call.stderr
    # The bot's own words (bot/transfers.py ringing_refusal): Slack would have said the same.
    reason = f"The call on {forwarded} may still be ringing {D1}: Amazon Connect does not report"
    assert reason in call.stdout
    assert "transfer at 5s: refused: " + reason in call.stdout
    assert "please_hold" not in call.stdout
    assert f"dials {TARGET}" not in call.stdout
    assert "call record: outcome bridged" in call.stdout


def test_a_transfer_to_a_sip_user_is_refused_on_amazon_connect(stack: LocalStack, forwarded: str) -> None:
    call = run_switchboard(
        stack, "call", forwarded, "--answer", "--transfer-at", "20", "--transfer-to", "sip:agent-7"
    )

    assert call.returncode == 0, call.stdout + call.stderr
    assert "is on Amazon Connect, which cannot reach sip:agent-7 on our phone system" in call.stdout
    assert "please_hold" not in call.stdout


def test_a_transfer_before_the_call_is_connected_finds_no_call(stack: LocalStack, forwarded: str) -> None:
    call = run_switchboard(stack, "call", forwarded, "--transfer-at", "0", "--transfer-to", TARGET)

    assert call.returncode == 0, call.stdout + call.stderr
    assert f"No call is connected on {forwarded} right now" in call.stdout


def test_a_transfer_the_call_does_not_live_to_see_is_not_asked(stack: LocalStack, forwarded: str) -> None:
    call = run_switchboard(
        stack, "call", forwarded, "--answer", "--talk", "5", "--transfer-at", "60", "--transfer-to", TARGET
    )

    assert call.returncode == 0, call.stdout + call.stderr
    assert "transfer at 60s: not asked (the call had ended)" in call.stdout


def test_an_amazon_connect_call_refuses_what_only_the_sip_media_application_can_do(
    stack: LocalStack, forwarded: str
) -> None:
    via = run_switchboard(
        stack, "call", forwarded, "--transfer-at", "20", "--transfer-to", TARGET, "--transfer-via", "api"
    )
    assert via.returncode == 2
    assert "--transfer-via" in via.stderr
    assert "Simulated" not in via.stdout

    premium = run_switchboard(stack, "call", forwarded, "--transfer-at", "9", "--transfer-to", "+19005550100")
    assert premium.returncode == 2
    assert "premium-rate" in premium.stderr


def test_a_realtime_connect_call_runs_on_the_wall_clock_printing_as_it_goes(
    stack: LocalStack, forwarded: str
) -> None:
    import subprocess
    import sys
    import time

    from tests.helpers import switchboard_environment

    command = [sys.executable, "-m", "switchboard.cli", "call", forwarded, "--ring", "1", "--talk", "3"]
    started = time.monotonic()
    process = subprocess.Popen(
        [*command, "--realtime"],
        env={**switchboard_environment(stack), "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    printed = [(time.monotonic(), line) for line in process.stdout]
    assert process.wait(timeout=60) == 0, process.stderr.read() if process.stderr else ""
    took = time.monotonic() - started

    text = "".join(line for _, line in printed)
    assert "call record: outcome bridged" in text
    dialled = next(at for at, line in printed if f"dials {D1}" in line)
    hung_up = next(at for at, line in printed if f"{D1} hangs up" in line)
    # 1 s ringing and 3 s talking on the wall clock (loosely: never less, whatever the machine).
    assert hung_up - dialled >= 3.5
    assert took >= 4.0
    assert sum(f"dials {D1}" in line for _, line in printed) == 1  # each line printed once


def test_in_real_time_a_transfer_someone_else_queues_reaches_an_unscripted_target(
    stack: LocalStack, forwarded: str
) -> None:
    """``--realtime``: a person transfers the call from Slack meanwhile (here: the bot's queue,
    written as another process would); the target nobody scripted answers, as on the SMA."""
    import time

    import boto3

    from switchboard.adapters.connect_calls import DynamoTransferQueue
    from switchboard.adapters.dynamodb import DynamoCallLog
    from switchboard.domain.transfer import QueuedTransfer
    from switchboard_local.connect_calls import simulate_connect_call

    with stack.applied():
        dynamodb = boto3.client("dynamodb")
        log = DynamoCallLog(dynamodb, stack.table_name)

        def from_slack() -> None:
            (entry,) = log.live_calls(forwarded)
            transfer = QueuedTransfer(TARGET, entry.call.since_ms, "U0PERSON")
            DynamoTransferQueue(dynamodb, stack.table_name).queue(entry.transaction_id, transfer, 0)

        started = time.monotonic()
        # 40 times real time keeps the test short (the bot's ring-time check reads the wall clock,
        # so it is left out here; the --transfer-at tests above make it).
        result = simulate_connect_call(
            forwarded, "+13035550123", ["answer"], talk_seconds=25.0, realtime=40.0, during=[(20, from_slack)]
        )
        took = time.monotonic() - started

    assert f"dials {TARGET}" in "\n".join(result.transcript.lines())
    assert f"{TARGET} answers" in "\n".join(result.transcript.lines())
    assert result.record is not None
    assert result.record["outcome"] == "transferred"
    simulated = result.transcript.timeline[-1][0]
    assert took >= simulated / 40.0  # paced: never faster than 40 times real time
