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

Known gap: a caller who hangs up in the moment between the dial and its ``Dialing`` write, with the
``DISCONNECTED`` event handled first, leaves no record (the event finds no state), and the late
write then lists the ended call until its ``ttl``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from switchboard import callstate
from switchboard.adapters.dynamo_codec import decode_item, encode_item, is_condition_failure
from switchboard.adapters.dynamodb import LIVE_CALL_HOURS, DynamoCallLog, live_call_item, live_call_key
from switchboard.domain.callflow import TRANSFER_TIMEOUT_SECONDS, CallState, Phase
from switchboard.domain.events import CONNECT_BACKEND, CallRecord, LiveCall
from switchboard.domain.transfer import QueuedTransfer
from switchboard.ports import CallControlError, StorageError

QUEUED_SK = "QUEUED"
TRANSFER_KIND = "transfer_request"


def transfer_key(contact_id: str) -> dict[str, Any]:
    return {"pk": {"S": f"TRANSFER#{contact_id}"}, "sk": {"S": QUEUED_SK}}


def record_key(contact_id: str) -> dict[str, Any]:
    return {"pk": {"S": f"CALL#{contact_id}"}, "sk": {"S": "RECORD"}}


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


class DynamoFlowProgress:
    """The live entry of each Connect call, written by the flow's asynchronous ``Dialing`` turn."""

    def __init__(self, client: Any, table_name: str) -> None:
        self._client = client
        self._table = table_name

    def save(self, contact_id: str, state: CallState, now_ms: int) -> None:
        """List the call as dialling at ``state`` from ``now_ms`` (the dial moment).

        Asynchronous invocations arrive late, twice (Connect retries) or out of order, so the put
        is conditional: nothing is written once the call has a record, nor over an entry of the
        same or a later dial (``since`` not smaller: the first invocation of a dial keeps its ring
        time, the closest to the dial)."""
        live, ring_until = dialing(state, now_ms)
        item = {
            **live_call_item(contact_id, live),
            "backend": CONNECT_BACKEND,
            "ring_until": ring_until,
            "state": callstate.dump(state),
            "ttl": now_ms // 1000 + LIVE_CALL_HOURS * 3600,
        }
        try:
            self._client.transact_write_items(
                TransactItems=[
                    {
                        "ConditionCheck": {
                            "TableName": self._table,
                            "Key": record_key(contact_id),
                            "ConditionExpression": "attribute_not_exists(pk)",
                        }
                    },
                    {
                        "Put": {
                            "TableName": self._table,
                            "Item": encode_item(item),
                            "ConditionExpression": "attribute_not_exists(pk) OR since < :since",
                            "ExpressionAttributeValues": {":since": {"N": str(live.since_ms)}},
                        }
                    },
                ]
            )
        except ClientError as error:
            if is_condition_failure(error):
                return  # recorded already, or this dial or a later one is listed: nothing to do
            raise StorageError(f"could not save the progress of contact {contact_id}: {error}") from error
        except BotoCoreError as error:
            raise StorageError(f"could not save the progress of contact {contact_id}: {error}") from error

    def load(self, contact_id: str) -> SavedProgress | None:
        """The state saved at the call's last listed dial and its ring time, or None (never dialled,
        ended, or unreadable)."""
        try:
            item = self._client.get_item(
                TableName=self._table, Key=live_call_key(contact_id), ConsistentRead=True
            ).get("Item")
        except (ClientError, BotoCoreError) as error:
            raise StorageError(f"could not read the progress of contact {contact_id}: {error}") from error
        if not item:
            return None
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
