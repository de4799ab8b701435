"""Concurrent changes to one number: exactly one wins, routing and table never disagree.

Interleavings are deterministic: ``MemoryRules.hooks`` runs another actor's whole change at a
chosen step of this one. The thread tests then let real threads race for the same number.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable

import pytest

from switchboard.domain.rules import NumberHome
from switchboard.policy import DestinationPolicy
from switchboard.ports import StorageError
from switchboard.service import (
    ChangeFailedError,
    ChangeResult,
    ConcurrentChangeError,
    ForwardingService,
    ForwardRequest,
    RefusedError,
)
from tests.fakes import MemoryRouting, MemoryRules, StaticInventory
from tests.unit.conftest import DEST, DEST2, NOW, OTHER, OURS


def agree(rules: MemoryRules, routing: MemoryRouting) -> None:
    """The consistency rule: a number has a stored rule iff it is routed to the SMA."""
    assert set(rules.rules) == routing.to_sma


def no_loops(rules: MemoryRules) -> None:
    for number, rule in rules.rules.items():
        for destination in rule.destinations:
            assert destination not in rules.rules, f"{number} → {destination}, which is forwarded too"


def capture(change: Callable[[], ChangeResult]) -> list[object]:
    outcome: list[object] = []

    def run() -> None:
        try:
            outcome.append(change())
        except (ChangeFailedError, RefusedError) as error:
            outcome.append(error)

    run()
    return outcome


def test_two_removals_at_once_leave_the_number_on_the_voice_connector(
    service: ForwardingService, rules: MemoryRules, routing: MemoryRouting
) -> None:
    """B's whole remove runs while A is deleting the rule (a double click on Remove)."""
    service.set_forward(ForwardRequest(OURS, [DEST]), actor="U1")
    second: list[object] = []
    rules.hooks["delete"] = [lambda: second.extend(capture(lambda: service.remove_forward(OURS, actor="B")))]

    first = service.remove_forward(OURS, actor="A")

    assert first.changed
    (loser,) = second
    assert isinstance(loser, ConcurrentChangeError)
    assert loser.consistent
    assert "by someone else" in str(loser)
    assert "Nothing was changed" in str(loser)
    agree(rules, routing)
    assert OURS not in routing.to_sma
    assert rules.guards == {}


def test_a_change_that_waited_for_another_sees_its_result(
    service: ForwardingService, rules: MemoryRules, routing: MemoryRouting
) -> None:
    """B read version 1, then A's edit ran to the end before B got the guard."""
    service.set_forward(ForwardRequest(OURS, [DEST]), actor="U1")
    rules.hooks["claim_change"] = [
        lambda: service.set_forward(ForwardRequest(OURS, [DEST2]), actor="A"),
    ]
    with pytest.raises(ConcurrentChangeError) as caught:
        service.remove_forward(OURS, actor="B")
    assert caught.value.current is not None
    assert caught.value.current.destinations == (DEST2,)
    assert f"it is now: {OURS} → {DEST2}" in str(caught.value)
    assert rules.rules[OURS].destinations == (DEST2,)
    agree(rules, routing)


def test_expiry_overlapping_a_manual_remove_and_set_keeps_the_new_forward(
    service: ForwardingService, rules: MemoryRules, routing: MemoryRouting
) -> None:
    service.set_forward(ForwardRequest(OURS, [DEST], expires_in="1h"), actor="U1")
    expired = rules.rules[OURS]

    def someone_removes_and_sets_again() -> None:
        service.remove_forward(OURS, actor="A")
        service.set_forward(ForwardRequest(OURS, [DEST2]), actor="A")

    rules.hooks["claim_change"] = [someone_removes_and_sets_again]
    with pytest.raises(ConcurrentChangeError):
        service.remove_forward(OURS, actor="expiry", expected=expired)
    assert rules.rules[OURS].version == expired.version  # re-created: versions start again at 1
    assert rules.rules[OURS].destinations == (DEST2,)
    agree(rules, routing)


def test_a_change_in_progress_makes_the_other_give_up_after_waiting(
    service: ForwardingService, rules: MemoryRules, routing: MemoryRouting
) -> None:
    service.set_forward(ForwardRequest(OURS, [DEST]), actor="U1")
    rules.guards[OURS] = ("someone-else", NOW + 30)
    before = list(routing.calls)
    with pytest.raises(ConcurrentChangeError, match="being changed by someone else right now") as caught:
        service.set_forward(ForwardRequest(OURS, [DEST2]), actor="U2")
    assert caught.value.in_progress
    assert routing.calls == before
    assert rules.rules[OURS].destinations == (DEST,)


def test_a_crashed_holders_lease_runs_out(
    service: ForwardingService, rules: MemoryRules, routing: MemoryRouting
) -> None:
    service.set_forward(ForwardRequest(OURS, [DEST]), actor="U1")
    rules.guards[OURS] = ("crashed", NOW - 1)
    assert service.remove_forward(OURS, actor="U2").changed
    agree(rules, routing)
    assert rules.guards == {}


def test_the_guard_is_released_when_the_change_fails(
    service: ForwardingService, rules: MemoryRules, routing: MemoryRouting
) -> None:
    rules.fail_next.append(StorageError("throttled"))
    with pytest.raises(ChangeFailedError):
        service.set_forward(ForwardRequest(OURS, [DEST]), actor="U1")
    assert rules.guards == {}
    assert service.set_forward(ForwardRequest(OURS, [DEST]), actor="U1").changed


def test_a_guard_that_cannot_be_written_changes_nothing(
    service: ForwardingService, rules: MemoryRules, routing: MemoryRouting
) -> None:
    rules.fail_claim.append(StorageError("AccessDeniedException: arn:aws:iam::123456789012:role/bot"))
    with pytest.raises(ChangeFailedError, match="Nothing was changed") as caught:
        service.set_forward(ForwardRequest(OURS, [DEST]), actor="U1")
    assert "123456789012" not in str(caught.value)
    assert "123456789012" in caught.value.detail
    assert rules.rules == {}
    assert routing.calls == []


def test_concurrent_opposite_sets_cannot_create_a_loop(rules: MemoryRules, routing: MemoryRouting) -> None:
    """A→B and B→A both pass the loop check; B's set lands while A's is about to write.

    Without a phone inventory (with one, our own numbers are refused as destinations outright)."""
    service = ForwardingService(rules, routing, None, DestinationPolicy())
    second: list[object] = []
    rules.hooks["save"] = [
        lambda: second.extend(capture(lambda: service.set_forward(ForwardRequest(OTHER, [OURS]), actor="B")))
    ]
    with pytest.raises(RefusedError, match=re.escape(f"{OTHER} was forwarded by someone else just now")):
        service.set_forward(ForwardRequest(OURS, [OTHER]), actor="A")
    (won,) = second
    assert isinstance(won, ChangeResult)
    assert won.changed
    no_loops(rules)
    agree(rules, routing)
    assert rules.guards == {}


@pytest.mark.parametrize("actors", [2, 8])
def test_threads_removing_one_forward_exactly_one_wins(actors: int) -> None:
    rules, routing = MemoryRules(), MemoryRouting()
    service = ForwardingService(rules, SlowRouting(routing), StaticInventory(OURS), DestinationPolicy())
    service.set_forward(ForwardRequest(OURS, [DEST]), actor="U1")
    outcomes = race(actors, lambda i: service.remove_forward(OURS, actor=f"U{i}"))

    changed = [o for o in outcomes if isinstance(o, ChangeResult) and o.changed]
    assert len(changed) == 1
    assert all(
        isinstance(o, ConcurrentChangeError) or (isinstance(o, ChangeResult) and not o.changed)
        for o in outcomes
        if o is not changed[0]
    )
    agree(rules, routing)
    assert rules.guards == {}


def test_threads_editing_one_version_exactly_one_wins() -> None:
    rules, routing = MemoryRules(), MemoryRouting()
    service = ForwardingService(
        rules, SlowRouting(routing), StaticInventory(OURS, OTHER), DestinationPolicy()
    )
    service.set_forward(ForwardRequest(OURS, [DEST]), actor="U1")
    targets = [DEST2, "+14155550133", "+16175550144", "+12125550155"]
    outcomes = race(
        len(targets),
        lambda i: service.set_forward(ForwardRequest(OURS, [targets[i]], expected_version=1), actor=f"U{i}"),
    )
    winners = [o for o in outcomes if isinstance(o, ChangeResult)]
    assert len(winners) == 1
    assert all(isinstance(o, ConcurrentChangeError) for o in outcomes if o is not winners[0])
    assert winners[0].new is not None
    assert rules.rules[OURS].destinations == winners[0].new.destinations
    assert rules.rules[OURS].version == 2
    agree(rules, routing)


class SlowRouting:
    """Routing that takes a little time, so racing threads overlap inside a change."""

    def __init__(self, inner: MemoryRouting) -> None:
        self._inner = inner

    def route_to_forwarding(self, number: str) -> list[str]:
        time.sleep(0.01)
        return self._inner.route_to_forwarding(number)

    def home(self, number: str) -> NumberHome:
        return self._inner.home(number)

    def route_to_voice_connector(self, number: str, home: NumberHome | None = None) -> list[str]:
        time.sleep(0.01)
        return self._inner.route_to_voice_connector(number, home)


def race(actors: int, change: Callable[[int], ChangeResult]) -> list[object]:
    start = threading.Barrier(actors)
    outcomes: list[object] = [None] * actors

    def run(i: int) -> None:
        start.wait()
        try:
            outcomes[i] = change(i)
        except (ChangeFailedError, RefusedError) as error:
            outcomes[i] = error

    threads = [threading.Thread(target=run, args=(i,)) for i in range(actors)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return outcomes
