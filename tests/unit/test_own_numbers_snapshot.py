"""One run of many changes asks the own-numbers sources once (``OwnNumbers.snapshot``)."""

from __future__ import annotations

from switchboard.adapters.own_numbers import OwnNumbers
from switchboard.domain.pool import DnisPair, PoolEntry
from switchboard.ports import OwnNumbersCheck

PAIR = DnisPair("+12025550180", "+18005550190")
MANAGED, LISTED, CHECKED, ELSEWHERE = "+12025550100", "+12025550111", "+12025550122", "+13125550199"


class CountingPool:
    def __init__(self) -> None:
        self.lists = 0

    def list_pairs(self) -> list[PoolEntry]:
        self.lists += 1
        return [PoolEntry(PAIR)]


def test_a_snapshot_lists_once_and_asks_each_number_once() -> None:
    pool, listings = CountingPool(), [0]
    checks: list[str] = []

    def listed() -> list[str]:
        listings[0] += 1
        return [LISTED]

    def check(number: str) -> bool:
        checks.append(number)
        return number == CHECKED

    own = OwnNumbers([MANAGED], pool=pool, listed=listed, checks=[check])
    assert isinstance(own, OwnNumbersCheck)
    snapshot = own.snapshot()
    answers = [snapshot(n) for n in (MANAGED, *PAIR, LISTED, CHECKED, ELSEWHERE) * 3]

    assert answers == [True, True, True, True, True, False] * 3
    assert (pool.lists, listings[0]) == (1, 1)
    assert sorted(checks) == [CHECKED, ELSEWHERE]
    # The check itself still reads every time: a single change must see a pair added a moment ago.
    assert own(PAIR.connect_number)
    assert own(ELSEWHERE) is False
    assert pool.lists == 3
