"""IAM in template.yaml against what the code calls (moto does not enforce IAM, so this does)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from switchboard_local.aws.template import load_template

RESOURCES = load_template()["Resources"]


def _granted(statement: dict[str, Any]) -> dict[str, Any]:
    """The statement as granted when the stack has its backend: ``!If [condition, statement,
    !Ref AWS::NoValue]`` grants it only with that backend (test_template_backends.py renders each
    configuration)."""
    if "Fn::If" not in statement:
        return statement
    _condition, granted, otherwise = statement["Fn::If"]
    assert otherwise == {"Ref": "AWS::NoValue"}
    return dict(granted)


def statements(function: str) -> list[dict[str, Any]]:
    return [
        _granted(s)
        for policy in RESOURCES[function]["Properties"]["Policies"]
        for s in policy.get("Statement", [])
    ]


def condition_of(function: str, sid: str) -> str:
    """The condition a statement is granted under ("" for always)."""
    for policy in RESOURCES[function]["Properties"]["Policies"]:
        for statement in policy.get("Statement", []):
            if _granted(statement).get("Sid") == sid:
                return str(statement["Fn::If"][0]) if "Fn::If" in statement else ""
    raise KeyError(sid)


def actions(function: str) -> dict[str, Any]:
    """Action → Resource of every statement of the function's inline policies (with every backend)."""
    granted: dict[str, Any] = {}
    for statement in statements(function):
        names = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        for name in names:
            granted[name] = statement["Resource"]
    return granted


def test_the_sma_may_delete_the_live_entry_it_ends_with_the_call_record() -> None:
    granted = actions("SmaFunction")
    # DynamoCallLog.record_call deletes CALL#<tx>/LIVE inside TransactWriteItems, which IAM
    # authorises per item as DeleteItem.
    needed = {"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:DeleteItem", "dynamodb:UpdateItem"}
    assert needed <= set(granted)
    assert "dynamodb:Scan" not in granted


@pytest.mark.parametrize("function", ["ConnectFunction", "ContactEventsFunction"])
def test_connect_hang_ups_may_check_the_live_entry_record_and_ended_marker(function: str) -> None:
    """DynamoFlowProgress.save and .mark_ended: TransactWriteItems with ConditionChecks on
    CALL#<contact>/RECORD, /ENDED and /LIVE (authorised per item as ConditionCheckItem), the
    marker's put, and the marker's read when a Dialing finds the call ended."""
    granted = actions(function)
    assert {"dynamodb:PutItem", "dynamodb:ConditionCheckItem"} <= set(granted)
    assert "dynamodb:GetItem" in granted or function == "ContactEventsFunction"  # it Queries
    checking = [s for s in statements(function) if "dynamodb:ConditionCheckItem" in _names(s)]
    keys = [s["Condition"]["ForAllValues:StringLike"]["dynamodb:LeadingKeys"] for s in checking]
    assert any("CALL#*" in k for k in keys)


def test_the_contact_event_queries_call_partitions_of_the_table_only() -> None:
    """ContactEvents reads a call's live entry and record with one Query of CALL#<contact>."""
    (querying,) = [s for s in statements("ContactEventsFunction") if "dynamodb:Query" in _names(s)]
    assert "index" not in json.dumps(querying["Resource"])
    assert "dynamodb:GetItem" not in actions("ContactEventsFunction")
    assert querying["Condition"]["ForAllValues:StringLike"]["dynamodb:LeadingKeys"] == ["CALL#*"]


@pytest.mark.parametrize("function", ["BotFunction", "ConnectFunction"])
def test_transfers_are_allowed_on_our_sip_media_application_only(function: str) -> None:
    resource = json.dumps(actions(function)["chime:UpdateSipMediaApplicationCall"])
    assert "sma/${SmaId}" in resource
    assert "sma/*" not in resource


def test_the_bot_waits_for_a_transfer_within_its_timeout() -> None:
    from bot.transfers import DEFAULT_WAIT_SECONDS

    bot = RESOURCES["BotFunction"]["Properties"]
    assert bot["Timeout"] >= DEFAULT_WAIT_SECONDS + 10  # room for the Slack posts after the wait


def test_every_function_knows_the_one_voice_connector_sip_transfers_may_use() -> None:
    variables = load_template()["Globals"]["Function"]["Environment"]["Variables"]
    arn = json.dumps(variables["VOICE_CONNECTOR_ARN"])
    assert "vc/${VoiceConnectorId}" in arn
    assert "HasVoiceConnector" in arn  # empty (SIP transfers refused) without a voice connector
    assert variables["SIP_EXTENSION_PATTERN"] == {"Ref": "SipExtensionPattern"}
    assert variables["DNIS_CLAIM_STALE_SECONDS"] == {"Ref": "DnisClaimStaleSeconds"}
    for name in ("BotFunction", "ConnectFunction", "SmaFunction"):
        assert "VOICE_CONNECTOR_ARN" not in RESOURCES[name]["Properties"]["Environment"]["Variables"]


def test_the_digest_reads_calls_and_claims_its_day_nothing_more() -> None:
    granted = actions("DigestFunction")
    assert set(granted) == {
        "dynamodb:GetItem",
        "dynamodb:Query",
        "dynamodb:PutItem",
        "dynamodb:DeleteItem",
        "secretsmanager:GetSecretValue",
    }
    digest = RESOURCES["DigestFunction"]
    assert digest["Condition"] == "HasAlertChannel"  # no channel, nowhere to post
    assert digest["Properties"]["Events"]["Daily"]["Type"] == "Schedule"


# --- DynamoDB writes: each function only the key prefixes it owns (issue 11, item 7) -----------------

WRITES = {"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:ConditionCheckItem"}
WRITE_PREFIXES = {
    "SmaFunction": {"CALL#*", "POOL#*"},  # call records, events, live calls; DNIS pair claims
    "BotFunction": {
        "NUMBER#*",
        "TRANSFER#*",
        "VOICEMAIL#*",
    },  # rules, history; Connect transfers; Mark handled
    "ExpiryFunction": {"NUMBER#*"},
    "DigestFunction": {"DIGEST#*"},  # the day marker
    "NotifierFunction": {"IDEMPOTENCY#notifier", "ALERTTHREAD#*", "VOICEMAIL#*"},
    "TranscriptsFunction": {"VOICEMAIL#*"},  # voicemail transcripts
    # Forwarding flow: call records, events, live entries; TRANSFER#: ConditionCheckItem only.
    "ConnectFunction": {"CALL#*", "TRANSFER#*"},
    "ContactEventsFunction": {"CALL#*"},  # records of calls the caller ended
}


def _names(statement: dict[str, Any]) -> set[str]:
    action = statement["Action"]
    return set(action) if isinstance(action, list) else {action}


@pytest.mark.parametrize("function", sorted(WRITE_PREFIXES))
def test_every_table_write_is_limited_to_the_keys_the_function_owns(function: str) -> None:
    writing = [s for s in statements(function) if _names(s) & WRITES]
    prefixes: set[str] = set()
    for statement in writing:
        assert "dynamodb:BatchWriteItem" not in _names(statement)
        leading = statement["Condition"]["ForAllValues:StringLike"]["dynamodb:LeadingKeys"]
        prefixes.update(leading)
    assert prefixes == WRITE_PREFIXES[function]
    assert "*" not in prefixes


def _allowed(function: str, pk: str) -> bool:
    import fnmatch

    return any(fnmatch.fnmatchcase(pk, pattern) for pattern in WRITE_PREFIXES[function])


def test_the_key_prefixes_are_the_ones_the_code_writes() -> None:
    from switchboard.adapters.connect_calls import transfer_key
    from switchboard.adapters.digest_marker import marker_key
    from switchboard.adapters.dynamodb import live_call_key, rule_key
    from switchboard.adapters.pool import pair_key

    rule = rule_key("+12025550100")["pk"]["S"]
    assert _allowed("BotFunction", rule)
    assert _allowed("ExpiryFunction", rule)
    assert not _allowed("SmaFunction", rule)  # a call can never overwrite a forward
    assert not _allowed("DigestFunction", rule)
    assert _allowed("SmaFunction", live_call_key("tx-1")["pk"]["S"])
    assert _allowed("SmaFunction", pair_key(("+12025550100", "+12025550199"))["pk"]["S"])
    assert not _allowed("BotFunction", pair_key(("+12025550100", "+12025550199"))["pk"]["S"])
    assert _allowed("DigestFunction", marker_key("2026-11-30")["pk"]["S"])
    assert _allowed("ConnectFunction", live_call_key("contact-1")["pk"]["S"])
    assert not _allowed("ConnectFunction", rule)
    queued = transfer_key("contact-1")["pk"]["S"]
    assert _allowed("BotFunction", queued)  # a transfer queued on an Amazon Connect call
    assert not _allowed("BotFunction", live_call_key("contact-1")["pk"]["S"])  # never a call's items
    assert _allowed("ConnectFunction", queued)
    assert not _allowed("ContactEventsFunction", rule)
    from switchboard.adapters.voicemail_messages import voicemail_key

    voicemail = voicemail_key("tx-1")["pk"]["S"]
    for writer in ("NotifierFunction", "TranscriptsFunction", "BotFunction"):
        assert _allowed(writer, voicemail)
    assert not _allowed("TranscriptsFunction", rule)


def test_voicemail_functions_touch_recordings_and_transcription_jobs_of_this_stack_only() -> None:
    notifier = actions("NotifierFunction")
    s3 = {name: resource for name, resource in notifier.items() if name.startswith("s3:")}
    assert set(s3) == {"s3:GetObject", "s3:ListBucket"}  # reads recordings; writes no bucket
    with_sma, without = s3["s3:GetObject"]["Fn::If"][1:]
    assert s3["s3:GetObject"]["Fn::If"][0] == "HasSipMediaApplication"  # the bucket's own condition
    assert with_sma == {"Fn::Sub": "${RecordingsBucket.Arn}/voicemail/*"}
    assert without == {"Fn::Sub": "arn:${AWS::Partition}:s3:::none/voicemail/*"}
    (listing,) = [s for s in statements("NotifierFunction") if _names(s) == {"s3:ListBucket"}]
    assert listing["Condition"] == {"StringLike": {"s3:prefix": "voicemail/*"}}
    jobs = "transcription-job/${AWS::StackName}-vm-*"
    assert jobs in json.dumps(notifier["transcribe:StartTranscriptionJob"])
    assert {n for n in notifier if n.startswith("transcribe:")} == {"transcribe:StartTranscriptionJob"}
    transcripts = actions("TranscriptsFunction")
    assert {n for n in transcripts if n.startswith("transcribe:")} == {
        "transcribe:GetTranscriptionJob",
        "transcribe:DeleteTranscriptionJob",
    }
    assert jobs in json.dumps(transcripts["transcribe:GetTranscriptionJob"])
    assert not [n for n in transcripts if n.startswith("s3:")]
    function = RESOURCES["TranscriptsFunction"]
    assert function["Condition"] == "TranscribeVoicemail"
    pattern = function["Properties"]["Events"]["TranscriptJobStates"]["Properties"]["Pattern"]
    assert pattern["source"] == ["aws.transcribe"]
    assert pattern["detail"]["TranscriptionJobName"] == [{"prefix": {"Fn::Sub": "${AWS::StackName}-vm-"}}]
    env = RESOURCES["NotifierFunction"]["Properties"]["Environment"]["Variables"]
    assert env["TRANSCRIPTION_JOB_PREFIX"] == {"Fn::Sub": "${AWS::StackName}-vm-"}
    assert env["TRANSCRIBE_LANGUAGE"] == {
        "Fn::If": ["TranscribeVoicemail", {"Ref": "TranscriptionLanguage"}, "off"]
    }


def test_the_connect_function_only_checks_queued_transfers_never_writes_them() -> None:
    on_queue = [
        s for s in statements("ConnectFunction") if "TRANSFER#*" in json.dumps(s.get("Condition", {}))
    ]
    assert [_names(s) for s in on_queue] == [{"dynamodb:ConditionCheckItem"}]


@pytest.mark.parametrize("function", ["BotFunction", "ExpiryFunction"])
def test_connect_routing_is_exactly_the_calls_the_adapter_makes_on_the_instance(function: str) -> None:
    import re
    from pathlib import Path

    source = (Path(__file__).resolve().parents[2] / "switchboard/adapters/connect_routing.py").read_text()
    called = {
        "connect:" + "".join(part.title() for part in m.split("_")).replace("V2", "V2")
        for m in re.findall(r"_client\.([a-z0-9_]+)\(", source)
    }
    granted = {name: resource for name, resource in actions(function).items() if name.startswith("connect:")}
    assert set(granted) == called
    assert condition_of(function, "RouteConnectNumbers") == "HasConnect"  # no instance: nothing granted
    resources = next(iter(granted.values()))
    assert {"Ref": "ConnectInstanceArn"} in resources
    assert "*" not in [r for r in resources if isinstance(r, str)]


# --- Chime SDK Voice: resource-level permissions where IAM has them (issue 11, item 7) ---------------

# What the Service Authorization Reference gives no resource type for, or what our calls name no
# resource of (docs/security.md says which and why).
UNSCOPED_CHIME = {
    "chime:ListPhoneNumbers",
    "chime:GetPhoneNumber",
    "chime:UpdatePhoneNumber",
    "chime:ListSipRules",
    "chime:UpdateSipRule",
    "chime:DeleteSipRule",
}


def _chime_calls() -> set[str]:
    """The chime-sdk-voice operations the routing adapter calls, as IAM actions."""
    import re
    from pathlib import Path

    source = (Path(__file__).resolve().parents[2] / "switchboard/adapters/chime_voice.py").read_text()
    methods = set(re.findall(r"_client\.([a-z_]+)\(", source))
    return {"chime:" + "".join(part.title() for part in m.split("_")) for m in methods}


@pytest.mark.parametrize("function", ["BotFunction", "ExpiryFunction"])
def test_routing_actions_are_scoped_wherever_iam_can(function: str) -> None:
    granted = {name: resource for name, resource in actions(function).items() if name.startswith("chime:")}
    routing = {
        name: resource for name, resource in granted.items() if name != "chime:UpdateSipMediaApplicationCall"
    }
    assert set(routing) == _chime_calls(), "grant exactly what the routing adapter calls"
    for name, resource in routing.items():
        if name in UNSCOPED_CHIME:
            assert resource == "*"
            continue
        text = json.dumps(resource)
        assert resource != "*", name
        if name in (
            "chime:AssociatePhoneNumbersWithVoiceConnector",
            "chime:DisassociatePhoneNumbersFromVoiceConnector",
        ):
            # A number goes back to whichever of the account's voice connectors it was on.
            assert ":${AWS::AccountId}:vc/*" in text
        else:
            assert "sma/${SmaId}" in text, name


def test_every_unscoped_routing_action_is_documented() -> None:
    from pathlib import Path

    security = (Path(__file__).resolve().parents[2] / "docs" / "security.md").read_text()
    for name in UNSCOPED_CHIME:
        assert f"`{name}`" in security, name
