"""``connect_lambda.app.handler`` as Amazon Connect invokes it: real event shapes, the DNIS pool on moto,
UpdateSipMediaApplicationCall on the Chime SDK Voice emulator (through the real botocore client).

``connect_lambda.app`` builds its clients at import, as in Lambda, so the module fixture points
``AWS_ENDPOINT_URL_CHIME_SDK_VOICE`` and ``SIP_MEDIA_APPLICATION_ID`` at the emulator first and
(re)loads the module; DynamoDB goes to the session's moto server through ``AWS_ENDPOINT_URL``.
"""

from __future__ import annotations

import copy
import importlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import botocore.session
import pytest

from switchboard.adapters.call_control import ChimeCallControl
from switchboard.adapters.pool import DynamoDnisPool
from switchboard.domain.pool import DnisPair
from switchboard_local.aws.chime_voice_emulator import ChimeVoiceEmulator, ChimeVoiceServer
from switchboard_local.aws.chime_voice_model import ApiError
from switchboard_local.environ import patched_environ
from tests.functional.conftest import TABLE
from tests.helpers import load_event

pytestmark = pytest.mark.functional

ROOT = Path(__file__).resolve().parents[2]
SMA_NUMBER, CONNECT_NUMBER = "+12025550170", "+13125550180"  # as in tests/events/connect_*.json
CALLER = "+13035550123"
TX = "d9a1f4e2-3b7c-4a35-9f1e-2c6b8d0a7e51"
VC_ARN = "arn:aws:chime:us-east-1:123456789012:vc/abcdefghijklmnopqrstuv"  # VOICE_CONNECTOR_ARN (conftest)
OUR_NUMBER = "+12025550111"  # in the account's phone inventory
T0 = 1_700_000_000_000  # 2023-11-14T22:13:20Z


class Chime:
    """The emulator, its SIP media application, and the call updates it accepted."""

    def __init__(self, emulator: ChimeVoiceEmulator, server: ChimeVoiceServer) -> None:
        self.emulator = emulator
        self.server = server
        self.sma_id = emulator.create_sip_media_application(
            "switchboard", "arn:aws:lambda:us-east-1:123456789012:function:switchboard-sma"
        )
        self.updates: list[tuple[str, str, dict[str, str]]] = []

    def accept_calls(self) -> None:
        self.emulator.on_call_update = lambda sma, tx, args: self.updates.append((sma, tx, args))


@pytest.fixture(scope="module")
def chime_server() -> Iterator[Chime]:
    emulator = ChimeVoiceEmulator(region="us-east-1")
    with ChimeVoiceServer(emulator) as server:
        yield Chime(emulator, server)


@pytest.fixture(scope="module")
def connect_app(moto_endpoint: str, chime_server: Chime) -> Iterator[ModuleType]:
    env = {
        "AWS_ENDPOINT_URL_CHIME_SDK_VOICE": chime_server.server.url,
        "SIP_MEDIA_APPLICATION_ID": chime_server.sma_id,
        "TABLE_NAME": TABLE,
        "DEFAULT_COUNTRY": "US",
        "ALLOWED_COUNTRIES": "US",
    }
    with patched_environ(env):
        import connect_lambda.app

        yield importlib.reload(connect_lambda.app)  # clients from *this* environment


@pytest.fixture
def chime(chime_server: Chime) -> Chime:
    chime_server.updates.clear()
    chime_server.accept_calls()
    return chime_server


@pytest.fixture
def pool(dynamodb: Any) -> DynamoDnisPool:
    pool = DynamoDnisPool(dynamodb, TABLE)
    pool.add(DnisPair(SMA_NUMBER, CONNECT_NUMBER))
    return pool


@pytest.fixture
def claimed(pool: DynamoDnisPool) -> DynamoDnisPool:
    """The events' pair is held by call TX, whose caller is CALLER."""
    assert pool.claim(TX, CALLER, T0).pair == (SMA_NUMBER, CONNECT_NUMBER)
    return pool


def invoke(app: ModuleType, name: str, **parameters: str | None) -> dict[str, str]:
    event = load_event(name)
    for key, value in parameters.items():
        if value is None:
            event["Details"]["Parameters"].pop(key, None)
        else:
            event["Details"]["Parameters"][key] = value
    result: dict[str, str] = app.handler(event, None)
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in result.items()), result
    return result


# ------------------------------------------------------------------------------ GetData


def test_get_data_returns_the_call_as_flat_contact_attributes(
    connect_app: ModuleType, claimed: DynamoDnisPool
) -> None:
    result = invoke(connect_app, "connect_get_data")

    assert result == {
        "status": "ok",
        "transaction_id": TX,
        "original_calling_number": CALLER,
        "claimed_at": "2023-11-14T22:13:20Z",
        "claim_age_seconds": result["claim_age_seconds"],
        "sma_number": SMA_NUMBER,
        "connect_number": CONNECT_NUMBER,
    }
    assert int(result["claim_age_seconds"]) > 0


def test_get_data_reads_national_numbers(connect_app: ModuleType, claimed: DynamoDnisPool) -> None:
    result = invoke(
        connect_app, "connect_get_data", CallingNumber="(202) 555-0170", CalledNumber="312 555 0180"
    )

    assert result["status"] == "ok"
    assert result["transaction_id"] == TX


def test_get_data_falls_back_to_the_contact_endpoints(
    connect_app: ModuleType, claimed: DynamoDnisPool
) -> None:
    result = invoke(connect_app, "connect_get_data", CallingNumber=None, CalledNumber=None)

    assert result["status"] == "ok"
    assert result["transaction_id"] == TX


def test_get_data_for_a_free_pair(connect_app: ModuleType, pool: DynamoDnisPool) -> None:
    result = invoke(connect_app, "connect_get_data")

    assert result["status"] == "error"
    assert "no call holds the DNIS pair +12025550170 → +13125550180" in result["reason"]


def test_get_data_for_an_unknown_pair(connect_app: ModuleType, pool: DynamoDnisPool) -> None:
    result = invoke(connect_app, "connect_get_data", CallingNumber="+12025550199")

    assert result == {
        "status": "error",
        "reason": "+12025550199 → +13125550180 is not a DNIS pair of the pool "
        "(was the call sent to Connect by the SIP media application?)",
    }


# ------------------------------------------------------------------------------ TransferCall


def test_transfer_call_asks_the_sma_to_take_the_call_back(
    connect_app: ModuleType, claimed: DynamoDnisPool, chime: Chime
) -> None:
    result = invoke(connect_app, "connect_transfer_call")

    assert result == {"status": "ok", "transaction_id": TX, "transfer_target": "+12065550111"}
    assert chime.updates == [(chime.sma_id, TX, {"Transfer": "true", "TransferTarget": "+12065550111"})]
    assert chime.emulator.snapshot()["call_updates"][-1]["TransactionId"] == TX


def test_transfer_to_a_sip_user_behind_a_voice_connector(
    connect_app: ModuleType, claimed: DynamoDnisPool, chime: Chime
) -> None:
    result = invoke(connect_app, "connect_transfer_call", TransferTarget="1001", TransferTargetArn=VC_ARN)

    assert result["status"] == "ok"
    assert chime.updates == [
        (chime.sma_id, TX, {"Transfer": "true", "TransferTarget": "1001", "TransferTargetArn": VC_ARN})
    ]


def test_a_national_pstn_target_is_normalised(
    connect_app: ModuleType, claimed: DynamoDnisPool, chime: Chime
) -> None:
    result = invoke(connect_app, "connect_transfer_call", TransferTarget="(206) 555-0111")

    assert result["transfer_target"] == "+12065550111"
    assert chime.updates[0][2]["TransferTarget"] == "+12065550111"


def test_the_transaction_id_from_get_data_is_the_call_holding_the_pair(
    connect_app: ModuleType, claimed: DynamoDnisPool, chime: Chime
) -> None:
    result = invoke(connect_app, "connect_transfer_call", TransactionId=TX)

    assert result["status"] == "ok"
    assert chime.updates[0][1] == TX


@pytest.mark.parametrize("transaction_id", ["tx-from-somewhere-else", "d9a1f4e2-0000-0000-0000-000000000000"])
def test_a_transaction_id_that_does_not_hold_the_pair_is_refused(
    connect_app: ModuleType, claimed: DynamoDnisPool, chime: Chime, transaction_id: str
) -> None:
    """Any other transaction id would let a contact flow take back and redirect any call."""
    result = invoke(connect_app, "connect_transfer_call", TransactionId=transaction_id)

    assert result["status"] == "error"
    assert "TransactionId is not the call holding the DNIS pair" in result["reason"]
    assert chime.updates == []


def test_a_transaction_id_for_a_free_pair_is_refused(
    connect_app: ModuleType, pool: DynamoDnisPool, chime: Chime
) -> None:
    result = invoke(connect_app, "connect_transfer_call", TransactionId=TX)

    assert result["status"] == "error"
    assert chime.updates == []


@pytest.mark.parametrize(
    "case",
    [
        ("+19005550100", VC_ARN, "premium-rate"),
        ("9011441234567", VC_ARN, "dialling prefix"),
        ("*72", VC_ARN, "feature code"),
        ("*72+19005550100", VC_ARN, "feature code"),
        ("911", VC_ARN, "emergency"),
        ("agent-7", "arn:aws:chime:us-east-1:999999999999:vc/attacker", "not this stack's voice connector"),
        (
            "agent-7",
            "arn:aws:chime:us-east-1:123456789012:vc/otherconnector",
            "not this stack's voice connector",
        ),
        (OUR_NUMBER, "", "one of our own numbers"),
        (SMA_NUMBER, "", "one of our own numbers"),
        (CONNECT_NUMBER, "", "one of our own numbers"),
        (OUR_NUMBER, VC_ARN, "one of our own numbers"),
    ],
)
def test_dangerous_targets_are_refused(
    connect_app: ModuleType, claimed: DynamoDnisPool, chime: Chime, case: tuple[str, str, str]
) -> None:
    target, arn, reason = case
    chime.emulator.seed_phone_numbers([OUR_NUMBER])
    result = invoke(
        connect_app, "connect_transfer_call", TransferTarget=target, TransferTargetArn=arn or None
    )

    assert result["status"] == "error"
    assert reason in result["reason"]
    assert chime.updates == []


OTHER_PAIR = DnisPair("+12025550171", "+13125550181")  # another pair of the pool, not in the inventory


@pytest.mark.parametrize("target", [OTHER_PAIR.connect_number, OTHER_PAIR.sma_number])
def test_a_number_of_another_dnis_pair_is_one_of_our_own(
    connect_app: ModuleType, claimed: DynamoDnisPool, chime: Chime, target: str
) -> None:
    """The pool's numbers are ours even when the Chime SDK Voice inventory does not list them (the
    Connect side lives in Amazon Connect): a transfer there would hand the caller to Connect under
    a pair no call holds."""
    claimed.add(OTHER_PAIR)
    result = invoke(connect_app, "connect_transfer_call", TransferTarget=target)

    assert result["status"] == "error"
    assert "one of our own numbers" in result["reason"]
    assert chime.updates == []


def test_a_sip_user_that_is_a_phone_number_goes_out_in_e164_after_the_policy(
    connect_app: ModuleType, claimed: DynamoDnisPool, chime: Chime
) -> None:
    result = invoke(
        connect_app, "connect_transfer_call", TransferTarget="312-555-0199", TransferTargetArn=VC_ARN
    )

    assert result["status"] == "ok"
    assert chime.updates[0][2]["TransferTarget"] == "+13125550199"


@pytest.mark.parametrize(
    ("parameters", "reason"),
    [
        ({"TransferTarget": None}, "missing parameter TransferTarget"),
        (
            {"TransferTarget": "+19005550100"},
            "refused transfer target: +19005550100 is a premium-rate number",
        ),
        ({"TransferTarget": "911"}, "refused transfer target: 911 is an emergency number"),
        ({"TransferTarget": "+442079460000"}, "forwards may only go to US"),
        (
            {"TransferTargetArn": "arn:aws:lambda:us-east-1:123456789012:function:x"},
            "not a voice connector ARN",
        ),
        ({"TransferTarget": "agent 7", "TransferTargetArn": VC_ARN}, "is not a SIP user"),
        ({"Purpose": "Dance"}, "unknown Purpose 'Dance': use GetData or TransferCall"),
        ({"Purpose": None}, "missing parameter Purpose"),
        ({"CallingNumber": "hello"}, "'hello' is not a phone number"),
    ],
)
def test_bad_parameters_are_reported_not_raised(
    connect_app: ModuleType,
    claimed: DynamoDnisPool,
    chime: Chime,
    parameters: dict[str, str | None],
    reason: str,
) -> None:
    result = invoke(connect_app, "connect_transfer_call", **parameters)

    assert result["status"] == "error"
    assert reason in result["reason"]
    assert chime.updates == []


def test_transfer_for_a_free_pair(connect_app: ModuleType, pool: DynamoDnisPool, chime: Chime) -> None:
    result = invoke(connect_app, "connect_transfer_call")

    assert result["status"] == "error"
    assert "the call has ended or already been transferred" in result["reason"]
    assert chime.updates == []


def test_a_call_that_is_gone(connect_app: ModuleType, claimed: DynamoDnisPool, chime: Chime) -> None:
    def gone(sma: str, tx: str, args: dict[str, str]) -> None:
        raise LookupError(f"no call in progress with transaction id {tx!r}")

    chime.emulator.on_call_update = gone

    result = invoke(connect_app, "connect_transfer_call")

    assert result == {
        "status": "error",
        "reason": f"the call (transaction {TX}) is no longer in progress; nothing to transfer",
    }


def test_chime_throttling(connect_app: ModuleType, claimed: DynamoDnisPool, chime: Chime) -> None:
    calls: list[str] = []

    def throttled(sma: str, tx: str, args: dict[str, str]) -> None:
        calls.append(tx)
        raise ApiError("ThrottledClientException", "Rate exceeded")

    chime.emulator.on_call_update = throttled

    result = invoke(connect_app, "connect_transfer_call")

    assert result == {
        "status": "error",
        "reason": "Chime SDK Voice is busy (ThrottledClientException); try the transfer again",
    }
    assert len(calls) == 2  # one more try after a pause, then the flow is told


def test_one_throttled_request_is_tried_again(
    connect_app: ModuleType, claimed: DynamoDnisPool, chime: Chime
) -> None:
    calls: list[str] = []

    def throttled_once(sma: str, tx: str, args: dict[str, str]) -> None:
        calls.append(tx)
        if len(calls) == 1:
            raise ApiError("ThrottledClientException", "Rate exceeded")

    chime.emulator.on_call_update = throttled_once

    assert invoke(connect_app, "connect_transfer_call")["status"] == "ok"
    assert calls == [TX, TX]


def test_chime_refuses_the_request(connect_app: ModuleType, claimed: DynamoDnisPool, chime: Chime) -> None:
    def refuses(sma: str, tx: str, args: dict[str, str]) -> None:
        raise ValueError("the call is not in a state that can be updated")

    chime.emulator.on_call_update = refuses

    result = invoke(connect_app, "connect_transfer_call")

    assert result["status"] == "error"
    assert result["reason"] == (
        "Chime SDK Voice refused the transfer: the call is not in a state that can be updated"
    )


def test_an_unknown_sip_media_application(
    connect_app: ModuleType, claimed: DynamoDnisPool, chime: Chime
) -> None:
    app = connect_app.ConnectApp(
        pool=claimed,
        calls=ChimeCallControl(connect_app.app.calls._client, "00000000-0000-0000-0000-000000000000"),
    )

    result = app.handle(load_event("connect_transfer_call"))

    assert result["status"] == "error"
    assert "no longer in progress" in result["reason"]


def test_chime_unreachable(connect_app: ModuleType, claimed: DynamoDnisPool) -> None:
    unreachable = botocore.session.get_session().create_client(
        "chime-sdk-voice", endpoint_url="http://127.0.0.1:9", config=connect_app.CHIME_CONFIG
    )
    app = connect_app.ConnectApp(pool=claimed, calls=ChimeCallControl(unreachable, "sma"))

    result = app.handle(load_event("connect_transfer_call"))

    assert result == {
        "status": "error",
        "reason": "could not reach Chime SDK Voice to transfer the call; try again",
    }


def test_table_failure(connect_app: ModuleType, dynamodb: Any, chime: Chime) -> None:
    app = connect_app.ConnectApp(
        pool=DynamoDnisPool(dynamodb, "no-such-table"),
        calls=connect_app.app.calls,
    )

    for name in ("connect_get_data", "connect_transfer_call"):
        assert app.handle(load_event(name)) == {
            "status": "error",
            "reason": "could not read the DNIS pool; try again",
        }


@pytest.mark.parametrize(
    "event",
    [None, [], "x", {}, {"Details": "x"}, {"Details": {"Parameters": ["Purpose"]}}, {"Details": {}}],
)
def test_anything_else_is_an_error_map_never_an_exception(connect_app: ModuleType, event: Any) -> None:
    result = connect_app.handler(copy.deepcopy(event), None)

    assert result["status"] == "error"
    assert result["reason"]


def test_an_unexpected_failure_is_still_a_map(
    connect_app: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    def boom(event: Any) -> dict[str, str]:
        raise RuntimeError("bug")

    monkeypatch.setattr(connect_app.app, "handle", boom)

    assert connect_app.handler(load_event("connect_get_data"), None) == {
        "status": "error",
        "reason": "internal error in the transfer function; see its logs",
    }


def test_a_misconfigured_function_says_what_is_missing() -> None:
    """Without SIP_MEDIA_APPLICATION_ID the module still imports and answers every request."""
    environment = {k: v for k, v in os.environ.items() if k not in ("SIP_MEDIA_APPLICATION_ID", "TABLE_NAME")}
    environment.update(PYTHONPATH=str(ROOT), AWS_DEFAULT_REGION="us-east-1", POWERTOOLS_LOG_LEVEL="CRITICAL")
    script = (
        "import json, sys; import connect_lambda.app as a; "
        "print(json.dumps(a.handler(json.load(sys.stdin), None)))"
    )
    event = json.dumps(load_event("connect_get_data"))

    done = subprocess.run(
        [sys.executable, "-c", script],
        input=event,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )

    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["status"] == "error"
    assert "misconfigured" in result["reason"]
    assert "SIP_MEDIA_APPLICATION_ID" in result["reason"]
    assert "TABLE_NAME" in result["reason"]


def test_a_connect_only_stack_has_no_take_back_and_logs_no_error() -> None:
    """Without a SIP media application (a Connect-only stack) take-back transfers do not exist:
    that is the deployment chosen, not a fault, so no ERROR on every cold start, and a transfer
    request is answered with a sentence saying why."""
    environment = {k: v for k, v in os.environ.items() if k != "SIP_MEDIA_APPLICATION_ID"}
    environment.update(
        PYTHONPATH=str(ROOT),
        AWS_DEFAULT_REGION="us-east-1",
        TABLE_NAME="switchboard",
        SIP_MEDIA_APPLICATION_ID="",
        POWERTOOLS_LOG_LEVEL="INFO",
    )
    script = (
        "import json, sys; import connect_lambda.app as a; "
        "print(json.dumps(a.handler(json.load(sys.stdin), None)))"
    )

    done = subprocess.run(
        [sys.executable, "-c", script],
        input=json.dumps(load_event("connect_get_data")),
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )

    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result == {
        "status": "error",
        "reason": "take-back transfers need a SIP media application, and this stack has none",
    }
    assert '"level":"ERROR"' not in (done.stdout + done.stderr).replace(" ", "")


# ------------------------------------------------------------------------------ the example contact flow

FLOW = json.loads((ROOT / "connect_lambda" / "contact_flow.json").read_text())


def _next_actions(action: dict[str, Any]) -> list[str]:
    transitions = action["Transitions"]
    targets = [transitions["NextAction"]] if "NextAction" in transitions else []
    targets += [c["NextAction"] for c in transitions.get("Conditions", [])]
    targets += [e["NextAction"] for e in transitions.get("Errors", [])]
    return targets


def test_the_example_flow_is_well_formed() -> None:
    actions = {action["Identifier"]: action for action in FLOW["Actions"]}

    assert FLOW["Version"] == "2019-10-30"
    assert FLOW["StartAction"] in actions
    assert len(actions) == len(FLOW["Actions"])
    for identifier, action in actions.items():
        assert len(identifier) <= 50
        assert not set(identifier) & set("%:(\\/)=$,;[]{}")
        assert all(target in actions for target in _next_actions(action)), identifier
        assert identifier in FLOW["Metadata"]["ActionMetadata"]
    purposes = [
        a["Parameters"]["LambdaInvocationAttributes"]["Purpose"]
        for a in FLOW["Actions"]
        if a["Type"] == "InvokeLambdaFunction"
    ]
    assert purposes == ["GetData", "TransferCall"]


def run_flow(handler: Any, contact: dict[str, Any]) -> list[str]:
    """Walk the example flow as Connect would (the few action types it uses); returns what was said."""
    actions = {action["Identifier"]: action for action in FLOW["Actions"]}
    attributes: dict[str, str] = {}
    external: dict[str, str] = {}
    said: list[str] = []

    def resolve(value: str) -> str:
        if not value.startswith("$."):
            return value
        namespace, _, key = value[2:].partition(".")
        if namespace == "External":
            return external.get(key, "")
        if namespace == "Attributes":
            return attributes.get(key, "")
        endpoint: dict[str, str] = contact[namespace]
        return endpoint[key]

    current = FLOW["StartAction"]
    for _ in range(50):
        action = actions[current]
        kind, parameters, transitions = action["Type"], action["Parameters"], action["Transitions"]
        current = transitions.get("NextAction", "")
        if kind == "DisconnectParticipant":
            return said
        if kind == "InvokeLambdaFunction":
            event = {
                "Details": {
                    "ContactData": {**contact, "Attributes": dict(attributes)},
                    "Parameters": {
                        k: resolve(v) for k, v in parameters["LambdaInvocationAttributes"].items()
                    },
                },
                "Name": "ContactFlowEvent",
            }
            external = handler(event, None)
        elif kind == "Compare":
            value = resolve(parameters["ComparisonValue"])
            matches = [c for c in transitions["Conditions"] if value in c["Condition"]["Operands"]]
            current = matches[0]["NextAction"] if matches else transitions["Errors"][0]["NextAction"]
        elif kind == "UpdateContactAttributes":
            attributes.update({k: resolve(v) for k, v in parameters["Attributes"].items()})
        elif kind == "MessageParticipant":
            text = parameters.get("Text") or parameters["SSML"]
            for name, value in attributes.items():
                text = text.replace(f"$.Attributes.{name}", value)
            said.append(text)
    raise AssertionError("the flow did not end")


def test_the_example_flow_transfers_the_call(
    connect_app: ModuleType, claimed: DynamoDnisPool, chime: Chime
) -> None:
    contact = load_event("connect_get_data")["Details"]["ContactData"]

    said = run_flow(connect_app.handler, contact)

    assert CALLER in said[0]
    assert said[-1] == "Please hold while we transfer your call."
    assert chime.updates == [(chime.sma_id, TX, {"Transfer": "true", "TransferTarget": "+12065550111"})]


def test_the_example_flow_apologises_when_the_call_is_unknown(
    connect_app: ModuleType, pool: DynamoDnisPool, chime: Chime
) -> None:
    contact = load_event("connect_get_data")["Details"]["ContactData"]

    said = run_flow(connect_app.handler, contact)

    assert said == ["Sorry, we could not find your call. Please call again."]
    assert chime.updates == []


# ------------------------------------------------------------------------------ bounded answers


@pytest.mark.parametrize(
    "parameters",
    [
        {"Purpose": "P" * 100_000},
        {"TransferTarget": "9" * 100_000},
        {"CallingNumber": "x" * 100_000},
        {"TransferTarget": "agent", "TransferTargetArn": "arn:" + "a" * 100_000},
    ],
)
def test_every_answer_stays_small_whatever_the_flow_sent(
    connect_app: ModuleType, claimed: DynamoDnisPool, chime: Chime, parameters: dict[str, str]
) -> None:
    result = invoke(connect_app, "connect_transfer_call", **parameters)

    assert result["status"] == "error"
    assert all(len(value) <= 256 for value in result.values()), {k: len(v) for k, v in result.items()}
    assert len(json.dumps(result)) < 4096  # Connect's limit is 32 KB
    assert chime.updates == []


@pytest.mark.parametrize("stored", ["<speak>free calls</speak>" + "1" * 5_000, "anonymous\r\nx"])
def test_get_data_returns_only_a_phone_number_as_the_original_caller(
    connect_app: ModuleType, pool: DynamoDnisPool, stored: str
) -> None:
    pool.claim(TX, stored, T0)  # the SMA stored LEG-A's From as the network sent it

    result = invoke(connect_app, "connect_get_data")

    assert result["status"] == "ok"
    assert result["original_calling_number"] == ""
    assert all(len(value) <= 256 for value in result.values())
