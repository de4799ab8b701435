"""The ForwardingService the unit tests drive: in-memory rules and routing (tests/fakes.py), two of
our numbers in the inventory, a fixed clock, and no waiting between change-guard attempts."""

from __future__ import annotations

import pytest

from switchboard.policy import DestinationPolicy
from switchboard.service import ForwardingService
from tests.fakes import MemoryRouting, MemoryRules, StaticInventory

OURS = "+12025550100"
OTHER = "+12025550101"
DEST = "+12065550111"
DEST2 = "+13125550122"
NOW = 1_800_000_000.0


@pytest.fixture
def rules() -> MemoryRules:
    return MemoryRules()


@pytest.fixture
def routing() -> MemoryRouting:
    return MemoryRouting()


@pytest.fixture
def service(rules: MemoryRules, routing: MemoryRouting) -> ForwardingService:
    return ForwardingService(
        rules,
        routing,
        StaticInventory(OURS, OTHER),
        DestinationPolicy(),
        clock=lambda: NOW,
        sleep=lambda _seconds: None,
    )
