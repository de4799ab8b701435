"""Take back and transfer on the local stack: scripted actions during a simulated call, call updates
from the Chime SDK Voice emulator into the simulator (in this process and from another one), and
``switchboard call --transfer-at`` through the Connect Lambda and through the API."""

from __future__ import annotations

import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from switchboard.adapters.dynamodb import DynamoForwardRepository
from switchboard.adapters.pool import DynamoDnisPool
from switchboard.domain.pool import DnisPair
from switchboard.domain.rules import CONNECT, ForwardRule
from switchboard_local.aws.chime_voice_emulator import SINKS_PATH, ChimeVoiceEmulator, ChimeVoiceServer
from switchboard_local.pstn.calls import TransferScript, call_updates_to, connect_event, simulate_call
from switchboard_local.pstn.simulator import (
    FLAG_SCRIPT_RAISED,
    CallNotFoundError,
    CallTranscript,
    PstnSimulator,
    SimulatedCall,
)
from switchboard_local.stack import PROMPTS, LocalStack
from tests.functional.conftest import BUCKET, TABLE
from tests.helpers import load_event, run_switchboard

pytestmark = pytest.mark.functional

ROOT = Path(__file__).resolve().parents[2]
OURS, ENTRY = "+12025550100", "+12025550102"
SMA_NUMBER, CONNECT_NUMBER = "+12025550103", "+18005550111"
FIRST, SECOND = "+12065550111", "+13125550122"
CALLER = "+13035550123"


# -- scripted actions during a call (a handler that bridges and records what it is told) ----------


class Bridging:
    """NEW_INBOUND_CALL → bridge to FIRST; CALL_UPDATE_REQUESTED → remember it, no actions."""

    def __init__(self) -> None:
        self.updates: list[dict[str, str]] = []

    def __call__(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        actions: list[dict[str, Any]] = []
        kind = event["InvocationEventType"]
        if kind == "NEW_INBOUND_CALL":
            actions = [
                {
                    "Type": "CallAndBridge",
                    "Parameters": {
                        "CallTimeoutSeconds": 30,
                        "CallerIdNumber": OURS,
                        "Endpoints": [{"BridgeEndpointType": "PSTN", "Uri": FIRST}],
                    },
                }
            ]
        elif kind == "CALL_UPDATE_REQUESTED":
            self.updates.append(event["ActionData"]["Parameters"]["Arguments"])
        elif kind == "HANGUP":
            gone = {
                p["ParticipantTag"]
                for p in event["CallDetails"]["Participants"]
                if p["Status"] == "Connected"
            }
            actions = [{"Type": "Hangup", "Parameters": {"ParticipantTag": tag}} for tag in sorted(gone)]
        return {"SchemaVersion": "1.0", "Actions": actions}


def at_ms(transcript: CallTranscript, text: str) -> list[int]:
    return [entry.at_ms for entry in transcript.timeline if text in entry.text]


def test_a_scripted_action_runs_while_the_call_is_paused_and_may_update_it_from_another_thread() -> None:
    handler = Bridging()
    simulator = PstnSimulator(handler)
    seen: list[SimulatedCall] = []

    def agent_asks_for_a_transfer(live: SimulatedCall) -> str:
        seen.append(live)
        # As an emulator's request thread would: update_call from elsewhere, and wait for it. A lock
        # held by the simulator here would make this thread hang.
        worker = threading.Thread(
            target=simulator.update_call,
            args=(live.transaction_id, {"Transfer": "true", "TransferTarget": SECOND}),
        )
        worker.start()
        worker.join(timeout=5)
        assert not worker.is_alive(), "update_call blocked: the simulator held its lock during the action"
        return "agent asked for a transfer"

    transcript = simulator.place_call(OURS, CALLER, during=[(10.0, agent_asks_for_a_transfer)])

    assert [live.at_seconds for live in seen] == [10.0]
    bridged = seen[0].bridged()
    assert bridged is not None
    assert (bridged["To"], bridged["From"]) == (FIRST, OURS)
    assert seen[0].transaction_id == transcript.transaction_id
    assert handler.updates == [{"Transfer": "true", "TransferTarget": SECOND}]
    assert at_ms(transcript, "agent asked for a transfer") == [10_000]
    assert at_ms(transcript, "CALL_UPDATE_REQUESTED") == [10_000]
    texts = [entry.text for entry in transcript.timeline]
    assert texts.index("agent asked for a transfer") < next(
        i for i, t in enumerate(texts) if t.startswith("CALL_UPDATE_REQUESTED")
    )
    assert not transcript.flags


def test_scripted_actions_run_in_time_order_even_while_it_rings() -> None:
    order: list[tuple[str, float, bool]] = []

    def note(name: str) -> Any:
        def action(live: SimulatedCall) -> None:
            order.append((name, live.at_seconds, live.bridged() is not None))

        return action

    PstnSimulator(Bridging()).place_call(OURS, CALLER, during=[(7.0, note("late")), (2.0, note("early"))])
    assert order == [("early", 2.0, False), ("late", 7.0, True)]  # FIRST answers after 4 s


def test_actions_due_after_the_call_ended_do_not_run_and_say_so() -> None:
    ran: list[float] = []
    transcript = PstnSimulator(Bridging()).place_call(
        OURS, CALLER, during=[(500.0, lambda live: ran.append(live.at_seconds))]
    )
    assert ran == []
    assert any("at 500s not run: the call had ended" in note for note in transcript.notes())


def test_an_action_that_raises_is_flagged_and_the_call_goes_on() -> None:
    def broken(live: SimulatedCall) -> None:
        raise RuntimeError("contact flow broke")

    transcript = PstnSimulator(Bridging()).place_call(OURS, CALLER, during=[(10.0, broken)])
    assert FLAG_SCRIPT_RAISED in transcript.flags
    assert transcript.outcome.ended_by == "caller"  # the call itself carried on to its end
    assert any("contact flow broke" in note for note in transcript.notes())


def test_on_call_update_takes_only_calls_of_its_own_sip_media_application() -> None:
    simulator = PstnSimulator(Bridging(), sip_media_application_id="sma-1")
    outcomes: list[str] = []

    def try_both(live: SimulatedCall) -> None:
        try:
            simulator.on_call_update("sma-2", live.transaction_id, {"Transfer": "true"})
        except CallNotFoundError:
            outcomes.append("sma-2 refused")
        simulator.on_call_update("sma-1", live.transaction_id, {"Transfer": "true"})
        outcomes.append("sma-1 taken")

    simulator.place_call(OURS, CALLER, during=[(10.0, try_both)])
    assert outcomes == ["sma-2 refused", "sma-1 taken"]
    with pytest.raises(CallNotFoundError):
        simulator.on_call_update("sma-1", "no-such-call", {})


# -- the emulator's call sinks ----------------------------------------------------------------------


@pytest.fixture
def chime() -> Iterator[tuple[ChimeVoiceEmulator, ChimeVoiceServer, str]]:
    emulator = ChimeVoiceEmulator()
    sma_id = emulator.create_sip_media_application("t", "arn:aws:lambda:us-east-1:123456789012:function:t")
    with ChimeVoiceServer(emulator) as server:
        yield emulator, server, sma_id


def voice(server: ChimeVoiceServer) -> Any:
    return boto3.client(
        "chime-sdk-voice",
        endpoint_url=server.url,
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )


def test_updates_go_to_the_sink_holding_the_call_and_nowhere_else(
    chime: tuple[ChimeVoiceEmulator, ChimeVoiceServer, str],
) -> None:
    emulator, server, sma_id = chime
    client = voice(server)
    with pytest.raises(client.exceptions.NotFoundException):  # nobody holds any call
        client.update_sip_media_application_call(
            SipMediaApplicationId=sma_id, TransactionId="tx-1", Arguments={}
        )

    taken: list[tuple[str, str, dict[str, str]]] = []

    def not_mine(sma: str, tx: str, arguments: dict[str, str]) -> None:
        raise LookupError(tx)

    def mine(sma: str, tx: str, arguments: dict[str, str]) -> None:
        if tx != "tx-1":
            raise LookupError(tx)
        taken.append((sma, tx, arguments))

    first, second = emulator.call_sinks.add(not_mine), emulator.call_sinks.add(mine)
    client.update_sip_media_application_call(
        SipMediaApplicationId=sma_id, TransactionId="tx-1", Arguments={"Transfer": "true"}
    )
    assert taken == [(sma_id, "tx-1", {"Transfer": "true"})]
    with pytest.raises(client.exceptions.NotFoundException):
        client.update_sip_media_application_call(
            SipMediaApplicationId=sma_id, TransactionId="tx-2", Arguments={}
        )
    assert emulator.call_sinks.remove(first)
    assert emulator.call_sinks.remove(second)
    assert len(emulator.call_sinks) == 0


def test_a_simulator_in_another_process_receives_updates_over_http(
    chime: tuple[ChimeVoiceEmulator, ChimeVoiceServer, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """``call_updates_to`` without an emulator object: the remote path ``switchboard call`` takes
    against a ``switchboard dev`` (here the emulator merely happens to share the process)."""
    emulator, server, sma_id = chime
    monkeypatch.setenv("AWS_ENDPOINT_URL_CHIME_SDK_VOICE", server.url)
    handler = Bridging()
    simulator = PstnSimulator(handler, sip_media_application_id=sma_id)
    client = voice(server)

    def transfer(live: SimulatedCall) -> None:
        client.update_sip_media_application_call(
            SipMediaApplicationId=sma_id,
            TransactionId=live.transaction_id,
            Arguments={"Transfer": "true", "TransferTarget": SECOND},
        )

    with call_updates_to(simulator) as how:
        assert how.startswith("forwarded by the emulator at http://127.0.0.1")
        assert len(emulator.call_sinks) == 1
        transcript = simulator.place_call(OURS, CALLER, during=[(10.0, transfer)])
        # The call is over: its update is refused (the sink answers 404 → NotFoundException).
        with pytest.raises(client.exceptions.NotFoundException):
            client.update_sip_media_application_call(
                SipMediaApplicationId=sma_id, TransactionId=transcript.transaction_id, Arguments={}
            )
    assert handler.updates == [{"Transfer": "true", "TransferTarget": SECOND}]
    assert at_ms(transcript, "CALL_UPDATE_REQUESTED") == [10_000]
    assert len(emulator.call_sinks) == 0  # unregistered on the way out


def test_the_sink_routes_refuse_what_they_cannot_serve(
    chime: tuple[ChimeVoiceEmulator, ChimeVoiceServer, str],
) -> None:
    _, server, _ = chime

    def send(method: str, path: str, body: bytes | None) -> int:
        request = urllib.request.Request(f"{server.url}{path}", data=body, method=method)
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                return int(response.status)
        except urllib.error.HTTPError as error:
            return error.code

    assert send("POST", SINKS_PATH, b'{"url": "http://example.com/"}') == 400  # loopback only
    assert send("POST", SINKS_PATH, b"{}") == 400
    assert send("DELETE", f"{SINKS_PATH}/nope", None) == 404
    assert send("GET", SINKS_PATH, None) == 405


# -- simulate_call with the real handlers (the test session's moto, an emulator of our own) -----------


@pytest.fixture
def transfer_env(
    dynamodb: Any, chime: tuple[ChimeVoiceEmulator, ChimeVoiceServer, str], monkeypatch: pytest.MonkeyPatch
) -> ChimeVoiceEmulator:
    """The session's table (``sma.app`` is bound to it), prompts, a Connect entry number with one
    DNIS pair, and the emulator as Chime SDK Voice."""
    emulator, server, sma_id = chime
    monkeypatch.setenv("AWS_ENDPOINT_URL_CHIME_SDK_VOICE", server.url)
    monkeypatch.setenv("SIP_MEDIA_APPLICATION_ID", sma_id)
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    for path in PROMPTS.glob("*.wav"):
        s3.put_object(Bucket=BUCKET, Key=f"prompts/{path.name}", Body=path.read_bytes())
    rules = DynamoForwardRepository(dynamodb, TABLE)
    rules.save(ForwardRule(number=ENTRY, destinations=(CONNECT,)), actor="test")
    rules.save(ForwardRule(number=OURS, destinations=(FIRST,)), actor="test")
    DynamoDnisPool(dynamodb, TABLE).add(DnisPair(SMA_NUMBER, CONNECT_NUMBER))
    return emulator


def bridges(transcript: CallTranscript) -> list[dict[str, Any]]:
    return [
        a["Parameters"]
        for r in transcript.responses
        if isinstance(r, dict)
        for a in r.get("Actions", [])
        if a["Type"] == "CallAndBridge"
    ]


def pair_is_free(dynamodb: Any) -> bool:
    entry = DynamoDnisPool(dynamodb, TABLE).find(SMA_NUMBER, CONNECT_NUMBER)
    return entry is not None and entry.free


def test_connect_takes_the_call_back_and_it_goes_to_a_sip_target_with_the_caller_in_a_header(
    transfer_env: ChimeVoiceEmulator, dynamodb: Any
) -> None:
    arn = "arn:aws:chime:us-east-1:123456789012:vc/abcdefghijklmnopqrstuv"
    result = simulate_call(
        ENTRY, CALLER, transfer=TransferScript(10.0, "agent-7", arn=arn), chime=transfer_env
    )
    assert not result.transcript.flags, result.transcript.render()
    assert result.transfer is not None
    assert result.transfer.via == "connect"  # the default for an Amazon Connect entry number
    assert result.transfer.ok, result.transfer.answer
    # Connect knew the call by its DNIS pair only: the caller ID it saw and the number it answered.
    parameters = result.transfer.request["Details"]["Parameters"]
    assert (parameters["CallingNumber"], parameters["CalledNumber"]) == (SMA_NUMBER, CONNECT_NUMBER)
    assert parameters["Purpose"] == "TransferCall"
    (update,) = transfer_env.snapshot()["call_updates"]
    assert update["TransactionId"] == result.transcript.transaction_id
    assert update["Arguments"] == {"Transfer": "true", "TransferTarget": "agent-7", "TransferTargetArn": arn}
    first, second = bridges(result.transcript)
    assert first["Endpoints"] == [{"BridgeEndpointType": "PSTN", "Uri": CONNECT_NUMBER}]
    assert second["Endpoints"] == [{"BridgeEndpointType": "AWS", "Arn": arn, "Uri": "agent-7"}]
    assert second["SipHeaders"] == {"X-Original-Calling-Number": CALLER}
    assert result.record is not None
    assert result.record["outcome"] == "transferred"
    assert pair_is_free(dynamodb)


def test_a_transfer_asked_before_connect_answers_finds_no_contact(
    transfer_env: ChimeVoiceEmulator, dynamodb: Any
) -> None:
    result = simulate_call(ENTRY, CALLER, transfer=TransferScript(2.0, FIRST), chime=transfer_env)
    assert result.transfer is not None
    assert result.transfer.answer["status"] == "error"
    assert transfer_env.snapshot()["call_updates"] == []
    assert [b["Endpoints"][0]["Uri"] for b in bridges(result.transcript)] == [CONNECT_NUMBER]
    assert pair_is_free(dynamodb)  # released when the call ended


def test_a_forwarded_call_is_transferred_through_the_api_by_default(
    transfer_env: ChimeVoiceEmulator, dynamodb: Any
) -> None:
    result = simulate_call(
        OURS, CALLER, ["answer"], transfer=TransferScript(10.0, SECOND), chime=transfer_env
    )
    assert result.transfer is not None
    assert result.transfer.via == "api"
    assert result.transfer.request["Arguments"] == {"Transfer": "true", "TransferTarget": SECOND}
    assert result.transcript.outcome.bridged_to == SECOND
    assert result.record is not None
    assert result.record["outcome"] == "transferred"


def test_a_realtime_call_can_be_transferred_by_anyone_while_it_is_connected(
    transfer_env: ChimeVoiceEmulator, dynamodb: Any
) -> None:
    """``switchboard call --realtime``: nothing is scripted; whoever sees the live call (here: this
    test, as the Slack bot would) transfers it with a real UpdateSipMediaApplicationCall."""
    from switchboard.adapters.dynamodb import DynamoCallLog

    results: list[Any] = []
    worker = threading.Thread(
        target=lambda: results.append(
            simulate_call(
                OURS, CALLER, ["answer"], ring_seconds=1.0, talk_seconds=6.0, chime=transfer_env, realtime=4.0
            )
        )
    )
    worker.start()
    calls = DynamoCallLog(dynamodb, TABLE)
    deadline = time.monotonic() + 20
    live = calls.live_calls(OURS)
    while not live and time.monotonic() < deadline and worker.is_alive():
        time.sleep(0.02)
        live = calls.live_calls(OURS)
    assert len(live) == 1, "the call was never listed as live"
    sma_id = next(iter(transfer_env.snapshot()["sip_media_applications"]))
    voice_client = boto3.client("chime-sdk-voice")
    voice_client.update_sip_media_application_call(
        SipMediaApplicationId=sma_id,
        TransactionId=live[0].transaction_id,
        Arguments={"Transfer": "true", "TransferTarget": SECOND},
    )
    worker.join(timeout=30)
    (result,) = results
    assert result.transcript.transaction_id == live[0].transaction_id
    assert result.transcript.outcome.bridged_to == SECOND
    assert result.record is not None
    assert result.record["outcome"] == "transferred"
    assert not result.transcript.flags


def test_connect_events_have_the_shape_of_the_recorded_fixture() -> None:
    recorded = load_event("connect_transfer_call")
    recorded["Details"]["ContactData"]["Attributes"] = {}  # what the flow stored earlier; none here
    built = connect_event("TransferCall", SMA_NUMBER, CONNECT_NUMBER, TransferTarget=FIRST)

    def shape(value: Any) -> Any:
        if isinstance(value, dict):
            return {key: shape(item) for key, item in value.items()}
        return type(value).__name__

    assert shape(built) == shape(recorded)
    contact = built["Details"]["ContactData"]
    assert contact["CustomerEndpoint"]["Address"] == SMA_NUMBER
    assert contact["SystemEndpoint"]["Address"] == CONNECT_NUMBER


# -- `switchboard call --transfer-at` as a user runs it (a subprocess) against a local stack -----------


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    with LocalStack(table_name="switchboard-transfer-test") as local:
        yield local


cli = run_switchboard


def test_switchboard_call_scripts_a_take_back_and_transfer(stack: LocalStack) -> None:
    assert cli(stack, "pool", "add", SMA_NUMBER, CONNECT_NUMBER).returncode == 0
    assert cli(stack, "forward", "set", ENTRY, "connect").returncode == 0

    done = cli(stack, "call", ENTRY, "--transfer-at", "10", "--transfer-to", "(206) 555-0111")
    assert done.returncode == 0, done.stderr
    assert "connect_lambda.app.handler to transfer the call: accepted" in done.stdout
    assert "CALL_UPDATE_REQUESTED" in done.stdout
    assert "PlayAudio please_hold.wav" in done.stdout
    assert "call record: outcome transferred" in done.stdout
    assert "flags: none" in done.stdout
    update = stack.chime.snapshot()["call_updates"][-1]
    assert update["Arguments"] == {"Transfer": "true", "TransferTarget": FIRST}  # normalised to E.164

    failed = cli(
        stack,
        "call",
        ENTRY,
        "--transfer-at",
        "10",
        "--transfer-to",
        SECOND,
        "--target-behaviour",
        "no-answer",
    )
    assert failed.returncode == 0, failed.stderr
    assert "call record: outcome transfer-failed" in failed.stdout
    assert "PlayAudio failure.wav" in failed.stdout

    with stack.applied():
        assert pair_is_free(boto3.client("dynamodb"))


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        (["--transfer-at", "10"], "--transfer-at and --transfer-to go together"),
        (["--transfer-to", FIRST], "--transfer-at and --transfer-to go together"),
        (["--transfer-via", "api"], "need --transfer-at and --transfer-to"),
        (["--transfer-at", "10", "--transfer-to", "+19005550100"], "premium-rate"),
        (
            ["--transfer-at", "10", "--transfer-to", "agent-7", "--transfer-arn", "arn:aws:chime:x"],
            "not a voice",
        ),
        (
            [
                "--transfer-at",
                "10",
                "--transfer-to",
                "agent 7",
                "--transfer-arn",
                "arn:aws:chime:us-east-1:123456789012:vc/abc",
            ],
            "not a SIP user",
        ),
    ],
)
def test_switchboard_call_refuses_a_transfer_it_cannot_script(
    stack: LocalStack, args: list[str], reason: str
) -> None:
    result = cli(stack, "call", OURS, *args)
    assert result.returncode == 2
    assert reason in result.stderr
    assert "Simulated call" not in result.stdout  # refused before any call was placed
