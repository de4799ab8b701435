"""How `switchboard call` prints a call's record (switchboard_local.pstn.calls.format_record)."""

from __future__ import annotations

from typing import Any

from switchboard_local.pstn.calls import format_record


def record(**fields: Any) -> dict[str, Any]:
    return {
        "outcome": "bridged",
        "duration_ms": 42_000,
        "talk_ms": 40_000,
        "attempts": [
            {"destination": "+12065550111", "result": "CallNotAnswered", "ring_ms": 20_000},
            {"destination": "+12065550122", "result": "answered", "ring_ms": 0},
        ],
        **fields,
    }


def test_an_sma_record_gives_every_attempt_its_ring_time() -> None:
    text = format_record(record())
    assert "+12065550111 CallNotAnswered after 20.0s" in text
    assert "+12065550122 answered after 0.0s" in text


def test_an_amazon_connect_record_does_not_claim_when_the_destination_answered() -> None:
    text = format_record(record(backend="connect", timing="approximate"))
    assert "+12065550111 CallNotAnswered after 20.0s" in text  # a ring-out is timed by the flow
    assert "+12065550122 answered (Amazon Connect does not report after how long)" in text
    assert "answered after" not in text


def test_a_record_the_connect_flow_wrote_does_not_claim_when_the_destination_answered() -> None:
    # The flow's own records carry the backend only (the caller's hang-up adds timing=approximate).
    text = format_record(record(backend="connect"))
    assert "talked up to 40.0s" in text  # counted from the dial: the ringing is in it
    assert "+12065550122 answered (Amazon Connect does not report after how long)" in text
    assert "answered after" not in text


def test_no_record_says_so() -> None:
    assert format_record(None) == "call record: none stored"
