"""The deploy helper (``deploy.app.handler``) as CloudFormation drives it.

CloudFormation's side is a local HTTP server receiving the response PUT on ResponseURL; Chime SDK
Voice is a botocore Stubber (moto has no SIP media applications); S3 is moto. Also checks the
bundled prompts are in the format PSTN Audio plays.
"""

from __future__ import annotations

import http.server
import json
import re
import threading
import time
import wave
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml
from botocore.stub import Stubber
from moto import mock_aws

from deploy import app, cfn_response, prompts, sip_media_application

REPO = Path(__file__).resolve().parents[2]
REGION = "us-east-1"
LAMBDA_ARN = "arn:aws:lambda:us-east-1:123456789012:function:switchboard-SmaFunction-abc"
SMA_ID = "1c8b5f3a-2d4e-4f60-9a7b-0123456789ab"
BUCKET = "switchboard-promptbucket-xyz"
PROMPT_NAMES = {"greeting", "not_in_service", "failure", "error", "please_hold"}


# --- CloudFormation's side ---------------------------------------------------------------------


@dataclass
class CloudFormation:
    """Collects the responses the helper PUTs to ResponseURL."""

    url: str
    responses: list[dict[str, Any]] = field(default_factory=list)
    content_types: list[str | None] = field(default_factory=list)
    fail_next: int = 0
    attempts: int = 0

    def only_response(self) -> dict[str, Any]:
        assert len(self.responses) == 1, self.responses
        return self.responses[0]


@pytest.fixture
def cloudformation() -> Iterator[CloudFormation]:
    state = CloudFormation(url="")

    class ResponseUrl(http.server.BaseHTTPRequestHandler):
        def do_PUT(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            state.attempts += 1
            if state.fail_next:
                state.fail_next -= 1
                self.send_response(503)
                self.end_headers()
                return
            state.content_types.append(self.headers.get("Content-Type"))
            state.responses.append(json.loads(body))
            self.send_response(200)
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            """Keep the test output quiet."""

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), ResponseUrl)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/cloudformation-response?signature=abc"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class FakeContext:
    """The Lambda context attributes the helper reads."""

    remaining_ms: int = 120_000
    log_group_name: str = "/aws/lambda/switchboard-DeployHelperFunction-xyz"
    log_stream_name: str = "2026/01/01/[$LATEST]0123456789abcdef"

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


@pytest.fixture(autouse=True)
def aws_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Fake credentials, a fixed region, no endpoint redirection, and fresh cached clients."""
    for name in (
        "AWS_ENDPOINT_URL",
        "AWS_ENDPOINT_URL_S3",
        "AWS_ENDPOINT_URL_CHIME_SDK_VOICE",
        "AWS_PROFILE",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setattr(cfn_response, "RETRY_DELAY_SECONDS", 0.0)
    sip_media_application.client.cache_clear()
    prompts.s3.cache_clear()
    yield
    sip_media_application.client.cache_clear()
    prompts.s3.cache_clear()


def request(
    cloudformation: CloudFormation,
    request_type: str,
    resource_type: str,
    properties: dict[str, Any],
    *,
    physical_id: str | None = None,
    old_properties: dict[str, Any] | None = None,
) -> dict[str, Any]:
    event: dict[str, Any] = {
        "RequestType": request_type,
        "ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:switchboard-DeployHelperFunction-xyz",
        "ResponseURL": cloudformation.url,
        "StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/switchboard/guid",
        "RequestId": "5d0c1c1e-request",
        "LogicalResourceId": "Resource",
        "ResourceType": resource_type,
        "ResourceProperties": {"ServiceToken": "token", **properties},
    }
    if physical_id is not None:
        event["PhysicalResourceId"] = physical_id
    if old_properties is not None:
        event["OldResourceProperties"] = {"ServiceToken": "token", **old_properties}
    return event


def assert_echoes_request(response: dict[str, Any]) -> None:
    assert response["StackId"] == "arn:aws:cloudformation:us-east-1:123456789012:stack/switchboard/guid"
    assert response["RequestId"] == "5d0c1c1e-request"
    assert response["LogicalResourceId"] == "Resource"


# --- Custom::SipMediaApplication ----------------------------------------------------------------

SMA_PROPERTIES = {"Name": "switchboard-switchboard", "AwsRegion": REGION, "Endpoint": LAMBDA_ARN}


def sma_description(sma_id: str = SMA_ID, name: str = "switchboard-switchboard") -> dict[str, Any]:
    return {
        "SipMediaApplication": {
            "SipMediaApplicationId": sma_id,
            "SipMediaApplicationArn": f"arn:aws:chime:us-east-1:123456789012:sma/{sma_id}",
            "AwsRegion": REGION,
            "Name": name,
            "Endpoints": [{"LambdaArn": LAMBDA_ARN}],
        }
    }


@pytest.fixture
def chime() -> Iterator[Stubber]:
    with Stubber(sip_media_application.client(REGION)) as stubber:
        yield stubber
        stubber.assert_no_pending_responses()


def test_create_sip_media_application(cloudformation: CloudFormation, chime: Stubber) -> None:
    chime.add_response(
        "create_sip_media_application",
        sma_description(),
        expected_params={
            "AwsRegion": REGION,
            "Name": "switchboard-switchboard",
            "Endpoints": [{"LambdaArn": LAMBDA_ARN}],
        },
    )

    app.handler(
        request(cloudformation, "Create", "Custom::SipMediaApplication", SMA_PROPERTIES), FakeContext()
    )

    response = cloudformation.only_response()
    assert response["Status"] == "SUCCESS"
    assert response["PhysicalResourceId"] == SMA_ID
    assert response["Data"] == {"SipMediaApplicationId": SMA_ID}
    assert_echoes_request(response)
    # The pre-signed URL is signed without a content type; urllib must not invent one.
    assert cloudformation.content_types == [""]


def test_update_renames_and_repoints_in_place(cloudformation: CloudFormation, chime: Stubber) -> None:
    new_arn = LAMBDA_ARN + "2"
    chime.add_response(
        "update_sip_media_application",
        sma_description(name="renamed"),
        expected_params={
            "SipMediaApplicationId": SMA_ID,
            "Name": "renamed",
            "Endpoints": [{"LambdaArn": new_arn}],
        },
    )
    event = request(
        cloudformation,
        "Update",
        "Custom::SipMediaApplication",
        {**SMA_PROPERTIES, "Name": "renamed", "Endpoint": new_arn},
        physical_id=SMA_ID,
        old_properties=SMA_PROPERTIES,
    )

    app.handler(event, FakeContext())

    response = cloudformation.only_response()
    assert response["Status"] == "SUCCESS"
    assert response["PhysicalResourceId"] == SMA_ID
    assert response["Data"] == {"SipMediaApplicationId": SMA_ID}


def test_update_without_relevant_change_calls_nothing(cloudformation: CloudFormation, chime: Stubber) -> None:
    event = request(
        cloudformation,
        "Update",
        "Custom::SipMediaApplication",
        SMA_PROPERTIES,
        physical_id=SMA_ID,
        old_properties={**SMA_PROPERTIES, "Unrelated": "x"},
    )

    app.handler(event, FakeContext())

    response = cloudformation.only_response()
    assert (response["Status"], response["PhysicalResourceId"]) == ("SUCCESS", SMA_ID)


def test_update_to_another_region_replaces(cloudformation: CloudFormation) -> None:
    with Stubber(sip_media_application.client("us-west-2")) as west:
        west.add_response(
            "create_sip_media_application",
            sma_description(sma_id="new-sma"),
            expected_params={
                "AwsRegion": "us-west-2",
                "Name": "switchboard-switchboard",
                "Endpoints": [{"LambdaArn": LAMBDA_ARN}],
            },
        )
        event = request(
            cloudformation,
            "Update",
            "Custom::SipMediaApplication",
            {**SMA_PROPERTIES, "AwsRegion": "us-west-2"},
            physical_id=SMA_ID,
            old_properties=SMA_PROPERTIES,
        )

        app.handler(event, FakeContext())

        west.assert_no_pending_responses()
    response = cloudformation.only_response()
    # A new physical id: CloudFormation then sends a Delete for the old one.
    assert (response["Status"], response["PhysicalResourceId"]) == ("SUCCESS", "new-sma")


def test_delete_sip_media_application(cloudformation: CloudFormation, chime: Stubber) -> None:
    chime.add_response("delete_sip_media_application", {}, expected_params={"SipMediaApplicationId": SMA_ID})

    app.handler(
        request(cloudformation, "Delete", "Custom::SipMediaApplication", SMA_PROPERTIES, physical_id=SMA_ID),
        FakeContext(),
    )

    response = cloudformation.only_response()
    assert (response["Status"], response["PhysicalResourceId"]) == ("SUCCESS", SMA_ID)


def test_delete_of_missing_sip_media_application_succeeds(
    cloudformation: CloudFormation, chime: Stubber
) -> None:
    chime.add_client_error(
        "delete_sip_media_application",
        service_error_code="NotFoundException",
        service_message="SIP media application not found",
        http_status_code=404,
        expected_params={"SipMediaApplicationId": SMA_ID},
    )

    app.handler(
        request(cloudformation, "Delete", "Custom::SipMediaApplication", SMA_PROPERTIES, physical_id=SMA_ID),
        FakeContext(),
    )

    response = cloudformation.only_response()
    assert (response["Status"], response["PhysicalResourceId"]) == ("SUCCESS", SMA_ID)


def test_failed_create_then_rollback_delete(cloudformation: CloudFormation, chime: Stubber) -> None:
    chime.add_client_error(
        "create_sip_media_application",
        service_error_code="AccessDeniedException",
        service_message="not allowed",
        http_status_code=403,
    )
    context = FakeContext()

    app.handler(request(cloudformation, "Create", "Custom::SipMediaApplication", SMA_PROPERTIES), context)

    failed = cloudformation.only_response()
    assert failed["Status"] == "FAILED"
    assert "AccessDeniedException" in failed["Reason"]
    assert context.log_stream_name in failed["Reason"]
    assert failed["PhysicalResourceId"].startswith(cfn_response.FAILED_CREATE_PREFIX)
    assert failed["Data"] == {}

    # The rollback Delete carries the placeholder id: nothing was created, nothing is called.
    cloudformation.responses.clear()
    app.handler(
        request(
            cloudformation,
            "Delete",
            "Custom::SipMediaApplication",
            SMA_PROPERTIES,
            physical_id=failed["PhysicalResourceId"],
        ),
        context,
    )
    assert cloudformation.only_response()["Status"] == "SUCCESS"


def test_delete_while_sip_rules_target_it_fails_with_advice(
    cloudformation: CloudFormation, chime: Stubber
) -> None:
    chime.add_client_error(
        "delete_sip_media_application",
        service_error_code="ConflictException",
        service_message="SIP media application is in use",
        http_status_code=409,
    )

    app.handler(
        request(cloudformation, "Delete", "Custom::SipMediaApplication", SMA_PROPERTIES, physical_id=SMA_ID),
        FakeContext(),
    )

    response = cloudformation.only_response()
    assert (response["Status"], response["PhysicalResourceId"]) == ("FAILED", SMA_ID)
    assert "switchboard forward remove" in response["Reason"]


def test_missing_property_fails(cloudformation: CloudFormation) -> None:
    properties = {key: value for key, value in SMA_PROPERTIES.items() if key != "Endpoint"}

    app.handler(request(cloudformation, "Create", "Custom::SipMediaApplication", properties), FakeContext())

    response = cloudformation.only_response()
    assert response["Status"] == "FAILED"
    assert "Endpoint" in response["Reason"]

    # Its rollback Delete (same bad properties) must not fail, or the stack is stuck.
    cloudformation.responses.clear()
    event = request(
        cloudformation,
        "Delete",
        "Custom::SipMediaApplication",
        properties,
        physical_id=response["PhysicalResourceId"],
    )
    app.handler(event, FakeContext())
    assert cloudformation.only_response()["Status"] == "SUCCESS"


def test_prompt_delete_without_bucket_succeeds(cloudformation: CloudFormation) -> None:
    event = request(cloudformation, "Delete", "Custom::PromptUpload", {}, physical_id="create-failed-x")

    app.handler(event, FakeContext())

    response = cloudformation.only_response()
    assert (response["Status"], response["PhysicalResourceId"]) == ("SUCCESS", "create-failed-x")


def test_unknown_resource_type_fails(cloudformation: CloudFormation) -> None:
    app.handler(
        request(cloudformation, "Update", "Custom::Nope", {}, physical_id="keep-me", old_properties={}),
        FakeContext(),
    )

    response = cloudformation.only_response()
    assert response["Status"] == "FAILED"
    assert "Custom::Nope" in response["Reason"]
    # An Update that fails keeps its id, or CloudFormation would think the resource was replaced.
    assert response["PhysicalResourceId"] == "keep-me"


def test_delete_of_unknown_resource_type_succeeds(cloudformation: CloudFormation) -> None:
    app.handler(
        request(cloudformation, "Delete", "Custom::Nope", {}, physical_id="create-failed-x"), FakeContext()
    )

    response = cloudformation.only_response()
    assert (response["Status"], response["PhysicalResourceId"]) == ("SUCCESS", "create-failed-x")


def test_event_without_response_url_is_ignored(cloudformation: CloudFormation) -> None:
    app.handler({"RequestType": "Create"}, FakeContext())
    assert cloudformation.attempts == 0


def test_answers_failed_before_the_function_times_out(
    cloudformation: CloudFormation, monkeypatch: pytest.MonkeyPatch
) -> None:
    def slow(_request: cfn_response.Request) -> cfn_response.Outcome:
        time.sleep(0.5)
        return cfn_response.Outcome("too-late")

    monkeypatch.setitem(app.HANDLERS, "Custom::Slow", slow)
    context = FakeContext(remaining_ms=int((app.TIMEOUT_MARGIN_SECONDS + 0.05) * 1000))

    app.handler(request(cloudformation, "Create", "Custom::Slow", {}), context)

    # Exactly one answer: the guard's FAILED; the late SUCCESS is not sent.
    response = cloudformation.only_response()
    assert response["Status"] == "FAILED"
    assert "timed out" in response["Reason"]


def test_response_put_is_retried(cloudformation: CloudFormation) -> None:
    cloudformation.fail_next = 1

    app.handler(request(cloudformation, "Create", "Custom::Nope", {}), FakeContext())

    assert cloudformation.attempts == 2
    assert cloudformation.only_response()["Status"] == "FAILED"


def test_response_body_fits_cloudformation_limit() -> None:
    event = request(CloudFormation(url="http://127.0.0.1/"), "Create", "Custom::Nope", {})
    body = cfn_response.build_body(event, "FAILED", "id", "x" * 10_000, {})  # type: ignore[arg-type]
    assert len(body) <= cfn_response.MAX_BODY_BYTES
    assert json.loads(body)["Reason"].endswith("...")


# --- Custom::PromptUpload ------------------------------------------------------------------------

PROMPT_PROPERTIES = {"BucketName": BUCKET, "Prefix": "prompts/", "Version": "1"}


@pytest.fixture
def s3() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("s3", region_name=REGION)
        client.create_bucket(Bucket=BUCKET)
        yield client


def keys(s3: Any, prefix: str = "") -> set[str]:
    listing = s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix)
    return {item["Key"] for item in listing.get("Contents", [])}


def test_create_uploads_every_bundled_prompt(cloudformation: CloudFormation, s3: Any) -> None:
    app.handler(request(cloudformation, "Create", "Custom::PromptUpload", PROMPT_PROPERTIES), FakeContext())

    response = cloudformation.only_response()
    assert response["Status"] == "SUCCESS"
    assert response["PhysicalResourceId"] == f"s3://{BUCKET}/prompts/"
    expected = {f"prompts/{name}.wav" for name in PROMPT_NAMES}
    assert set(response["Data"]["Keys"].split(",")) == expected
    assert response["Data"]["Count"] == str(len(expected))
    assert keys(s3) == expected
    for name in PROMPT_NAMES:
        obj = s3.get_object(Bucket=BUCKET, Key=f"prompts/{name}.wav")
        assert obj["ContentType"] == "audio/wav"
        assert obj["Body"].read() == (REPO / "prompts" / f"{name}.wav").read_bytes()


def test_update_uploads_again(cloudformation: CloudFormation, s3: Any) -> None:
    s3.put_object(Bucket=BUCKET, Key="prompts/greeting.wav", Body=b"stale")
    event = request(
        cloudformation,
        "Update",
        "Custom::PromptUpload",
        {**PROMPT_PROPERTIES, "Version": "2"},
        physical_id=f"s3://{BUCKET}/prompts/",
        old_properties=PROMPT_PROPERTIES,
    )

    app.handler(event, FakeContext())

    assert cloudformation.only_response()["Status"] == "SUCCESS"
    fresh = s3.get_object(Bucket=BUCKET, Key="prompts/greeting.wav")["Body"].read()
    assert fresh == (REPO / "prompts" / "greeting.wav").read_bytes()


def test_delete_empties_the_prefix_only(cloudformation: CloudFormation, s3: Any) -> None:
    app.handler(request(cloudformation, "Create", "Custom::PromptUpload", PROMPT_PROPERTIES), FakeContext())
    s3.put_object(Bucket=BUCKET, Key="prompts/retired_prompt.wav", Body=b"old package")
    s3.put_object(Bucket=BUCKET, Key="elsewhere/keep.txt", Body=b"not ours")
    cloudformation.responses.clear()

    app.handler(
        request(
            cloudformation,
            "Delete",
            "Custom::PromptUpload",
            PROMPT_PROPERTIES,
            physical_id=f"s3://{BUCKET}/prompts/",
        ),
        FakeContext(),
    )

    response = cloudformation.only_response()
    assert (response["Status"], response["PhysicalResourceId"]) == ("SUCCESS", f"s3://{BUCKET}/prompts/")
    assert keys(s3) == {"elsewhere/keep.txt"}


def test_delete_with_keys_already_gone_succeeds(cloudformation: CloudFormation, s3: Any) -> None:
    app.handler(
        request(
            cloudformation,
            "Delete",
            "Custom::PromptUpload",
            PROMPT_PROPERTIES,
            physical_id=f"s3://{BUCKET}/prompts/",
        ),
        FakeContext(),
    )

    assert cloudformation.only_response()["Status"] == "SUCCESS"


def test_delete_with_bucket_gone_succeeds(cloudformation: CloudFormation, s3: Any) -> None:
    properties = {**PROMPT_PROPERTIES, "BucketName": "no-such-bucket"}

    app.handler(
        request(
            cloudformation,
            "Delete",
            "Custom::PromptUpload",
            properties,
            physical_id="s3://no-such-bucket/prompts/",
        ),
        FakeContext(),
    )

    assert cloudformation.only_response()["Status"] == "SUCCESS"


def test_create_into_missing_bucket_fails(cloudformation: CloudFormation, s3: Any) -> None:
    properties = {**PROMPT_PROPERTIES, "BucketName": "no-such-bucket"}

    app.handler(request(cloudformation, "Create", "Custom::PromptUpload", properties), FakeContext())

    response = cloudformation.only_response()
    assert response["Status"] == "FAILED"
    assert "NoSuchBucket" in response["Reason"]


def test_a_package_without_prompts_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="no prompt WAV files"):
        prompts.upload_prompts(BUCKET, "prompts/", directory=tmp_path)


# --- The prompt files and the template that deploys them ------------------------------------------


def bundled_names() -> set[str]:
    return {path.stem for path in (REPO / "prompts").glob("*.wav")}


def test_every_prompt_is_bundled() -> None:
    assert bundled_names() == PROMPT_NAMES


def test_every_prompt_the_call_flow_plays_exists() -> None:
    from switchboard.domain.callflow import Prompt

    assert {prompt.value for prompt in Prompt} <= bundled_names()


@pytest.mark.parametrize("path", sorted((REPO / "prompts").glob("*.wav")), ids=lambda path: path.name)
def test_prompt_is_8khz_mono_16bit_pcm(path: Path) -> None:
    with wave.open(str(path), "rb") as audio:  # the wave module reads only uncompressed PCM
        assert audio.getcomptype() == "NONE"
        assert audio.getframerate() == 8000
        assert audio.getnchannels() == 1
        assert audio.getsampwidth() == 2
        seconds = audio.getnframes() / audio.getframerate()
    assert 0.5 < seconds < 30


class _CfnLoader(yaml.SafeLoader):
    """Reads short-form intrinsics (``!Ref``, ``!Sub``...) as plain values."""


_CfnLoader.add_multi_constructor("!", lambda loader, suffix, node: None)


def test_every_makefile_built_resource_has_its_build_target() -> None:
    template = yaml.load((REPO / "template.yaml").read_text(), Loader=_CfnLoader)
    makefile = (REPO / "Makefile").read_text()
    built = [
        name
        for name, resource in template["Resources"].items()
        if (resource.get("Metadata") or {}).get("BuildMethod") == "makefile"
    ]
    assert {"SmaFunction", "DeployHelperFunction", "DependenciesLayer"} <= set(built)
    for name in built:
        target = rf"^(?:build-\S+\s+)*build-{name}(?:\s+build-\S+)*\s*:"  # alone or in a shared rule
        assert re.search(target, makefile, re.MULTILINE), f"Makefile lacks build-{name}"
    assert template["Resources"]["SmaFunction"]["Properties"]["Handler"] == "sma.app.handler"
    assert template["Resources"]["DeployHelperFunction"]["Properties"]["Handler"] == "deploy.app.handler"
    assert template["Resources"]["BotFunction"]["Properties"]["Handler"] == "bot.app.handler"
