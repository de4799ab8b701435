"""The deploy helper (``deploy.app.handler``) as CloudFormation drives it.

CloudFormation's side is a local HTTP server receiving the response PUT on ResponseURL (conftest.py);
S3 is moto. The SIP media application's whole lifecycle, against the Chime SDK Voice emulator, is
in test_lifecycle.py. Also checks the bundled prompts are in the format PSTN Audio plays.
"""

from __future__ import annotations

import json
import re
import time
import wave
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml
from moto import mock_aws

from deploy import app, cfn_response, prompts, sip_media_application
from tests.deploy.conftest import STACK_ID, CloudFormation, FakeContext, fake_aws_environment

REPO = Path(__file__).resolve().parents[2]
REGION = "us-east-1"
LAMBDA_ARN = "arn:aws:lambda:us-east-1:123456789012:function:switchboard-SmaFunction-abc"
BUCKET = "switchboard-promptbucket-xyz"
PROMPT_NAMES = {"greeting", "not_in_service", "failure", "error", "please_hold", "voicemail", "thank_you"}


@pytest.fixture(autouse=True)
def aws_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Fake credentials, a fixed region, no endpoint redirection, and fresh cached clients."""
    fake_aws_environment(monkeypatch, REGION)
    monkeypatch.setattr(cfn_response, "RETRY_DELAY_SECONDS", 0.0)
    sip_media_application.client.cache_clear()
    prompts.s3.cache_clear()
    yield
    sip_media_application.client.cache_clear()
    prompts.s3.cache_clear()


def assert_echoes_request(response: dict[str, Any]) -> None:
    assert response["StackId"] == STACK_ID
    assert response["RequestId"] == "5d0c1c1e-request"
    assert response["LogicalResourceId"] == "Resource"


# --- Custom::SipMediaApplication ----------------------------------------------------------------

SMA_PROPERTIES = {"Name": "switchboard-switchboard", "AwsRegion": REGION, "Endpoint": LAMBDA_ARN}


def test_missing_property_fails(cloudformation: CloudFormation) -> None:
    properties = {key: value for key, value in SMA_PROPERTIES.items() if key != "Endpoint"}

    app.handler(cloudformation.event("Create", "Custom::SipMediaApplication", properties), FakeContext())

    response = cloudformation.only_response()
    assert response["Status"] == "FAILED"
    assert "Endpoint" in response["Reason"]

    # Its rollback Delete (same bad properties) must not fail, or the stack is stuck.
    cloudformation.responses.clear()
    event = cloudformation.event(
        "Delete",
        "Custom::SipMediaApplication",
        properties,
        physical_id=response["PhysicalResourceId"],
    )
    app.handler(event, FakeContext())
    assert cloudformation.only_response()["Status"] == "SUCCESS"


def test_prompt_delete_without_bucket_succeeds(cloudformation: CloudFormation) -> None:
    event = cloudformation.event("Delete", "Custom::PromptUpload", {}, physical_id="create-failed-x")

    app.handler(event, FakeContext())

    response = cloudformation.only_response()
    assert (response["Status"], response["PhysicalResourceId"]) == ("SUCCESS", "create-failed-x")


def test_unknown_resource_type_fails(cloudformation: CloudFormation) -> None:
    app.handler(
        cloudformation.event("Update", "Custom::Nope", {}, physical_id="keep-me", old_properties={}),
        FakeContext(),
    )

    response = cloudformation.only_response()
    assert response["Status"] == "FAILED"
    assert "Custom::Nope" in response["Reason"]
    # An Update that fails keeps its id, or CloudFormation would think the resource was replaced.
    assert response["PhysicalResourceId"] == "keep-me"


def test_delete_of_unknown_resource_type_succeeds(cloudformation: CloudFormation) -> None:
    app.handler(
        cloudformation.event("Delete", "Custom::Nope", {}, physical_id="create-failed-x"), FakeContext()
    )

    response = cloudformation.only_response()
    assert (response["Status"], response["PhysicalResourceId"]) == ("SUCCESS", "create-failed-x")


def test_event_without_response_url_is_ignored(cloudformation: CloudFormation) -> None:
    app.handler({"RequestType": "Create"}, FakeContext())
    assert cloudformation.attempts == 0


def test_answers_failed_before_the_function_times_out(
    cloudformation: CloudFormation, monkeypatch: pytest.MonkeyPatch
) -> None:
    def slow(_request: cfn_response.Request) -> cfn_response.ResourceResult:
        time.sleep(0.5)
        return cfn_response.ResourceResult("too-late")

    monkeypatch.setitem(app.HANDLERS, "Custom::Slow", slow)
    context = FakeContext(remaining_ms=int((app.TIMEOUT_MARGIN_SECONDS + 0.05) * 1000))

    app.handler(cloudformation.event("Create", "Custom::Slow", {}), context)

    # Exactly one answer: the guard's FAILED; the late SUCCESS is not sent.
    response = cloudformation.only_response()
    assert response["Status"] == "FAILED"
    assert "timed out" in response["Reason"]


def test_response_put_is_retried(cloudformation: CloudFormation) -> None:
    cloudformation.fail_next = 1

    app.handler(cloudformation.event("Create", "Custom::Nope", {}), FakeContext())

    assert cloudformation.attempts == 2
    assert cloudformation.only_response()["Status"] == "FAILED"


def test_response_body_fits_cloudformation_limit() -> None:
    event = CloudFormation(url="http://127.0.0.1/").event("Create", "Custom::Nope", {})
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


def delete_prompts(cloudformation: CloudFormation) -> dict[str, Any]:
    """CloudFormation's Delete of the prompt upload, and the one answer to it."""
    event = cloudformation.event(
        "Delete", "Custom::PromptUpload", PROMPT_PROPERTIES, physical_id=f"s3://{BUCKET}/prompts/"
    )
    app.handler(event, FakeContext())
    return cloudformation.only_response()


def test_create_uploads_every_bundled_prompt(cloudformation: CloudFormation, s3: Any) -> None:
    app.handler(cloudformation.event("Create", "Custom::PromptUpload", PROMPT_PROPERTIES), FakeContext())

    response = cloudformation.only_response()
    assert response["Status"] == "SUCCESS"
    assert response["PhysicalResourceId"] == f"s3://{BUCKET}/prompts/"
    # The PCM prompts for the SIP media application, and the u-law copies where the Connect
    # forwarding flow looks for them (connect_lambda.app.prompt_base_url: <prefix>connect/).
    files = [f"{name}.wav" for name in PROMPT_NAMES] + [f"connect/{name}.wav" for name in PROMPT_NAMES]
    expected = {f"prompts/{file}" for file in files}
    assert set(response["Data"]["Keys"].split(",")) == expected
    assert response["Data"]["Count"] == str(len(expected))
    assert keys(s3) == expected
    for file in files:
        obj = s3.get_object(Bucket=BUCKET, Key=f"prompts/{file}")
        assert obj["ContentType"] == "audio/wav"
        assert obj["Body"].read() == (REPO / "prompts" / file).read_bytes()


def test_the_connect_lambda_plays_the_prompts_from_where_they_are_uploaded() -> None:
    from connect_lambda.app import prompt_base_url
    from switchboard.settings import Settings

    base = prompt_base_url(Settings(prompt_bucket=BUCKET, prompt_prefix="prompts/"), REGION)
    assert base == f"https://{BUCKET}.s3.{REGION}.amazonaws.com/prompts/connect/"
    uploaded = {prompts.prompt_key("prompts/", path) for path in prompts.bundled_prompts()}
    assert {f"prompts/connect/{name}.wav" for name in PROMPT_NAMES} <= uploaded


def test_the_deploy_package_bundles_the_connect_prompts() -> None:
    makefile = (REPO / "Makefile").read_text()
    recipe = makefile.split("build-DeployHelperFunction:", 1)[1].split("\n\n", 1)[0]
    assert "prompts/connect/*.wav" in recipe
    assert '"$(ARTIFACTS_DIR)/prompts/connect' in recipe


def test_update_uploads_again(cloudformation: CloudFormation, s3: Any) -> None:
    s3.put_object(Bucket=BUCKET, Key="prompts/greeting.wav", Body=b"stale")
    event = cloudformation.event(
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
    app.handler(cloudformation.event("Create", "Custom::PromptUpload", PROMPT_PROPERTIES), FakeContext())
    s3.put_object(Bucket=BUCKET, Key="prompts/retired_prompt.wav", Body=b"old package")
    s3.put_object(Bucket=BUCKET, Key="elsewhere/keep.txt", Body=b"not ours")
    cloudformation.responses.clear()

    response = delete_prompts(cloudformation)
    assert (response["Status"], response["PhysicalResourceId"]) == ("SUCCESS", f"s3://{BUCKET}/prompts/")
    assert keys(s3) == {"elsewhere/keep.txt"}


def test_delete_with_keys_already_gone_succeeds(cloudformation: CloudFormation, s3: Any) -> None:
    assert delete_prompts(cloudformation)["Status"] == "SUCCESS"


def test_delete_with_bucket_gone_succeeds(cloudformation: CloudFormation, s3: Any) -> None:
    properties = {**PROMPT_PROPERTIES, "BucketName": "no-such-bucket"}

    app.handler(
        cloudformation.event(
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

    app.handler(cloudformation.event("Create", "Custom::PromptUpload", properties), FakeContext())

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


def test_send_never_raises_even_when_the_body_cannot_be_built(cloudformation: CloudFormation) -> None:
    event = cloudformation.event("Create", "Custom::Nope", {})
    del event["StackId"]  # a malformed request: build_body cannot echo it
    responder = cfn_response.Responder(event, FakeContext())  # type: ignore[arg-type]

    assert responder.send("FAILED", "id", "boom") is False
    assert cloudformation.attempts == 0


def test_timeout_margin_covers_every_response_put_attempt() -> None:
    worst_put = cfn_response.PUT_ATTEMPTS * cfn_response.PUT_TIMEOUT_SECONDS + sum(
        attempt * cfn_response.RETRY_DELAY_SECONDS for attempt in range(1, cfn_response.PUT_ATTEMPTS)
    )
    assert worst_put < app.TIMEOUT_MARGIN_SECONDS


def test_the_deploy_package_runs_on_the_lambda_runtime_alone() -> None:
    """No layer: deploy/ and the switchboard/ it ships with may import only boto3 and the stdlib."""
    import subprocess
    import sys

    code = (
        "import sys, deploy.app; "
        "heavy = ('phonenumbers', 'slack_bolt', 'slack_sdk', 'aws_lambda_powertools', 'yaml', "
        "'switchboard_local'); "
        "print([m for m in heavy if m in sys.modules])"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO,
        env={"PATH": "", "PYTHONPATH": str(REPO), "AWS_DEFAULT_REGION": REGION},
    )
    assert result.stdout.strip().splitlines()[-1] == "[]"


def test_the_custom_resources_function_is_never_retried_and_never_waited_on_for_an_hour() -> None:
    template = yaml.load((REPO / "template.yaml").read_text(), Loader=_CfnLoader)
    resources = template["Resources"]
    configs = [r["Properties"] for r in resources.values() if r["Type"] == "AWS::Lambda::EventInvokeConfig"]
    # The ServiceToken is the unqualified ARN, which runs $LATEST.
    assert {"Qualifier": "$LATEST", "MaximumRetryAttempts": 0} in [
        {key: c.get(key) for key in ("Qualifier", "MaximumRetryAttempts")} for c in configs
    ]
    timeout = resources["DeployHelperFunction"]["Properties"]["Timeout"]
    for name, resource in resources.items():
        if resource["Type"].startswith("Custom::"):
            assert timeout < resource["Properties"]["ServiceTimeout"] <= 3600, name
    # Created or adopted, it exists whenever the stack has the SIP media application backend: it
    # carries the forwards through updates and teardown (a parameter default keeps it on update).
    condition = resources["SipMediaApplication"].get("Condition", "HasSipMediaApplication")
    assert condition == "HasSipMediaApplication"
    sma = resources["SipMediaApplication"]["Properties"]
    assert {"ExistingSipMediaApplicationId", "TableName", "VoiceConnectorId"} <= set(sma)
    assert template["Resources"]["Table"]["DeletionPolicy"] == "Retain"


def test_the_bot_recognises_the_placeholder_the_stack_stores() -> None:
    from bot.config import PLACEHOLDER_BOT_TOKEN

    template = yaml.load((REPO / "template.yaml").read_text(), Loader=_CfnLoader)
    generated = template["Resources"]["SlackSecret"]["Properties"]["GenerateSecretString"]
    assert json.loads(generated["SecretStringTemplate"]) == {"bot_token": PLACEHOLDER_BOT_TOKEN}
