"""Calls in progress on Amazon Connect: the live entry Slack lists, which also carries the call's
state for the contact-event handler.

A contact flow cannot tell when a destination answers (it resumes only when the destination hangs
up), so a Connect call is listed from the moment it dials. The live entry is written by the flow's
Lambda in its ``Dialing`` turn, which the flow invokes ASYNCHRONOUSLY right before each dial (after
any greeting): one conditional write per dial, off the caller's path (the synchronous turns, which
the caller waits for in silence, never write it). It holds ``ring_until``, the end of that dial's
ring timeout counted from the ``Dialing`` invocation's clock. Before it the destination may still
be ringing; after it, it must have answered (an unanswered dial would have come back as
``ConnectionTimeLimitExceeded`` and another turn of the flow). The entry is deleted with the call's
record, whoever writes it.

When the caller hangs up, the contact flow simply stops: no Lambda of the flow runs, so nobody
records the call. The ``DISCONNECTED`` contact event does reach
:mod:`connect_lambda.contact_events`, but it carries no state of ours, so the live entry carries
it (``state``) and the event handler finishes the call from it.

==================  ===========================  ==========  ====================================
item                pk                           sk          attributes
==================  ===========================  ==========  ====================================
live call           ``CALL#<contact id>``        ``LIVE``    the SIP media application's live
(Amazon Connect)                                             entry (``kind=live_call``,
                                                             ``gsi1pk=LIVE``, caller, callee,
                                                             since = the clock of the turn
                                                             that decided the dial: it names
                                                             the dial) plus
                                                             ``backend=connect``, ``ring_until``
                                                             (ms), ``state`` (switchboard.callstate)
ended marker        ``CALL#<contact id>``        ``ENDED``   ``kind=call_ended``, ``at`` (ms, the
                                                             caller's hang-up), ``ttl`` (a day):
                                                             the caller hung up before any dial
                                                             was listed
queued transfer     ``TRANSFER#<contact id>``    ``QUEUED``  ``kind=transfer_request``, ``target``
                                                             (E.164), ``for_since`` (the live
                                                             entry's ``since`` it was asked for),
                                                             ``requested_by``, ``at`` (ms), ``ttl``
==================  ===========================  ==========  ====================================

A queued transfer has its own partition key prefix so the Slack bot, which writes it, needs no
write access to ``CALL#`` items (records, events, live entries). When the callee hangs up
(``BridgeEnded``) the flow's Lambda carries it out if it was asked for that very dial.

The put is one transaction with a check that the call has no record yet, so a ``Dialing`` that
lands after the call was recorded (late, or retried) cannot list the ended call again; and the put
itself only replaces an entry of an earlier dial (``since`` smaller), so dial 1's late ``Dialing``
never hides dial 2, and a retried one keeps the first's ring time.

A caller may hang up before the dial's ``Dialing`` write lands (a cold or throttled ``Dialing``,
a hang-up in the first instant of ringing), and the ``DISCONNECTED`` event may be handled first:
it finds no live entry (it reads the call's partition, :meth:`DynamoFlowProgress.find`). It then
writes the marker ``CALL#<contact id>/ENDED`` (``at`` = the hang-up, ``ttl`` a day), in one
transaction with checks that the call has neither a live entry nor a record
(:meth:`DynamoFlowProgress.mark_ended`), so it cannot miss a ``Dialing`` landing at
the same moment (that check fails and the event finishes the call from the entry). ``Dialing``'s
transaction checks the marker as well: when it is there, the call ended before it was listed, and
the ``Dialing`` writes the call's record itself (:func:`caller_hung_up` at ``at``: abandoned
while ringing) through the same first-wins record write, instead of listing it. Whatever the
order of the ``Dialing`` writes, the event and their retries, each call ends with one record and
no live entry. A contact our flow never dialled (other flows in the instance) costs the event
one conditional write; a recorded call (not-in-service ones too) none.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from switchboard import callstate
from switchboard.adapters.dynamo_codec import decode_item, encode_item, is_condition_failure
from switchboard.adapters.dynamodb import (
    LIVE_CALL_HOURS,
    DynamoCallLog,
    check_failed,
    conflicted,
    live_call_item,
    live_call_key,
)
from switchboard.domain import callflow
from switchboard.domain.callflow import TRANSFER_TIMEOUT_SECONDS, CallState, Leg, Phase, Plan
from switchboard.domain.events import CONNECT_BACKEND, CallRecord, LiveCall
from switchboard.domain.transfer import QueuedTransfer
from switchboard.ports import CallControlError, CallLog, StorageError

QUEUED_SK = "QUEUED"
TRANSFER_KIND = "transfer_request"
ENDED_SK = "ENDED"
ENDED_KIND = "call_ended"
# Long enough for any late Dialing (Connect retries an asynchronous invocation for minutes, not days).
ENDED_TTL_SECONDS = 86_400
# A Dialing write and the contact event writing the marker at the same moment: one is cancelled.
SAVE_ATTEMPTS = 3


def transfer_key(contact_id: str) -> dict[str, Any]:
    return {"pk": {"S": f"TRANSFER#{contact_id}"}, "sk": {"S": QUEUED_SK}}


def record_key(contact_id: str) -> dict[str, Any]:
    return {"pk": {"S": f"CALL#{contact_id}"}, "sk": {"S": "RECORD"}}


def ended_key(contact_id: str) -> dict[str, Any]:
    return {"pk": {"S": f"CALL#{contact_id}"}, "sk": {"S": ENDED_SK}}


def connect_call_log(client: Any, table_name: str) -> DynamoCallLog:
    """The call log of Amazon Connect calls, whoever writes the record (the flow's Lambda, its
    ``Dialing`` turn, the contact-event handler): the first record wins, each deletes the live
    entry, and every record says ``timing=approximate`` because a contact flow never sees the
    moment a destination answers (talk time counts from the dial)."""
    return DynamoCallLog(
        client,
        table_name,
        record_once=True,
        record_fields={"backend": CONNECT_BACKEND, "timing": "approximate"},
        listed_from_dial=True,
    )


def caller_hung_up(state: CallState, now_ms: int, ring_until_ms: int = 0) -> Plan:
    """The record of a call whose caller hung up at ``now_ms`` while the flow was at ``state``,
    whose dial rang until ``ring_until_ms`` at most (0: unknown, counted from the state's clock).

    Whether a destination had answered cannot be seen: a dial still within its ring time is taken
    as abandoned, a later one as answered (an unanswered one would have come back as
    ``ConnectionTimeLimitExceeded`` and another turn of the flow)."""
    ringing = state.phase in (Phase.GREETING, Phase.RINGING, Phase.TRANSFERRING)
    timeout = TRANSFER_TIMEOUT_SECONDS if state.phase is Phase.TRANSFERRING else state.ring_timeout
    if not ring_until_ms:
        ring_until_ms = state.attempt_started_ms + timeout * 1000
    if ringing and now_ms >= ring_until_ms:
        answered = callflow.on_bridge_answered(state, state.attempt_started_ms)
        if answered.state is not None:
            state = answered.state
    return callflow.on_leg_ended(state, Leg.CALLER, False, now_ms)


class EndMark(enum.Enum):
    """What :meth:`DynamoFlowProgress.mark_ended` found."""

    MARKED = "marked"  # no live entry, no record: the marker is there (now or already)
    LISTED = "listed"  # a live entry appeared since it was read: finish the call from it
    RECORDED = "recorded"  # the call has its record: nothing to do


def dialing(state: CallState, dialled_ms: int) -> tuple[LiveCall, int]:
    """The live call a dial at ``state`` shows, and when its ring timeout ends (ms): counted from
    ``dialled_ms``, the moment of the dial (a greeting may play between the turn that decided the
    dial and the dial itself). ``since`` stays the state's ``attempt_started_ms``: it names the
    dial, for transfers queued from Slack (``for_since``)."""
    transferring = state.phase is Phase.TRANSFERRING
    callee = state.transfer_target if transferring else state.current_destination
    timeout = TRANSFER_TIMEOUT_SECONDS if transferring else state.ring_timeout
    live = LiveCall(
        dialed=state.dialed,
        caller=state.caller,
        callee=callee,
        since_ms=state.attempt_started_ms,
        started_ms=state.started_ms,
        transferred=transferring or state.transferred,
    )
    return live, max(dialled_ms, state.attempt_started_ms) + timeout * 1000


@dataclass(frozen=True, slots=True)
class SavedProgress:
    """What the live entry of a Connect call holds for the contact-event handler."""

    state: CallState
    ring_until_ms: int  # 0 when the entry has none


@dataclass(frozen=True, slots=True)
class CallItems:
    """What the table holds of a Connect call when the caller has hung up."""

    saved: SavedProgress | None  # the live entry's state and ring time, if it is listed
    recorded: bool


class DynamoFlowProgress:
    """The live entry of each Connect call, written by the flow's asynchronous ``Dialing`` turn,
    and the ``ENDED`` marker the contact-event handler leaves when the caller hung up first."""

    def __init__(self, client: Any, table_name: str, hang_ups: CallLog | None = None) -> None:
        """``hang_ups``: where a ``Dialing`` that finds the call ended records it
        (:func:`connect_call_log` by default)."""
        self._client = client
        self._table = table_name
        self._hang_ups = hang_ups if hang_ups is not None else connect_call_log(client, table_name)

    def save(self, contact_id: str, state: CallState, now_ms: int) -> CallRecord | None:
        """List the call as dialling at ``state`` from ``now_ms`` (the dial moment); the record
        written instead when the caller had hung up already (``ENDED``), else None.

        Asynchronous invocations arrive late, twice (Connect retries) or out of order, so the put
        is conditional: nothing is written once the call has a record, nor over an entry of the
        same or a later dial (``since`` not smaller: the first invocation of a dial keeps its ring
        time, the closest to the dial). Raises StorageError."""
        live, ring_until = dialing(state, now_ms)
        item = {
            **live_call_item(contact_id, live),
            "backend": CONNECT_BACKEND,
            "ring_until": ring_until,
            "state": callstate.dump(state),
            "ttl": now_ms // 1000 + LIVE_CALL_HOURS * 3600,
        }
        items = [
            self._absent(record_key(contact_id)),
            self._absent(ended_key(contact_id)),
            {
                "Put": {
                    "TableName": self._table,
                    "Item": encode_item(item),
                    "ConditionExpression": "attribute_not_exists(pk) OR since < :since",
                    "ExpressionAttributeValues": {":since": {"N": str(live.since_ms)}},
                }
            },
        ]
        error = self._transact(items, f"could not save the progress of contact {contact_id}")
        if error is None or check_failed(error, 0):
            return None  # listed, or recorded already
        if check_failed(error, 1):
            return self._record_ended(contact_id, state, ring_until)
        return None  # this dial or a later one is listed already

    def mark_ended(self, contact_id: str, at_ms: int) -> EndMark:
        """The caller hung up at ``at_ms`` and the call has no live entry: leave the marker for a
        ``Dialing`` still on its way, unless a live entry or a record appeared. Raises StorageError."""
        marker = {
            "pk": f"CALL#{contact_id}",
            "sk": ENDED_SK,
            "kind": ENDED_KIND,
            "contact_id": contact_id,
            "at": at_ms,
            "ttl": at_ms // 1000 + ENDED_TTL_SECONDS,
        }
        items = [
            self._absent(live_call_key(contact_id)),
            self._absent(record_key(contact_id)),
            {
                "Put": {
                    "TableName": self._table,
                    "Item": encode_item(marker),
                    "ConditionExpression": "attribute_not_exists(pk)",  # a duplicate event: the first stands
                }
            },
        ]
        error = self._transact(items, f"could not mark contact {contact_id} ended")
        if error is not None and check_failed(error, 0):
            return EndMark.LISTED
        if error is not None and check_failed(error, 1):
            return EndMark.RECORDED
        return EndMark.MARKED

    def _absent(self, key: dict[str, Any]) -> dict[str, Any]:
        return {
            "ConditionCheck": {
                "TableName": self._table,
                "Key": key,
                "ConditionExpression": "attribute_not_exists(pk)",
            }
        }

    def _transact(self, items: list[dict[str, Any]], failure: str) -> ClientError | None:
        """Write ``items`` at once: None when written, the error when a condition failed."""
        attempt = 1
        while True:
            try:
                self._client.transact_write_items(TransactItems=items)
            except ClientError as error:
                if conflicted(error) and attempt < SAVE_ATTEMPTS:
                    attempt += 1  # nothing was applied; the other writer's item decides next time
                    continue
                if is_condition_failure(error):
                    return error
                raise StorageError(f"{failure}: {error}") from error
            except BotoCoreError as error:
                raise StorageError(f"{failure}: {error}") from error
            return None

    def _record_ended(self, contact_id: str, state: CallState, ring_until_ms: int) -> CallRecord | None:
        """The caller hung up before this dial was listed: record the call from ``state``, as the
        contact-event handler would have, at the marker's time."""
        try:
            item = self._client.get_item(
                TableName=self._table, Key=ended_key(contact_id), ConsistentRead=True
            ).get("Item")
        except (ClientError, BotoCoreError) as error:
            raise StorageError(f"could not read when contact {contact_id} ended: {error}") from error
        try:
            ended_at = int(decode_item(item).get("at") or 0) if item else 0
        except (TypeError, ValueError):
            ended_at = 0
        if not ended_at:
            return None  # the marker expired meanwhile (a day later): nothing left to tell
        record = caller_hung_up(state, ended_at, ring_until_ms).record
        if record is not None:
            self._hang_ups.record_call(contact_id, record)
        return record

    def find(self, contact_id: str) -> CallItems:
        """The call's live entry and whether it has a record, in one request (a consistent Query of
        its partition: a handful of small items), so a call the flow recorded costs the contact
        event no write. Raises StorageError."""
        try:
            items = self._client.query(
                TableName=self._table,
                KeyConditionExpression="pk = :pk",
                ExpressionAttributeValues={":pk": {"S": f"CALL#{contact_id}"}},
                ConsistentRead=True,
            ).get("Items", [])
        except (ClientError, BotoCoreError) as error:
            raise StorageError(f"could not read the progress of contact {contact_id}: {error}") from error
        found = {str(item.get("sk", {}).get("S", "")): item for item in items}
        live = found.get(live_call_key(contact_id)["sk"]["S"])
        return CallItems(_saved(live) if live else None, "RECORD" in found)


def _saved(item: dict[str, Any]) -> SavedProgress | None:
    """The state and ring time a live entry (raw item) carries; None when unreadable."""
    found = decode_item(item)
    state = callstate.load(str(found.get("state") or ""))
    if state is None:
        return None
    try:
        ring_until = int(found.get("ring_until") or 0)
    except (TypeError, ValueError):
        ring_until = 0
    return SavedProgress(state, ring_until)


class DynamoTransferQueue:
    """Transfers queued from Slack on Amazon Connect calls (the bot queues, the flow's Lambda reads).

    The flow's Lambda never reads the queue just in case: when the callee hangs up it writes the
    call's record in one transaction with a check that no transfer is queued for that dial
    (:meth:`record_unless_queued`), and reads the queue only when the check fails. A call thus
    reads the table once (its rule) unless a transfer was asked for.
    """

    def __init__(self, client: Any, table_name: str, calls: DynamoCallLog | None = None) -> None:
        """``calls``: the flow's call log (the Lambda's; the bot only queues)."""
        self._client = client
        self._table = table_name
        self._calls = calls

    def record_unless_queued(
        self, contact_id: str, record: CallRecord, for_since_ms: int
    ) -> QueuedTransfer | None:
        """Write the call's ``record`` unless a transfer is queued for the dial that began at
        ``for_since_ms``; that transfer (nothing written), else None (recorded, or recorded already)."""
        if self._calls is None:
            raise StorageError("no call log to record the call in")
        check = {
            "Key": transfer_key(contact_id),
            "ConditionExpression": "attribute_not_exists(pk) OR for_since <> :since",
            "ExpressionAttributeValues": {":since": {"N": str(for_since_ms)}},
        }
        if self._calls.record_call_unless(contact_id, record, check):
            return None
        return self.pending(contact_id)

    def queue(self, contact_id: str, transfer: QueuedTransfer, now_ms: int) -> None:
        """Queue ``transfer``; :class:`CallControlError` when one is queued for the same dial already
        (two people pressing Transfer: the first one stands)."""
        item = {
            "pk": f"TRANSFER#{contact_id}",
            "sk": QUEUED_SK,
            "kind": TRANSFER_KIND,
            "contact_id": contact_id,
            "target": transfer.target,
            "for_since": transfer.for_since_ms,
            "requested_by": transfer.requested_by,
            "at": now_ms,
            "ttl": now_ms // 1000 + LIVE_CALL_HOURS * 3600,
        }
        try:
            self._client.put_item(
                TableName=self._table,
                Item=encode_item(item),
                ConditionExpression="attribute_not_exists(pk) OR for_since <> :since",
                ExpressionAttributeValues={":since": {"N": str(transfer.for_since_ms)}},
            )
        except ClientError as error:
            if not is_condition_failure(error):
                raise StorageError(f"could not queue a transfer of contact {contact_id}: {error}") from error
        except BotoCoreError as error:
            raise StorageError(f"could not queue a transfer of contact {contact_id}: {error}") from error
        else:
            return
        queued = self.pending(contact_id)
        where = f" to {queued.target}" if queued is not None else ""
        raise CallControlError(f"a transfer of this call{where} is queued already")

    def pending(self, contact_id: str) -> QueuedTransfer | None:
        """The transfer queued on the call, or None."""
        try:
            item = self._client.get_item(
                TableName=self._table, Key=transfer_key(contact_id), ConsistentRead=True
            ).get("Item")
        except (ClientError, BotoCoreError) as error:
            raise StorageError(f"could not read the transfer queued on {contact_id}: {error}") from error
        if not item:
            return None
        found = decode_item(item)
        try:
            return QueuedTransfer(
                target=str(found.get("target") or ""),
                for_since_ms=int(found.get("for_since") or 0),
                requested_by=str(found.get("requested_by") or ""),
            )
        except (TypeError, ValueError):
            return None
