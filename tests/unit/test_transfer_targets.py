"""Transfer targets: the one check every surface runs (TransferRules) and the full policy before it."""

from __future__ import annotations

import pytest

from switchboard.domain.transfer import TransferRules, TransferTarget, TransferTargetError
from switchboard.policy import DestinationPolicy

VC_ARN = "arn:aws:chime:us-east-1:123456789012:vc/abcdefghijklmnopqrstuv"
FOREIGN_ARN = "arn:aws:chime:us-east-1:999999999999:vc/attacker"
RULES = TransferRules(VC_ARN)
POLICY = DestinationPolicy("US", ("US",))
OURS = "+12025550100"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("(312) 555-0199", TransferTarget("+13125550199")),
        ("+13125550199", TransferTarget("+13125550199")),
        ("sip:agent-7", TransferTarget("agent-7", VC_ARN)),
        ("SIP:reception@pbx.example.com", TransferTarget("reception", VC_ARN)),
        ("sip:1001", TransferTarget("1001", VC_ARN)),
        ("sip:42", TransferTarget("42", VC_ARN)),
        # A SIP user that is a phone number passes the destination policy and goes out in E.164.
        ("sip:3125550199", TransferTarget("+13125550199", VC_ARN)),
        ("sip:312-555-0199", TransferTarget("+13125550199", VC_ARN)),
        ("sip:+13125550199@pbx", TransferTarget("+13125550199", VC_ARN)),
    ],
)
def test_targets_people_may_name(text: str, expected: TransferTarget) -> None:
    assert POLICY.transfer_target(text, RULES) == expected


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("sip:+19005550100", "premium-rate"),
        ("sip:+19005550100@pbx.example.com", "premium-rate"),
        ("sip:19005550100", "dialling prefix"),
        ("sip:9011441234567", "dialling prefix"),
        ("sip:011441234567", "dialling prefix"),
        ("sip:00442079460000", "dialling prefix"),
        ("sip:90119005550100", "dialling prefix"),
        ("sip:9900", "dialling prefix"),
        ("sip:1900", "dialling prefix"),
        ("sip:*72", "feature code"),
        ("sip:*72+19005550100", "feature code"),
        ("sip:*67", "feature code"),
        ("sip:#31#12065550111", "feature code"),
        ("sip:911", "emergency"),
        ("sip:112", "emergency"),
        ("sip:9911", "emergency"),
        ("sip:+1911", "short code"),
        ("sip:+442079460000", "may only go to US"),
        ("sip:+15005550100", "personal-number"),
        ("sip:%2B19005550100", "not a SIP user"),
        ("sip:", "not a SIP user"),
        ("sip:a b", "not a SIP user"),
        ("911", "emergency"),
        ("+19005550100", "premium-rate"),
        ("+14165550100", "may only go to US"),
    ],
)
def test_dangerous_targets_are_refused(text: str, reason: str) -> None:
    with pytest.raises(TransferTargetError, match=reason):
        POLICY.transfer_target(text, RULES)


def test_sip_targets_need_the_configured_voice_connector() -> None:
    with pytest.raises(TransferTargetError, match="VOICE_CONNECTOR_ARN is not configured"):
        POLICY.transfer_target("sip:agent-7", TransferRules())
    with pytest.raises(TransferTargetError, match="not this stack's voice connector"):
        POLICY.transfer_target("agent-7", RULES, FOREIGN_ARN)
    with pytest.raises(TransferTargetError, match="not a voice connector ARN"):
        POLICY.transfer_target("agent-7", RULES, "arn:aws:lambda:us-east-1:123456789012:function:x")
    assert POLICY.transfer_target("agent-7", RULES, VC_ARN) == TransferTarget("agent-7", VC_ARN)


def test_the_extension_pattern_decides_which_digits_are_extensions() -> None:
    rules = TransferRules(VC_ARN, extension_pattern="^1[0-9]{3}$")
    assert POLICY.transfer_target("sip:1001", rules) == TransferTarget("1001", VC_ARN)
    with pytest.raises(TransferTargetError, match="short code"):
        POLICY.transfer_target("sip:2001", rules)  # not an extension: read as a phone number


def test_our_own_numbers_are_refused() -> None:
    def is_ours(number: str) -> bool:
        return number == OURS

    for text in (OURS, "(202) 555-0100", f"sip:{OURS}", "sip:2025550100"):
        with pytest.raises(TransferTargetError, match="our own numbers"):
            POLICY.transfer_target(text, RULES, is_ours=is_ours)
    assert POLICY.transfer_target("+13125550199", RULES, is_ours=is_ours).target == "+13125550199"


# --- the check the SMA runs (no phone-number library): targets as they are sent ----------------


@pytest.mark.parametrize(
    ("target", "arn"),
    [
        ("+13125550199", ""),
        ("+18005550100", ""),
        ("agent-7", VC_ARN),
        ("1001", VC_ARN),
        ("+13125550199", VC_ARN),
    ],
)
def test_the_cheap_check_passes_what_the_policy_sends(target: str, arn: str) -> None:
    assert RULES.check(target, arn) == TransferTarget(target, arn)


@pytest.mark.parametrize(
    ("target", "arn", "reason"),
    [
        ("+19005550100", "", "premium"),
        ("+12125550100"[:-1] + "0", FOREIGN_ARN, "not this stack's voice connector"),
        ("+12129765555", "", "premium"),
        ("+449098790000", "", "premium"),
        ("+448712345678", "", "premium"),
        ("+882130000000", "", "premium"),
        ("+18095550100", "", "outside the allowed countries"),
        ("+14165550100", "", "outside the allowed countries"),
        ("+442079460000", "", "outside the allowed countries"),
        ("+2348031234567", "", "outside the allowed countries"),
        ("+1911", "", "not a phone number in E.164"),
        ("+19115550100", "", "not a valid North American number"),
        ("911", "", "not a phone number in E.164"),
        ("(312) 555-0199", "", "not a phone number in E.164"),
        ("+19005550100", VC_ARN, "premium"),
        ("3125550199", VC_ARN, "neither an extension nor a phone number"),
        ("9011441234567", VC_ARN, "dialling prefix"),
        ("*72", VC_ARN, "feature code"),
        ("911", VC_ARN, "emergency"),
        ("agent-7", "arn:aws:chime:us-east-1:123456789012:vc/other", "not this stack's voice connector"),
    ],
)
def test_the_cheap_check_refuses_what_no_surface_should_send(target: str, arn: str, reason: str) -> None:
    with pytest.raises(TransferTargetError, match=reason):
        RULES.check(target, arn)


def test_the_cheap_check_knows_our_own_and_the_allowed_countries() -> None:
    rules = TransferRules(VC_ARN, allowed_countries=("US", "GB"), own_numbers=frozenset({OURS}))
    assert rules.check("+442079460000").target == "+442079460000"
    with pytest.raises(TransferTargetError, match="our own numbers"):
        rules.check(OURS)
    ireland = TransferRules(allowed_countries=("IE",))
    assert ireland.check("+35312345678").target == "+35312345678"  # Dublin, not a special range
    with pytest.raises(TransferTargetError, match="premium"):
        ireland.check("+353155012345")
    # A country the cheap table cannot map is left to the full policy rather than refused.
    assert TransferRules(allowed_countries=("US", "KE")).check("+254712345678").target == "+254712345678"
