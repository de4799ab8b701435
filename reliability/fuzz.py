"""Fuzz: generated events into every handler; count exceptions and contract breaks.

Every generator starts from the documented shape (the PSTN Audio invocation event, Amazon Connect's
contact-flow event, DynamoDB Streams records of our call-event items, Slack's slash command and
interaction payloads) and applies up to three mutations: a field removed, a field replaced by any
JSON value (wrong type, huge number, NaN, unicode digits, 70,000 characters...), an extra field.

The contracts checked, per handler:

* ``sma.app.handler``: never raises; the response passes :func:`response_errors` (PSTN Audio's
  rules: schema, at most 10 actions, at most 10 string TransactionAttributes) and is strict JSON.
* ``connect_lambda.app.handler``: never raises; returns a flat string map with ``status`` ok/error,
  under Amazon Connect's 32 KB response limit.
* ``bot.notifier.handler``: never raises; returns ``{"batchItemFailures": [{"itemIdentifier"}]}``
  naming only records of the batch, and never fails an unmutated call event.
* ``bot.app.handler``: never raises; HTTP 200 for a correctly signed request, 401 for a wrongly
  signed one (404 for an action no listener handles, as Bolt answers), never 5xx; no lazy listener
  run raises.
"""

from __future__ import annotations

import json
import traceback
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

from hypothesis import strategies as st

from bot import alerts as bot_alerts
from bot import views as bot_views
from reliability.common import (
    NASTY_STRINGS,
    Figure,
    Mutated,
    explore,
    json_safe,
    mutated,
    quiet,
    short,
)
from reliability.harness import (
    ADMIN,
    CALLER,
    CONNECT_ENTRY,
    DESTINATIONS,
    FORWARDED,
    OURS,
    POOL_CONNECT,
    POOL_SMA,
    SECOND_FORWARDED,
    UNFORWARDED,
    VISITOR,
    VOICE_CONNECTOR_ARN,
    Harness,
)
from switchboard.adapters.dynamo_codec import encode_item
from switchboard_local.pstn.schema import KNOWN_ACTIONS, response_errors
from switchboard_local.pstn.simulator import PhoneBehaviour, PstnSimulator
from switchboard_local.slack.requests import (
    block_actions_payload,
    signed_event,
    slash_command_body,
    view_submission_payload,
)

STREAM_ARN = "arn:aws:dynamodb:us-east-1:123456789012:table/switchboard-reliability/stream/x"
CONNECT_RESPONSE_LIMIT = 32 * 1024  # bytes of UTF-8; Amazon Connect refuses larger Lambda output
EVENT_TYPES = (
    "NEW_INBOUND_CALL",
    "NEW_OUTBOUND_CALL",
    "RINGING",
    "CALL_ANSWERED",
    "ACTION_SUCCESSFUL",
    "ACTION_FAILED",
    "ACTION_INTERRUPTED",
    "HANGUP",
    "DIGITS_RECEIVED",
    "CALL_UPDATE_REQUESTED",
    "INVALID_LAMBDA_RESPONSE",
)
ERROR_TYPES = ("CallNotAnswered", "InvalidAudioSource", "InvalidActionParameter", "SystemException", "")
any_text = st.text(max_size=30) | st.sampled_from(NASTY_STRINGS)
numbers = st.sampled_from((*OURS, *DESTINATIONS, CALLER, *POOL_SMA, *POOL_CONNECT)) | any_text
sip_users = st.sampled_from(("agent-7", "*72+19005550100", "9011441234567", "+19005550100", "911")) | any_text
arns = st.sampled_from(
    (VOICE_CONNECTOR_ARN, "arn:aws:chime:us-east-1:999999999999:vc/other", "arn:aws:chime:x", "")
)


# -- PSTN Audio ----------------------------------------------------------------------------------


def state_corpus(h: Harness) -> list[dict[str, str]]:
    """TransactionAttributes the handler really produces, from simulated calls: mid-call events
    built on them reach deep into the call flow instead of stopping at "no state"."""
    simulator = PstnSimulator(h.sma.handler, sip_media_application_id=h.stack.sip_media_application_id)
    seen: dict[str, dict[str, str]] = {}
    scenarios: list[tuple[str, dict[str, PhoneBehaviour], list[tuple[float, dict[str, str]]]]] = [
        (FORWARDED, {}, []),
        (FORWARDED, {DESTINATIONS[0]: PhoneBehaviour.no_answer()}, []),
        (FORWARDED, {d: PhoneBehaviour.busy() for d in DESTINATIONS}, []),
        (SECOND_FORWARDED, {}, [(20.0, {"Transfer": "true", "TransferTarget": DESTINATIONS[0]})]),
        (CONNECT_ENTRY, {}, [(20.0, {"Transfer": "true", "TransferTarget": DESTINATIONS[1]})]),
        (UNFORWARDED, {}, []),
    ]
    with quiet():
        for to, phones, updates in scenarios:
            transcript = simulator.place_call(to, CALLER, phones=phones, updates=updates)
            for event in transcript.events:
                attributes = event.get("CallDetails", {}).get("TransactionAttributes") or {}
                if attributes:
                    seen[json.dumps(attributes, sort_keys=True)] = dict(attributes)
    return list(seen.values())


def _participant(tag: str) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {
            "CallId": st.uuids().map(str),
            "ParticipantTag": st.sampled_from((tag, tag.title())),
            "To": numbers,
            "From": numbers,
            "Direction": st.sampled_from(("Inbound", "Outbound")),
            "StartTimeInMilliseconds": st.integers(0, 2**42).map(str),
            "Status": st.sampled_from(("Connected", "Disconnected")),
        }
    )


def _action_data() -> st.SearchStrategy[dict[str, Any]]:
    parameters: st.SearchStrategy[dict[str, Any]] = st.one_of(
        st.fixed_dictionaries(
            {
                "CallTimeoutSeconds": st.integers(1, 120),
                "CallerIdNumber": numbers,
                "Endpoints": st.lists(
                    st.fixed_dictionaries({"BridgeEndpointType": st.just("PSTN"), "Uri": numbers}),
                    min_size=1,
                    max_size=1,
                ),
            }
        ),
        st.fixed_dictionaries(
            {
                "Arguments": st.fixed_dictionaries(
                    {
                        "Transfer": st.sampled_from(("true", "false", "TRUE")),
                        "TransferTarget": numbers | sip_users,
                    },
                    optional={"TransferTargetArn": arns},
                )
            }
        ),
        st.fixed_dictionaries(
            {"ParticipantTag": st.sampled_from(("LEG-A", "LEG-B")), "SipResponseCode": st.just("0")}
        ),
        st.just({}),
    )
    return st.fixed_dictionaries(
        {"Type": st.sampled_from((*sorted(KNOWN_ACTIONS), "CallUpdateRequest")), "Parameters": parameters},
        optional={"ErrorType": st.sampled_from(ERROR_TYPES), "ErrorMessage": any_text},
    )


def pstn_events(corpus: list[dict[str, str]], transaction_ids: list[str]) -> st.SearchStrategy[Mutated]:
    attributes: st.SearchStrategy[dict[str, Any]] = st.one_of(
        st.just({}),
        st.sampled_from(corpus) if corpus else st.just({}),
        st.dictionaries(any_text, any_text, max_size=40),
    )
    event = st.fixed_dictionaries(
        {
            "SchemaVersion": st.just("1.0"),
            "Sequence": st.integers(1, 200),
            "InvocationEventType": st.sampled_from(EVENT_TYPES),
            "CallDetails": st.fixed_dictionaries(
                {
                    "TransactionId": st.sampled_from(transaction_ids) | st.uuids().map(str),
                    "TransactionAttributes": attributes,
                    "AwsAccountId": st.just("123456789012"),
                    "AwsRegion": st.just("us-east-1"),
                    "SipMediaApplicationId": st.uuids().map(str),
                    "SipRuleId": st.uuids().map(str),
                    "Participants": st.lists(
                        st.one_of(_participant("LEG-A"), _participant("LEG-B")), min_size=1, max_size=2
                    ),
                }
            ),
        },
        optional={"ActionData": _action_data(), "ErrorType": st.sampled_from(ERROR_TYPES)},
    )
    return mutated(event)


def where(error: BaseException) -> str:
    """The innermost frame of the project's own code the error passed through (file:line)."""
    every = traceback.extract_tb(error.__traceback__)
    frames = [f for f in every if "site-packages" not in f.filename] or every
    return f"{Path(frames[-1].filename).name}:{frames[-1].lineno}" if frames else "?"


def fuzz_sma(h: Harness, examples: int, seed: int = 1) -> Figure:
    figure = Figure("fuzz", "PSTN Audio events → sma.app.handler")
    corpus = state_corpus(h)
    transaction_ids = [str(uuid.uuid4()) for _ in range(20)]

    def check(case: Mutated) -> None:
        figure.cases += 1
        try:
            response = h.sma.handler(case.document, None)
        except Exception as error:
            figure.fail(f"raised {error!r} at {where(error)} on {short(case.document)}")
            return
        problems = response_errors(response)
        if not json_safe(response):
            problems.append("the response is not strict JSON")
        if problems:
            figure.fail(f"{problems[:3]} for {short(case.document)}")

    with quiet():
        explore(pstn_events(corpus, transaction_ids), check, examples, seed)
    figure.detail = f"{len(corpus)} real call states mutated; {figure.cases} events"
    return figure


# -- Amazon Connect -----------------------------------------------------------------------------


def connect_events() -> st.SearchStrategy[Mutated]:
    from switchboard_local.pstn.calls import connect_event

    parameters = st.fixed_dictionaries(
        {},
        optional={
            "TransferTarget": numbers | sip_users,
            "TransferTargetArn": arns,
            "TransactionId": st.uuids().map(str) | any_text,
        },
    )
    event = st.builds(
        lambda purpose, calling, called, extra: connect_event(purpose, calling, called, **extra),
        st.sampled_from(("GetData", "TransferCall", "get_data", "transfer-call", "Other")) | any_text,
        st.sampled_from(POOL_SMA) | numbers,
        st.sampled_from(POOL_CONNECT) | numbers,
        parameters,
    )
    return mutated(event)


def connect_contract(result: Any) -> list[str]:
    if not isinstance(result, dict):
        return [f"returned {type(result).__name__}, not a map"]
    problems = []
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in result.items()):
        problems.append("not a flat string map")
    if result.get("status") not in ("ok", "error"):
        problems.append(f"status {result.get('status')!r}")
    size = len(json.dumps(result, default=str).encode())
    if size >= CONNECT_RESPONSE_LIMIT:
        problems.append(f"{size} bytes, over Connect's 32 KB limit")
    return problems


def fuzz_connect(h: Harness, examples: int, seed: int = 2) -> Figure:
    figure = Figure("fuzz", "Amazon Connect events → connect_lambda.app.handler")
    largest = 0

    def check(case: Mutated) -> None:
        nonlocal largest
        figure.cases += 1
        try:
            result = h.connect.handler(case.document, None)
        except Exception as error:
            figure.fail(f"raised {error!r} at {where(error)} on {short(case.document)}")
            return
        largest = max(largest, len(json.dumps(result, default=str).encode()))
        problems = connect_contract(result)
        if problems:
            figure.fail(f"{problems} for {short(case.document)}")

    with quiet():
        explore(connect_events(), check, examples, seed)
    figure.detail = f"largest reply {largest} bytes"
    return figure


# -- DynamoDB stream records → notifier ---------------------------------------------------------


def call_event_items() -> st.SearchStrategy[dict[str, Any]]:
    attempt = st.fixed_dictionaries(
        {
            "destination": numbers,
            "result": st.sampled_from(("CallNotAnswered", "answered", "SystemException", "abandoned")),
            "ring_ms": st.integers(0, 120_000),
        }
    )
    return st.builds(
        lambda event_type, dialed, caller, transaction, all_failed, attempts, event_id: {
            "pk": f"CALL#{transaction}",
            "sk": f"EVENT#{event_type}#{event_id}",
            "kind": "call_event",
            "event_id": event_id,
            "event_type": event_type,
            "dialed": dialed,
            "caller": caller,
            "at": "2026-11-30T20:00:00Z",
            "transaction_id": transaction,
            "all_failed": all_failed,
            "attempts": attempts,
        },
        st.sampled_from(("bridge_failed", "transfer_failed", "pool_exhausted", "all_destinations_failed")),
        st.sampled_from(OURS),
        st.sampled_from((CALLER, "+442079460000", "anonymous")),
        st.uuids().map(str),
        st.booleans(),
        st.lists(attempt, max_size=5),
        st.uuids().map(str),
    )


def stream_batches() -> st.SearchStrategy[list[tuple[bool, dict[str, Any]]]]:
    """Batches of 1-5 records: (pristine, record). Mutations touch the item (what the SMA wrote)
    and the event name, never the envelope AWS builds."""

    def record(case: Mutated, event_name: str) -> tuple[bool, dict[str, Any]]:
        image: dict[str, Any]
        try:
            image = encode_item(case.document)
        except Exception:  # a mutation the codec cannot store: send it raw, as a corrupt image
            image = {key: {"S": str(value)} for key, value in case.document.items()}
        sequence = str(uuid.uuid4().int % 10**21)
        return case.pristine and event_name == "INSERT", {
            "eventID": uuid.uuid4().hex,
            "eventName": event_name,
            "eventVersion": "1.1",
            "eventSource": "aws:dynamodb",
            "awsRegion": "us-east-1",
            "dynamodb": {
                "ApproximateCreationDateTime": 1_800_000_000,
                "Keys": {"pk": {"S": "CALL#x"}, "sk": {"S": "EVENT#x"}},
                "NewImage": image,
                "SequenceNumber": sequence,
                "SizeBytes": 512,
                "StreamViewType": "NEW_AND_OLD_IMAGES",
            },
            "eventSourceARN": STREAM_ARN,
        }

    one = st.builds(
        record,
        mutated(call_event_items()),
        st.sampled_from(("INSERT", "INSERT", "INSERT", "MODIFY", "REMOVE")),
    )
    return st.lists(one, min_size=1, max_size=5)


def fuzz_notifier(h: Harness, records: int, seed: int = 3) -> Figure:
    figure = Figure("fuzz", "DynamoDB stream records → bot.notifier.handler")
    assert h.stack.lambdas is not None
    refused = 0

    lambdas = h.stack.lambdas

    def check(batch: list[tuple[bool, dict[str, Any]]]) -> None:
        nonlocal refused
        if figure.cases >= records:
            return
        figure.cases += len(batch)
        event = {"Records": [r for _, r in batch]}
        sequences = {r["dynamodb"]["SequenceNumber"] for _, r in batch}
        try:
            result = h.notifier.handler(event, lambdas.context("switchboard-notifier", timeout=120))
        except Exception as error:
            figure.fail(f"raised {error!r} at {where(error)} on {short(event)}")
            return
        failures = result.get("batchItemFailures") if isinstance(result, dict) else None
        if not isinstance(failures, list) or not all(
            isinstance(f, dict) and f.get("itemIdentifier") in sequences for f in failures
        ):
            figure.fail(f"returned {short(result)}")
            return
        failed = {f["itemIdentifier"] for f in failures}
        refused += len(failed)
        for pristine, record in batch:
            if pristine and record["dynamodb"]["SequenceNumber"] in failed:
                figure.fail(f"a valid call event was reported failed: {short(record)}")

    with quiet():
        # Batches hold 1-5 records and hypothesis favours short lists, so draw more batches
        # (another seed each round) until the figure counts the records asked for.
        while figure.cases < records:
            before = figure.cases
            explore(stream_batches(), check, max(1, (records - figure.cases) // 2), seed)
            seed += 1
            if figure.cases == before:
                break
    figure.detail = f"{refused} malformed records reported for retry (batchItemFailures)"
    return figure


# -- Slack → bot.app.handler ---------------------------------------------------------------------

SLASH_WORDS = (
    *OURS,
    "202-555-0100",
    "(206) 555-0111",
    *DESTINATIONS,
    "to",
    "for",
    "2h",
    "90 days",
    "greeting",
    "once",
    "timeout",
    "then",
    "voicemail",
    "remove",
    "status",
    "list",
    "transfer",
    "help",
    "connect",
    "weekdays 09:00-17:30 America/Chicago else to",
    "caller",
    ",",
    "sip:agent-7",
    "tx-live-1",
)
slash_texts = st.one_of(
    st.lists(st.sampled_from(SLASH_WORDS) | st.sampled_from(NASTY_STRINGS), max_size=8).map(" ".join),
    any_text,
)
action_ids = st.sampled_from(
    (
        "home_new",
        "edit_forward",
        "remove_forward",
        bot_views.TRANSFER_ACTION,
        bot_alerts.REMOVE_ACTION,
        bot_alerts.EDIT_ACTION,
        bot_alerts.TRY_ANOTHER_ACTION,
    )
)
users = st.sampled_from((ADMIN, VISITOR))


def _slash_fields(text: str, user: str, response_url: str) -> dict[str, Any]:
    return dict(parse_qsl(slash_command_body("/forward", text, user, response_url=response_url)))


def _forward_view(rule_number: str | None) -> dict[str, Any]:
    view = bot_views.forward_modal(list(OURS), None, "C0OPERATIONS")
    view["id"] = f"V{uuid.uuid4().hex[:10].upper()}"
    if rule_number:
        view["private_metadata"] = json.dumps({"channel_id": "C0OPERATIONS", "version": 1})
    return view


def _transfer_view(metadata: Any) -> dict[str, Any]:
    return {
        "id": f"V{uuid.uuid4().hex[:10].upper()}",
        "type": "modal",
        "callback_id": bot_views.TRANSFER_CALLBACK,
        "private_metadata": json.dumps(metadata, default=str),
        "blocks": [
            {
                "type": "input",
                "block_id": bot_views.TRANSFER_BLOCK,
                "label": {"type": "plain_text", "text": "Transfer to"},
                "element": {"type": "plain_text_input", "action_id": bot_views.TRANSFER_BLOCK},
            }
        ],
    }


def slack_requests(response_url: str) -> st.SearchStrategy[tuple[str, Mutated | dict[str, Any]]]:
    slash = st.builds(
        lambda text, user: ("slash", _slash_fields(text, user, response_url)), slash_texts, users
    ).flatmap(lambda pair: mutated(st.just(pair[1]), max_mutations=1).map(lambda m: ("slash", m)))
    actions = st.builds(
        lambda action_id, value, user: block_actions_payload(
            action_id, value=value, user_id=user, block_id="alert_actions", channel_id="C0ALERTS"
        ),
        action_ids,
        numbers | st.uuids().map(str),
        users,
    )
    form_answers = st.fixed_dictionaries(
        {"number": st.sampled_from(OURS)},
        optional={
            "dest_1": numbers,
            "dest_2": numbers,
            "timeout": st.sampled_from(("30", "²", "٣٠", "9" * 4300, "-1", "0")) | any_text,
        },
    )
    forward_forms = st.builds(
        lambda number, answers, user: view_submission_payload(_forward_view(number), answers, user_id=user),
        st.none() | st.sampled_from(OURS),
        form_answers,
        users,
    )
    transfer_forms = st.builds(
        lambda metadata, target, user: view_submission_payload(
            _transfer_view(metadata), {bot_views.TRANSFER_BLOCK: target}, user_id=user
        ),
        st.fixed_dictionaries(
            {"transaction_id": st.uuids().map(str) | any_text, "channel_id": st.just("C0OPERATIONS")},
            optional={"home": st.booleans()},
        ),
        numbers | sip_users,
        users,
    )
    interactions = st.one_of(actions, forward_forms, transfer_forms).flatmap(
        lambda payload: mutated(st.just(payload), max_mutations=2).map(lambda m: ("interaction", m))
    )
    return st.one_of(slash, interactions)


def fuzz_slack(h: Harness, examples: int, seed: int = 4) -> Figure:
    figure = Figure("fuzz", "Slack requests (slash, block_actions, view_submission) → bot.app.handler")
    assert h.stack.slack is not None
    secret = h.secret()
    response_url = h.stack.slack.response_url("fuzz")
    statuses: dict[int, int] = {}

    def check(value: tuple[str, Any]) -> None:
        kind, case = value
        figure.cases += 1
        forged = figure.cases % 10 == 0  # every tenth request is signed with the wrong secret
        key = "wrong-secret" if forged else secret
        body = (
            urlencode({k: str(v) for k, v in case.document.items()})
            if kind == "slash"
            else urlencode({"payload": json.dumps(case.document, separators=(",", ":"), default=str)})
        )
        event = signed_event(body, key)
        try:
            response = h.bot.handler(event, h.bot_context())
        except Exception as error:
            figure.fail(f"raised {error!r} at {where(error)} on {short(case.document)}")
            return
        status = int(response.get("statusCode", 0)) if isinstance(response, dict) else 0
        statuses[status] = statuses.get(status, 0) + 1
        # A mutated payload may be one Bolt cannot read at all: 400. A pristine one never is.
        expected = {401} if forged else {200, 404} if case.pristine else {200, 400, 404}
        if status not in expected:
            figure.fail(f"HTTP {status} ({'forged' if forged else 'signed'}) for {short(case.document)}")

    with quiet():
        explore(slack_requests(response_url), check, examples, seed)
        failed = h.settle(timeout=300)
    for invocation in failed:
        figure.fail(f"lazy listener raised {short(invocation.error)} for {short(invocation.payload)}")
    h.stack.slack.clear()
    figure.detail = "HTTP statuses " + ", ".join(f"{code}: {n}" for code, n in sorted(statuses.items()))
    return figure
