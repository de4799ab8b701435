"""bot.transfers: finding the call, refusing bad targets, and following the outcome (no AWS, no Slack)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from bot.transfers import Result, TransferRefusedError, Transfers, parse_target
from switchboard.domain.events import LiveCall, LiveCallEntry
from switchboard.domain.transfer import TransferTarget
from switchboard.policy import DestinationPolicy
from switchboard.ports import CallControlError, InventoryError, StorageError
from switchboard.settings import Settings

OURS, OTHER, CALLER = "+12025550100", "+12025550101", "+13035550123"
FIRST, TARGET = "+12065550111", "+13125550199"
VC_ARN = "arn:aws:chime:us-east-1:123456789012:vc/abcdefghijklmnop"
POLICY = DestinationPolicy("US")


def entry(
    transaction_id: str = "tx-1", dialed: str = OURS, callee: str = FIRST, **fields: Any
) -> LiveCallEntry:
    return LiveCallEntry(transaction_id, LiveCall(dialed, CALLER, callee, 1_000, 500, **fields))


class Log:
    """Live entries and records as the table holds them; ``script`` changes them per poll."""

    def __init__(self, *entries: LiveCallEntry) -> None:
        self.live = {e.transaction_id: e for e in entries}
        self.records: dict[str, dict[str, Any]] = {}
        self.polls = 0
        self.script: list[Any] = []

    def live_calls(self, dialed: str | None = None, *, now_ms: int | None = None) -> list[LiveCallEntry]:
        return [e for e in self.live.values() if dialed in (None, e.call.dialed)]

    def live_call(self, transaction_id: str, *, now_ms: int | None = None) -> LiveCallEntry | None:
        self.polls += 1
        if self.script:
            self.script.pop(0)(self)
        return self.live.get(transaction_id)

    def call_record(self, transaction_id: str) -> dict[str, Any] | None:
        return self.records.get(transaction_id)


class Control:
    def __init__(self, error: CallControlError | None = None) -> None:
        self.requests: list[tuple[str, TransferTarget]] = []
        self.error = error

    def request_transfer(self, transaction_id: str, target: TransferTarget) -> None:
        if self.error:
            raise self.error
        self.requests.append((transaction_id, target))


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def transfers(log: Log, control: Control | None = None, wait: float = 10.0) -> tuple[Transfers, FakeTime]:
    fake = FakeTime()
    return (
        Transfers(
            log,
            control or Control(),
            POLICY,
            wait_seconds=wait,
            poll_seconds=1.0,
            clock=fake.clock,
            sleep=fake.sleep,
        ),
        fake,
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("(312) 555-0199", TransferTarget(TARGET)),
        ("sip:agent-7", TransferTarget("agent-7", VC_ARN)),
        ("SIP:agent-7@pbx.example.com", TransferTarget("agent-7", VC_ARN)),
    ],
)
def test_targets(text: str, expected: TransferTarget) -> None:
    assert parse_target(text, POLICY, Settings(voice_connector_arn=VC_ARN)) == expected


@pytest.mark.parametrize(
    ("text", "arn", "reason"),
    [
        ("911", VC_ARN, "emergency"),
        ("+19005550100", VC_ARN, "premium-rate"),
        ("sip:agent-7", "", "VOICE_CONNECTOR_ARN is not configured"),
        ("sip:", VC_ARN, "is not a SIP user"),
        ("sip:a b", VC_ARN, "is not a SIP user"),
    ],
)
def test_refused_targets(text: str, arn: str, reason: str) -> None:
    with pytest.raises(TransferRefusedError, match=reason):
        parse_target(text, POLICY, Settings(voice_connector_arn=arn))


def test_find_call_by_number_or_id() -> None:
    log = Log(entry("tx-1"), entry("tx-2", dialed=OTHER))
    finder, _ = transfers(log)
    assert finder.find_call("(202) 555-0100").transaction_id == "tx-1"
    assert finder.find_call("tx-2").transaction_id == "tx-2"
    log.live["tx-3"] = entry("tx-3")
    with pytest.raises(TransferRefusedError, match=r"2 calls are connected on \+12025550100.*`tx-1`.*`tx-3`"):
        finder.find_call(OURS)
    with pytest.raises(TransferRefusedError, match=r"No call is connected on \+12025550102"):
        finder.find_call("+12025550102")
    with pytest.raises(TransferRefusedError, match="neither one of our numbers nor a call id"):
        finder.find_call("x!")


def test_request_refuses_pointless_transfers_and_explains_chime_errors() -> None:
    control = Control()
    finder, _ = transfers(Log(), control)
    with pytest.raises(TransferRefusedError, match="already talking to"):
        finder.request(entry(), TransferTarget(FIRST))
    with pytest.raises(TransferRefusedError, match="the number it came in on"):
        finder.request(entry(), TransferTarget(OURS))
    assert control.requests == []
    finder.request(entry(), TransferTarget(TARGET))
    assert control.requests == [("tx-1", TransferTarget(TARGET))]

    gone, _ = transfers(Log(), Control(CallControlError("the call is no longer in progress", gone=True)))
    with pytest.raises(TransferRefusedError, match=r"^The call is no longer in progress\.$"):
        gone.request(entry(), TransferTarget(TARGET))


def test_outcome_connected_once_the_target_is_listed_as_callee() -> None:
    log = Log(entry())
    answered = entry(callee=TARGET, transferred=True)
    # Two polls while it rings (the entry still shows the first callee), then the answer.
    log.script = [lambda _: None, lambda _: None, lambda log: log.live.update({"tx-1": answered})]
    finder, fake = transfers(log)
    outcome = finder.await_outcome(entry(), TransferTarget(TARGET))
    assert outcome.result is Result.CONNECTED
    assert log.polls == 3
    assert fake.now == 2.0


@pytest.mark.parametrize(
    ("record", "result", "detail"),
    [
        (
            {"outcome": "transfer-failed", "attempts": [{"result": "CallNotAnswered"}]},
            Result.FAILED,
            "did not answer (CallNotAnswered)",
        ),
        ({"outcome": "abandoned"}, Result.FAILED, "The caller hung up during the transfer."),
        ({"outcome": "transferred"}, Result.CONNECTED, "answered; the call has since ended"),
        ({"outcome": "error"}, Result.FAILED, "ended before the transfer (error)"),
    ],
)
def test_outcome_from_the_record_once_the_call_ended(
    record: dict[str, Any], result: Result, detail: str
) -> None:
    log = Log()
    log.records["tx-1"] = record
    finder, _ = transfers(log)
    outcome = finder.await_outcome(entry(), TransferTarget(TARGET))
    assert outcome.result is result
    assert detail in outcome.detail


def test_outcome_pending_after_the_bounded_wait() -> None:
    log = Log(entry())  # the SMA never re-lists the call: still ringing, or it ignored the request
    finder, fake = transfers(log, wait=5.0)
    outcome = finder.await_outcome(entry(), TransferTarget(TARGET))
    assert outcome.result is Result.PENDING
    assert "has not answered after 5 s" in outcome.detail
    assert fake.now == 5.0
    assert log.polls == 6


def test_request_refuses_our_own_numbers_from_the_inventory() -> None:
    control = Control()
    other_of_ours = "+12025550102"
    finder = Transfers(Log(), control, POLICY, is_ours=lambda number: number == other_of_ours)

    for target in (TransferTarget(other_of_ours), TransferTarget(other_of_ours, VC_ARN)):
        with pytest.raises(TransferRefusedError, match="one of our own numbers"):
            finder.request(entry(), target)
    assert control.requests == []
    finder.request(entry(), TransferTarget(TARGET))
    assert control.requests == [("tx-1", TransferTarget(TARGET))]


# -- calls on Amazon Connect numbers: queued, never sent to the SIP media application --------------


class Queue:
    """Transfers queued on Connect calls; a second one for the same dial is refused, as the table does."""

    def __init__(self) -> None:
        from switchboard.domain.transfer import QueuedTransfer

        self.queued: dict[str, QueuedTransfer] = {}

    def queue(self, contact_id: str, transfer: Any, now_ms: int) -> None:
        held = self.queued.get(contact_id)
        if held is not None and held.for_since_ms == transfer.for_since_ms:
            raise CallControlError(f"a transfer of this call to {held.target} is queued already")
        self.queued[contact_id] = transfer


def connect_entry(ring_until_ms: int = 20_000) -> LiveCallEntry:
    return LiveCallEntry(
        "contact-1", LiveCall(OURS, CALLER, FIRST, 1_000, 500), backend="connect", ring_until_ms=ring_until_ms
    )


def connect_transfers(queue: Queue, control: Control | None, now_ms: int) -> Transfers:
    return Transfers(Log(connect_entry()), control, POLICY, deferred=queue, wall_ms=lambda: now_ms)


def test_a_connect_call_is_queued_for_its_dial_and_never_sent_to_the_sma() -> None:
    queue, control = Queue(), Control()
    connect_transfers(queue, control, now_ms=25_000).request(
        connect_entry(), TransferTarget(TARGET), actor="U1"
    )

    queued = queue.queued["contact-1"]
    assert (queued.target, queued.for_since_ms, queued.requested_by) == (TARGET, 1_000, "U1")
    assert control.requests == []


def test_a_second_transfer_of_the_same_connect_dial_is_refused_with_the_first_target() -> None:
    queue = Queue()
    finder = connect_transfers(queue, None, now_ms=25_000)  # no SIP media application at all
    finder.request(connect_entry(), TransferTarget(TARGET))
    with pytest.raises(
        TransferRefusedError, match=re.escape(f"A transfer of this call to {TARGET} is queued")
    ):
        finder.request(connect_entry(), TransferTarget("+13125550188"))


@pytest.mark.parametrize(
    ("target", "now_ms", "reason"),
    [
        (TransferTarget(TARGET), 19_999, "may still be ringing +12065550111"),
        (TransferTarget("agent-7", VC_ARN), 25_000, "cannot reach sip:agent-7"),
    ],
)
def test_connect_calls_refuse_ringing_calls_and_sip_targets(
    target: TransferTarget, now_ms: int, reason: str
) -> None:
    queue = Queue()
    with pytest.raises(TransferRefusedError, match=re.escape(reason)):
        connect_transfers(queue, Control(), now_ms).request(connect_entry(), target)
    assert queue.queued == {}


def test_an_sma_call_without_a_sip_media_application_is_refused_plainly() -> None:
    finder = Transfers(Log(entry()), None, POLICY, deferred=Queue())
    with pytest.raises(TransferRefusedError, match="SIP_MEDIA_APPLICATION_ID is not configured"):
        finder.request(entry(), TransferTarget(TARGET))


@pytest.mark.parametrize("failure", [StorageError("pool unreadable"), InventoryError("inventory unreadable")])
def test_request_refuses_when_our_own_numbers_cannot_be_read(failure: Exception) -> None:
    control = Control()

    def is_ours(number: str) -> bool:
        raise failure

    finder = Transfers(Log(), control, POLICY, is_ours=is_ours)
    with pytest.raises(TransferRefusedError, match="Could not check whether"):
        finder.request(entry(), TransferTarget(TARGET))
    assert control.requests == []
