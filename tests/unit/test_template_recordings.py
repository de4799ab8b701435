"""The voicemail recordings bucket in template.yaml (issue 16 item 2): who may write where, how
long recordings live, and that only the SIP media application side has one."""

from __future__ import annotations

import json
from typing import Any

from switchboard_local.aws.template import load_template, render

TEMPLATE = load_template()
RESOURCES = TEMPLATE["Resources"]
INSTANCE = "arn:aws:connect:us-east-1:123456789012:instance/9308c2a1-9bc6-4cea-8290-6c0b4a6d38fa"


def statements() -> dict[str, dict[str, Any]]:
    policy = RESOURCES["RecordingsBucketPolicy"]["Properties"]["PolicyDocument"]
    return {statement["Sid"]: statement for statement in policy["Statement"]}


def test_pstn_audio_of_this_account_may_only_put_recordings_under_voicemail() -> None:
    write = statements()["PstnAudioWritesRecordings"]

    assert write["Effect"] == "Allow"
    assert write["Principal"] == {"Service": "voiceconnector.chime.amazonaws.com"}
    assert sorted(write["Action"]) == ["s3:PutObject", "s3:PutObjectAcl"]  # as RecordAudio documents
    assert json.dumps(write["Resource"]).endswith('/voicemail/*"}')
    assert write["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}


def test_the_prefix_pstn_audio_may_write_is_the_one_the_sma_asks_for() -> None:
    from sma.forwarding import VOICEMAIL_PREFIX, recording_prefix

    assert recording_prefix("tx", 0).startswith(VOICEMAIL_PREFIX)
    assert f"/{VOICEMAIL_PREFIX}*" in json.dumps(statements()["PstnAudioWritesRecordings"]["Resource"])


def test_the_bucket_is_private_encrypted_and_tls_only() -> None:
    bucket = RESOURCES["RecordingsBucket"]["Properties"]
    assert all(bucket["PublicAccessBlockConfiguration"].values())
    assert len(bucket["PublicAccessBlockConfiguration"]) == 4
    algorithm = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
    assert algorithm["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    deny = statements()["DenyInsecureTransport"]
    assert (deny["Effect"], deny["Principal"], deny["Action"]) == ("Deny", "*", "s3:*")
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert len(deny["Resource"]) == 2  # the bucket and its objects


def test_recordings_expire_after_the_retention_parameter() -> None:
    parameter = TEMPLATE["Parameters"]["RecordingRetentionDays"]
    assert parameter["Default"] == 30
    assert parameter["MinValue"] >= 1
    (rule,) = RESOURCES["RecordingsBucket"]["Properties"]["LifecycleConfiguration"]["Rules"]
    assert rule["Status"] == "Enabled"
    assert rule["ExpirationInDays"] == {"Ref": "RecordingRetentionDays"}
    assert "Prefix" not in rule  # every recording, wherever it is
    assert "Filter" not in rule


def test_the_sma_is_told_the_bucket_and_gets_no_s3_access_of_its_own() -> None:
    sma = RESOURCES["SmaFunction"]["Properties"]
    assert sma["Environment"]["Variables"]["RECORDINGS_BUCKET"] == {"Ref": "RecordingsBucket"}
    granted = json.dumps(sma["Policies"])
    assert '"s3:' not in granted


def test_every_checkov_skip_on_the_bucket_says_why() -> None:
    skips = RESOURCES["RecordingsBucket"]["Metadata"]["checkov"]["skip"]
    assert {skip["id"] for skip in skips} == {"CKV_AWS_18", "CKV_AWS_21"}
    assert all(len(skip["comment"]) > 40 for skip in skips)


def test_a_connect_only_stack_has_no_recordings_bucket() -> None:
    rendered = render(TEMPLATE, {"ConnectInstanceArn": INSTANCE, "SipMediaApplicationBackend": "Disabled"})
    assert not {"RecordingsBucket", "RecordingsBucketPolicy"} & set(rendered["Resources"])
    assert "RecordingsBucketName" not in rendered.get("Outputs", {})
    with_sma = render(TEMPLATE, {})
    assert {"RecordingsBucket", "RecordingsBucketPolicy"} <= set(with_sma["Resources"])


def test_transcripts_exist_only_with_an_alert_channel_recordings_and_transcription_on() -> None:
    channel = {"AlertChannel": "C0ALERTS"}
    assert "TranscriptsFunction" in render(TEMPLATE, channel)["Resources"]
    for off in (
        {},  # no alert channel: no notifier, nothing to edit
        {**channel, "VoicemailTranscription": "off"},
        {**channel, "ConnectInstanceArn": INSTANCE, "SipMediaApplicationBackend": "Disabled"},
    ):
        assert "TranscriptsFunction" not in render(TEMPLATE, off)["Resources"]
    notifier = render(TEMPLATE, {**channel, "VoicemailTranscription": "off"})["Resources"]["NotifierFunction"]
    assert notifier["Properties"]["Environment"]["Variables"]["TRANSCRIBE_LANGUAGE"] == "off"
