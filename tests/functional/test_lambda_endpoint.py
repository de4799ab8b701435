"""The local Lambda Invoke endpoint, driven only through the unmodified boto3 ``lambda`` client,
and the Bolt lazy-listener round trip it exists for.

The round trip is the production path of a Slack request: API Gateway invokes the bot synchronously
(here: ``SlackRequestHandler.handle`` called directly with a signed HTTP API event), Bolt acks, then
re-invokes the same function with ``InvocationType="Event"`` through boto3 — which
``AWS_ENDPOINT_URL_LAMBDA`` sends to the endpoint — and the lazy listener calls Slack (the stand-in).
"""

from __future__ import annotations

import base64
import decimal
import json
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from slack_bolt import Ack, App, Respond
from slack_bolt.adapter.aws_lambda import SlackRequestHandler
from slack_sdk import WebClient
from slack_sdk.signature import SignatureVerifier

from switchboard_local.aws.lambda_endpoint import (
    LambdaEndpoint,
    LocalLambdaContext,
    parse_function_name,
)
from switchboard_local.slack.requests import (
    api_gateway_v2_event,
    block_actions_payload,
    interaction_event,
    sign,
    slash_command_event,
    view_state,
    view_submission_payload,
)
from switchboard_local.slack.standin import SlackStandIn

pytestmark = pytest.mark.functional

REGION = "us-east-1"
BOT = "switchboard-bot"
TOKEN = "xoxb-test"
SECRET = "signing-secret-for-tests"

Handler = Callable[[Any, Any], object]


def lambda_client(url: str) -> Any:
    return boto3.client(
        "lambda", endpoint_url=url, region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x"
    )


def echo(event: Any, context: Any) -> dict[str, Any]:
    return {
        "event": event,
        "function_name": context.function_name,
        "function_version": context.function_version,
        "invoked_function_arn": context.invoked_function_arn,
        "memory_limit_in_mb": context.memory_limit_in_mb,
        "aws_request_id": context.aws_request_id,
        "log_group_name": context.log_group_name,
        "log_stream_name": context.log_stream_name,
        "remaining": context.get_remaining_time_in_millis(),
        "client_context": None if context.client_context is None else context.client_context.custom,
    }


def explode(event: Any, context: Any) -> None:
    raise ValueError(f"cannot handle {event.get('what')}")


@pytest.fixture
def endpoint() -> Iterator[LambdaEndpoint]:
    with LambdaEndpoint({"echo": echo, "explode": explode}, region=REGION, timeout=10) as served:
        yield served


@pytest.fixture
def client(endpoint: LambdaEndpoint) -> Any:
    return lambda_client(endpoint.url)


# --------------------------------------------------------------------------------------------------
# The Invoke API


def test_request_response_returns_the_result_and_context(endpoint: LambdaEndpoint, client: Any) -> None:
    response = client.invoke(FunctionName="echo", Payload=json.dumps({"n": 1}))
    assert response["StatusCode"] == 200
    assert response["ExecutedVersion"] == "$LATEST"
    assert "FunctionError" not in response
    result = json.loads(response["Payload"].read())
    (invocation,) = endpoint.invocations
    assert result["event"] == {"n": 1}
    assert result["function_name"] == "echo"
    assert result["function_version"] == "$LATEST"
    assert result["invoked_function_arn"] == "arn:aws:lambda:us-east-1:123456789012:function:echo"
    assert result["memory_limit_in_mb"] == "512"  # a string, as the Python runtime gives it
    assert result["aws_request_id"] == invocation.request_id
    assert result["log_group_name"] == "/aws/lambda/echo"
    assert "[$LATEST]" in result["log_stream_name"]
    assert 0 < result["remaining"] <= 10_000
    assert result["client_context"] is None
    assert (invocation.function, invocation.invocation_type) == ("echo", "RequestResponse")
    assert invocation.result == result
    assert invocation.done
    assert not invocation.failed


def test_function_name_forms(endpoint: LambdaEndpoint, client: Any) -> None:
    arn = endpoint.arn("echo")
    for name in ("echo", arn, "123456789012:function:echo", f"{arn}:$LATEST", "echo:$LATEST"):
        response = client.invoke(FunctionName=name, Payload=b"{}")
        result = json.loads(response["Payload"].read())
        assert result["function_name"] == "echo", name
    assert (
        json.loads(client.invoke(FunctionName=arn, Payload=b"{}")["Payload"].read())["invoked_function_arn"]
        == arn
    )
    qualified = client.invoke(FunctionName="echo", Qualifier="$LATEST", Payload=b"{}")
    assert json.loads(qualified["Payload"].read())["invoked_function_arn"] == f"{arn}:$LATEST"
    assert parse_function_name("us-east-1:123456789012:function:x:live") == ("x", "live")


def test_empty_payload_is_an_empty_object(client: Any) -> None:
    response = client.invoke(FunctionName="echo")
    assert json.loads(response["Payload"].read())["event"] == {}


def test_unhandled_error_is_reported_like_lambda(endpoint: LambdaEndpoint, client: Any) -> None:
    response = client.invoke(FunctionName="explode", Payload=json.dumps({"what": "this"}))
    assert response["StatusCode"] == 200  # function errors are not API errors
    assert response["FunctionError"] == "Unhandled"
    error = json.loads(response["Payload"].read())
    assert error["errorType"] == "ValueError"
    assert error["errorMessage"] == "cannot handle this"
    assert error["requestId"] == endpoint.invocations[0].request_id
    assert any("in explode" in frame for frame in error["stackTrace"])
    assert endpoint.failed[0].error == error


def test_unserialisable_result_is_a_marshal_error(endpoint: LambdaEndpoint, client: Any) -> None:
    endpoint.register("opaque", lambda event, context: {"when": object()})
    endpoint.register(
        "numbers", lambda event, context: {"n": decimal.Decimal("3"), "x": decimal.Decimal("0.5")}
    )
    response = client.invoke(FunctionName="opaque", Payload=b"{}")
    assert response["FunctionError"] == "Unhandled"
    assert json.loads(response["Payload"].read())["errorType"] == "Runtime.MarshalError"
    assert json.loads(client.invoke(FunctionName="numbers")["Payload"].read()) == {"n": 3, "x": 0.5}


def test_event_returns_202_and_runs_in_the_background(endpoint: LambdaEndpoint, client: Any) -> None:
    release = threading.Event()
    seen: list[Any] = []

    def slow(event: Any, context: Any) -> str:
        release.wait(5)
        seen.append((event, context.function_name))
        return "done"

    endpoint.register("slow", slow)
    response = client.invoke(FunctionName="slow", InvocationType="Event", Payload=json.dumps({"k": "v"}))
    assert response["StatusCode"] == 202
    assert response["Payload"].read() == b""
    assert seen == []  # invoke returned while the handler still runs
    (running,) = endpoint.invocations
    assert not running.done
    release.set()
    (finished,) = endpoint.wait_idle(timeout=5)
    assert seen == [({"k": "v"}, "slow")]
    assert finished.result == "done"
    assert finished.invocation_type == "Event"


def test_event_errors_are_recorded_not_raised(endpoint: LambdaEndpoint, client: Any) -> None:
    response = client.invoke(
        FunctionName="explode", InvocationType="Event", Payload=json.dumps({"what": "x"})
    )
    assert response["StatusCode"] == 202
    (invocation,) = endpoint.wait_idle()
    assert invocation.failed
    assert invocation.error is not None
    assert invocation.error["errorMessage"] == "cannot handle x"
    assert any("explode Event invocation" in line for line in invocation.logs)


def test_wait_idle_times_out_while_a_handler_runs(endpoint: LambdaEndpoint, client: Any) -> None:
    release = threading.Event()
    endpoint.register("stuck", lambda event, context: release.wait(5))
    client.invoke(FunctionName="stuck", InvocationType="Event", Payload=b"{}")
    with pytest.raises(TimeoutError, match="stuck"):
        endpoint.wait_idle(timeout=0.2)
    release.set()
    endpoint.wait_idle()


def test_unknown_function_is_resource_not_found(endpoint: LambdaEndpoint, client: Any) -> None:
    for invocation_type in ("RequestResponse", "Event", "DryRun"):
        with pytest.raises(client.exceptions.ResourceNotFoundException) as raised:
            client.invoke(FunctionName="nope", InvocationType=invocation_type, Payload=b"{}")
        assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
        assert "function:nope" in raised.value.response["Error"]["Message"]
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.invoke(FunctionName="echo", Qualifier="live", Payload=b"{}")
    assert endpoint.invocations == []


def test_mismatched_qualifier_is_invalid(client: Any) -> None:
    with pytest.raises(client.exceptions.InvalidParameterValueException):
        client.invoke(FunctionName="echo:$LATEST", Qualifier="live", Payload=b"{}")


def test_invalid_json_payload(client: Any) -> None:
    with pytest.raises(client.exceptions.InvalidRequestContentException):
        client.invoke(FunctionName="echo", Payload=b"{not json")


def test_payload_limits() -> None:
    with LambdaEndpoint({"echo": echo}, max_event_payload=100, max_sync_payload=200) as endpoint:
        client = lambda_client(endpoint.url)
        big = json.dumps({"pad": "x" * 150})
        assert client.invoke(FunctionName="echo", Payload=big)["StatusCode"] == 200
        with pytest.raises(client.exceptions.RequestTooLargeException):
            client.invoke(FunctionName="echo", InvocationType="Event", Payload=big)
        with pytest.raises(client.exceptions.RequestTooLargeException):
            client.invoke(FunctionName="echo", Payload=json.dumps({"pad": "x" * 250}))


def test_dry_run_runs_nothing(endpoint: LambdaEndpoint, client: Any) -> None:
    response = client.invoke(FunctionName="explode", InvocationType="DryRun", Payload=b"{}")
    assert response["StatusCode"] == 204
    (invocation,) = endpoint.invocations
    assert invocation.invocation_type == "DryRun"
    assert not invocation.failed


def test_client_context_is_passed_to_synchronous_invocations_only(
    endpoint: LambdaEndpoint, client: Any
) -> None:
    context = base64.b64encode(json.dumps({"custom": {"caller": "console"}}).encode()).decode()
    response = client.invoke(FunctionName="echo", ClientContext=context, Payload=b"{}")
    assert json.loads(response["Payload"].read())["client_context"] == {"caller": "console"}
    client.invoke(FunctionName="echo", InvocationType="Event", ClientContext=context, Payload=b"{}")
    endpoint.wait_idle()
    assert endpoint.invocations[-1].result["client_context"] is None
    with pytest.raises(client.exceptions.InvalidRequestContentException):
        client.invoke(FunctionName="echo", ClientContext="%%%not-base64", Payload=b"{}")


def test_log_tail(endpoint: LambdaEndpoint, client: Any) -> None:
    import logging

    def chatty(event: Any, context: Any) -> None:
        logging.getLogger("switchboard.test").warning("forwarding %s", event["number"])

    endpoint.register("chatty", chatty)
    response = client.invoke(
        FunctionName="chatty", LogType="Tail", Payload=json.dumps({"number": "+12025550100"})
    )
    log = base64.b64decode(response["LogResult"]).decode()
    request_id = endpoint.invocations[0].request_id
    assert log.startswith(f"START RequestId: {request_id} Version: $LATEST")
    assert "[WARNING]\tswitchboard.test\tforwarding +12025550100" in log
    assert f"END RequestId: {request_id}" in log
    assert "REPORT RequestId" in log
    assert endpoint.invocations[0].logs == ["[WARNING]\tswitchboard.test\tforwarding +12025550100"]


def test_aws_endpoint_url_lambda_env(endpoint: LambdaEndpoint, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_LAMBDA", endpoint.url)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "x")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "x")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    client = boto3.client("lambda")  # no endpoint_url: botocore reads the variable
    response = client.invoke(FunctionName="echo", Payload=json.dumps({"via": "env"}))
    assert json.loads(response["Payload"].read())["event"] == {"via": "env"}


def test_local_lambda_context_standalone() -> None:
    context = LocalLambdaContext("bot", region="eu-west-1", account_id="210987654321", timeout=0.5)
    assert context.invoked_function_arn == "arn:aws:lambda:eu-west-1:210987654321:function:bot"
    assert context.function_version == "$LATEST"
    assert len(context.aws_request_id) == 36
    first = context.get_remaining_time_in_millis()
    assert 0 < first <= 500
    time.sleep(0.05)
    assert context.get_remaining_time_in_millis() < first
    assert LocalLambdaContext("bot", qualifier="live").invoked_function_arn.endswith(":function:bot:live")


# --------------------------------------------------------------------------------------------------
# Slack request helpers


def test_sign_matches_slack_sdk_verifier() -> None:
    body = "command=%2Fforward&text=hi"
    headers = sign(body, SECRET)
    verifier = SignatureVerifier(SECRET)
    assert verifier.is_valid(body, headers["x-slack-request-timestamp"], headers["x-slack-signature"])
    assert not SignatureVerifier("other").is_valid(
        body, headers["x-slack-request-timestamp"], headers["x-slack-signature"]
    )
    assert (
        sign(body, SECRET, 1700000000)["x-slack-signature"]
        == sign(body, SECRET, 1700000000)["x-slack-signature"]
    )


def test_api_gateway_event_base64_like_api_gateway() -> None:
    form = api_gateway_v2_event("a=1", {"Content-Type": "application/x-www-form-urlencoded"})
    assert form["isBase64Encoded"] is True
    assert base64.b64decode(form["body"]) == b"a=1"
    assert form["headers"]["content-type"] == "application/x-www-form-urlencoded"
    assert form["requestContext"]["http"]["method"] == "POST"
    assert form["version"] == "2.0"
    as_json = api_gateway_v2_event('{"a": 1}', {"content-type": "application/json"}, query={"q": "1"})
    assert as_json["isBase64Encoded"] is False
    assert as_json["body"] == '{"a": 1}'
    assert as_json["queryStringParameters"] == {"q": "1"}
    assert as_json["rawQueryString"] == "q=1"


def test_view_state_from_answers() -> None:
    view = {
        "type": "modal",
        "blocks": [
            {
                "type": "input",
                "block_id": "number",
                "label": {"type": "plain_text", "text": "Number"},
                "element": {
                    "type": "static_select",
                    "action_id": "our_number",
                    "options": [
                        {"text": {"type": "plain_text", "text": "Main line"}, "value": "+12025550100"}
                    ],
                },
            },
            {
                "type": "input",
                "block_id": "destination",
                "label": {"type": "plain_text", "text": "Destination"},
                "element": {"type": "plain_text_input", "action_id": "destination", "initial_value": "+1"},
            },
        ],
    }
    state = view_state(view, {"our_number": "Main line"})
    assert state["values"]["number"]["our_number"]["selected_option"]["value"] == "+12025550100"
    assert state["values"]["destination"]["destination"] == {"type": "plain_text_input", "value": "+1"}
    with pytest.raises(ValueError, match="not an option"):
        view_state(view, {"our_number": "+19999999999"})
    with pytest.raises(ValueError, match="no input element"):
        view_state(view, {"greeting": "loop"})


# --------------------------------------------------------------------------------------------------
# Bolt lazy listeners through the endpoint


@pytest.fixture
def slack() -> Iterator[SlackStandIn]:
    with SlackStandIn(tokens=[TOKEN]) as standin:
        yield standin


@pytest.fixture
def aws_env(endpoint: LambdaEndpoint, monkeypatch: pytest.MonkeyPatch) -> LambdaEndpoint:
    monkeypatch.setenv("AWS_ENDPOINT_URL_LAMBDA", endpoint.url)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "x")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "x")
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    return endpoint


def bolt_handler(
    slack: SlackStandIn, endpoint: LambdaEndpoint, build: Callable[[App], None]
) -> SlackRequestHandler:
    """A Bolt app as the bot builds it (process_before_response on Lambda), served as ``BOT``."""
    app = App(
        process_before_response=True,
        signing_secret=SECRET,
        client=WebClient(token=TOKEN, base_url=slack.api_url),
    )
    build(app)
    handler = SlackRequestHandler(app)
    endpoint.register(BOT, handler.handle)
    return handler


def test_bolt_lazy_listener_round_trip(slack: SlackStandIn, aws_env: LambdaEndpoint) -> None:
    endpoint = aws_env
    release = threading.Event()

    def build(app: App) -> None:
        def ack_forward(ack: Ack) -> None:
            ack("Setting the forward…")

        def post_forward(body: dict[str, Any], client: WebClient) -> None:
            release.wait(5)
            client.chat_postMessage(
                channel=body["channel_id"], text=f"<@{body['user_id']}> forwarded {body['text']}"
            )

        app.command("/forward")(ack=ack_forward, lazy=[post_forward])

    handler = bolt_handler(slack, endpoint, build)
    event = slash_command_event(
        "/forward", "+12025550100 +12025550199", "U0ALICE", secret=SECRET, channel_id="C0OPS"
    )
    context = endpoint.context(BOT)

    response = handler.handle(event, context)

    assert response["statusCode"] == 200
    assert response["body"] == "Setting the forward…"
    assert slack.calls_to("chat.postMessage") == []  # the ack did not wait for the lazy listener
    release.set()
    endpoint.wait_idle(timeout=10)
    (lazy,) = endpoint.invocations_of(BOT, "Event")
    assert not lazy.failed
    assert (lazy.result["statusCode"], lazy.result["body"]) == (200, "")  # nobody reads it
    headers = lazy.payload["headers"]
    assert headers["x-slack-bolt-lazy-only"] == "1"
    assert headers["x-slack-bolt-lazy-function-name"] == "post_forward"
    assert lazy.payload["isBase64Encoded"] is True  # the original API Gateway event, re-sent as is
    (posted,) = slack.calls_to("chat.postMessage")
    assert posted.ok
    assert posted.token == TOKEN
    assert posted.args["channel"] == "C0OPS"
    assert posted.args["text"] == "<@U0ALICE> forwarded +12025550100 +12025550199"
    assert posted.args["team_id"] == "T0SWITCHBD"  # Bolt's per-request client adds the request's team
    assert slack.messages("C0OPS")[0]["text"] == posted.args["text"]


def test_bolt_forged_signature_is_refused(slack: SlackStandIn, aws_env: LambdaEndpoint) -> None:
    calls: list[str] = []

    def build(app: App) -> None:
        app.command("/forward")(ack=lambda ack: ack(), lazy=[lambda: calls.append("lazy")])

    handler = bolt_handler(slack, aws_env, build)
    forged = slash_command_event("/forward", "+12025550100", secret="not-the-secret")
    assert handler.handle(forged, aws_env.context(BOT))["statusCode"] == 401
    stale = slash_command_event("/forward", "+12025550100", secret=SECRET, timestamp=int(time.time()) - 600)
    assert handler.handle(stale, aws_env.context(BOT))["statusCode"] == 401
    aws_env.wait_idle()
    assert aws_env.invocations == []
    assert calls == []


def test_bolt_lazy_listener_errors_are_swallowed(slack: SlackStandIn, aws_env: LambdaEndpoint) -> None:
    """Bolt catches a lazy listener's exception and logs it: the Event invocation "succeeds"."""

    def build(app: App) -> None:
        def broken(body: dict[str, Any]) -> None:
            raise RuntimeError("table unavailable")

        app.command("/forward")(ack=lambda ack: ack(), lazy=[broken])

    handler = bolt_handler(slack, aws_env, build)
    response = handler.handle(slash_command_event("/forward", "", secret=SECRET), aws_env.context(BOT))
    assert response["statusCode"] == 200
    (lazy,) = aws_env.wait_idle()
    assert not lazy.failed
    assert any("Failed to run an internal function (table unavailable)" in line for line in lazy.logs)


def test_bolt_cannot_start_lazy_listener_fails_the_request(
    slack: SlackStandIn, aws_env: LambdaEndpoint
) -> None:
    """If the re-invocation itself fails (function unknown to Lambda), Slack gets a 500 after all."""

    def build(app: App) -> None:
        app.command("/forward")(ack=lambda ack: ack(), lazy=[lambda: None])

    handler = bolt_handler(slack, aws_env, build)
    response = handler.handle(
        slash_command_event("/forward", "", secret=SECRET), aws_env.context("some-other-function")
    )
    assert response["statusCode"] == 500
    assert aws_env.invocations == []


def test_bolt_block_action_responds_through_response_url(
    slack: SlackStandIn, aws_env: LambdaEndpoint
) -> None:
    def build(app: App) -> None:
        def retry(respond: Respond, body: dict[str, Any]) -> None:
            respond(text=f"Retrying {body['actions'][0]['value']}", replace_original=False)

        app.action("retry")(ack=lambda ack: ack(), lazy=[retry])

    handler = bolt_handler(slack, aws_env, build)
    payload = block_actions_payload(
        "retry", value="+12025550199", user_id="U0ALICE", response_url=slack.response_url("alert")
    )
    response = handler.handle(interaction_event(payload, SECRET), aws_env.context(BOT))
    assert response["statusCode"] == 200
    aws_env.wait_idle()
    (posted,) = slack.wait_for(lambda: slack.responses_to("alert"))
    assert posted.args["text"] == "Retrying +12025550199"
    assert posted.args["replace_original"] is False


def test_bolt_view_submission_ack_with_errors(slack: SlackStandIn, aws_env: LambdaEndpoint) -> None:
    modal = {
        "type": "modal",
        "callback_id": "forward_set",
        "title": {"type": "plain_text", "text": "Forward"},
        "submit": {"type": "plain_text", "text": "Forward"},
        "blocks": [
            {
                "type": "input",
                "block_id": "destination",
                "label": {"type": "plain_text", "text": "Destination"},
                "element": {"type": "plain_text_input", "action_id": "destination"},
            }
        ],
    }
    view = WebClient(token=TOKEN, base_url=slack.api_url).views_open(trigger_id="1.2.3", view=modal)["view"]

    def build(app: App) -> None:
        def submit(ack: Ack, view: dict[str, Any]) -> None:
            value = view["state"]["values"]["destination"]["destination"]["value"]
            if not str(value).startswith("+"):
                ack(response_action="errors", errors={"destination": "Use E.164, e.g. +12025550199"})
            else:
                ack()

        app.view("forward_set")(submit)

    handler = bolt_handler(slack, aws_env, build)
    bad = interaction_event(view_submission_payload(view, {"destination": "555"}), SECRET)
    response = handler.handle(bad, aws_env.context(BOT))
    assert response["statusCode"] == 200
    assert json.loads(response["body"]) == {
        "response_action": "errors",
        "errors": {"destination": "Use E.164, e.g. +12025550199"},
    }
    good = interaction_event(view_submission_payload(view, {"destination": "+12025550199"}), SECRET)
    response = handler.handle(good, aws_env.context(BOT))
    assert (response["statusCode"], response["body"]) == (200, "")  # modal closes
    assert aws_env.invocations == []  # no lazy listener, no re-invocation
