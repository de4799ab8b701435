"""switchboard.policy: typed numbers to E.164, and the destinations a forward may never use."""

from __future__ import annotations

import pytest

from switchboard.domain.rules import ForwardRule
from switchboard.policy import DestinationPolicy, DestinationRefusedError

US = DestinationPolicy(default_country="US", allowed_countries=("US",))
GB = DestinationPolicy(default_country="GB", allowed_countries=("GB",))
US_AND_GB = DestinationPolicy(default_country="US", allowed_countries=("US", "GB"))

OURS = "+12025550100"
OTHER = "+12025550101"
DEST = "+12025550143"
DEST2 = "+12065550111"


def refusal(policy: DestinationPolicy, text: str) -> DestinationRefusedError:
    with pytest.raises(DestinationRefusedError) as caught:
        policy.destination(text)
    return caught.value


def assert_names_number_and_reason(error: DestinationRefusedError, number: str, reason: str) -> None:
    assert error.number == number
    assert reason in error.reason
    assert str(error) == f"{number} {error.reason}"


def test_default_policy_is_us_only() -> None:
    assert DestinationPolicy() == US


@pytest.mark.parametrize(
    ("policy", "text", "e164"),
    [
        (US, "+12025550143", DEST),
        (US, "+1 (202) 555-0143", DEST),
        (US, "(202) 555-0143", DEST),  # national format, US default
        (US, "202.555.0143", DEST),
        (US, "2025550143", DEST),
        (US, "1 202 555 0143", DEST),
        (US, "  202-555-0143  ", DEST),
        (US, "011 1 202 555 0143", DEST),  # the US international prefix
        (US, "0012025550143", DEST),  # "00" typed out, read as "+"
        (US, "+1 800 234 5678", "+18002345678"),  # toll-free is fine: we pay, the caller does not
        (GB, "020 7946 0958", "+442079460958"),  # national format, GB default
        (GB, "+44 20 7946 0958", "+442079460958"),
        (GB, "0044 20 7946 0958", "+442079460958"),
        (US_AND_GB, "0044 20 7946 0958", "+442079460958"),
        (US_AND_GB, "+44 20 7946 0958", "+442079460958"),
    ],
)
def test_destination_normalises_to_e164(policy: DestinationPolicy, text: str, e164: str) -> None:
    assert policy.destination(text) == e164


@pytest.mark.parametrize(
    ("policy", "text"),
    [
        (US, "911"),
        (US, "112"),
        (US, "9-1-1"),
        (GB, "999"),
        (GB, "112"),
    ],
)
def test_emergency_numbers_are_refused(policy: DestinationPolicy, text: str) -> None:
    assert_names_number_and_reason(refusal(policy, text), text, "is an emergency number")


@pytest.mark.parametrize(("policy", "text"), [(US, "611"), (US, "411"), (US, "999")])
def test_short_codes_are_refused(policy: DestinationPolicy, text: str) -> None:
    # 999 is only an emergency number in GB; in the US it is merely a short code, still refused.
    assert_names_number_and_reason(refusal(policy, text), text, "is a short code")


@pytest.mark.parametrize(
    ("policy", "text", "e164", "reason"),
    [
        (US, "+1 900 555 0199", "+19005550199", "is a premium-rate number"),
        (US, "1-900-234-5678", "+19002345678", "is a premium-rate number"),
        (GB, "0909 8790000", "+449098790000", "is a premium-rate number"),
        (GB, "070 1234 5678", "+447012345678", "is a personal-number redirection service"),
    ],
)
def test_toll_fraud_number_types_are_refused_by_their_e164(
    policy: DestinationPolicy, text: str, e164: str, reason: str
) -> None:
    assert_names_number_and_reason(refusal(policy, text), e164, reason)


@pytest.mark.parametrize(
    ("policy", "text", "e164", "region", "allowed"),
    [
        (US, "+44 20 7946 0958", "+442079460958", "GB", "US"),
        (GB, "+1 202 555 0143", DEST, "US", "GB"),
        (US_AND_GB, "+33 1 42 68 53 00", "+33142685300", "FR", "US, GB"),
    ],
)
def test_countries_not_allowed_are_refused_listing_the_allowed_ones(
    policy: DestinationPolicy, text: str, e164: str, region: str, allowed: str
) -> None:
    error = refusal(policy, text)
    assert_names_number_and_reason(error, e164, f"is in {region}; forwards may only go to {allowed}")


@pytest.mark.parametrize(
    ("text", "shown", "reason"),
    [
        ("+15550199", "+15550199", "is not a valid phone number"),  # too short for NANP
        ("+1 202 555 01", "+1 202 555 01", "is not a valid phone number"),
        ("hello", "hello", "is not a phone number"),
        ("", "(empty)", "is not a phone number"),
        ("   ", "(empty)", "is not a phone number"),
    ],
)
def test_invalid_numbers_are_refused(text: str, shown: str, reason: str) -> None:
    assert_names_number_and_reason(refusal(US, text), shown, reason)


@pytest.mark.parametrize(
    "text",
    ["911", "112", "611", "+1 900 555 0199", "+44 20 7946 0958", "+15550199", "hello", "", "0909 8790000"],
)
def test_every_refusal_names_the_number_and_a_reason(text: str) -> None:
    error = refusal(US, text)
    assert error.number
    assert error.reason.startswith("is ")
    assert str(error).startswith(error.number)
    assert len(error.reason) > len("is ")


@pytest.mark.parametrize(
    ("text", "e164"),
    [
        ("+15550100", "+15550100"),  # not a valid NANP number, but it is ours: accepted as-is
        ("+1 (202) 555-0100", OURS),
        ("  +12025550100 ", OURS),
        ("202 555 0100", OURS),  # national format, default country
        ("0012025550100", OURS),
    ],
)
def test_our_number_is_lenient(text: str, e164: str) -> None:
    assert US.our_number(text) == e164


@pytest.mark.parametrize("text", ["garbage", "", "+0123", "555", "0100"])
def test_our_number_still_refuses_non_numbers(text: str) -> None:
    with pytest.raises(DestinationRefusedError, match="is not a phone number"):
        US.our_number(text)


# --- validate_forward ----------------------------------------------------------------------------


def forwarding(number: str, *destinations: str) -> ForwardRule:
    return ForwardRule(number=number, destinations=destinations)


def validate_refusal(*args: object, **kwargs: object) -> DestinationRefusedError:
    with pytest.raises(DestinationRefusedError) as caught:
        US.validate_forward(*args, **kwargs)  # type: ignore[arg-type]
    return caught.value


def test_validate_forward_normalises_our_number_and_every_destination() -> None:
    assert US.validate_forward("(202) 555-0100", ["202 555 0143", "+1 206 555 0111"], {}) == (
        OURS,
        (DEST, DEST2),
    )


def test_validate_forward_accepts_five_destinations() -> None:
    destinations = [f"+1206555{n:04d}" for n in range(111, 116)]
    assert len(US.validate_forward(OURS, destinations, {})[1]) == 5


def test_validate_forward_needs_a_destination() -> None:
    error = validate_refusal(OURS, [], {})
    assert_names_number_and_reason(error, OURS, "needs at least one destination")


def test_validate_forward_refuses_six_destinations() -> None:
    destinations = [f"+1206555{n:04d}" for n in range(111, 117)]
    error = validate_refusal(OURS, destinations, {})
    assert_names_number_and_reason(error, OURS, "can have at most 5 destinations, got 6")


def test_validate_forward_refuses_duplicates_after_normalisation() -> None:
    error = validate_refusal(OURS, ["+12025550143", "(202) 555-0143"], {})
    assert_names_number_and_reason(error, OURS, "lists the same destination twice")
    assert "+12025550143" in error.reason  # which one: typed two ways, it is not obvious


def test_validate_forward_reports_the_bad_destination_not_our_number() -> None:
    error = validate_refusal(OURS, [DEST, "911"], {})
    assert_names_number_and_reason(error, "911", "is an emergency number")


def test_validate_forward_refuses_forwarding_to_itself() -> None:
    error = validate_refusal(OURS, [DEST, "(202) 555-0100"], {})
    assert str(error) == f"{OURS} cannot forward to itself"
    assert error.index == 1  # the form marks the destination at fault


def test_validate_forward_refuses_forwarding_to_another_forwarded_number() -> None:
    error = validate_refusal(OURS, [DEST, OTHER], {OTHER: forwarding(OTHER, DEST2)})
    assert_names_number_and_reason(error, OURS, "cannot be forwarded")
    assert f"{OTHER} is one of our forwarded numbers" in error.reason


def test_validate_forward_refuses_a_number_another_rule_forwards_to() -> None:
    error = validate_refusal(OURS, [DEST], {OTHER: forwarding(OTHER, DEST2, OURS)})
    assert_names_number_and_reason(error, OURS, "cannot be forwarded")
    assert f"{OTHER} already forwards to {OURS}" in error.reason


def test_validate_forward_may_replace_our_own_rule() -> None:
    existing = {OURS: forwarding(OURS, DEST), OTHER: forwarding(OTHER, DEST2)}
    assert US.validate_forward(OURS, [DEST, DEST2], existing) == (OURS, (DEST, DEST2))


def test_validate_forward_enforces_the_phone_inventory_when_given() -> None:
    error = validate_refusal(OURS, [DEST], {}, our_numbers=[OTHER])
    assert_names_number_and_reason(error, OURS, "is not one of our phone numbers")
    assert US.validate_forward("202-555-0100", [DEST], {}, our_numbers=iter([OURS])) == (OURS, (DEST,))
    # an empty inventory is still an inventory: nothing may be forwarded
    assert validate_refusal(OURS, [DEST], {}, our_numbers=[]).reason == "is not one of our phone numbers"


def test_validate_forward_refuses_one_of_our_own_numbers_as_a_destination() -> None:
    other_of_ours = "+12025550180"
    error = validate_refusal(OURS, [DEST, other_of_ours], {}, [OURS, other_of_ours])
    assert_names_number_and_reason(error, other_of_ours, "is one of our own numbers")
    assert error.index == 1
