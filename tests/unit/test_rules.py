"""switchboard.domain.rules: what a forward rule may be, and which forwards would loop."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from switchboard.domain.hours import parse_hours
from switchboard.domain.rules import (
    CONNECT,
    DEFAULT_RING_TIMEOUT,
    MAX_DESTINATIONS,
    CallerIdMode,
    FailureAction,
    ForwardRule,
    GreetingMode,
    RuleError,
    RuleIndex,
    find_loops,
    is_e164,
    parse_choice,
)

OURS = "+12025550100"
OTHER = "+12025550101"
FIRST = "+12065550111"
SECOND = "+13125550122"
DESTINATIONS = ("+12065550111", "+13125550122", "+14155550133", "+16175550144", "+17185550155")


def rule(number: str = OURS, destinations: tuple[str, ...] = (FIRST,), **fields: object) -> ForwardRule:
    return ForwardRule(number=number, destinations=destinations, **fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "number",
    ["+12", "+12025550100", "+442079460958", "+123456789012345"],  # 2 and 15 digits are the bounds
)
def test_is_e164_accepts_plus_and_2_to_15_digits(number: str) -> None:
    assert is_e164(number)


@pytest.mark.parametrize(
    "number",
    [
        "",
        "+",
        "+1",  # one digit
        "+1234567890123456",  # sixteen digits
        "12025550100",  # no plus
        "+02025550100",  # country codes never start with 0
        "+1 202 555 0100",
        "+1-202-555-0100",
        "+1202555010a",
        " +12025550100",
        "+12025550100 ",
        "+12025550100\n",  # a trailing newline is not part of a number
        "+1\u0662\u0660\u0662\u0665\u0665\u0665\u0660\u0661\u0660\u0660",  # Arabic-Indic digits
        "++12025550100",
    ],
)
def test_is_e164_rejects_anything_else(number: str) -> None:
    assert not is_e164(number)


def test_defaults_are_loop_greeting_prompt_on_failure_dialed_caller_id_and_30s() -> None:
    forward = rule()
    assert forward.greeting is GreetingMode.LOOP
    assert forward.failure is FailureAction.PROMPT
    assert forward.caller_id is CallerIdMode.DIALED
    assert forward.ring_timeout == DEFAULT_RING_TIMEOUT == 30
    assert forward.expires_at is None
    assert forward.version == 0


@pytest.mark.parametrize("number", ["2025550100", "+1 202 555 0100", "", "+0123", "+12025550100\n"])
def test_our_number_must_be_e164(number: str) -> None:
    with pytest.raises(RuleError, match=r"E\.164"):
        rule(number=number)


@pytest.mark.parametrize("count", [0, MAX_DESTINATIONS + 1])
def test_destination_count_outside_1_to_5_is_refused(count: int) -> None:
    destinations = tuple(f"+1206555{n:04d}" for n in range(count))
    with pytest.raises(RuleError, match=f"1 to {MAX_DESTINATIONS} destinations, got {count}"):
        rule(destinations=destinations)


@pytest.mark.parametrize("count", [1, MAX_DESTINATIONS])
def test_destination_count_bounds_are_allowed(count: int) -> None:
    assert rule(destinations=DESTINATIONS[:count]).destinations == DESTINATIONS[:count]


@pytest.mark.parametrize("bad", ["2065550111", "+1 206 555 0111", "sip:alice@example.com"])
def test_every_destination_must_be_e164_and_is_named(bad: str) -> None:
    with pytest.raises(RuleError) as caught:
        rule(destinations=(FIRST, bad))
    assert repr(bad) in str(caught.value)


def test_the_same_destination_twice_is_refused() -> None:
    with pytest.raises(RuleError, match="twice"):
        rule(destinations=(FIRST, SECOND, FIRST))


@pytest.mark.parametrize("timeout", [0, -5, 121, 1000])
def test_ring_timeout_outside_1_to_120_is_refused(timeout: int) -> None:
    with pytest.raises(RuleError, match=f"got {timeout}"):
        rule(ring_timeout=timeout)


@pytest.mark.parametrize("timeout", [1, 120])
def test_ring_timeout_bounds_are_allowed(timeout: int) -> None:
    assert rule(ring_timeout=timeout).ring_timeout == timeout


def test_enum_fields_given_as_strings_become_enums_and_destinations_a_tuple() -> None:
    forward = rule(destinations=[FIRST, SECOND], greeting="once", failure="hangup", caller_id="caller")
    assert forward.greeting is GreetingMode.ONCE
    assert forward.failure is FailureAction.HANGUP
    assert forward.caller_id is CallerIdMode.CALLER
    assert forward.destinations == (FIRST, SECOND)
    assert isinstance(forward.destinations, tuple)


@pytest.mark.parametrize("field", [{"greeting": "forever"}, {"failure": "email"}, {"caller_id": "hidden"}])
def test_unknown_enum_strings_are_refused_with_the_choices(field: dict[str, str]) -> None:
    with pytest.raises(RuleError, match="must be one of"):
        rule(**field)


@pytest.mark.parametrize(
    ("expires_at", "now", "active"),
    [
        (None, 0.0, True),
        (None, 4_000_000_000.0, True),
        (1_000, 999.9, True),
        (1_000, 1_000.0, False),  # inactive from expires_at on
        (1_000, 1_000.1, False),
    ],
)
def test_is_active_until_expiry(expires_at: int | None, now: float, active: bool) -> None:
    assert rule(expires_at=expires_at).is_active(now) is active


def test_with_changes_returns_a_validated_copy_and_leaves_the_original() -> None:
    original = rule(destinations=(FIRST,), version=3)
    changed = original.with_changes(destinations=(SECOND,), ring_timeout=20)
    assert changed.destinations == (SECOND,)
    assert changed.ring_timeout == 20
    assert changed.version == 3
    assert original.destinations == (FIRST,)
    assert original.ring_timeout == DEFAULT_RING_TIMEOUT
    with pytest.raises(RuleError):
        original.with_changes(ring_timeout=0)
    with pytest.raises(RuleError):
        original.with_changes(destinations=())


def test_extra_does_not_take_part_in_equality() -> None:
    assert rule(extra={"note": "a"}) == rule(extra={"note": "b"})
    assert rule(version=1) != rule(version=2)


@pytest.mark.parametrize(
    ("enum", "text", "expected"),
    [
        (GreetingMode, "loop", GreetingMode.LOOP),
        (GreetingMode, "  ONCE ", GreetingMode.ONCE),
        (FailureAction, "Hangup", FailureAction.HANGUP),
        (CallerIdMode, "CALLER", CallerIdMode.CALLER),
    ],
)
def test_parse_choice_is_case_and_space_insensitive(enum: type, text: str, expected: object) -> None:
    assert parse_choice(enum, text, "greeting") is expected


def test_parse_choice_error_lists_the_choices_and_the_value() -> None:
    with pytest.raises(RuleError) as caught:
        parse_choice(GreetingMode, "sometimes", "greeting")
    assert str(caught.value) == "greeting must be one of loop | once | none, not 'sometimes'"


def test_find_loops_allows_plain_destinations() -> None:
    existing = {OTHER: rule(number=OTHER, destinations=(SECOND,))}
    assert find_loops(OURS, (FIRST,), existing) is None


def test_find_loops_refuses_forwarding_to_itself() -> None:
    assert find_loops(OURS, (FIRST, OURS), {}) == f"{OURS} cannot forward to itself"


def test_find_loops_refuses_a_destination_that_is_itself_forwarded() -> None:
    existing = {OTHER: rule(number=OTHER, destinations=(SECOND,))}
    reason = find_loops(OURS, (FIRST, OTHER), existing)
    assert reason is not None
    assert reason.startswith(OTHER)
    assert "forwarded numbers" in reason


def test_find_loops_refuses_a_number_another_rule_forwards_to() -> None:
    existing = {OTHER: rule(number=OTHER, destinations=(SECOND, OURS))}
    reason = find_loops(OURS, (FIRST,), existing)
    assert reason == (
        f"{OTHER} already forwards to {OURS}: forwarding {OURS} as well would chain or loop calls"
    )


def test_find_loops_ignores_the_rule_being_replaced() -> None:
    # Our own current rule is about to be replaced: neither its number nor its destinations count.
    existing = {OURS: rule(number=OURS, destinations=(FIRST,))}
    assert find_loops(OURS, (FIRST, SECOND), existing) is None


def test_find_loops_lets_a_broken_self_forward_be_replaced() -> None:
    # A stored rule that (wrongly) lists its own number must not block the edit that fixes it.
    existing = {OURS: rule(number=OURS, destinations=(OURS,))}
    assert find_loops(OURS, (FIRST,), existing) is None


def test_find_loops_reports_the_first_chaining_rule_in_number_order() -> None:
    lower, higher = "+12025550102", "+12025550199"
    existing = {
        higher: rule(number=higher, destinations=(OURS,)),
        lower: rule(number=lower, destinations=(OURS,)),
    }
    reason = find_loops(OURS, (FIRST,), existing)
    assert reason is not None
    assert reason.startswith(lower)


class UnlistableIndex(RuleIndex):
    """A rule index that refuses to be walked: the loop check must use its callers index."""

    def __iter__(self) -> Iterator[str]:
        raise AssertionError("the loop check walked every rule")


def test_a_rule_index_answers_the_loop_check_without_walking_every_rule() -> None:
    lower, higher = "+12025550102", "+12025550199"
    rules = [
        rule(number=higher, destinations=(OURS,)),
        rule(number=lower, destinations=(SECOND, OURS)),
        rule(number=OTHER, destinations=(SECOND,)),
    ]
    index = UnlistableIndex(rules)
    plain = {r.number: r for r in rules}
    for destinations in [(FIRST,), (FIRST, OTHER)]:
        assert find_loops(OURS, destinations, index) == find_loops(OURS, destinations, plain)
    assert find_loops(OURS, (FIRST,), index) is not None
    assert find_loops(OURS, (FIRST,), index).startswith(lower)  # type: ignore[union-attr]
    # Replacing and removing rules keeps the index true.
    index[lower] = rule(number=lower, destinations=(SECOND,))
    assert find_loops(OURS, (FIRST,), index).startswith(higher)  # type: ignore[union-attr]
    del index[higher]
    assert find_loops(OURS, (FIRST,), index) is None
    assert find_loops(SECOND, (FIRST,), index) == (
        f"{OTHER} already forwards to {SECOND}: forwarding {SECOND} as well would chain or loop calls"
    )
    assert (len(index), lower in index, higher in index) == (2, True, False)


# --- business hours (issue 17) ------------------------------------------------------------------

WEEKDAYS = parse_hours("weekdays 09:00-17:30", "America/Chicago")
TUESDAY_NOON_CHICAGO = 1_796_148_000.0  # 2026-12-01 12:00 CST
TUESDAY_EVENING_CHICAGO = 1_796_176_800.0  # 2026-12-01 20:00 CST


def test_a_rule_with_hours_rings_its_destinations_in_hours_and_the_else_ones_outside() -> None:
    hours_rule = rule(hours=WEEKDAYS, else_destinations=(SECOND,))
    assert hours_rule.destinations_at(TUESDAY_NOON_CHICAGO) == (FIRST,)
    assert hours_rule.in_hours(TUESDAY_NOON_CHICAGO)
    assert hours_rule.destinations_at(TUESDAY_EVENING_CHICAGO) == (SECOND,)
    assert not hours_rule.in_hours(TUESDAY_EVENING_CHICAGO)
    assert rule().destinations_at(TUESDAY_EVENING_CHICAGO) == (FIRST,)  # no hours: always


def test_hours_and_else_destinations_come_together() -> None:
    with pytest.raises(RuleError, match="else to"):
        rule(hours=WEEKDAYS)
    with pytest.raises(RuleError, match="need business hours"):
        rule(else_destinations=(SECOND,))


@pytest.mark.parametrize(
    ("else_destinations", "fragment"),
    [
        ((*DESTINATIONS, "+19175550166"), "1 to 5 destinations"),
        (("2065550111",), "E.164"),
        ((SECOND, SECOND), "twice"),
        ((SECOND, CONNECT), "cannot be combined"),
    ],
)
def test_else_destinations_are_checked_like_destinations(
    else_destinations: tuple[str, ...], fragment: str
) -> None:
    with pytest.raises(RuleError, match=fragment):
        rule(hours=WEEKDAYS, else_destinations=else_destinations)


def test_connect_may_take_either_branch() -> None:
    agents_by_day = rule(destinations=(CONNECT,), hours=WEEKDAYS, else_destinations=(SECOND,))
    assert agents_by_day.uses_connect
    assert agents_by_day.connect_entry_at(TUESDAY_NOON_CHICAGO)
    assert not agents_by_day.connect_entry_at(TUESDAY_EVENING_CHICAGO)
    agents_at_night = rule(hours=WEEKDAYS, else_destinations=(CONNECT,))
    assert agents_at_night.connect_entry_at(TUESDAY_EVENING_CHICAGO)
    assert not rule().uses_connect


def test_find_loops_refuses_a_number_another_rule_forwards_to_after_hours() -> None:
    existing = {OTHER: rule(number=OTHER, hours=WEEKDAYS, else_destinations=(OURS,))}
    reason = find_loops(OURS, (FIRST,), existing)
    assert reason is not None
    assert OTHER in reason
