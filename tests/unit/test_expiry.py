"""The expiry job over in-memory ports: per-rule isolation, version checks, one alert per run."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from bot import expiry
from switchboard.domain.rules import ForwardRule
from switchboard.policy import DestinationPolicy
from switchboard.ports import RoutingError, StorageError
from switchboard.service import ForwardingService, RefusedError
from switchboard.settings import load
from tests.fakes import MemoryRouting, MemoryRules, StaticInventory

A, B, C = "+12025550100", "+12025550101", "+12025550102"
DEST = "+12065550111"
NOW = 1_800_000_000.0


class RecordingSlack:
    def __init__(self) -> None:
        self.posts: list[dict[str, Any]] = []

    def chat_postMessage(self, **kwargs: Any) -> dict[str, Any]:
        self.posts.append(kwargs)
        return {"ok": True}


@pytest.fixture
def rules() -> MemoryRules:
    store = MemoryRules()
    for number in (A, B, C):
        store.rules[number] = ForwardRule(
            number=number, destinations=(DEST,), expires_at=int(NOW) - 60, version=1
        )
    return store


@pytest.fixture
def routing() -> MemoryRouting:
    routed = MemoryRouting()
    routed.to_sma.update({A, B, C})
    return routed


@pytest.fixture
def service(rules: MemoryRules, routing: MemoryRouting) -> ForwardingService:
    return ForwardingService(rules, routing, StaticInventory(A, B, C), DestinationPolicy(), clock=lambda: NOW)


@pytest.fixture
def settings(monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("ALERT_CHANNEL", "C0ALERTS")
    return load()


@pytest.fixture
def failures(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, float]]:
    recorded: list[tuple[str, float]] = []

    def add_metric(*, name: str, unit: Any, value: float) -> None:
        if name == "ExpiryFailures":
            recorded.append((name, value))

    monkeypatch.setattr(expiry.metrics, "add_metric", add_metric)
    return recorded


def _client_error() -> ClientError:
    return ClientError({"Error": {"Code": "ThrottlingException", "Message": "slow down"}}, "GetPhoneNumber")


@pytest.mark.parametrize(
    "error",
    [
        RefusedError("not one of our phone numbers"),
        StorageError("table unavailable"),
        RoutingError("ServiceFailureException", undone=True),
        _client_error(),
        EndpointConnectionError(endpoint_url="https://voice-chime.example"),
        KeyError("surprise"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_one_bad_rule_does_not_stop_the_others(
    *,
    service: ForwardingService,
    rules: MemoryRules,
    routing: MemoryRouting,
    settings: Any,
    failures: list[tuple[str, float]],
    monkeypatch: pytest.MonkeyPatch,
    error: Exception,
) -> None:
    original = service.remove_forward

    def remove(number: str, **kwargs: Any) -> Any:
        if number == A:
            raise error
        return original(number, **kwargs)

    monkeypatch.setattr(service, "remove_forward", remove)
    slack = RecordingSlack()

    done = expiry.expire_forwards(service, settings, slack)  # type: ignore[arg-type]

    assert done["removed"] == [B, C]
    assert done["failed"] == [A]
    assert set(rules.rules) == {A}
    assert routing.to_sma == {A}
    assert failures == [("ExpiryFailures", 1)]
    failure_posts = [p for p in slack.posts if "could not" in p["text"].lower()]
    assert len(failure_posts) == 1
    assert A in failure_posts[0]["text"]
    assert "slow down" not in failure_posts[0]["text"]  # technical detail stays in the log


def test_failures_of_several_rules_are_reported_once(
    service: ForwardingService,
    routing: MemoryRouting,
    settings: Any,
    failures: list[tuple[str, float]],
) -> None:
    slack = RecordingSlack()
    original = routing.route_to_voice_connector

    def flaky(number: str, *args: Any, **kwargs: Any) -> list[str]:
        if number in (A, C):
            raise RoutingError("ServiceFailureException", undone=True)
        return original(number, *args, **kwargs)

    routing.route_to_voice_connector = flaky  # type: ignore[method-assign]

    done = expiry.expire_forwards(service, settings, slack)  # type: ignore[arg-type]

    assert done["failed"] == [A, C]
    assert done["removed"] == [B]
    assert failures == [("ExpiryFailures", 2)]
    failure_posts = [p for p in slack.posts if "could not" in p["text"].lower()]
    assert len(failure_posts) == 1
    assert "ServiceFailureException" not in failure_posts[0]["text"]
    assert A in failure_posts[0]["text"]
    assert C in failure_posts[0]["text"]


def test_a_forward_set_again_after_the_listing_is_not_removed(
    service: ForwardingService, rules: MemoryRules, routing: MemoryRouting, settings: Any
) -> None:
    """The job lists rules, then someone sets A again before the job reaches it."""
    listed = service.list_forwards()
    renewed = rules.rules[A].with_changes(expires_at=None)
    rules.save(renewed, actor="U2")  # version 2, no expiry
    service.list_forwards = lambda: listed  # type: ignore[method-assign]
    slack = RecordingSlack()

    done = expiry.expire_forwards(service, settings, slack)  # type: ignore[arg-type]

    assert A in rules.rules
    assert rules.rules[A].expires_at is None
    assert A in routing.to_sma
    assert A in done["skipped"]
    assert done["removed"] == [B, C]
    assert not [p for p in slack.posts if A in p["text"]]


def test_a_refused_expiry_says_what_to_fix(
    rules: MemoryRules, settings: Any, failures: list[tuple[str, float]]
) -> None:
    """No recorded home and no VOICE_CONNECTOR_ID: the alert says how to fix it, once per run."""
    routing = MemoryRouting(voice_connector_id="")
    routing.to_sma.update({A, B, C})
    service = ForwardingService(
        rules, routing, StaticInventory(A, B, C), DestinationPolicy(), clock=lambda: NOW
    )
    slack = RecordingSlack()

    done = expiry.expire_forwards(service, settings, slack)  # type: ignore[arg-type]

    assert done["failed"] == [A, B, C]
    assert set(rules.rules) == {A, B, C}  # still forwarding rather than routed nowhere
    (post,) = slack.posts
    assert post["text"].count("Set VOICE_CONNECTOR_ID") == 3
    assert failures == [("ExpiryFailures", 3)]
