"""DynamoFlowProgress against a scripted DynamoDB client: the Dialing write and the contact
event's ENDED marker racing each other (a transaction cancelled by the other's write is sent
again; nothing of it was applied)."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from switchboard.adapters.connect_calls import SAVE_ATTEMPTS, DynamoFlowProgress, EndMark
from switchboard.domain import callflow
from switchboard.domain.rules import ForwardRule, GreetingMode
from switchboard.ports import StorageError

OURS, CALLER, DEST = "+12025550100", "+13035550123", "+12065550111"
T0 = 1_700_000_000_000


def cancelled(*codes: str) -> ClientError:
    return ClientError(
        {
            "Error": {"Code": "TransactionCanceledException", "Message": f"cancelled [{', '.join(codes)}]"},
            "CancellationReasons": [{"Code": code} for code in codes],
        },
        "TransactWriteItems",
    )


class Client:
    def __init__(self, *outcomes: ClientError | None) -> None:
        self.outcomes = list(outcomes)
        self.transactions: list[list[dict[str, Any]]] = []

    def transact_write_items(self, TransactItems: list[dict[str, Any]]) -> dict[str, Any]:  # noqa: N803
        self.transactions.append(TransactItems)
        outcome = self.outcomes.pop(0) if self.outcomes else None
        if outcome is not None:
            raise outcome
        return {}


class NoRecords:
    def record_call(self, transaction_id: str, record: Any) -> None:
        raise AssertionError("nothing to record")


def ringing_state() -> Any:
    rule = ForwardRule(number=OURS, destinations=(DEST,), greeting=GreetingMode.NONE)
    state = callflow.start(rule, OURS, CALLER, T0).state
    assert state is not None
    return state


def test_a_dialing_cancelled_by_the_markers_write_is_sent_again() -> None:
    client = Client(cancelled("None", "TransactionConflict", "None"), None)

    assert DynamoFlowProgress(client, "t", NoRecords()).save("c", ringing_state(), T0 + 50) is None  # type: ignore[arg-type]
    assert len(client.transactions) == 2
    assert client.transactions[0] == client.transactions[1]


def test_a_marker_cancelled_by_a_dialing_then_finds_the_live_entry() -> None:
    client = Client(
        cancelled("None", "None", "TransactionConflict"), cancelled("ConditionalCheckFailed", "None", "None")
    )

    assert DynamoFlowProgress(client, "t", NoRecords()).mark_ended("c", T0 + 8_000) is EndMark.LISTED  # type: ignore[arg-type]


def test_a_marker_that_keeps_conflicting_raises_so_the_event_is_retried() -> None:
    client = Client(*(cancelled("TransactionConflict", "None", "None") for _ in range(SAVE_ATTEMPTS)))

    with pytest.raises(StorageError):
        DynamoFlowProgress(client, "t", NoRecords()).mark_ended("c", T0 + 8_000)  # type: ignore[arg-type]
    assert len(client.transactions) == SAVE_ATTEMPTS
