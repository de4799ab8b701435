"""The PSTN Audio simulator: its own semantics (scripted handlers), then whole calls through sma.app.

The first half pins what the simulator does on behalf of the service, with tiny handlers whose every
response is spelled out, so a failure there is a simulator bug. The second half runs the real
``sma.app.handler`` against moto: whole calls, no hand-written event sequences, and no call may end
with dead air, a leg left up or a response PSTN Audio would reject.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from switchboard.adapters.dynamo_codec import decode_item
from switchboard.adapters.dynamodb import DynamoForwardRepository
from switchboard.domain.rules import FailureAction, ForwardRule, GreetingMode
from switchboard_local.pstn.simulator import (
    FLAG_DEAD_AIR,
    FLAG_HANDLER_RAISED,
    FLAG_INVALID_RESPONSE,
    FLAG_LEG_A_LEFT_CONNECTED,
    FLAG_LEG_B_LEFT_CONNECTED,
    FLAG_MAX_INVOCATIONS,
    FLAG_STILL_CONNECTED,
    CallerBehaviour,
    CallNotFoundError,
    CallTranscript,
    PhoneBehaviour,
    PstnSimulator,
)
from tests.functional.conftest import BUCKET, TABLE
from tests.helpers import load_event

OURS = "+12025550100"
FIRST = "+12065550111"
SECOND = "+13125550122"
CALLER = "+13035550123"
EPOCH = 1_700_000_000_000

Event = dict[str, Any]
Response = dict[str, Any]


# ------------------------------------------------------------------------------ scripted handlers


def respond(*actions: dict[str, Any], **extra: Any) -> Response:
    return {"SchemaVersion": "1.0", "Actions": list(actions), **extra}


def play(key: str, tag: str = "LEG-A") -> dict[str, Any]:
    source = {"Type": "S3", "BucketName": "prompts", "Key": key}
    return {"Type": "PlayAudio", "Parameters": {"ParticipantTag": tag, "AudioSource": source}}


def pause(ms: int) -> dict[str, Any]:
    return {"Type": "Pause", "Parameters": {"DurationInMilliseconds": ms}}


def hangup(tag: str = "LEG-A", code: str = "0") -> dict[str, Any]:
    return {"Type": "Hangup", "Parameters": {"ParticipantTag": tag, "SipResponseCode": code}}


def bridge(uri: str = FIRST, timeout: int = 30, ringback: str | None = None) -> dict[str, Any]:
    parameters: dict[str, Any] = {
        "CallTimeoutSeconds": timeout,
        "CallerIdNumber": OURS,
        "Endpoints": [{"BridgeEndpointType": "PSTN", "Uri": uri}],
    }
    if ringback:
        parameters["RingbackTone"] = {"Type": "S3", "BucketName": "prompts", "Key": ringback}
    return {"Type": "CallAndBridge", "Parameters": parameters}


class Script:
    """A handler that answers each event type with the next response queued for it (else none)."""

    def __init__(self, **responses: list[Response | Callable[[Event], Response]]) -> None:
        self.responses = {kind: list(queue) for kind, queue in responses.items()}
        self.seen: list[Event] = []

    def __call__(self, event: Event, context: Any) -> Response:
        self.seen.append(event)
        queue = self.responses.get(event["InvocationEventType"], [])
        if not queue:
            return respond()
        step = queue.pop(0)
        return step(event) if callable(step) else step


def call(handler: Any, **kwargs: Any) -> CallTranscript:
    simulator = PstnSimulator(handler, prompt_exists=lambda _b, key: not key.startswith("missing"))
    return simulator.place_call(OURS, CALLER, epoch_ms=EPOCH, **kwargs)


def at(transcript: CallTranscript, kind: str, index: int = 0) -> int:
    """Simulated ms at which the ``index``-th event of ``kind`` was sent."""
    events = [
        e for e in transcript.timeline if e.kind == "event" and e.payload["InvocationEventType"] == kind
    ]
    return events[index].at_ms


def statuses(event: Event) -> dict[str, str]:
    return {p["ParticipantTag"]: p["Status"] for p in event["CallDetails"]["Participants"]}


def bridged_then_caller_ends() -> Script:
    return Script(NEW_INBOUND_CALL=[respond(bridge())], HANGUP=[respond(hangup("LEG-B"))])


# --------------------------------------------------------------------------- simulator semantics


def test_bridged_call_follows_the_documented_event_sequence() -> None:
    transcript = call(bridged_then_caller_ends())

    assert transcript.event_types() == [
        "NEW_INBOUND_CALL",
        "RINGING",
        "ACTION_SUCCESSFUL",
        "HANGUP",
        "HANGUP",
    ]
    new, ringing, answered, caller_gone, callee_gone = transcript.events
    leg_a = new["CallDetails"]["Participants"][0]
    assert (leg_a["ParticipantTag"], leg_a["Direction"], leg_a["To"], leg_a["From"]) == (
        "LEG-A",
        "Inbound",
        OURS,
        CALLER,
    )
    assert leg_a["StartTimeInMilliseconds"] == str(EPOCH)
    assert statuses(ringing) == {"LEG-A": "Connected"}  # LEG-B is listed once it answers
    assert answered["ActionData"]["Type"] == "CallAndBridge"
    assert answered["ActionData"]["Parameters"]["CallId"] == leg_a["CallId"]  # as in the docs' example
    assert statuses(answered) == {"LEG-A": "Connected", "LEG-B": "Connected"}
    leg_b = answered["CallDetails"]["Participants"][1]
    assert (leg_b["Direction"], leg_b["To"], leg_b["From"]) == ("Outbound", FIRST, OURS)
    assert leg_b["StartTimeInMilliseconds"] == str(EPOCH + 4000)
    assert uuid.UUID(leg_a["CallId"]) != uuid.UUID(leg_b["CallId"])
    assert statuses(caller_gone) == {"LEG-A": "Disconnected", "LEG-B": "Connected"}
    assert statuses(callee_gone) == {"LEG-A": "Disconnected", "LEG-B": "Disconnected"}
    # The app's Hangup of LEG-B yields HANGUP (not ACTION_SUCCESSFUL) naming the leg it dropped.
    assert callee_gone["ActionData"]["Type"] == "Hangup"
    assert callee_gone["ActionData"]["Parameters"]["ParticipantTag"] == "LEG-B"
    assert [at(transcript, "ACTION_SUCCESSFUL"), at(transcript, "HANGUP")] == [4000, 64000]

    outcome = transcript.outcome
    assert (outcome.bridged_to, outcome.destinations_dialed, outcome.ended_by) == (FIRST, [FIRST], "caller")
    assert outcome.duration_s == 64.0
    assert outcome.flags == []
    assert transcript.leg_statuses == {"LEG-A": "Disconnected", "LEG-B": "Disconnected"}


def test_events_have_the_shape_of_the_recorded_fixtures() -> None:
    transcript = call(bridged_then_caller_ends())
    pairs = [
        ("new_inbound_call", transcript.events_of("NEW_INBOUND_CALL")[0]),
        ("ringing", transcript.events_of("RINGING")[0]),
        ("action_successful_call_and_bridge", transcript.events_of("ACTION_SUCCESSFUL")[0]),
        ("hangup_leg_a", transcript.events_of("HANGUP")[0]),
    ]
    for name, event in pairs:
        fixture = load_event(name)
        assert set(event) == set(fixture), name
        assert set(fixture["CallDetails"]) <= set(event["CallDetails"]), name
        assert set(event["CallDetails"]) - set(fixture["CallDetails"]) <= {"TransactionAttributes"}
        for ours, theirs in zip(
            event["CallDetails"]["Participants"], fixture["CallDetails"]["Participants"], strict=False
        ):
            assert set(ours) == set(theirs), name
        if "ActionData" in fixture:
            assert set(fixture["ActionData"]) <= set(event["ActionData"]), name
    uuid.UUID(transcript.transaction_id)


def test_sequence_increments_and_transaction_attributes_round_trip() -> None:
    handler = Script(
        NEW_INBOUND_CALL=[respond(pause(1000), TransactionAttributes={"step": "1"})],
        ACTION_SUCCESSFUL=[
            respond(pause(1000)),  # no TransactionAttributes: the stored ones are kept
            respond(pause(1000), TransactionAttributes={"step": "3", "extra": "x"}),
            respond(hangup(), TransactionAttributes={}),  # {} erases them
        ],
    )
    first = call(handler)
    second = call(Script())

    assert [e["Sequence"] for e in first.events] == [1, 2, 3, 4, 5]
    assert [e["CallDetails"]["TransactionAttributes"] for e in first.events] == [
        {},
        {"step": "1"},
        {"step": "1"},
        {"step": "3", "extra": "x"},
        {},
    ]
    assert {e["CallDetails"]["TransactionId"] for e in first.events} == {first.transaction_id}
    assert first.transaction_id != second.transaction_id
    assert first.flags == []


def test_action_successful_comes_once_after_the_whole_list_with_the_last_action() -> None:
    handler = Script(
        NEW_INBOUND_CALL=[respond(play("one.wav"), pause(2000), play("two.wav"))],
        ACTION_SUCCESSFUL=[respond(hangup())],
    )
    transcript = call(handler)

    assert transcript.event_types() == ["NEW_INBOUND_CALL", "ACTION_SUCCESSFUL", "HANGUP"]
    success = transcript.events_of("ACTION_SUCCESSFUL")[0]
    assert success["ActionData"]["Parameters"]["AudioSource"]["Key"] == "two.wav"
    assert at(transcript, "ACTION_SUCCESSFUL") == 3000 + 2000 + 3000
    assert transcript.outcome.ended_by == "app"
    assert transcript.flags == []


def test_action_failed_drops_the_remaining_actions() -> None:
    handler = Script(
        NEW_INBOUND_CALL=[respond(play("missing.wav"), pause(5000), play("never.wav"))],
        ACTION_FAILED=[respond(hangup(code="480"))],
    )
    transcript = call(handler)

    assert transcript.event_types() == ["NEW_INBOUND_CALL", "ACTION_FAILED", "HANGUP"]
    failed = transcript.events_of("ACTION_FAILED")[0]["ActionData"]
    assert (failed["Type"], failed["ErrorType"]) == ("PlayAudio", "InvalidAudioSource")
    assert failed["Parameters"]["AudioSource"]["Key"] == "missing.wav"
    assert at(transcript, "HANGUP") == 0  # neither the pause nor the second prompt ran
    assert transcript.events_of("HANGUP")[0]["ActionData"]["Parameters"]["SipResponseCode"] == "480"


def test_action_on_a_leg_that_does_not_exist_fails() -> None:
    handler = Script(
        NEW_INBOUND_CALL=[respond(play("hello.wav", tag="LEG-B"))], ACTION_FAILED=[respond(hangup())]
    )
    transcript = call(handler)
    assert transcript.events_of("ACTION_FAILED")[0]["ActionData"]["ErrorType"] == "InvalidActionParameter"


@pytest.mark.parametrize(
    ("response", "problem"),
    [
        (respond(*[pause(10)] * 11), "at most 10 actions"),
        (
            respond({"Type": "CallAndBridge", "Parameters": {**bridge()["Parameters"], "Endpoints": []}}),
            "exactly one",
        ),
        (
            respond(
                {
                    "Type": "CallAndBridge",
                    "Parameters": {
                        **bridge()["Parameters"],
                        "Endpoints": bridge()["Parameters"]["Endpoints"] * 2,
                    },
                }
            ),
            "exactly one",
        ),
        (
            respond(
                {
                    "Type": "CallAndBridge",
                    "Parameters": {**bridge()["Parameters"], "CallTimeoutSeconds": "30"},
                }
            ),
            "CallTimeoutSeconds",
        ),
        (respond({"Type": "Dial", "Parameters": {}}), "not a PSTN Audio action"),
        ({"SchemaVersion": "1.0", "Actions": {"Type": "Hangup"}}, "Actions must be a list"),
        (respond(TransactionAttributes={"n": 1}), "must be strings"),
        ({"SchemaVersion": "1.0", "Actions": [], "TransactionAttributes": {"when": {1, 2}}}, "not JSON"),
    ],
)
def test_a_rejected_response_gets_invalid_lambda_response_instead_of_running(
    response: Response, problem: str
) -> None:
    handler = Script(NEW_INBOUND_CALL=[response], INVALID_LAMBDA_RESPONSE=[respond(hangup())])
    transcript = call(handler)

    assert transcript.event_types() == ["NEW_INBOUND_CALL", "INVALID_LAMBDA_RESPONSE", "HANGUP"]
    invalid = transcript.events_of("INVALID_LAMBDA_RESPONSE")[0]
    assert "ActionData" not in invalid
    assert invalid["ErrorType"] == "InvalidActionParameter"
    assert problem in invalid["ErrorMessage"]
    assert at(transcript, "HANGUP") == 0  # nothing of the rejected response ran
    assert transcript.outcome.destinations_dialed == []
    assert transcript.flags == [FLAG_INVALID_RESPONSE]


def test_too_many_transaction_attributes_is_the_documented_error_type() -> None:
    attributes = {f"key{i}": "v" for i in range(11)}
    handler = Script(NEW_INBOUND_CALL=[respond(TransactionAttributes=attributes)])
    transcript = call(handler)
    invalid = transcript.events_of("INVALID_LAMBDA_RESPONSE")[0]
    assert invalid["ErrorType"] == "TransactionAttributesInvalidMapSize"
    assert invalid["CallDetails"]["TransactionAttributes"] == {}  # the rejected ones were not kept


def test_rejecting_the_answer_to_invalid_lambda_response_too_ends_the_call() -> None:
    def broken(event: Event, context: Any) -> Response:
        return {"SchemaVersion": "2.0", "Actions": []}

    transcript = call(broken)
    assert transcript.event_types() == ["NEW_INBOUND_CALL", "INVALID_LAMBDA_RESPONSE"]
    assert transcript.outcome.ended_by == "service"
    assert transcript.leg_statuses == {"LEG-A": "Disconnected"}


def test_caller_hanging_up_mid_prompt_cancels_the_rest() -> None:
    handler = Script(NEW_INBOUND_CALL=[respond(play("long.wav"), hangup())])
    transcript = call(handler, caller=CallerBehaviour(hangs_up_after=1.5))

    assert transcript.event_types() == ["NEW_INBOUND_CALL", "HANGUP"]
    gone = transcript.events_of("HANGUP")[0]
    assert gone["ActionData"]["Type"] == "PlayAudio"  # the action in progress, as case-5 shows
    assert statuses(gone) == {"LEG-A": "Disconnected"}
    assert at(transcript, "HANGUP") == 1500
    assert (transcript.outcome.ended_by, transcript.outcome.duration_s) == ("caller", 1.5)
    assert transcript.flags == []


def test_caller_hanging_up_while_it_rings_cancels_the_destination() -> None:
    transcript = call(
        Script(NEW_INBOUND_CALL=[respond(bridge())]),
        phones={FIRST: PhoneBehaviour.no_answer()},
        caller=CallerBehaviour(hangs_up_after=10),
    )
    assert transcript.event_types() == ["NEW_INBOUND_CALL", "RINGING", "HANGUP"]
    gone = transcript.events_of("HANGUP")[0]
    assert gone["ActionData"]["Type"] == "CallAndBridge"
    assert statuses(gone) == {"LEG-A": "Disconnected"}
    assert transcript.outcome.bridged_to is None
    assert transcript.leg_statuses == {"LEG-A": "Disconnected"}


def test_empty_actions_on_a_lone_caller_is_dead_air() -> None:
    handler = Script(NEW_INBOUND_CALL=[respond(play("hello.wav"))])  # then nothing, ever
    transcript = call(handler)

    assert transcript.event_types() == ["NEW_INBOUND_CALL", "ACTION_SUCCESSFUL", "HANGUP"]
    assert at(transcript, "HANGUP") == 3000 + 20000
    assert transcript.flags == [FLAG_DEAD_AIR]
    assert transcript.outcome.ended_by == "dead air"


def test_callee_hangup_that_the_app_ignores_leaves_leg_a_billed() -> None:
    transcript = call(
        Script(NEW_INBOUND_CALL=[respond(bridge())]),
        phones={FIRST: PhoneBehaviour.answers(after_seconds=2, hangs_up_after=10)},
    )
    gone = transcript.events_of("HANGUP")[0]
    assert statuses(gone) == {"LEG-A": "Connected", "LEG-B": "Disconnected"}
    assert gone["ActionData"]["Parameters"]["ParticipantTag"] == "LEG-B"
    assert at(transcript, "HANGUP", 0) == 12000
    assert at(transcript, "HANGUP", 1) == 32000  # the caller gave up after 20 s of silence
    assert transcript.flags == [FLAG_LEG_A_LEFT_CONNECTED, FLAG_DEAD_AIR]
    assert transcript.outcome.ended_by == "callee"


def test_caller_hangup_that_the_app_ignores_leaves_leg_b_billed() -> None:
    transcript = call(Script(NEW_INBOUND_CALL=[respond(bridge())]), caller=CallerBehaviour(hangs_up_after=30))
    assert transcript.flags == [FLAG_LEG_B_LEFT_CONNECTED, FLAG_STILL_CONNECTED]
    assert transcript.leg_statuses == {"LEG-A": "Disconnected", "LEG-B": "Connected"}
    assert "LEG-B left connected (billed)" in transcript.render()


def test_app_hanging_up_leg_b_gets_hangup_and_runs_the_answer() -> None:
    handler = Script(
        NEW_INBOUND_CALL=[respond(bridge())],
        ACTION_SUCCESSFUL=[respond(hangup("LEG-B"))],
        HANGUP=[respond(play("bye.wav"), hangup())],
    )
    transcript = call(handler)

    assert transcript.event_types() == [
        "NEW_INBOUND_CALL",
        "RINGING",
        "ACTION_SUCCESSFUL",
        "HANGUP",
        "HANGUP",
    ]
    first, last = transcript.events_of("HANGUP")
    assert statuses(first) == {"LEG-A": "Connected", "LEG-B": "Disconnected"}
    assert statuses(last) == {"LEG-A": "Disconnected", "LEG-B": "Disconnected"}
    assert at(transcript, "HANGUP", 1) == 4000 + 3000  # bye.wav played to the caller first
    assert transcript.outcome.ended_by == "app"
    assert transcript.flags == []


@pytest.mark.parametrize(
    ("phone", "fails_at", "error_type"),
    [
        (PhoneBehaviour.no_answer(), 25000, "CallNotAnswered"),
        (PhoneBehaviour.answers(after_seconds=40), 25000, "CallNotAnswered"),  # rings past the timeout
        (PhoneBehaviour.busy(), 2000, "CallNotAnswered"),
        (PhoneBehaviour.unreachable(), 1000, "SystemException"),
        (PhoneBehaviour.busy(error_type="Busy"), 2000, "Busy"),
    ],
)
def test_unreached_destinations_fail_the_bridge(
    phone: PhoneBehaviour, fails_at: int, error_type: str
) -> None:
    transcript = call(
        Script(NEW_INBOUND_CALL=[respond(bridge(timeout=25))], ACTION_FAILED=[respond(hangup())]),
        phones={FIRST: phone},
    )
    failed = transcript.events_of("ACTION_FAILED")[0]
    assert failed["ActionData"]["Type"] == "CallAndBridge"
    assert failed["ActionData"]["ErrorType"] == error_type
    assert statuses(failed) == {"LEG-A": "Connected"}
    assert at(transcript, "ACTION_FAILED") == fails_at
    assert ("RINGING" in transcript.event_types()) is (phone.kind in ("answers", "no_answer"))
    assert transcript.outcome.destinations_dialed == [FIRST]


def test_missing_ringback_fails_the_bridge_before_dialling() -> None:
    transcript = call(Script(NEW_INBOUND_CALL=[respond(bridge(ringback="missing.wav"))]))
    failed = transcript.events_of("ACTION_FAILED")[0]["ActionData"]
    assert (failed["Type"], failed["ErrorType"]) == ("CallAndBridge", "InvalidAudioSource")
    assert transcript.outcome.destinations_dialed == []


def test_time_is_simulated() -> None:
    handler = Script(
        NEW_INBOUND_CALL=[respond(bridge(timeout=120))],
        ACTION_FAILED=[respond(bridge(SECOND, timeout=120))],
    )
    started = time.perf_counter()
    transcript = call(handler, phones={FIRST: PhoneBehaviour.no_answer(), SECOND: PhoneBehaviour.no_answer()})
    assert time.perf_counter() - started < 1
    assert transcript.outcome.duration_s == 120 + 120 + 20  # two ring-outs, then dead air


def test_a_raising_handler_is_retried_once_after_five_seconds() -> None:
    attempts = {"n": 0}

    def flaky(event: Event, context: Any) -> Response:
        attempts["n"] += 1
        if attempts["n"] == 1:
            raise RuntimeError("cold start went wrong")
        return respond(hangup()) if event["InvocationEventType"] == "NEW_INBOUND_CALL" else respond()

    transcript = call(flaky)
    assert transcript.event_types() == ["NEW_INBOUND_CALL", "NEW_INBOUND_CALL", "HANGUP"]
    assert transcript.events[0] == transcript.events[1]  # the same invocation, same Sequence
    assert at(transcript, "HANGUP") == 5000
    assert transcript.flags == [FLAG_HANDLER_RAISED]
    assert any("handler raised RuntimeError('cold start went wrong')" in note for note in transcript.notes())


def test_a_handler_that_keeps_raising_ends_the_call() -> None:
    def broken(event: Event, context: Any) -> Response:
        raise KeyError("CallDetails")

    transcript = call(broken)
    assert transcript.event_types() == ["NEW_INBOUND_CALL", "NEW_INBOUND_CALL"]
    assert transcript.outcome.ended_by == "service"
    assert transcript.leg_statuses == {"LEG-A": "Disconnected"}
    assert transcript.responses == [None, None]


def test_scheduled_update_interrupts_an_interruptible_action() -> None:
    handler = Script(
        NEW_INBOUND_CALL=[respond(pause(10_000), hangup())],
        CALL_UPDATE_REQUESTED=[respond(play("news.wav"), hangup())],
    )
    transcript = call(handler, updates=[(2, {"Transfer": "true", "TransferTarget": SECOND})])

    assert transcript.event_types() == [
        "NEW_INBOUND_CALL",
        "CALL_UPDATE_REQUESTED",
        "ACTION_INTERRUPTED",
        "HANGUP",
    ]
    update = transcript.events_of("CALL_UPDATE_REQUESTED")[0]
    assert update["ActionData"] == {
        "Type": "CallUpdateRequest",
        "Parameters": {"Arguments": {"Transfer": "true", "TransferTarget": SECOND}},
    }
    assert transcript.events_of("ACTION_INTERRUPTED")[0]["ActionData"]["Type"] == "Pause"
    assert at(transcript, "HANGUP") == 2000 + 3000


def test_an_empty_answer_to_an_update_leaves_the_call_alone() -> None:
    handler = Script(NEW_INBOUND_CALL=[respond(pause(10_000), hangup())])
    transcript = call(handler, updates=[(2, {"ping": "1"})])
    assert transcript.event_types() == ["NEW_INBOUND_CALL", "CALL_UPDATE_REQUESTED", "HANGUP"]
    assert at(transcript, "HANGUP") == 10_000


def test_update_call_during_an_invocation_is_delivered_after_it() -> None:
    simulator: PstnSimulator

    def handler(event: Event, context: Any) -> Response:
        kind = event["InvocationEventType"]
        if kind == "NEW_INBOUND_CALL":
            # As a Chime SDK Voice emulator would: from its own server thread, and answering at once.
            worker = threading.Thread(
                target=simulator.update_call, args=(event["CallDetails"]["TransactionId"], {"a": "1"})
            )
            worker.start()
            worker.join()
            assert simulator.clock() == EPOCH
            return respond(pause(5000))
        if kind == "CALL_UPDATE_REQUESTED":
            return respond(hangup())
        return respond()

    simulator = PstnSimulator(handler)
    transcript = simulator.place_call(OURS, CALLER, epoch_ms=EPOCH)
    assert transcript.event_types() == [
        "NEW_INBOUND_CALL",
        "CALL_UPDATE_REQUESTED",
        "ACTION_INTERRUPTED",
        "HANGUP",
    ]
    assert at(transcript, "CALL_UPDATE_REQUESTED") == 0
    with pytest.raises(CallNotFoundError):
        simulator.update_call(transcript.transaction_id, {"late": "1"})
    with pytest.raises(ValueError, match="at most 20"):
        simulator.update_call(transcript.transaction_id, {str(i): "v" for i in range(21)})


def test_realtime_paces_the_call_on_the_wall_clock_and_takes_updates_when_they_are_made() -> None:
    """At 20× real time a 20 s conversation lasts about 1 s; an update made from another thread
    after ~0.3 s of wall clock lands ~6 s into the call, not at its end."""
    handler = Script(
        NEW_INBOUND_CALL=[respond(bridge())],
        CALL_UPDATE_REQUESTED=[respond(hangup("LEG-B"))],
        HANGUP=[respond(hangup())],
    )
    simulator = PstnSimulator(handler, realtime=20.0)
    answered = threading.Event()

    def transfer_later() -> None:
        while not handler.seen or simulator.clock() < EPOCH + 4_000:  # until the callee has answered
            time.sleep(0.01)
        answered.set()
        time.sleep(0.1)
        simulator.update_call(handler.seen[0]["CallDetails"]["TransactionId"], {"Transfer": "true"})

    worker = threading.Thread(target=transfer_later)
    worker.start()
    started = time.monotonic()
    transcript = simulator.place_call(OURS, CALLER, epoch_ms=EPOCH, caller=CallerBehaviour(talks_for=20.0))
    elapsed = time.monotonic() - started
    worker.join()
    assert answered.is_set()
    update_at = at(transcript, "CALL_UPDATE_REQUESTED")
    assert 4_000 < update_at < 15_000  # when it was made (about 4 s + 0.1 s at 20x), not at the end
    assert 0.2 < elapsed < 5.0  # paced: not instant (it would be ~ms), not real time (it would be 24 s)
    with pytest.raises(ValueError, match="positive speed"):
        PstnSimulator(handler, realtime=0)


def test_max_invocations_stops_a_loop() -> None:
    def looping(event: Event, context: Any) -> Response:
        return respond(pause(1))

    transcript = call(looping, max_invocations=10)
    assert len(transcript.events) == 10
    assert FLAG_MAX_INVOCATIONS in transcript.flags
    assert transcript.outcome.ended_by == "simulation limit"


def test_render_reads_like_a_call_log() -> None:
    handler = Script(
        NEW_INBOUND_CALL=[respond(bridge(ringback="prompts/greeting.wav"))], HANGUP=[respond(hangup("LEG-B"))]
    )
    text = call(handler).render()
    lines = text.splitlines()
    assert lines[0] == f"  0.000s  LEG-A  NEW_INBOUND_CALL {CALLER} → {OURS}"
    assert lines[1] == f"         → CallAndBridge {FIRST} (ringback greeting.wav, timeout 30s)"
    assert "  4.000s  LEG-B  answered" in lines
    assert " 64.000s  LEG-A  caller hung up" in lines
    assert "         → Hangup LEG-B (SIP 0)" in lines
    assert lines[-1] == "flags: none"


# --------------------------------------------------------------------- the real handler, whole calls


def put_rule(dynamodb: Any, *destinations: str, **fields: Any) -> None:
    rule = ForwardRule(number=OURS, destinations=destinations or (FIRST, SECOND), **fields)
    DynamoForwardRepository(dynamodb, TABLE).save(rule, actor="test")


def call_items(dynamodb: Any, transaction_id: str) -> dict[str, dict[str, Any]]:
    page = dynamodb.query(
        TableName=TABLE,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": f"CALL#{transaction_id}"}},
    )
    return {item["sk"]["S"]: decode_item(item) for item in page["Items"]}


@pytest.fixture
def missing_prompts() -> set[str]:
    """Prompt keys the simulated bucket lacks (tests add to it)."""
    return set()


@pytest.fixture
def simulator(sma_app: Any, missing_prompts: set[str], monkeypatch: pytest.MonkeyPatch) -> PstnSimulator:
    sim = PstnSimulator(
        sma_app.handler,
        prompt_exists=lambda bucket, key: bucket == BUCKET and key not in missing_prompts,
    )
    # The handler reads the simulated clock, so records carry simulated ring and talk times.
    monkeypatch.setattr(sma_app.app, "clock", sim.clock)
    return sim


def clean(transcript: CallTranscript) -> CallTranscript:
    assert transcript.flags == [], transcript.render()
    return transcript


def played(transcript: CallTranscript) -> list[str]:
    return [
        action["Parameters"]["AudioSource"]["Key"]
        for response in transcript.responses
        if isinstance(response, dict)
        for action in response.get("Actions", [])
        if action["Type"] == "PlayAudio"
    ]


def test_sma_bridges_to_the_first_destination(simulator: PstnSimulator, dynamodb: Any) -> None:
    put_rule(dynamodb)
    transcript = clean(simulator.place_call(OURS, CALLER))

    assert (transcript.outcome.bridged_to, transcript.outcome.destinations_dialed) == (FIRST, [FIRST])
    assert transcript.outcome.ended_by == "caller"
    assert transcript.leg_statuses == {"LEG-A": "Disconnected", "LEG-B": "Disconnected"}
    ringback = transcript.events_of("ACTION_SUCCESSFUL")[0]["ActionData"]["Parameters"]["RingbackTone"]
    assert ringback == {"Type": "S3", "BucketName": BUCKET, "Key": "prompts/greeting.wav"}
    items = call_items(dynamodb, transcript.transaction_id)
    record = items["RECORD"]
    assert record["outcome"] == "bridged"
    assert [(a["destination"], a["result"], a["ring_ms"]) for a in record["attempts"]] == [
        (FIRST, "answered", 4000)
    ]
    assert (record["duration_ms"], record["talk_ms"]) == (64_000, 60_000)
    assert "EVENT#bridge_failed" not in items


def test_sma_follows_me_to_the_second_destination(simulator: PstnSimulator, dynamodb: Any) -> None:
    put_rule(dynamodb, ring_timeout=20)
    transcript = clean(simulator.place_call(OURS, CALLER, phones={FIRST: PhoneBehaviour.no_answer()}))

    assert transcript.outcome.destinations_dialed == [FIRST, SECOND]
    assert transcript.outcome.bridged_to == SECOND
    assert at(transcript, "ACTION_SUCCESSFUL") == 20_000 + 4000
    items = call_items(dynamodb, transcript.transaction_id)
    assert [(a["result"], a["ring_ms"]) for a in items["RECORD"]["attempts"]] == [
        ("CallNotAnswered", 20_000),
        ("answered", 4000),
    ]
    assert items["EVENT#bridge_failed"]["all_failed"] is False


@pytest.mark.parametrize(
    ("second", "outcome"),
    [(PhoneBehaviour.no_answer(), "no-answer"), (PhoneBehaviour.unreachable(), "all-failed")],
)
def test_sma_plays_the_failure_prompt_and_hangs_up_when_nobody_answers(
    simulator: PstnSimulator, dynamodb: Any, second: PhoneBehaviour, outcome: str
) -> None:
    put_rule(dynamodb, failure=FailureAction.PROMPT)
    transcript = clean(
        simulator.place_call(OURS, CALLER, phones={FIRST: PhoneBehaviour.no_answer(), SECOND: second})
    )

    assert transcript.outcome.bridged_to is None
    assert transcript.outcome.ended_by == "app"
    assert played(transcript) == ["prompts/failure.wav"]
    hangup_event = transcript.events_of("HANGUP")[0]
    assert hangup_event["ActionData"]["Parameters"]["SipResponseCode"] == "480"
    assert transcript.leg_statuses == {"LEG-A": "Disconnected"}
    items = call_items(dynamodb, transcript.transaction_id)
    assert items["RECORD"]["outcome"] == outcome
    event = items["EVENT#bridge_failed"]
    assert (event["kind"], event["event_type"], event["all_failed"]) == ("call_event", "bridge_failed", True)
    assert [a["destination"] for a in event["attempts"]] == [FIRST, SECOND]


def test_sma_hangs_up_the_destination_when_the_caller_hangs_up(
    simulator: PstnSimulator, dynamodb: Any
) -> None:
    put_rule(dynamodb)
    transcript = clean(simulator.place_call(OURS, CALLER, caller=CallerBehaviour(hangs_up_after=20)))

    caller_gone, callee_gone = transcript.events_of("HANGUP")
    assert statuses(caller_gone) == {"LEG-A": "Disconnected", "LEG-B": "Connected"}
    assert statuses(callee_gone) == {"LEG-A": "Disconnected", "LEG-B": "Disconnected"}
    assert callee_gone["ActionData"]["Type"] == "Hangup"  # the app's own Hangup of LEG-B
    assert transcript.outcome.ended_by == "caller"
    assert call_items(dynamodb, transcript.transaction_id)["RECORD"]["talk_ms"] == 16_000


def test_sma_hangs_up_the_caller_when_the_destination_hangs_up(
    simulator: PstnSimulator, dynamodb: Any
) -> None:
    put_rule(dynamodb)
    transcript = clean(
        simulator.place_call(OURS, CALLER, phones={FIRST: PhoneBehaviour.answers(hangs_up_after=10)})
    )

    callee_gone, caller_gone = transcript.events_of("HANGUP")
    assert statuses(callee_gone) == {"LEG-A": "Connected", "LEG-B": "Disconnected"}
    assert statuses(caller_gone) == {"LEG-A": "Disconnected", "LEG-B": "Disconnected"}
    assert transcript.outcome.ended_by == "callee"
    assert transcript.outcome.duration_s == 14.0
    record = call_items(dynamodb, transcript.transaction_id)["RECORD"]
    assert (record["outcome"], record["talk_ms"]) == ("bridged", 10_000)


def test_sma_tells_callers_of_unforwarded_numbers_it_is_not_in_service(
    simulator: PstnSimulator, dynamodb: Any
) -> None:
    transcript = clean(simulator.place_call(OURS, CALLER))

    assert played(transcript) == ["prompts/not_in_service.wav"]
    assert transcript.event_types() == ["NEW_INBOUND_CALL", "HANGUP"]
    assert at(transcript, "HANGUP") == 3000
    assert transcript.outcome.destinations_dialed == []
    assert call_items(dynamodb, transcript.transaction_id)["RECORD"]["outcome"] == "not-in-service"


def test_sma_retries_without_a_ringback_that_is_missing(
    simulator: PstnSimulator, dynamodb: Any, missing_prompts: set[str]
) -> None:
    put_rule(dynamodb, greeting=GreetingMode.LOOP)
    missing_prompts.add("prompts/greeting.wav")
    transcript = clean(simulator.place_call(OURS, CALLER))

    assert transcript.events_of("ACTION_FAILED")[0]["ActionData"]["ErrorType"] == "InvalidAudioSource"
    assert transcript.outcome.bridged_to == FIRST
    assert transcript.outcome.destinations_dialed == [FIRST]  # the failed attempt never dialled


def test_sma_plays_a_once_greeting_then_dials(simulator: PstnSimulator, dynamodb: Any) -> None:
    put_rule(dynamodb, greeting=GreetingMode.ONCE)
    transcript = clean(simulator.place_call(OURS, CALLER))
    assert played(transcript) == ["prompts/greeting.wav"]
    assert at(transcript, "ACTION_SUCCESSFUL") == 3000 + 4000
    assert transcript.outcome.bridged_to == FIRST


def test_sma_still_dials_when_the_once_greeting_is_missing(
    simulator: PstnSimulator, dynamodb: Any, missing_prompts: set[str]
) -> None:
    put_rule(dynamodb, greeting=GreetingMode.ONCE)
    missing_prompts.add("prompts/greeting.wav")
    transcript = clean(simulator.place_call(OURS, CALLER))
    assert transcript.event_types()[:3] == ["NEW_INBOUND_CALL", "ACTION_FAILED", "RINGING"]
    assert transcript.outcome.bridged_to == FIRST


def test_sma_hangs_up_even_when_the_failure_prompt_is_missing(
    simulator: PstnSimulator, dynamodb: Any, missing_prompts: set[str]
) -> None:
    put_rule(dynamodb, FIRST)
    missing_prompts.add("prompts/failure.wav")
    transcript = clean(simulator.place_call(OURS, CALLER, phones={FIRST: PhoneBehaviour.busy()}))
    assert transcript.event_types() == ["NEW_INBOUND_CALL", "ACTION_FAILED", "ACTION_FAILED", "HANGUP"]
    assert transcript.outcome.ended_by == "app"


def test_sma_records_a_caller_who_gives_up_while_it_rings(simulator: PstnSimulator, dynamodb: Any) -> None:
    put_rule(dynamodb)
    transcript = clean(
        simulator.place_call(
            OURS,
            CALLER,
            phones={FIRST: PhoneBehaviour.no_answer()},
            caller=CallerBehaviour(hangs_up_after=12),
        )
    )
    items = call_items(dynamodb, transcript.transaction_id)
    assert items["RECORD"]["outcome"] == "abandoned"
    assert "EVENT#bridge_failed" not in items


def test_sma_takes_back_a_forwarded_call_and_transfers_it(simulator: PstnSimulator, dynamodb: Any) -> None:
    put_rule(dynamodb)
    transcript = clean(
        simulator.place_call(OURS, CALLER, updates=[(10, {"Transfer": "true", "TransferTarget": SECOND})])
    )
    assert "CALL_UPDATE_REQUESTED" in transcript.event_types()
    assert transcript.outcome.destinations_dialed == [FIRST, SECOND]
    assert transcript.outcome.bridged_to == SECOND
    hold = [
        a
        for r in transcript.responses
        if isinstance(r, dict)
        for a in r.get("Actions", [])
        if a["Type"] == "PlayAudio" and a["Parameters"]["AudioSource"]["Key"].endswith("please_hold.wav")
    ]
    assert hold, "the caller is asked to hold while the transfer rings"
    record = call_items(dynamodb, transcript.transaction_id)["RECORD"]
    assert record["outcome"] == "transferred"
    assert [a["destination"] for a in record["attempts"]] == [FIRST, SECOND]


def test_sma_ignores_an_update_that_is_not_a_transfer(simulator: PstnSimulator, dynamodb: Any) -> None:
    put_rule(dynamodb)
    transcript = clean(simulator.place_call(OURS, CALLER, updates=[(10, {"Note": "hello"})]))
    assert transcript.outcome.bridged_to == FIRST
    assert transcript.outcome.ended_by == "caller"


def test_sma_does_not_blame_a_destination_for_a_missing_greeting(
    simulator: PstnSimulator, dynamodb: Any, missing_prompts: set[str]
) -> None:
    put_rule(dynamodb, greeting=GreetingMode.LOOP)
    missing_prompts.add("prompts/greeting.wav")
    transcript = clean(
        simulator.place_call(
            OURS, CALLER, phones={FIRST: PhoneBehaviour.no_answer(), SECOND: PhoneBehaviour.no_answer()}
        )
    )
    items = call_items(dynamodb, transcript.transaction_id)
    assert items["RECORD"]["outcome"] == "no-answer"
    assert [a["result"] for a in items["EVENT#bridge_failed"]["attempts"]] == ["CallNotAnswered"] * 2
