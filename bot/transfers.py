"""Transfers from Slack: which live call, where to, and how it went.

The bot sends the same request as Amazon Connect's Lambda (UpdateSipMediaApplicationCall, see
:mod:`switchboard.adapters.call_control`); the SIP media application does the rest: it hangs up
whoever has the call, plays "please hold" and bridges the caller to the target. The API only says
the request was delivered, but the person who asked wants to know whether the caller got through,
so :meth:`Transfers.await_outcome` watches the call's live entry (re-listed with the target as
callee once the target answers) and, when the call ends, its record.

A call on an Amazon Connect number cannot be taken back: no API breaks into a bridged Connect
call. Its transfer is *deferred*: queued on the call (:class:`DeferredTransfers`), carried out by
the contact flow's Lambda when the callee hangs up ("please hold", then the target), so there is
no outcome to wait for here. Connect never says when a destination answers, so a Connect call whose
ring timeout has not run out may still be ringing and is refused; so are SIP targets (Connect has
no route to our phone system's SIP users).

No Slack here: the listeners decide how to show what this returns.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

from switchboard.domain.durations import describe_duration
from switchboard.domain.events import LiveCallEntry
from switchboard.domain.rules import is_e164
from switchboard.domain.transfer import QueuedTransfer, TransferRules, TransferTarget, TransferTargetError
from switchboard.policy import DestinationPolicy, DestinationRefusedError
from switchboard.ports import CallControl, CallControlError, InventoryError, StorageError
from switchboard.settings import Settings

# A little longer than the SMA rings a transfer target (30 s) plus "please hold".
DEFAULT_WAIT_SECONDS = 40.0
DEFAULT_POLL_SECONDS = 1.0
_NUMBER_TEXT = re.compile(r"^[+\d\s().-]+$")
_CALL_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{1,63}$")


class TransferRefusedError(ValueError):
    """The transfer cannot be made; the message says why, for the person who asked."""


class LiveCallLog(Protocol):
    def live_calls(self, dialed: str | None = None, *, now_ms: int | None = None) -> list[LiveCallEntry]: ...
    def live_call(self, transaction_id: str, *, now_ms: int | None = None) -> LiveCallEntry | None: ...
    def call_record(self, transaction_id: str) -> dict[str, Any] | None: ...


class DeferredTransfers(Protocol):
    """Transfers queued on Amazon Connect calls (``connect_calls.DynamoTransferQueue``)."""

    def queue(self, contact_id: str, transfer: QueuedTransfer, now_ms: int) -> None: ...


class Result(StrEnum):
    CONNECTED = "connected"  # the target answered
    FAILED = "failed"  # the call ended without reaching the target
    PENDING = "pending"  # no outcome within the wait (still ringing, or the SMA ignored it)


@dataclass(frozen=True, slots=True)
class TransferOutcome:
    result: Result
    detail: str


def transfer_rules(settings: Settings) -> TransferRules:
    """The shared transfer check configured for this deployment (see switchboard.domain.transfer)."""
    return TransferRules(
        voice_connector_arn=settings.voice_connector_arn,
        extension_pattern=settings.sip_extension_pattern,
        allowed_countries=settings.allowed_countries,
        own_numbers=frozenset(settings.managed_numbers),
    )


def _wall_ms() -> int:
    return int(time.time() * 1000)


def ringing_refusal(entry: LiveCallEntry, now_ms: int) -> str:
    """Why a call on Amazon Connect cannot be transferred yet ("" when it can): the contact flow
    never sees an answer, so until its ring timeout has run out the callee may still be ringing."""
    if not entry.may_be_ringing(now_ms):
        return ""
    wait = describe_duration(max(1, -(-(entry.ring_until_ms - now_ms) // 1000)))
    return (
        f"The call on {entry.call.dialed} may still be ringing {entry.call.callee}: Amazon Connect does "
        f"not report when a call is answered, so it can be transferred once its ring time is up, in {wait}."
    )


def parse_target(text: str, policy: DestinationPolicy, settings: Settings) -> TransferTarget:
    """``+13125550199`` (any common format), ``sip:agent-7``, ``sip:1001``; refused with the reason
    otherwise.

    The same check as the Connect Lambda's and the SIP media application's
    (:meth:`~switchboard.policy.DestinationPolicy.transfer_target`): a phone number, or a SIP user
    that is one, must pass the forwarding destination policy (the SMA pays for the outbound leg, and
    a transfer is as good a toll-fraud route as a forward); feature codes and dialling prefixes are
    refused; SIP users go to VOICE_CONNECTOR_ARN only.
    """
    try:
        return policy.transfer_target(text, transfer_rules(settings))
    except TransferTargetError as error:
        raise TransferRefusedError(str(error)) from error


class Transfers:
    """Find a live call, ask the SMA to transfer it, and follow what happens."""

    def __init__(
        self,
        calls: LiveCallLog,
        control: CallControl | None,
        policy: DestinationPolicy,
        *,
        deferred: DeferredTransfers | None = None,
        is_ours: Callable[[str], bool] | None = None,
        wait_seconds: float = DEFAULT_WAIT_SECONDS,
        poll_seconds: float = DEFAULT_POLL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        wall_ms: Callable[[], int] = _wall_ms,
    ) -> None:
        """``control`` delivers transfers to SIP media application calls (None: no SIP media
        application here), ``deferred`` queues them on Amazon Connect calls."""
        self._calls = calls
        self._control = control
        self._deferred = deferred
        self._wall_ms = wall_ms
        self._policy = policy
        self._is_ours = is_ours
        self._wait = wait_seconds
        self._poll = poll_seconds
        self._clock = clock
        self._sleep = sleep

    def find_call(self, reference: str) -> LiveCallEntry:
        """The live call ``reference`` names: one of our numbers (with exactly one live call) or a
        call id (the transaction id shown in Slack)."""
        reference = reference.strip()
        if _NUMBER_TEXT.match(reference):
            try:
                number = self._policy.our_number(reference)
            except DestinationRefusedError as error:
                raise TransferRefusedError(str(error)) from error
            live = self._calls.live_calls(number)
            if not live:
                raise TransferRefusedError(
                    f"No call is connected on {number} right now (only answered calls can be transferred)."
                )
            if len(live) > 1:
                ids = ", ".join(f"`{entry.transaction_id}`" for entry in live[:10])
                raise TransferRefusedError(
                    f"{len(live)} calls are connected on {number}; say which one by its call id: {ids}"
                )
            return live[0]
        if not _CALL_ID.match(reference):
            raise TransferRefusedError(f"`{reference}` is neither one of our numbers nor a call id")
        entry = self._calls.live_call(reference)
        if entry is None:
            raise TransferRefusedError(f"Call `{reference}` is not connected (it has ended, or never was).")
        return entry

    def request(self, entry: LiveCallEntry, target: TransferTarget, *, actor: str = "") -> None:
        """Deliver the transfer request to the call (queue it, for a call on Amazon Connect)."""
        if entry.call.callee == target.target:
            raise TransferRefusedError(f"The caller is already talking to {target}.")
        if target.target == entry.call.dialed:
            raise TransferRefusedError("A call cannot be transferred to the number it came in on.")
        try:
            ours = self._is_ours is not None and is_e164(target.target) and self._is_ours(target.target)
        except CallControlError as error:
            message = str(error)
            raise TransferRefusedError(message[:1].upper() + message[1:] + ".") from error
        except (StorageError, InventoryError) as error:  # the pool or the inventory could not be read
            raise TransferRefusedError(
                f"Could not check whether {target} is one of our own numbers; try the transfer again."
            ) from error
        if ours:
            raise TransferRefusedError(f"{target} is one of our own numbers; transfer to a person instead.")
        try:
            if entry.on_connect:
                self._queue(entry, target, actor)
                return
            if self._control is None:
                raise TransferRefusedError(
                    "Transfers of calls on the SIP media application are not set up here "
                    "(SIP_MEDIA_APPLICATION_ID is not configured)."
                )
            self._control.request_transfer(entry.transaction_id, target)
        except CallControlError as error:
            message = str(error)
            raise TransferRefusedError(message[:1].upper() + message[1:] + ".") from error

    def _queue(self, entry: LiveCallEntry, target: TransferTarget, actor: str) -> None:
        if target.is_sip:
            raise TransferRefusedError(
                f"The call on {entry.call.dialed} is on Amazon Connect, which cannot reach {target} "
                "on our phone system: transfer it to a phone number instead."
            )
        now = self._wall_ms()
        refusal = ringing_refusal(entry, now)
        if refusal:
            raise TransferRefusedError(refusal)
        if self._deferred is None:
            raise TransferRefusedError("Transfers of calls on Amazon Connect are not set up here.")
        self._deferred.queue(
            entry.transaction_id, QueuedTransfer(target.target, entry.call.since_ms, actor), now
        )

    def await_outcome(self, entry: LiveCallEntry, target: TransferTarget) -> TransferOutcome:
        """Wait (bounded) until the target answers or the call ends."""
        deadline = self._clock() + self._wait
        while True:
            live = self._calls.live_call(entry.transaction_id)
            if live is not None and live.call.transferred and live.call.callee == target.target:
                return TransferOutcome(Result.CONNECTED, f"{target} answered; the caller is connected.")
            if live is None:
                record = self._calls.call_record(entry.transaction_id)
                if record is not None:
                    return _ended(record, target)
            if self._clock() >= deadline:
                return TransferOutcome(
                    Result.PENDING,
                    f"{target} has not answered after {self._wait:.0f} s. `/forward status "
                    f"{entry.call.dialed}` shows how it went; a failed transfer is alerted in the channel.",
                )
            self._sleep(self._poll)


def _ended(record: dict[str, Any], target: TransferTarget) -> TransferOutcome:
    outcome = str(record.get("outcome", ""))
    if outcome == "transferred":
        return TransferOutcome(Result.CONNECTED, f"{target} answered; the call has since ended.")
    if outcome == "transfer-failed":
        attempts = record.get("attempts") or []
        why = f" ({attempts[-1].get('result')})" if attempts and isinstance(attempts[-1], dict) else ""
        return TransferOutcome(
            Result.FAILED,
            f"{target} did not answer{why}; the caller heard the failure message and the call ended.",
        )
    if outcome == "abandoned":
        return TransferOutcome(Result.FAILED, "The caller hung up during the transfer.")
    return TransferOutcome(Result.FAILED, f"The call ended before the transfer ({outcome or 'unknown'}).")
