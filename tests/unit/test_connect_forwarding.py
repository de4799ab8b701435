"""connect_lambda.forwarding: the forwarding flow's turns decided by the unchanged call flow.

A small driver plays the shipped flow's part: it sends ``Start``, saves every reply as contact
attributes (the flow's ``Save`` action), and reports each dial's outcome as the flow's transfer
block branches would (``AttemptFailed`` with the branch's error type, or ``BridgeEnded``).
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from connect_lambda import state as call_state
from connect_lambda.actions import FIELDS, ConnectPrompts, render
from connect_lambda.events import MalformedFlowEventError, parse_event
from connect_lambda.forwarding import ConnectForwardingApp, error_type
from switchboard.domain.callflow import Bridge, CallState, HangUp, Leg, Phase, Plan, PlayPrompt, Prompt
from switchboard.domain.events import CallRecord, LiveCall, Outcome
from switchboard.domain.hours import parse_hours
from switchboard.domain.rules import CallerIdMode, FailureAction, ForwardRule, GreetingMode
from switchboard.ports import StorageError
from tests.helpers import load_event

OURS = "+12025550100"  # SystemEndpoint of the tests/events/connect_forward_* fixtures
CALLER = "+13035550123"  # their CustomerEndpoint
D1, D2, D3, D4, D5 = "+12065550111", "+13125550122", "+14155550133", "+16175550144", "+17185550155"
CONTACT = "5ca32fbd-8f92-46af-92a5-6b0f970f0efe"
T0 = 1_700_000_000_000
PROMPTS = ConnectPrompts("https://prompts.example.com/prompts/connect/")


class Rules:
    def __init__(self, *rules: ForwardRule) -> None:
        self.rules = {r.number: r for r in rules}
        self.reads = 0
        self.fail = False

    def get(self, number: str) -> ForwardRule | None:
        self.reads += 1
        if self.fail:
            raise StorageError("throttled")
        return self.rules.get(number)


class Calls:
    """Records kept as DynamoCallLog(record_once=True) keeps them: the first per contact wins."""

    def __init__(self) -> None:
        self.records: dict[str, CallRecord] = {}
        self.writes = 0

    def record_call(self, transaction_id: str, record: CallRecord) -> None:
        self.writes += 1
        self.records.setdefault(transaction_id, record)

    def call_live(self, transaction_id: str, live: LiveCall) -> None:
        raise AssertionError("the Connect flow never lists a call as live while it rings")


class Progress:
    def __init__(self) -> None:
        self.saved: list[CallState] = []
        self.at: list[int] = []  # the clock of each save (the dial moment)
        self.fail: Exception | None = None

    def save(self, contact_id: str, state: CallState, now_ms: int) -> None:
        if self.fail is not None:
            raise self.fail
        self.saved.append(state)
        self.at.append(now_ms)


class Telemetry:
    def __init__(self) -> None:
        self.errors: list[str] = []
        self.metrics: list[str] = []

    def count(self, metric: str) -> None:
        self.metrics.append(metric)

    def error(self, message: str, **fields: Any) -> None:
        self.errors.append(message)

    def decided(self, event: Any, reply: Any, plan: Plan) -> None:
        pass


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> int:
        return self.now


class Flow:
    """Plays forwarding_flow.json's part around the app."""

    def __init__(self, *rules: ForwardRule, prompts: ConnectPrompts | None = PROMPTS) -> None:
        self.rules = Rules(*rules)
        self.calls = Calls()
        self.progress = Progress()
        self.telemetry = Telemetry()
        self.clock = Clock()
        self.app = ConnectForwardingApp(
            self.rules, self.calls, self.progress, prompts, self.telemetry, clock=self.clock
        )
        self.attributes: dict[str, str] = {}
        self.replies: list[dict[str, str]] = []

    def send(self, name: str, **parameters: str) -> dict[str, str]:
        event = load_event(name)
        event["Details"]["Parameters"].update(parameters)
        event["Details"]["ContactData"]["Attributes"] = copy.deepcopy(self.attributes)
        reply = self.app.handle(parse_event(event))
        assert set(reply) == set(FIELDS)
        assert all(isinstance(v, str) for v in reply.values())
        self.attributes.update(reply)  # the flow's Save action
        self.replies.append(reply)
        return reply

    def start(self) -> dict[str, str]:
        return self.send("connect_forward_start")

    def dialing(self, after_s: float = 0.0) -> dict[str, str]:
        """The flow's asynchronous ``Dialing`` invocation, right before the dial (after any
        greeting): its reply is ignored and never saved."""
        self.clock.now += int(after_s * 1000)
        event = load_event("connect_forward_dialing")
        event["Details"]["ContactData"]["Attributes"] = copy.deepcopy(self.attributes)
        return self.app.handle(parse_event(event))

    def failed(self, error: str, after_s: float) -> dict[str, str]:
        self.clock.now += int(after_s * 1000)
        return self.send("connect_forward_attempt_failed", Error=error)

    def ended(self, after_s: float) -> dict[str, str]:
        self.clock.now += int(after_s * 1000)
        return self.send("connect_forward_bridge_ended")

    @property
    def record(self) -> CallRecord:
        return self.calls.records[CONTACT]


def rule(*destinations: str, **fields: Any) -> ForwardRule:
    return ForwardRule(number=OURS, destinations=destinations or (D1,), **fields)


def test_a_call_dials_the_first_destination_with_the_dialed_number_as_caller_id() -> None:
    flow = Flow(rule(D1, D2, greeting=GreetingMode.NONE, ring_timeout=20))

    reply = flow.start()

    assert reply["op"] == "dial"
    assert (reply["dial_to"], reply["dial_timeout"]) == (D1, "20")
    assert (reply["cid_mode"], reply["cid"]) == ("number", OURS)
    assert (reply["has_prompt"], reply["prompt_uri"]) == ("no", "")
    assert call_state.load(reply).phase is Phase.RINGING  # type: ignore[union-attr]
    assert flow.rules.reads == 1
    assert not flow.calls.records


def test_greeting_once_plays_before_the_first_destination_only() -> None:
    flow = Flow(rule(D1, D2, greeting=GreetingMode.ONCE))

    first = flow.start()
    second = flow.failed("ConnectionTimeLimitExceeded", 30)

    assert (first["has_prompt"], first["prompt_uri"]) == ("yes", PROMPTS.uri(Prompt.GREETING))
    assert (second["op"], second["dial_to"], second["has_prompt"]) == ("dial", D2, "no")


def test_a_looped_greeting_plays_once_on_connect() -> None:
    flow = Flow(rule(D1, D2, greeting=GreetingMode.LOOP))

    first = flow.start()
    second = flow.failed("CallFailed", 2)

    assert first["has_prompt"] == "yes"
    assert first["prompt_uri"].endswith("/greeting.wav")
    assert second["has_prompt"] == "no"


def test_follow_me_tries_five_destinations_then_plays_the_failure_prompt() -> None:
    flow = Flow(rule(D1, D2, D3, D4, D5, greeting=GreetingMode.NONE, ring_timeout=15))

    dialed = [flow.start()["dial_to"]]
    for _ in range(4):
        dialed.append(flow.failed("ConnectionTimeLimitExceeded", 15)["dial_to"])
    last = flow.failed("ConnectionTimeLimitExceeded", 15)

    assert dialed == [D1, D2, D3, D4, D5]
    assert last["op"] == "play_hangup"
    assert last["prompt_uri"] == PROMPTS.uri(Prompt.FAILURE)
    assert flow.record.outcome is Outcome.NO_ANSWER
    assert [a.result for a in flow.record.attempts] == ["CallNotAnswered"] * 5
    assert [a.ring_ms for a in flow.record.attempts] == [15_000] * 5
    (event,) = flow.record.events()
    assert event.type == "bridge_failed"
    assert event.all_failed
    assert flow.rules.reads == 1  # one rule read for the whole call
    assert flow.progress.saved == []  # the live entry is the asynchronous Dialing turn's


def test_failure_hangup_ends_the_call_without_a_prompt() -> None:
    flow = Flow(rule(D1, failure=FailureAction.HANGUP, greeting=GreetingMode.NONE))

    flow.start()
    last = flow.failed("CallFailed", 1)

    assert (last["op"], last["has_prompt"], last["prompt_uri"]) == ("hangup", "no", "")
    assert flow.record.outcome is Outcome.ALL_FAILED


def test_an_answered_destination_that_hangs_up_ends_the_call_as_bridged() -> None:
    flow = Flow(rule(D1, D2, D3, greeting=GreetingMode.NONE))

    flow.start()
    flow.failed("ConnectionTimeLimitExceeded", 30)
    flow.failed("CallFailed", 2)
    last = flow.ended(95)

    assert last["op"] == "hangup"
    record = flow.record
    assert record.outcome is Outcome.BRIDGED
    assert [a.result for a in record.attempts] == ["CallNotAnswered", "CallFailed", "answered"]
    assert record.talk_ms == 95_000  # answer time unseen: counted from the dial (upper bound)
    (event,) = record.events()
    assert event.type == "bridge_failed"
    assert not event.all_failed


@pytest.mark.parametrize(
    ("mode", "caller", "expected"),
    [
        (CallerIdMode.DIALED, CALLER, ("number", OURS)),
        (CallerIdMode.CALLER, CALLER, ("passthrough", "")),
        (CallerIdMode.CALLER, "anonymous", ("number", OURS)),
        (CallerIdMode.CALLER, "", ("number", OURS)),
    ],
)
def test_caller_id_rules(mode: CallerIdMode, caller: str, expected: tuple[str, str]) -> None:
    flow = Flow(rule(D1, caller_id=mode))
    event = load_event("connect_forward_start")
    event["Details"]["ContactData"]["CustomerEndpoint"] = {"Address": caller, "Type": "TELEPHONE_NUMBER"}

    reply = flow.app.handle(parse_event(event))

    assert (reply["cid_mode"], reply["cid"]) == expected


def test_a_number_without_a_forward_is_not_in_service() -> None:
    flow = Flow()

    reply = flow.start()

    assert reply["op"] == "play_hangup"
    assert reply["prompt_uri"] == PROMPTS.uri(Prompt.NOT_IN_SERVICE)
    assert flow.record.outcome is Outcome.NOT_IN_SERVICE


def test_an_expired_forward_is_not_in_service() -> None:
    flow = Flow(rule(D1, expires_at=T0 // 1000 - 1))

    reply = flow.start()

    assert reply["prompt_uri"] == PROMPTS.uri(Prompt.NOT_IN_SERVICE)
    assert flow.record.outcome is Outcome.NOT_IN_SERVICE


def test_a_forward_to_amazon_connect_is_not_served_on_a_connect_number() -> None:
    flow = Flow(rule("connect"))

    reply = flow.start()

    assert reply["op"] == "play_hangup"
    assert flow.record.outcome is Outcome.NOT_IN_SERVICE


def test_an_unreadable_table_plays_the_error_prompt_and_records_nothing() -> None:
    flow = Flow(rule(D1))
    flow.rules.fail = True

    reply = flow.start()

    assert reply["op"] == "play_hangup"
    assert reply["prompt_uri"] == PROMPTS.uri(Prompt.ERROR)
    assert not flow.calls.records


def test_without_prompts_configured_a_closing_prompt_becomes_a_hangup() -> None:
    flow = Flow(prompts=None)

    reply = flow.start()

    assert (reply["op"], reply["has_prompt"], reply["prompt_uri"]) == ("hangup", "no", "")


def test_a_later_turn_without_our_state_ends_the_call_with_the_error_prompt() -> None:
    flow = Flow(rule(D1))

    reply = flow.send("connect_forward_attempt_failed", Error="CallFailed")

    assert reply["op"] == "play_hangup"
    assert reply["prompt_uri"].endswith("/error.wav")
    assert flow.telemetry.errors == ["flow event without a call state"]


def test_a_retried_invocation_records_the_call_once() -> None:
    """Connect retries a slow or failed invocation with the same attributes."""
    flow = Flow(rule(D1, greeting=GreetingMode.NONE))
    flow.start()
    saved = dict(flow.attributes)

    flow.failed("CallFailed", 1)
    flow.attributes = dict(saved)
    again = flow.failed("CallFailed", 1)

    assert again["op"] == "play_hangup"
    assert flow.calls.writes == 2
    assert len(flow.calls.records) == 1


def test_an_unexpected_error_still_answers_with_the_error_prompt() -> None:
    flow = Flow(rule(D1))

    def boom(number: str) -> ForwardRule:
        raise RuntimeError("bug")

    flow.rules.get = boom  # type: ignore[method-assign]
    reply = flow.start()

    assert reply["op"] == "play_hangup"
    assert reply["prompt_uri"].endswith("/error.wav")
    assert "HandlerErrors" in flow.telemetry.metrics


@pytest.mark.parametrize(
    ("branch", "result"),
    [
        ("ConnectionTimeLimitExceeded", "CallNotAnswered"),
        ("CallFailed", "CallFailed"),
        ("NoMatchingError", "NoMatchingError"),
        ("", "Unknown"),
        ("x" * 500, "x" * 40),
    ],
)
def test_transfer_block_errors_in_the_domains_words(branch: str, result: str) -> None:
    assert error_type(branch) == result


def test_render_drops_steps_for_the_callee_leg() -> None:
    """When the flow runs again the destination is gone already; only the caller's steps count."""
    reply = render((HangUp(Leg.CALLEE), PlayPrompt(Prompt.ERROR), HangUp(Leg.CALLER)), None, PROMPTS)

    assert (reply["op"], reply["prompt_uri"]) == ("play_hangup", PROMPTS.uri(Prompt.ERROR))


def test_render_dials_only_the_first_bridge() -> None:
    reply = render((Bridge(D1, OURS, 20), Bridge(D2, OURS, 20)), None, PROMPTS)

    assert reply["dial_to"] == D1


def test_state_survives_the_attribute_round_trip_and_rejects_junk() -> None:
    flow = Flow(rule(D1, D2))
    reply = flow.start()
    state = call_state.load(reply)

    assert state is not None
    assert state.destinations == (D1, D2)
    assert set(reply["sb"]) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    for junk in ("", "!!!", "e30", "x" * 10_000, reply["sb"][:-7]):
        assert call_state.load({"sb": junk}) is None


@pytest.mark.parametrize("name", ["connect_forward_start", "connect_forward_start_variant"])
def test_event_variants_seen_in_the_wild_parse(name: str) -> None:
    event = parse_event(load_event(name))

    assert event.purpose_key == "start"
    assert event.dialed == OURS
    assert event.contact_id == CONTACT


def test_a_null_customer_endpoint_is_a_withheld_caller() -> None:
    assert parse_event(load_event("connect_forward_start_variant")).caller == ""


@pytest.mark.parametrize("raw", [None, [], {}, {"Details": []}, {"Details": {"Parameters": "x"}}])
def test_malformed_events_are_refused(raw: Any) -> None:
    with pytest.raises(MalformedFlowEventError):
        parse_event(raw)


# --- business hours (issue 17 item 3): decided from the one rule read, on the Lambda's clock ----

CHICAGO_WEEKDAYS = parse_hours("weekdays 09:00-17:30", "America/Chicago")
TUESDAY_NOON_CHICAGO_MS = 1_796_148_000_000  # 2026-12-01 12:00 CST
TUESDAY_EVENING_CHICAGO_MS = 1_796_176_800_000  # 2026-12-01 20:00 CST


@pytest.mark.parametrize(
    ("at_ms", "dialled"), [(TUESDAY_NOON_CHICAGO_MS, D1), (TUESDAY_EVENING_CHICAGO_MS, D3)]
)
def test_business_hours_pick_the_branch_with_one_read(at_ms: int, dialled: str) -> None:
    flow = Flow(rule(D1, D2, hours=CHICAGO_WEEKDAYS, else_destinations=(D3, D4)))
    flow.clock.now = at_ms

    reply = flow.start()

    assert (reply["op"], reply["dial_to"]) == ("dial", dialled)
    assert flow.rules.reads == 1


def test_after_hours_follow_me_stays_on_the_else_branch() -> None:
    flow = Flow(rule(D1, hours=CHICAGO_WEEKDAYS, else_destinations=(D3, D4)))
    flow.clock.now = TUESDAY_EVENING_CHICAGO_MS
    flow.start()

    second = flow.failed("ConnectionTimeLimitExceeded", 30)

    assert (second["op"], second["dial_to"]) == ("dial", D4)


def test_connect_after_hours_on_a_connect_number_is_not_in_service_only_after_hours() -> None:
    by_day = Flow(rule(D1, hours=CHICAGO_WEEKDAYS, else_destinations=("connect",)))
    by_day.clock.now = TUESDAY_NOON_CHICAGO_MS
    assert by_day.start()["dial_to"] == D1
    at_night = Flow(rule(D1, hours=CHICAGO_WEEKDAYS, else_destinations=("connect",)))
    at_night.clock.now = TUESDAY_EVENING_CHICAGO_MS
    assert at_night.start()["op"] == "play_hangup"
    assert at_night.record.outcome is Outcome.NOT_IN_SERVICE


# -- the live entry: written by the flow's asynchronous Dialing turn, never by a synchronous one --


def test_start_makes_one_request_and_no_synchronous_turn_writes_the_live_entry() -> None:
    """The caller hears nothing while a synchronous turn runs: Start reads the rule and that is all."""
    flow = Flow(rule(D1, D2, greeting=GreetingMode.NONE))

    assert flow.start()["op"] == "dial"
    assert (flow.rules.reads, flow.progress.saved, flow.calls.writes) == (1, [], 0)
    assert flow.failed("ConnectionTimeLimitExceeded", 30)["op"] == "dial"
    flow.ended(40)

    assert flow.progress.saved == []
    assert flow.record.outcome is Outcome.BRIDGED


def test_dialing_saves_the_dial_with_its_own_clock_after_the_greeting() -> None:
    flow = Flow(rule(D1, D2, greeting=GreetingMode.ONCE, ring_timeout=20))
    flow.start()

    reply = flow.dialing(after_s=3.2)  # the greeting played first

    assert isinstance(reply, dict)
    assert all(isinstance(v, str) for v in reply.values())
    assert "sb" not in reply
    assert "op" not in reply
    (state,) = flow.progress.saved
    assert flow.progress.at == [T0 + 3_200]  # the dial moment: ring_until counts from here
    assert state.phase is Phase.GREETING  # as Start left it: Connect dials after the greeting
    assert (state.current_destination, state.attempt_started_ms) == (D1, T0)
    assert flow.rules.reads == 1  # Dialing reads nothing: the state rides in the attributes
    assert not flow.calls.records

    flow.failed("ConnectionTimeLimitExceeded", 20)
    flow.dialing()
    assert [s.current_destination for s in flow.progress.saved] == [D1, D2]
    assert flow.progress.saved[1].attempt_started_ms == flow.clock.now


def test_dialing_saves_a_queued_transfer_target_too() -> None:
    class Queue:
        def record_unless_queued(self, contact_id: str, record: CallRecord, for_since_ms: int) -> Any:
            from switchboard.domain.transfer import QueuedTransfer

            return QueuedTransfer("+13125550199", for_since_ms, "U1")

    flow = Flow(rule(D1, greeting=GreetingMode.NONE))
    flow.app._transfers = Queue()
    flow.start()
    assert flow.ended(60)["dial_to"] == "+13125550199"

    flow.dialing(after_s=2)

    (state,) = flow.progress.saved
    assert (state.phase, state.transfer_target) == (Phase.TRANSFERRING, "+13125550199")


@pytest.mark.parametrize(
    "failure", [StorageError("throttled"), RuntimeError("bug"), None], ids=["storage", "bug", "none"]
)
def test_dialing_never_raises_and_never_stops_the_call(failure: Exception | None) -> None:
    flow = Flow(rule(D1, greeting=GreetingMode.NONE))
    flow.start()
    flow.progress.fail = failure
    if failure is None:
        flow.app._progress = None  # a misconfigured stack

    reply = flow.dialing()

    assert isinstance(reply, dict)
    assert all(isinstance(v, str) for v in reply.values())
    if isinstance(failure, StorageError):
        assert "ProgressWriteFailures" in flow.telemetry.metrics
    if isinstance(failure, RuntimeError):
        assert "HandlerErrors" in flow.telemetry.metrics


def test_dialing_without_a_dialing_state_writes_nothing() -> None:
    flow = Flow(rule(D1, greeting=GreetingMode.NONE, failure=FailureAction.HANGUP))

    flow.dialing()  # no state at all (lost attributes)
    flow.start()
    flow.failed("CallFailed", 1)  # the call is over: its state says so
    flow.dialing()

    assert flow.progress.saved == []
    assert "flow event without a call state" in flow.telemetry.errors
