"""The shipped forwarding flow run by the local Flow-language interpreter through the real
``connect_lambda.app.handler`` (and ``contact_events.handler`` when the caller hangs up), on moto:
whole calls, end to end, with the records and alerts they leave."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from switchboard.adapters.dynamodb import DynamoCallLog, DynamoForwardRepository
from switchboard.domain.rules import CallerIdMode, FailureAction, ForwardRule, GreetingMode
from switchboard_local.aws.connect_flow import FlowInterpreter, ThirdParty, Transcript
from tests.functional.conftest import TABLE
from tests.helpers import connect_lambda_modules

pytestmark = pytest.mark.functional

ROOT = Path(__file__).resolve().parents[2]
FLOW = json.loads((ROOT / "connect_lambda" / "forwarding_flow.json").read_text())
OURS, CALLER = "+13125550180", "+13035550123"
D1, D2, D3 = "+12065550111", "+13125550122", "+14155550133"
BASE = "https://prompts.example.com/connect/"


@pytest.fixture(scope="module")
def modules(moto_endpoint: str) -> Iterator[tuple[ModuleType, ModuleType]]:
    with connect_lambda_modules(BASE) as modules:
        yield modules


class Connect:
    def __init__(self, modules: tuple[ModuleType, ModuleType], dynamodb: Any) -> None:
        app, events = modules
        self.dynamodb = dynamodb
        known = {f"{BASE}{name}.wav" for name in ("greeting", "failure", "not_in_service", "error")}
        self.interpreter = FlowInterpreter(
            FLOW,
            app.handler,
            claimed={OURS},
            prompt_seconds=lambda uri: 3.0 if uri in known else None,
            on_disconnected=events.handler,
        )
        self._clock = app.forwarding.clock
        self.app = app
        app.forwarding.clock = self.interpreter.now_ms

    def forward(self, *destinations: str, **fields: Any) -> None:
        rule = ForwardRule(number=OURS, destinations=destinations, **fields)
        DynamoForwardRepository(self.dynamodb, TABLE).save(rule, actor="test")

    def call(self, **kwargs: Any) -> Transcript:
        transcript = self.interpreter.place_call(OURS, kwargs.pop("caller", CALLER), **kwargs)
        assert transcript.flags == [], transcript.lines()
        return transcript

    def record(self, transcript: Transcript) -> dict[str, Any]:
        record = DynamoCallLog(self.dynamodb, TABLE, clock=lambda: 1_700_000_000.0).call_record(
            transcript.contact_id
        )
        assert record is not None, transcript.lines()
        return record

    def events(self, transcript: Transcript) -> list[str]:
        items = self.dynamodb.query(
            TableName=TABLE,
            KeyConditionExpression="pk = :pk AND begins_with(sk, :event)",
            ExpressionAttributeValues={
                ":pk": {"S": f"CALL#{transcript.contact_id}"},
                ":event": {"S": "EVENT#"},
            },
        )["Items"]
        return [item["sk"]["S"] for item in items]


@pytest.fixture
def connect(modules: tuple[ModuleType, ModuleType], dynamodb: Any) -> Iterator[Connect]:
    stack = Connect(modules, dynamodb)
    yield stack
    stack.app.forwarding.clock = stack._clock


def test_follow_me_reaches_the_second_destination(connect: Connect) -> None:
    connect.forward(D1, D2, greeting=GreetingMode.ONCE, ring_timeout=20)

    transcript = connect.call(phones={D1: ThirdParty.no_answer(), D2: ThirdParty.answers(4, 30)})

    assert transcript.prompts == ["greeting.wav"]
    assert transcript.dials == [(D1, OURS), (D2, OURS)]
    assert transcript.disconnected_by_flow
    record = connect.record(transcript)
    assert record["outcome"] == "bridged"
    assert [a["result"] for a in record["attempts"]] == ["CallNotAnswered", "answered"]
    assert connect.events(transcript) == ["EVENT#bridge_failed"]


def test_all_destinations_fail_then_the_failure_prompt_and_an_alert(connect: Connect) -> None:
    connect.forward(D1, D2, D3, greeting=GreetingMode.NONE, ring_timeout=15)

    transcript = connect.call(
        phones={D1: ThirdParty.busy(), D2: ThirdParty.no_answer(), D3: ThirdParty.unreachable()}
    )

    assert [d for d, _ in transcript.dials] == [D1, D2, D3]
    assert transcript.prompts == ["failure.wav"]
    assert connect.record(transcript)["outcome"] == "all-failed"
    assert connect.events(transcript) == ["EVENT#bridge_failed"]


def test_the_caller_hanging_up_while_it_rings_is_recorded_as_abandoned(connect: Connect) -> None:
    connect.forward(D1, greeting=GreetingMode.NONE, ring_timeout=30, failure=FailureAction.HANGUP)

    transcript = connect.call(phones={D1: ThirdParty.no_answer()}, caller_hangs_up_after=8)

    assert transcript.caller_hung_up
    record = connect.record(transcript)
    assert (record["outcome"], record["timing"]) == ("abandoned", "approximate")


def test_caller_id_passthrough_shows_the_caller(connect: Connect) -> None:
    connect.forward(D1, caller_id=CallerIdMode.CALLER, greeting=GreetingMode.NONE)

    transcript = connect.call(phones={D1: ThirdParty.answers(2, 10)})

    assert transcript.dials == [(D1, CALLER)]


def test_a_withheld_caller_is_shown_as_the_dialed_number(connect: Connect) -> None:
    connect.forward(D1, caller_id=CallerIdMode.CALLER, greeting=GreetingMode.NONE)

    transcript = connect.call(caller="", phones={D1: ThirdParty.answers(2, 10)})

    assert transcript.dials == [(D1, OURS)]


def test_a_number_without_a_forward_hears_not_in_service(connect: Connect) -> None:
    transcript = connect.call(phones={})

    assert transcript.prompts == ["not_in_service.wav"]
    assert transcript.dials == []
    assert connect.record(transcript)["outcome"] == "not-in-service"


def test_the_interpreter_flags_an_unclaimed_caller_id(connect: Connect) -> None:
    connect.forward(D1, greeting=GreetingMode.NONE)
    other = FlowInterpreter(FLOW, connect.app.handler, claimed=set())

    transcript = other.place_call(OURS, CALLER, phones={D1: ThirdParty.answers(1, 1)})

    assert any("not a claimed number" in flag for flag in transcript.flags)


def test_a_greeting_does_not_eat_into_the_ring_time_slack_sees(connect: Connect) -> None:
    """The live entry's ring time counts from the dial (the asynchronous Dialing turn's clock),
    not from Start: 21 s into a call that greeted for 3 s and rings for 20, the callee may still be
    ringing, so a Slack transfer asked then is refused with the reason rather than queued for a
    dial that is not bridged."""
    connect.forward(D1, greeting=GreetingMode.ONCE, ring_timeout=20)
    log = DynamoCallLog(connect.dynamodb, TABLE)
    seen: list[Any] = []

    def look() -> None:
        now = connect.interpreter.now_ms()
        seen.append((now, log.live_calls(OURS, now_ms=now)))

    transcript = connect.call(phones={D1: ThirdParty.answers(15, 30)}, during=[(21.0, look)])

    dial_at = next(t for t, line in transcript.timeline if line.startswith("dials"))
    assert dial_at >= 3.0  # after the greeting
    ((now, (entry,)),) = seen
    dialled_ms = 1_700_000_000_000 + int(dial_at * 1000)
    assert dialled_ms + 20_000 <= entry.ring_until_ms <= dialled_ms + 20_000 + 100
    assert entry.call.since_ms < dialled_ms  # the dial's identity for queued transfers: Start's clock
    assert entry.may_be_ringing(now)
    assert connect.record(transcript)["outcome"] == "bridged"


def test_a_dialing_turn_that_lands_after_the_record_lists_nothing(
    connect: Connect, modules: tuple[ModuleType, ModuleType]
) -> None:
    connect.forward(D1, greeting=GreetingMode.NONE, failure=FailureAction.HANGUP)
    late = FlowInterpreter(
        FLOW,
        modules[0].handler,
        claimed={OURS},
        on_disconnected=modules[1].handler,
        async_delay_seconds=120,
    )
    modules[0].forwarding.clock = late.now_ms

    transcript = late.place_call(OURS, CALLER, phones={D1: ThirdParty.busy()})

    assert transcript.flags == [], transcript.lines()
    assert connect.record(transcript)["outcome"] == "all-failed"
    assert DynamoCallLog(connect.dynamodb, TABLE).live_calls(OURS, now_ms=late.now_ms()) == []
    assert any("Dialing" in line for _, line in transcript.timeline[-2:]), transcript.lines()


def test_a_hang_up_before_a_late_dialing_lands_is_recorded_once_and_not_listed(
    connect: Connect, modules: tuple[ModuleType, ModuleType]
) -> None:
    """A cold Dialing: the caller hangs up 2 s into ringing and the DISCONNECTED event is handled
    before the Dialing write lands; that write records the call instead of listing it."""
    connect.forward(D1, greeting=GreetingMode.NONE, ring_timeout=30, failure=FailureAction.HANGUP)
    late = FlowInterpreter(
        FLOW,
        modules[0].handler,
        claimed={OURS},
        on_disconnected=modules[1].handler,
        async_delay_seconds=30,
    )
    modules[0].forwarding.clock = late.now_ms

    transcript = late.place_call(OURS, CALLER, phones={D1: ThirdParty.no_answer()}, caller_hangs_up_after=2)

    assert transcript.flags == [], transcript.lines()
    assert transcript.caller_hung_up
    record = connect.record(transcript)
    assert (record["outcome"], record["timing"], record["backend"]) == ("abandoned", "approximate", "connect")
    assert DynamoCallLog(connect.dynamodb, TABLE).live_calls(OURS, now_ms=late.now_ms()) == []
    items = connect.dynamodb.query(
        TableName=TABLE,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": f"CALL#{transcript.contact_id}"}},
    )["Items"]
    assert sorted(item["sk"]["S"] for item in items) == ["ENDED", "RECORD"]


# -- pacing on the wall clock (`switchboard call --realtime`) and hooks that speak ------------------

TALKING_FLOW = {
    "Version": "2019-10-30",
    "StartAction": "hello",
    "Actions": [
        {
            "Identifier": "hello",
            "Type": "MessageParticipant",
            "Parameters": {"Text": "x" * 150},  # 10 s at the interpreter's 15 characters a second
            "Transitions": {"NextAction": "bye"},
        },
        {"Identifier": "bye", "Type": "DisconnectParticipant", "Parameters": {}, "Transitions": {}},
    ],
}


def test_realtime_paces_the_call_on_the_wall_clock_at_its_speed() -> None:
    now = [100.0]  # a fake wall clock that sleeping moves on
    seen: list[tuple[float, float, str]] = []

    def sleep(seconds: float) -> None:
        now[0] += seconds

    interpreter = FlowInterpreter(
        TALKING_FLOW,
        lambda event, context: {},
        claimed=set(),
        realtime=2.0,
        sleep=sleep,
        monotonic=lambda: now[0],
        on_note=lambda t, text: seen.append((now[0], t, text)),
    )
    transcript = interpreter.place_call(OURS, CALLER, phones={}, during=[(4.0, lambda: "a hook spoke")])

    assert transcript.flags == []
    assert now[0] - 100.0 == pytest.approx(5.0)  # 10 simulated seconds at twice real time
    # Each line is seen when it happens on the wall clock, the hook's at its moment.
    assert seen == [
        (100.0, 0.0, "says " + repr("x" * 150)),
        (pytest.approx(102.0), 4.0, "a hook spoke"),
        (pytest.approx(105.0), 10.0, "flow disconnects the caller"),
    ]
    assert any(line.endswith("4.0s  a hook spoke") for line in transcript.lines())


def test_without_realtime_the_call_takes_no_wall_time() -> None:
    slept: list[float] = []
    interpreter = FlowInterpreter(
        TALKING_FLOW, lambda event, context: {}, claimed=set(), sleep=slept.append, monotonic=lambda: 0.0
    )
    interpreter.place_call(OURS, CALLER, phones={})
    assert slept == []
    with pytest.raises(ValueError, match="positive speed"):
        FlowInterpreter(TALKING_FLOW, lambda event, context: {}, claimed=set(), realtime=0)
