"""Table operations per Amazon Connect call (issue 15 "Measured"): the flow's Lambda reads the table
once per call, whatever happens, and writes once per dial (the asynchronous Dialing turn, off the
caller's path) plus the record. ``make bench`` prints the
same counts (bench/connect.py); this keeps them from creeping up unnoticed."""

from __future__ import annotations

from collections.abc import Iterator
from types import ModuleType
from typing import Any

import pytest

from bench import connect as bench
from switchboard.adapters.dynamodb import DynamoForwardRepository
from switchboard.domain.rules import ForwardRule
from tests.functional.conftest import TABLE
from tests.helpers import connect_lambda_modules, load_event

pytestmark = pytest.mark.functional


@pytest.fixture
def modules(moto_endpoint: str, dynamodb: Any) -> Iterator[tuple[ModuleType, ModuleType]]:
    DynamoForwardRepository(dynamodb, TABLE).save(
        ForwardRule(number=bench.OURS, destinations=(bench.D1, bench.D2, bench.D3), ring_timeout=20),
        actor="test",
    )
    with connect_lambda_modules(bench.PROMPT_BASE) as modules:
        yield modules


def test_the_flow_reads_the_table_once_per_call_and_writes_once_per_dial_and_record(
    modules: tuple[ModuleType, ModuleType],
) -> None:
    rows = bench.lifecycle_calls(*modules)

    assert [row["scenario"] for row in rows] == list(bench.SCENARIOS)
    for row in rows:
        assert row["flags"] == [], row
        assert row["reads"] == 1, row  # the rule, at Start; the state rides in contact attributes
        if row["dials"]:  # Start on a forward: one request (not in service: the record as well)
            assert row["start_operations"] == ["GetItem"], row
        # One live-entry write per dial, all by the asynchronous Dialing turn; the synchronous turns
        # write the record only (unless the caller hung up: contact events record it then).
        recorded_by_flow = row["scenario"] != "caller hangs up while the 1st rings"
        assert row["dialing_writes"] == row["dials"], row
        assert row["sync_writes"] == int(recorded_by_flow), row
        assert row["writes"] == row["dials"] + int(recorded_by_flow), row
        # DISCONNECTED reaches the contact-event function for every contact: one read, and a
        # write only for a call the flow did not record (the record, or the ENDED marker).
        assert row["disconnected_reads"] == 1, row
        assert row["disconnected_writes"] == int(not recorded_by_flow), row
    hung_up = rows[3]
    assert hung_up["disconnected_writes"] == 1  # the record of the call the caller ended


def test_a_contact_our_flow_never_saw_costs_the_event_one_read_and_one_conditional_write(
    modules: tuple[ModuleType, ModuleType], dynamodb: Any
) -> None:
    """Other flows' contacts reach the DISCONNECTED rule too (the rule cannot tell them apart)."""
    events = modules[1]
    counter = bench.OperationCounter()
    client = events.app._calls._client
    client.meta.events.register("before-call.dynamodb", counter)
    try:
        events.handler(load_event("connect_contact_disconnected"), None)
    finally:
        client.meta.events.unregister("before-call.dynamodb", counter)

    assert counter.take() == ["Query", "TransactWriteItems"]
