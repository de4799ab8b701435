"""Both call backends are optional and at least one is required (issue 15, item 5).

Each configuration is rendered as CloudFormation would deploy it (conditions resolved) and linted
with cfn-lint, so a reference to a resource another configuration leaves out fails here, not in
someone's first deploy. The rules CloudFormation checks before creating anything are evaluated too.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from switchboard_local.aws.template import failed_rules, load_template, render

TEMPLATE = load_template()
INSTANCE = "arn:aws:connect:us-east-1:123456789012:instance/9308c2a1-9bc6-4cea-8290-6c0b4a6d38fa"

CONFIGURATIONS = {
    "sip-media-application-only": {},
    "connect-only": {"ConnectInstanceArn": INSTANCE, "SipMediaApplicationBackend": "Disabled"},
    "both": {"ConnectInstanceArn": INSTANCE},
}
SMA_ONLY = {"SmaFunction", "SmaFunctionLogGroup", "SmaInvokePermission", "SipMediaApplication"}
CONNECT_ONLY = {
    "ConnectIntegration",
    "ForwardingContactFlow",
    "ContactEventsFunction",
    "ContactEventsFunctionLogGroup",
    "ConnectHandBack",
}


def _lint(template: dict[str, Any]) -> list[str]:
    from cfnlint.api import ManualArgs, lint

    matches = lint(json.dumps(template), config=ManualArgs(regions=["us-east-1"]))
    return [f"{m.rule.id} {'/'.join(str(p) for p in m.path)}: {m.message}" for m in matches]


@pytest.mark.parametrize("configuration", sorted(CONFIGURATIONS))
def test_each_backend_configuration_passes_cfn_lint(configuration: str) -> None:
    rendered = render(TEMPLATE, CONFIGURATIONS[configuration])
    assert _lint(rendered) == []


def test_the_whole_template_passes_cfn_lint() -> None:
    assert _lint(TEMPLATE) == []


@pytest.mark.parametrize("configuration", sorted(CONFIGURATIONS))
def test_only_what_is_configured_is_created(configuration: str) -> None:
    given = CONFIGURATIONS[configuration]
    resources = set(render(TEMPLATE, given)["Resources"])
    sma = given.get("SipMediaApplicationBackend", "Enabled") == "Enabled"
    connect = bool(given.get("ConnectInstanceArn"))
    assert (resources >= SMA_ONLY) is sma
    assert not (SMA_ONLY & resources) or sma
    assert (resources >= CONNECT_ONLY) is connect
    assert not (CONNECT_ONLY & resources) or connect
    assert failed_rules(TEMPLATE, given) == []


def test_a_connect_only_stack_grants_nothing_on_sip_media_applications() -> None:
    rendered = json.dumps(render(TEMPLATE, CONFIGURATIONS["connect-only"]))
    assert "SipMediaApplication." not in rendered  # no reference to the absent custom resource
    helper = render(TEMPLATE, CONFIGURATIONS["connect-only"])["Resources"]["DeployHelperFunction"]
    grants = {s["Sid"]: s["Resource"] for s in helper["Properties"]["Policies"][0]["Statement"]}
    for sid in ("CreateSipMediaApplication", "FindSipMediaApplication"):
        assert "sma/none" in json.dumps(grants[sid]), sid  # a name that matches nothing
    assert "voiceconnector.chime.amazonaws.com" not in rendered  # PSTN Audio reads no prompts
    assert "connect.amazonaws.com" in rendered


def test_a_sip_media_application_only_stack_lets_connect_read_no_prompts() -> None:
    policy = render(TEMPLATE, {})["Resources"]["PromptBucketPolicy"]["Properties"]["PolicyDocument"]
    principals = [s.get("Principal") for s in policy["Statement"]]
    assert {"Service": "connect.amazonaws.com"} not in principals
    assert {"Service": "voiceconnector.chime.amazonaws.com"} in principals


def test_connect_reads_only_its_prompts_and_only_from_the_instance() -> None:
    policy = render(TEMPLATE, CONFIGURATIONS["connect-only"])["Resources"]["PromptBucketPolicy"]
    (statement,) = [
        s
        for s in policy["Properties"]["PolicyDocument"]["Statement"]
        if s.get("Principal") == {"Service": "connect.amazonaws.com"}
    ]
    assert statement["Condition"]["ArnEquals"]["aws:SourceArn"] == {"Ref": "ConnectInstanceArn"}
    objects = [r for r in statement["Resource"] if "Fn::Sub" in r]
    assert objects == [{"Fn::Sub": "${PromptBucket.Arn}/prompts/connect/*"}]


def test_no_backend_at_all_fails_before_anything_is_created_saying_what_to_set() -> None:
    (message,) = failed_rules(TEMPLATE, {"SipMediaApplicationBackend": "Disabled"})
    assert "at least one call backend" in message
    assert "ConnectInstanceArn" in message
    assert "SipMediaApplicationBackend=Enabled" in message


def test_an_existing_sip_media_application_with_the_backend_disabled_is_refused() -> None:
    given = {
        "ConnectInstanceArn": INSTANCE,
        "SipMediaApplicationBackend": "Disabled",
        "ExistingSipMediaApplicationId": "abc",
    }
    (message,) = failed_rules(TEMPLATE, given)
    assert "ExistingSipMediaApplicationId" in message


def test_the_default_keeps_an_existing_stack_s_sip_media_application() -> None:
    # Updating a stack deployed before the parameter existed must not delete its application.
    assert TEMPLATE["Parameters"]["SipMediaApplicationBackend"]["Default"] == "Enabled"


def _grants(configuration: str, function: str) -> dict[str, dict[str, Any]]:
    """Sid → statement of the function's inline policies in that configuration, as deployed."""
    resources = render(TEMPLATE, CONFIGURATIONS[configuration])["Resources"]
    policies = resources[function]["Properties"]["Policies"]
    return {s["Sid"]: s for policy in policies for s in policy.get("Statement", [])}


def _granted_actions(statements: dict[str, dict[str, Any]], prefix: str) -> set[str]:
    names: set[str] = set()
    for statement in statements.values():
        action = statement["Action"]
        names.update(a for a in ([action] if isinstance(action, str) else action) if a.startswith(prefix))
    return names


@pytest.mark.parametrize("configuration", sorted(CONFIGURATIONS))
@pytest.mark.parametrize("function", ["BotFunction", "ExpiryFunction", "ConnectFunction"])
def test_each_function_is_granted_only_the_backends_the_stack_has(configuration: str, function: str) -> None:
    given = CONFIGURATIONS[configuration]
    sma = given.get("SipMediaApplicationBackend", "Enabled") == "Enabled"
    connect = bool(given.get("ConnectInstanceArn"))
    statements = _grants(configuration, function)
    assert bool(_granted_actions(statements, "chime:")) is sma
    if function != "ConnectFunction":  # the Connect Lambda is Connect's, in every stack
        assert bool(_granted_actions(statements, "connect:")) is connect
    # Nothing left pointing at a resource that is not there ("a name that matches nothing").
    assert "/none" not in json.dumps(statements)


@pytest.mark.parametrize("configuration", sorted(CONFIGURATIONS))
def test_the_bot_queues_connect_transfers_only_with_an_instance(configuration: str) -> None:
    queued = "QueueConnectTransfers" in _grants(configuration, "BotFunction")
    assert queued is bool(CONFIGURATIONS[configuration].get("ConnectInstanceArn"))
