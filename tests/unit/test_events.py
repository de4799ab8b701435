"""switchboard.domain.events: call records, their derived figures and the alerts they raise."""

from __future__ import annotations

import pytest

from switchboard.domain.events import Attempt, AttemptResult, CallRecord, EventType, Outcome

OURS = "+12025550100"
CALLER = "+13035550123"
FIRST = "+12065550111"
SECOND = "+13125550122"


def record(outcome: Outcome, *attempts: Attempt, started: int = 1_000, ended: int = 5_000) -> CallRecord:
    return CallRecord(
        dialed=OURS, caller=CALLER, outcome=outcome, attempts=attempts, started_ms=started, ended_ms=ended
    )


def test_outcome_values_are_the_stored_strings() -> None:
    # These strings are persisted and shown in Slack; renaming one silently breaks history.
    assert {o.name: o.value for o in Outcome} == {
        "BRIDGED": "bridged",
        "NO_ANSWER": "no-answer",
        "ALL_FAILED": "all-failed",
        "NOT_IN_SERVICE": "not-in-service",
        "ABANDONED": "abandoned",
        "ERROR": "error",
        "TRANSFERRED": "transferred",
        "TRANSFER_FAILED": "transfer-failed",
        "POOL_EXHAUSTED": "pool-exhausted",
    }
    assert AttemptResult.NOT_ANSWERED == "CallNotAnswered"  # the PSTN Audio ErrorType itself
    assert EventType.BRIDGE_FAILED == "bridge_failed"


@pytest.mark.parametrize(
    ("result", "failed"),
    [
        (AttemptResult.ANSWERED, False),
        (AttemptResult.ABANDONED, False),
        ("answered", False),  # as loaded back from storage, a plain str
        ("abandoned", False),
        (AttemptResult.NOT_ANSWERED, True),
        ("CallNotAnswered", True),
        ("CallRejected", True),
        ("InvalidAudioSource", True),
        ("SystemException", True),
        ("Unknown", True),
    ],
)
def test_attempt_failed(result: str, failed: bool) -> None:
    assert Attempt(FIRST, result, 100).failed is failed


@pytest.mark.parametrize(
    ("started", "ended", "duration"), [(1_000, 5_000, 4_000), (1_000, 1_000, 0), (5_000, 1_000, 0)]
)
def test_duration_is_end_minus_start_never_negative(started: int, ended: int, duration: int) -> None:
    assert record(Outcome.BRIDGED, started=started, ended=ended).duration_ms == duration


def test_destinations_tried_are_unique_in_first_tried_order() -> None:
    call = record(
        Outcome.BRIDGED,
        Attempt(SECOND, "InvalidAudioSource", 10),
        Attempt(SECOND, "CallNotAnswered", 30_000),
        Attempt(FIRST, "answered", 2_000),
    )
    assert call.destinations_tried == (SECOND, FIRST)


def test_destinations_tried_is_empty_without_attempts() -> None:
    assert record(Outcome.NOT_IN_SERVICE).destinations_tried == ()


@pytest.mark.parametrize(
    "attempts",
    [
        (),
        (Attempt(FIRST, "answered", 2_000),),
        (Attempt(FIRST, "abandoned", 2_000),),
    ],
)
@pytest.mark.parametrize(
    "outcome", [o for o in Outcome if o not in (Outcome.TRANSFER_FAILED, Outcome.POOL_EXHAUSTED)]
)
def test_no_failed_attempt_means_no_alert(outcome: Outcome, attempts: tuple[Attempt, ...]) -> None:
    assert record(outcome, *attempts).events() == ()


def test_follow_me_that_reached_someone_raises_one_partial_alert_with_every_attempt() -> None:
    attempts = (Attempt(FIRST, "CallNotAnswered", 30_000), Attempt(SECOND, "answered", 3_000))
    (event,) = record(Outcome.BRIDGED, *attempts, ended=99_000).events()
    assert event.type is EventType.BRIDGE_FAILED
    assert event.dialed == OURS
    assert event.caller == CALLER
    assert event.at_ms == 99_000
    assert event.attempts == attempts  # the answered attempt is kept for context
    assert event.all_failed is False


@pytest.mark.parametrize(
    ("outcome", "all_failed"),
    [
        (Outcome.NO_ANSWER, True),
        (Outcome.ALL_FAILED, True),
        (Outcome.BRIDGED, False),
        (Outcome.ABANDONED, False),
        (Outcome.ERROR, False),
        (Outcome.NOT_IN_SERVICE, False),
    ],
)
def test_all_failed_only_when_the_caller_got_the_failure_action(outcome: Outcome, all_failed: bool) -> None:
    events = record(
        outcome, Attempt(FIRST, "CallRejected", 500), Attempt(SECOND, "CallNotAnswered", 1)
    ).events()
    assert len(events) == 1
    assert events[0].all_failed is all_failed


def test_several_failures_still_raise_a_single_alert() -> None:
    attempts = tuple(Attempt(f"+1206555011{n}", "CallNotAnswered", 30_000) for n in range(5))
    events = record(Outcome.NO_ANSWER, *attempts).events()
    assert len(events) == 1
    assert len(events[0].attempts) == 5


@pytest.mark.parametrize(
    ("outcome", "kind"),
    [
        (Outcome.TRANSFER_FAILED, EventType.TRANSFER_FAILED),
        (Outcome.POOL_EXHAUSTED, EventType.POOL_EXHAUSTED),
    ],
)
def test_transfer_and_pool_failures_always_alert_once(outcome: Outcome, kind: EventType) -> None:
    failed = record(
        outcome, Attempt(FIRST, "answered", 1_000), Attempt("+13125550122", "CallNotAnswered", 30_000)
    )
    (event,) = failed.events()
    assert event.type is kind
    assert event.all_failed
