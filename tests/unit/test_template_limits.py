"""Limits in template.yaml that keep the call path alive and nothing lost (issue 11, items 6, 19, 22).

A flood of forged Slack requests must not take the concurrency the SIP media application and the
Connect Lambda need; an asynchronous invocation that fails must land somewhere someone sees it.
"""

from __future__ import annotations

from typing import Any

import pytest

from switchboard_local.aws.template import load_template

TEMPLATE = load_template()
RESOURCES: dict[str, Any] = TEMPLATE["Resources"]
PARAMETERS: dict[str, Any] = TEMPLATE["Parameters"]
CONDITIONS: dict[str, Any] = TEMPLATE["Conditions"]

FUNCTIONS = sorted(name for name, r in RESOURCES.items() if r["Type"] == "AWS::Serverless::Function")
# Invoked asynchronously (Lambda queues the event): a schedule, CloudFormation, Bolt's lazy listeners.
ASYNC = ["BotFunction", "DeployHelperFunction", "DigestFunction", "ExpiryFunction"]


def _optional_reservation(function: str, parameter: str) -> None:
    """ReservedConcurrentExecutions from ``parameter``, none at all when it is 0."""
    reserved = RESOURCES[function]["Properties"]["ReservedConcurrentExecutions"]
    condition, value, otherwise = reserved["Fn::If"]
    assert value == {"Ref": parameter}
    assert otherwise == {"Ref": "AWS::NoValue"}
    assert CONDITIONS[condition] == {"Fn::Not": [{"Fn::Equals": [{"Ref": parameter}, "0"]}]}
    declared = PARAMETERS[parameter]
    assert declared["Type"] == "Number"
    assert declared["MinValue"] == 0
    assert declared["Default"] > 0


@pytest.mark.parametrize(
    ("function", "parameter"),
    [
        ("SmaFunction", "SmaReservedConcurrency"),
        ("ConnectFunction", "ConnectReservedConcurrency"),
        ("BotFunction", "BotConcurrencyLimit"),
    ],
)
def test_call_path_reservations_and_the_bot_cap_are_parameters(function: str, parameter: str) -> None:
    _optional_reservation(function, parameter)


def test_the_bot_cap_leaves_room_for_a_transfer_and_the_acks() -> None:
    # A transfer's lazy listener holds an instance for up to 40 s; the acks need others meanwhile.
    assert PARAMETERS["BotConcurrencyLimit"]["Default"] >= 10
    assert PARAMETERS["SmaReservedConcurrency"]["Default"] >= 10


@pytest.mark.parametrize("function", FUNCTIONS)
def test_every_function_has_a_concurrency_limit(function: str) -> None:
    assert "ReservedConcurrentExecutions" in RESOURCES[function]["Properties"]


def test_the_expiry_job_never_runs_twice_at_once() -> None:
    assert RESOURCES["ExpiryFunction"]["Properties"]["ReservedConcurrentExecutions"] == 1


def test_the_slack_route_is_throttled() -> None:
    route = TEMPLATE["Globals"]["HttpApi"]["DefaultRouteSettings"]
    assert route["ThrottlingBurstLimit"] == {"Ref": "SlackApiBurstLimit"}
    assert route["ThrottlingRateLimit"] == {"Ref": "SlackApiRateLimit"}
    for name in ("SlackApiBurstLimit", "SlackApiRateLimit"):
        assert PARAMETERS[name]["Type"] == "Number"
        assert PARAMETERS[name]["MinValue"] >= 1
    # The bot's event uses the API these defaults apply to (the implicit one).
    event = RESOURCES["BotFunction"]["Properties"]["Events"]["SlackEvents"]
    assert event["Type"] == "HttpApi"
    assert "ApiId" not in event["Properties"]


@pytest.mark.parametrize("function", ASYNC)
def test_a_failed_asynchronous_invocation_is_kept_in_an_encrypted_queue(function: str) -> None:
    properties = RESOURCES[function]["Properties"]
    dead_letters = properties["DeadLetterQueue"]
    assert dead_letters["Type"] == "SQS"
    assert dead_letters["TargetArn"] == {"Fn::GetAtt": "FailedInvocationsQueue.Arn"}
    queue = RESOURCES["FailedInvocationsQueue"]
    assert queue["Type"] == "AWS::SQS::Queue"
    assert "Condition" not in queue
    assert queue["Properties"]["SqsManagedSseEnabled"] is True
    assert queue["Properties"]["MessageRetentionPeriod"] == 14 * 86400


def test_someone_hears_about_a_failed_invocation() -> None:
    alarm = RESOURCES["FailedInvocationsAlarm"]["Properties"]
    assert alarm["Namespace"] == "AWS/SQS"
    assert alarm["MetricName"] == "ApproximateNumberOfMessagesVisible"
    assert alarm["Dimensions"] == [
        {"Name": "QueueName", "Value": {"Fn::GetAtt": "FailedInvocationsQueue.QueueName"}}
    ]
    assert alarm["Threshold"] == 0
    assert alarm["ComparisonOperator"] == "GreaterThanThreshold"


@pytest.mark.parametrize("function", ["BotFunction", "ExpiryFunction"])
def test_jobs_that_would_repeat_a_change_are_not_retried(function: str) -> None:
    # A lazy listener re-run minutes later would repeat a user's change and its messages; the
    # expiry job runs again in 5 minutes anyway. Their failures go to the queue instead.
    config = RESOURCES[function]["Properties"]["EventInvokeConfig"]
    assert config["MaximumRetryAttempts"] == 0


def test_rule_history_retention_is_a_parameter_passed_to_every_function() -> None:
    declared = PARAMETERS["HistoryRetentionDays"]
    assert declared["Type"] == "Number"
    assert declared["Default"] == 400
    assert declared["MinValue"] >= 1
    variables = TEMPLATE["Globals"]["Function"]["Environment"]["Variables"]
    assert variables["HISTORY_RETENTION_DAYS"] == {"Ref": "HistoryRetentionDays"}


def test_every_checkov_exception_says_why() -> None:
    for name, resource in RESOURCES.items():
        for skip in resource.get("Metadata", {}).get("checkov", {}).get("skip", []):
            assert skip["id"].startswith("CKV_"), name
            assert len(skip["comment"]) >= 20, f"{name} {skip['id']}: say why in a sentence"
