"""connect_lambda/forwarding_flow.json: the shipped Flow-language flow agrees with the Lambda's
replies, and no branch leaves the caller in dead air."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from connect_lambda.actions import DIAL, FIELDS, HANGUP, PLAY_HANGUP
from connect_lambda.forwarding import ERROR_TYPES, PURPOSES

FLOW_PATH = Path(__file__).resolve().parents[2] / "connect_lambda" / "forwarding_flow.json"
TEXT = FLOW_PATH.read_text()
FLOW = json.loads(TEXT)
ACTIONS: dict[str, dict[str, Any]] = {a["Identifier"]: a for a in FLOW["Actions"]}
_BAD_IDENTIFIER = re.compile(r"[%:()\\/=$,;\[\]{}]")


def _next(action: dict[str, Any]) -> list[str]:
    transitions = action.get("Transitions", {})
    found = [transitions["NextAction"]] if "NextAction" in transitions else []
    found += [e["NextAction"] for e in transitions.get("Errors", [])]
    found += [c["NextAction"] for c in transitions.get("Conditions", [])]
    return found


def test_every_transition_resolves_and_every_action_is_reachable() -> None:
    assert FLOW["Version"] == "2019-10-30"
    assert FLOW["StartAction"] in ACTIONS
    assert len(ACTIONS) == len(FLOW["Actions"])
    seen, todo = set(), [FLOW["StartAction"]]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        targets = _next(ACTIONS[name])
        assert all(t in ACTIONS for t in targets), name
        todo.extend(targets)
    assert seen == set(ACTIONS)


def test_identifiers_and_placeholders_are_what_connect_and_the_template_accept() -> None:
    assert all(len(i) <= 50 and not _BAD_IDENTIFIER.search(i) for i in ACTIONS)
    assert set(re.findall(r"\$\{([^}]*)\}", TEXT)) == {"ConnectFunction.Arn"}
    assert len(TEXT) <= 256_000


def test_every_path_ends_by_disconnecting_and_errors_never_go_silent() -> None:
    """From every action some path reaches DisconnectParticipant, and every error branch of a
    Lambda, attribute or dial step goes to a prompt, another Lambda turn or the disconnect."""
    ends = {i for i, a in ACTIONS.items() if a["Type"] == "DisconnectParticipant"}
    assert ends
    assert all(ACTIONS[e]["Transitions"] == {} for e in ends)
    reaches = set(ends)
    changed = True
    while changed:
        changed = False
        for name, action in ACTIONS.items():
            if name not in reaches and set(_next(action)) & reaches:
                reaches.add(name)
                changed = True
    assert reaches == set(ACTIONS)
    for action in ACTIONS.values():
        for error in action.get("Transitions", {}).get("Errors", []):
            target = ACTIONS[error["NextAction"]]["Type"]
            assert target in (
                "MessageParticipant",
                "DisconnectParticipant",
                "InvokeLambdaFunction",
                "Compare",
                "TransferParticipantToThirdParty",
            ), error


def test_the_flow_saves_every_reply_field_and_dispatches_on_every_op() -> None:
    (save,) = [a for a in ACTIONS.values() if a["Type"] == "UpdateContactAttributes"]
    assert save["Parameters"]["Attributes"] == {k: f"$.External.{k}" for k in FIELDS}
    dispatch = ACTIONS["Dispatch"]
    operands = {c["Condition"]["Operands"][0] for c in dispatch["Transitions"]["Conditions"]}
    assert operands == {DIAL, PLAY_HANGUP, HANGUP}


def test_the_lambda_is_asked_only_for_purposes_it_serves_within_connects_limits() -> None:
    invokes = [a for a in ACTIONS.values() if a["Type"] == "InvokeLambdaFunction"]
    assert invokes
    for action in invokes:
        parameters = action["Parameters"]
        assert 1 <= int(parameters["InvocationTimeLimitSeconds"]) <= 8
        assert parameters["InvocationType"] in ("SYNCHRONOUS", "ASYNCHRONOUS")
        assert parameters["ResponseValidation"] == {"ResponseType": "STRING_MAP"}
        attributes = parameters["LambdaInvocationAttributes"]
        assert attributes["Purpose"].lower() in PURPOSES
        if "Error" in attributes:
            assert attributes["Error"].lower() in ERROR_TYPES


def _reachable_without(start: str, avoid: set[str]) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        name = todo.pop()
        if name in seen or name in avoid:
            continue
        seen.add(name)
        todo.extend(_next(ACTIONS[name]))
    return seen


def test_every_dial_is_announced_by_the_asynchronous_dialing_turn_after_the_greeting() -> None:
    """The live entry is written off the caller's path: an ASYNCHRONOUS Dialing invocation between
    the greeting and the dial, whose error branch dials too, and no dial is reachable past it."""
    dialings = [
        name
        for name, action in ACTIONS.items()
        if action["Type"] == "InvokeLambdaFunction"
        and action["Parameters"]["LambdaInvocationAttributes"]["Purpose"] == "Dialing"
    ]
    assert len(dialings) == 1
    (dialing,) = dialings
    parameters = ACTIONS[dialing]["Parameters"]
    assert parameters["InvocationType"] == "ASYNCHRONOUS"
    assert parameters["LambdaInvocationAttributes"] == {"Purpose": "Dialing"}
    sync = [a for a in ACTIONS.values() if a["Type"] == "InvokeLambdaFunction" and a["Identifier"] != dialing]
    assert {a["Parameters"]["InvocationType"] for a in sync} == {"SYNCHRONOUS"}
    transitions = ACTIONS[dialing]["Transitions"]
    assert [e["NextAction"] for e in transitions["Errors"]] == [transitions["NextAction"]]
    # Greeting first, then Dialing, then the dial: the dial blocks cannot be reached around it.
    assert ACTIONS["Greet"]["Transitions"]["NextAction"] == dialing
    assert {e["NextAction"] for e in ACTIONS["Greet"]["Transitions"]["Errors"]} == {dialing}
    dials = {n for n, a in ACTIONS.items() if a["Type"] == "TransferParticipantToThirdParty"}
    assert not dials & _reachable_without(FLOW["StartAction"], {dialing})
    # What the dial uses comes from $.Attributes: an invocation may reset $.External.
    after = _reachable_without(transitions["NextAction"], {"Save"})
    for name in after:
        assert "$.External" not in json.dumps(ACTIONS[name]["Parameters"]), name


def test_the_dial_blocks_resume_the_flow_and_report_every_outcome() -> None:
    dials = [a for a in ACTIONS.values() if a["Type"] == "TransferParticipantToThirdParty"]
    assert {"CallerId" in d["Parameters"] for d in dials} == {True, False}  # number and passthrough
    for dial in dials:
        assert dial["Parameters"]["ContinueFlowExecution"] == "True"
        errors = {e["ErrorType"] for e in dial["Transitions"]["Errors"]}
        assert errors == {"CallFailed", "ConnectionTimeLimitExceeded", "NoMatchingError"}


def test_the_template_deploys_exactly_this_flow_after_the_integration() -> None:
    from switchboard_local.aws.template import load_template

    resources = load_template()["Resources"]
    flow = resources["ForwardingContactFlow"]
    assert flow["DependsOn"] == "ConnectIntegration"  # PUBLISHED checks the Lambda it invokes
    assert json.loads(flow["Properties"]["Content"]["Fn::Sub"]) == FLOW
    integration = resources["ConnectIntegration"]["Properties"]
    assert integration["IntegrationArn"] == {"Fn::GetAtt": "ConnectFunction.Arn"}


def test_contact_events_reach_their_handler_for_this_instance_only() -> None:
    from switchboard_local.aws.template import load_template

    function = load_template()["Resources"]["ContactEventsFunction"]
    assert function["Properties"]["Handler"] == "connect_lambda.contact_events.handler"
    pattern = function["Properties"]["Events"]["Disconnected"]["Properties"]["Pattern"]
    assert pattern["source"] == ["aws.connect"]
    assert pattern["detail"]["eventType"] == ["DISCONNECTED"]
    assert pattern["detail"]["instanceArn"] == [{"Ref": "ConnectInstanceArn"}]


def test_the_shipped_flow_passes_the_static_validator() -> None:
    from switchboard_local.aws.connect_flow import validate_flow

    assert validate_flow(FLOW) == []


def test_the_validator_finds_what_connect_would_refuse_or_a_caller_would_suffer() -> None:
    import copy

    from switchboard_local.aws.connect_flow import validate_flow

    broken = copy.deepcopy(FLOW)
    by_name = {a["Identifier"]: a for a in broken["Actions"]}
    by_name["Ask_start"]["Parameters"]["InvocationTimeLimitSeconds"] = "9"
    by_name["Report_ended"]["Parameters"]["InvocationType"] = "EVENT"
    by_name["Announce_dial"]["Parameters"]["InvocationTimeLimitSeconds"] = "61"
    by_name["Dial_with_cid"]["Parameters"]["ContinueFlowExecution"] = "true"
    by_name["Dispatch"]["Transitions"]["Conditions"][0]["Condition"]["Operands"] = [""]
    by_name["Sorry"]["Transitions"] = {"NextAction": "Sorry"}  # loops forever, never hangs up
    by_name["Greet"]["Transitions"]["Errors"][0]["ErrorType"] = "CallFailed"
    broken["Actions"].append({"Identifier": "Orphan", "Type": "Wait", "Parameters": {}, "Transitions": {}})

    problems = "\n".join(validate_flow(broken))

    assert "Ask_start: InvocationTimeLimitSeconds" in problems
    assert "Report_ended: InvocationType" in problems
    assert "Announce_dial: InvocationTimeLimitSeconds" in problems
    assert "Dial_with_cid: ContinueFlowExecution" in problems
    assert "Dispatch: an empty Compare operand" in problems
    assert "Sorry: no path to a disconnect" in problems
    assert "Greet: error branch 'CallFailed'" in problems
    assert "Orphan: unknown action type 'Wait'" in problems
    assert "Orphan: unreachable" in problems
