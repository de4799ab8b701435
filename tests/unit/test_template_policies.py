"""IAM in template.yaml against what the code calls (moto does not enforce IAM, so this does)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from switchboard.local.template import load_template

RESOURCES = load_template()["Resources"]


def actions(function: str) -> dict[str, Any]:
    """Action → Resource of every statement of the function's inline policies."""
    granted: dict[str, Any] = {}
    for policy in RESOURCES[function]["Properties"]["Policies"]:
        for statement in policy.get("Statement", []):
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


@pytest.mark.parametrize("function", ["BotFunction", "ConnectFunction"])
def test_transfers_are_allowed_on_our_sip_media_application_only(function: str) -> None:
    resource = json.dumps(actions(function)["chime:UpdateSipMediaApplicationCall"])
    assert "sma/${SmaId}" in resource
    assert "sma/*" not in resource


def test_the_bot_waits_for_a_transfer_within_its_timeout() -> None:
    from bot.transfers import DEFAULT_WAIT_SECONDS

    bot = RESOURCES["BotFunction"]["Properties"]
    assert bot["Timeout"] >= DEFAULT_WAIT_SECONDS + 10  # room for the Slack posts after the wait
    assert "VOICE_CONNECTOR_ARN" in bot["Environment"]["Variables"]


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
