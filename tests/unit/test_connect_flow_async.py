"""switchboard_local.aws.connect_flow: ``InvokeLambdaFunction`` with ``InvocationType``
``ASYNCHRONOUS``: the flow goes on at once, the Lambda runs on simulated time without the flow
waiting for it (possibly after the call ended), and its reply never reaches ``$.External``."""

from __future__ import annotations

from typing import Any

from switchboard_local.aws.connect_flow import FlowInterpreter, ThirdParty, validate_flow

OURS, CALLER, DEST = "+12025550100", "+13035550123", "+12065550111"


def invoke(name: str, purpose: str, then: str, kind: str = "SYNCHRONOUS") -> dict[str, Any]:
    return {
        "Identifier": name,
        "Type": "InvokeLambdaFunction",
        "Parameters": {
            "LambdaFunctionARN": "arn:aws:lambda:us-east-1:123456789012:function:f",
            "InvocationTimeLimitSeconds": "8",
            "InvocationType": kind,
            "LambdaInvocationAttributes": {"Purpose": purpose},
            "ResponseValidation": {"ResponseType": "STRING_MAP"},
        },
        "Transitions": {"NextAction": then, "Errors": [{"NextAction": then, "ErrorType": "NoMatchingError"}]},
    }


def say(name: str, text: str, then: str) -> dict[str, Any]:
    return {
        "Identifier": name,
        "Type": "MessageParticipant",
        "Parameters": {"Text": text},
        "Transitions": {"NextAction": then, "Errors": [{"NextAction": then, "ErrorType": "NoMatchingError"}]},
    }


FLOW: dict[str, Any] = {
    "Version": "2019-10-30",
    "StartAction": "Ask",
    "Actions": [
        invoke("Ask", "Start", "Save"),
        {
            "Identifier": "Save",
            "Type": "UpdateContactAttributes",
            "Parameters": {"TargetContact": "Current", "Attributes": {"to": "$.External.to"}},
            "Transitions": {
                "NextAction": "Tell",
                "Errors": [{"NextAction": "Bye", "ErrorType": "NoMatchingError"}],
            },
        },
        invoke("Tell", "Dialing", "Check", kind="ASYNCHRONOUS"),
        {
            "Identifier": "Check",
            "Type": "Compare",
            "Parameters": {"ComparisonValue": "$.External.to"},
            "Transitions": {
                "NextAction": "Dial",
                "Conditions": [
                    {"NextAction": "Wrong", "Condition": {"Operator": "Equals", "Operands": ["from-async"]}}
                ],
                "Errors": [{"NextAction": "Dial", "ErrorType": "NoMatchingCondition"}],
            },
        },
        say("Wrong", "the asynchronous reply reached External", "Bye"),
        {
            "Identifier": "Dial",
            "Type": "TransferParticipantToThirdParty",
            "Parameters": {
                "ThirdPartyPhoneNumber": "$.Attributes.to",
                "ThirdPartyConnectionTimeLimitSeconds": "20",
                "ContinueFlowExecution": "True",
            },
            "Transitions": {
                "NextAction": "Bye",
                "Errors": [
                    {"NextAction": "Bye", "ErrorType": "CallFailed"},
                    {"NextAction": "Bye", "ErrorType": "ConnectionTimeLimitExceeded"},
                    {"NextAction": "Bye", "ErrorType": "NoMatchingError"},
                ],
            },
        },
        {"Identifier": "Bye", "Type": "DisconnectParticipant", "Parameters": {}, "Transitions": {}},
    ],
}


class Lambda:
    def __init__(self) -> None:
        self.interpreter: FlowInterpreter | None = None
        self.calls: list[tuple[str, float, dict[str, str]]] = []
        self.raise_on_dialing = False

    def __call__(self, event: dict[str, Any], context: Any) -> dict[str, str]:
        assert self.interpreter is not None
        purpose = event["Details"]["Parameters"]["Purpose"]
        self.calls.append(
            (purpose, self.interpreter.elapsed, dict(event["Details"]["ContactData"]["Attributes"]))
        )
        if purpose == "Dialing":
            if self.raise_on_dialing:
                raise RuntimeError("bug")
            return {"to": "from-async"}
        return {"to": DEST}


def run(**kwargs: Any) -> tuple[Lambda, Any, list[str]]:
    handler = Lambda()
    order: list[str] = []

    def disconnected(event: dict[str, Any], context: Any) -> None:
        order.append("DISCONNECTED")

    def lambda_and_order(event: dict[str, Any], context: Any) -> dict[str, str]:
        order.append(event["Details"]["Parameters"]["Purpose"])
        return handler(event, context)

    interpreter = FlowInterpreter(
        FLOW, lambda_and_order, claimed={OURS}, on_disconnected=disconnected, **kwargs.pop("options", {})
    )
    handler.interpreter = interpreter
    transcript = interpreter.place_call(OURS, CALLER, **kwargs)
    return handler, transcript, order


def test_the_validator_accepts_an_asynchronous_invocation() -> None:
    assert validate_flow(FLOW) == []


def test_the_flow_does_not_wait_and_the_reply_never_reaches_external() -> None:
    handler, transcript, _ = run(phones={DEST: ThirdParty.answers(5, 10)})

    assert transcript.flags == []
    assert transcript.dials == [(DEST, CALLER)]  # Check did not see "from-async"
    assert "text" not in transcript.prompts
    (_start, dialing) = handler.calls
    assert dialing[0] == "Dialing"
    assert dialing[2] == {"to": DEST}  # the attributes as they were when it was invoked
    dial_at = next(t for t, line in transcript.timeline if line.startswith("dials"))
    ask_done = next(t for t, line in transcript.timeline if "Lambda Start" in line)
    assert dial_at == ask_done  # the asynchronous invocation took no time of the caller's
    assert dialing[1] >= dial_at  # it ran on its own, no earlier than the flow went on


def test_a_late_asynchronous_invocation_still_runs_after_the_call_ended() -> None:
    handler, transcript, order = run(
        phones={DEST: ThirdParty.no_answer()}, caller_hangs_up_after=5, options={"async_delay_seconds": 60}
    )

    assert transcript.caller_hung_up
    assert order == ["Start", "DISCONNECTED", "Dialing"]
    assert handler.calls[-1][1] >= 60


def test_a_raising_asynchronous_lambda_is_flagged_and_the_call_goes_on() -> None:
    handler = Lambda()
    handler.raise_on_dialing = True
    interpreter = FlowInterpreter(FLOW, handler, claimed={OURS})
    handler.interpreter = interpreter

    transcript = interpreter.place_call(OURS, CALLER, phones={DEST: ThirdParty.answers(1, 1)})

    assert transcript.dials == [(DEST, CALLER)]
    assert any("raised" in flag for flag in transcript.flags)
