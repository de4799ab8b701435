"""The SMA handler never leaves a caller in dead air: bad input, a failing table, a hung endpoint."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from typing import Any

import botocore.session
import pytest
from botocore.stub import Stubber
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sma.actions import PromptLocation
from sma.forwarding import ForwardingApp
from switchboard.adapters.dynamodb import DynamoCallLog, DynamoForwardRepository
from switchboard.domain.events import CallRecord, LiveCall
from switchboard.domain.rules import ForwardRule
from switchboard.ports import StorageError
from switchboard_local.pstn.schema import response_errors
from tests.helpers import CallDriver, action_types, load_event

EVENT_NAMES = [
    "new_inbound_call",
    "ringing",
    "action_successful_call_and_bridge",
    "action_failed_call_and_bridge",
    "action_failed_play_audio",
    "action_successful_hangup",
    "action_interrupted",
    "hangup_leg_a",
    "hangup_leg_b",
    "new_outbound_call",
    "invalid_lambda_response",
    "call_update_requested",
]


def _sma_app() -> Any:
    """Imported late: ``sma.app`` builds its client at import, after the moto fixture set the env."""
    import sma.app

    return sma.app


def app_with_client(client: Any) -> ForwardingApp:
    return ForwardingApp(
        rules=DynamoForwardRepository(client, "switchboard-test"),
        calls=DynamoCallLog(client, "switchboard-test"),
        prompts=PromptLocation("bucket"),
        telemetry=_sma_app().LogTelemetry(),
    )


@pytest.fixture
def silent_endpoint() -> Iterator[str]:
    """A TCP port that accepts connections and never answers (a hung DynamoDB endpoint)."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    listener.close()


def test_hung_table_endpoint_still_answers_within_the_pstn_budget(
    moto_endpoint: str, silent_endpoint: str
) -> None:
    client = botocore.session.get_session().create_client(
        "dynamodb", endpoint_url=silent_endpoint, config=_sma_app().DYNAMODB_CONFIG
    )
    started = time.monotonic()
    response = app_with_client(client).handle(load_event("new_inbound_call"))
    elapsed = time.monotonic() - started

    assert elapsed < 4.5, f"took {elapsed:.2f}s; PSTN Audio retries after 5 s"
    assert action_types(response) == ["PlayAudio", "Hangup"]
    assert response["Actions"][0]["Parameters"]["AudioSource"]["Key"] == "prompts/error.wav"


def test_throttled_read_gives_the_caller_the_error_prompt(moto_endpoint: str) -> None:
    # Stubber answers before botocore's retry handler runs, so this is the error after retries.
    client = botocore.session.get_session().create_client("dynamodb", config=_sma_app().DYNAMODB_CONFIG)
    with Stubber(client) as stubber:
        stubber.add_client_error("get_item", "ProvisionedThroughputExceededException", http_status_code=400)
        response = app_with_client(client).handle(load_event("new_inbound_call"))
        stubber.assert_no_pending_responses()
    assert action_types(response) == ["PlayAudio", "Hangup"]
    assert not response_errors(response)


class FailingCallLog:
    def __init__(self) -> None:
        self.attempts = 0

    def record_call(self, transaction_id: str, record: CallRecord) -> None:
        self.attempts += 1
        raise StorageError("table is on fire")

    def call_live(self, transaction_id: str, live: LiveCall) -> None:
        self.attempts += 1
        raise StorageError("table is on fire")


class NoRules:
    def get(self, number: str) -> None:
        return None


def test_a_failed_record_write_does_not_change_what_the_caller_hears(moto_endpoint: str) -> None:
    calls = FailingCallLog()
    app = ForwardingApp(NoRules(), calls, PromptLocation("bucket"), _sma_app().LogTelemetry())
    response = app.handle(load_event("new_inbound_call"))
    assert calls.attempts == 1
    assert action_types(response) == ["PlayAudio", "Hangup"]
    assert response["Actions"][0]["Parameters"]["AudioSource"]["Key"] == "prompts/not_in_service.wav"


class OneRule:
    def get(self, number: str) -> ForwardRule:
        return ForwardRule(number=number, destinations=("+12065550111",))


def test_a_failed_live_call_write_leaves_the_bridge_up(moto_endpoint: str) -> None:
    calls = FailingCallLog()
    app = ForwardingApp(OneRule(), calls, PromptLocation("bucket"), _sma_app().LogTelemetry())
    call = CallDriver(lambda event, _context: app.handle(event), "tx-live-write-fails")
    assert action_types(call.send("new_inbound_call")) == ["CallAndBridge"]
    assert call.send("action_successful_call_and_bridge", destination="+12065550111")["Actions"] == []
    assert calls.attempts == 1  # the live entry was tried, failed, and the call went on
    # The hang-up still ends the call normally (other leg hung up, record attempted).
    assert action_types(call.send("hangup_leg_b", destination="+12065550111")) == ["Hangup"]
    assert calls.attempts == 2


def test_misconfigured_stack_hangs_up_without_prompts(moto_endpoint: str) -> None:
    app = ForwardingApp(None, None, None, _sma_app().LogTelemetry())
    response = app.handle(load_event("new_inbound_call"))
    assert action_types(response) == ["Hangup"]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=20,
)


@st.composite
def mangled_events(draw: st.DrawFn) -> Any:
    """Real event shapes with parts replaced by arbitrary JSON, plus wholly arbitrary payloads."""
    if draw(st.integers(0, 4)) == 0:
        return draw(json_values)
    event: dict[str, Any] = load_event(draw(st.sampled_from(EVENT_NAMES)))
    paths = [
        ("InvocationEventType",),
        ("ActionData",),
        ("ActionData", "Type"),
        ("ActionData", "ErrorType"),
        ("CallDetails", "Participants"),
        ("CallDetails", "TransactionAttributes"),
        ("CallDetails", "TransactionId"),
        ("Sequence",),
    ]
    for path in draw(st.lists(st.sampled_from(paths), max_size=3)):
        target = event
        for key in path[:-1]:
            target = target.setdefault(key, {}) if isinstance(target, dict) else {}
        if isinstance(target, dict):
            target[path[-1]] = draw(json_values | st.sampled_from(["HANGUP", "CallAndBridge", "PlayAudio"]))
    if draw(st.booleans()) and isinstance(event.get("CallDetails"), dict):
        event["CallDetails"]["TransactionAttributes"] = {
            "switchboard": draw(st.text(max_size=80) | st.sampled_from(['{"v":1}', '{"v":1,"i":9,"ds":[]}']))
        }
    return event


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(event=mangled_events())
def test_any_event_gets_a_valid_response(sma_app: Any, event: Any) -> None:
    response = sma_app.handler(event, None)
    assert response_errors(response) == []


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(names=st.lists(st.sampled_from(EVENT_NAMES), min_size=1, max_size=12))
def test_any_order_of_real_events_gets_valid_responses(sma_app: Any, names: list[str]) -> None:
    call = CallDriver(sma_app.handler, "tx-fuzz")  # validates every response itself
    for name in ["new_inbound_call", *names]:
        call.send(name)
