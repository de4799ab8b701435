"""The change guard end to end: ForwardingService on the DynamoDB repository (moto) racing itself.

Interleavings are placed by hand: the repository below runs another actor's whole change just
before one of its own operations, so the order of the two changes' steps is exactly the one
under test, with real conditional writes deciding who wins.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from switchboard.adapters.dynamodb import DynamoForwardRepository
from switchboard.domain.rules import ForwardRule
from switchboard.policy import DestinationPolicy
from switchboard.service import (
    ChangeFailedError,
    ChangeResult,
    ConcurrentChangeError,
    ForwardingService,
    ForwardRequest,
    RefusedError,
)
from tests.fakes import MemoryRouting, StaticInventory
from tests.functional.conftest import TABLE

OURS = "+12025550100"
OTHER = "+12025550101"
DEST = "+12065550111"


class InterleavingRepository(DynamoForwardRepository):
    """Runs ``before[operation]`` (once) just before that operation reaches DynamoDB."""

    def __init__(self, client: Any) -> None:
        super().__init__(client, TABLE)
        self.before: dict[str, Callable[[], object]] = {}

    def _run(self, operation: str) -> None:
        hook = self.before.pop(operation, None)
        if hook is not None:
            hook()

    def save(self, rule: ForwardRule, **kwargs: Any) -> ForwardRule:
        self._run("save")
        return super().save(rule, **kwargs)

    def delete(self, number: str, **kwargs: Any) -> ForwardRule:
        self._run("delete")
        return super().delete(number, **kwargs)

    def claim_change(self, number: str, **kwargs: Any) -> bool:
        self._run("claim_change")
        return super().claim_change(number, **kwargs)


@pytest.fixture
def repo(dynamodb: Any) -> InterleavingRepository:
    return InterleavingRepository(dynamodb)


@pytest.fixture
def routing() -> MemoryRouting:
    return MemoryRouting()


@pytest.fixture
def service(repo: InterleavingRepository, routing: MemoryRouting) -> ForwardingService:
    return ForwardingService(
        repo, routing, StaticInventory(OURS, OTHER), DestinationPolicy(), sleep=lambda _s: None
    )


def outcome(change: Callable[[], ChangeResult]) -> object:
    try:
        return change()
    except (ChangeFailedError, RefusedError) as error:
        return error


def agree(repo: DynamoForwardRepository, routing: MemoryRouting) -> None:
    assert {rule.number for rule in repo.list_rules()} == routing.to_sma


def test_a_second_removal_while_the_first_deletes_waits_and_changes_nothing(
    service: ForwardingService, repo: InterleavingRepository, routing: MemoryRouting, dynamodb: Any
) -> None:
    service.set_forward(ForwardRequest(OURS, [DEST]), actor="U1")
    second: list[object] = []
    repo.before["delete"] = lambda: second.append(outcome(lambda: service.remove_forward(OURS, actor="B")))

    assert service.remove_forward(OURS, actor="A").changed

    (loser,) = second
    assert isinstance(loser, ConcurrentChangeError)
    assert loser.in_progress  # the guard item in DynamoDB was held by A
    agree(repo, routing)
    assert repo.get(OURS) is None
    guard = dynamodb.get_item(
        TableName=TABLE, Key={"pk": {"S": f"NUMBER#{OURS}"}, "sk": {"S": "CHANGE"}}, ConsistentRead=True
    )
    assert "Item" not in guard  # released


def test_a_change_that_got_the_guard_after_another_sees_the_new_state(
    service: ForwardingService, repo: InterleavingRepository, routing: MemoryRouting
) -> None:
    service.set_forward(ForwardRequest(OURS, [DEST]), actor="U1")
    repo.before["claim_change"] = lambda: service.remove_forward(OURS, actor="A")

    with pytest.raises(ConcurrentChangeError) as caught:
        service.set_forward(ForwardRequest(OURS, ["+13125550122"]), actor="B")

    assert caught.value.current is None
    assert "it is now: no forward" in str(caught.value)
    agree(repo, routing)


def test_opposite_sets_racing_to_the_write_cannot_loop(
    repo: InterleavingRepository, routing: MemoryRouting
) -> None:
    # With a phone inventory our own numbers are refused as destinations before any write; without
    # one (an operator's tool pointed at a table only) the write's condition check stops the loop.
    service = ForwardingService(repo, routing, None, DestinationPolicy(), sleep=lambda _s: None)
    second: list[object] = []
    repo.before["save"] = lambda: second.append(
        outcome(lambda: service.set_forward(ForwardRequest(OTHER, [OURS]), actor="B"))
    )
    with pytest.raises(RefusedError, match="forwarded by someone else just now"):
        service.set_forward(ForwardRequest(OURS, [OTHER]), actor="A")
    (won,) = second
    assert isinstance(won, ChangeResult)
    assert [rule.number for rule in repo.list_rules()] == [OTHER]
    agree(repo, routing)
