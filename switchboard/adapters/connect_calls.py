"""Calls in progress on Amazon Connect, as the contact-event handler needs them.

When the caller hangs up, the contact flow simply stops: no Lambda of the flow runs, so nobody
records the call. The ``DISCONNECTED`` contact event does reach
:mod:`connect_lambda.contact_events`, but it carries no state of ours. So the flow's Lambda leaves
the call's state here at every dial (one PutItem, overwritten by the next; idempotent under
Connect's retries), and the event handler finishes the call from it.

==================  ===========================  ==========  ====================================
item                pk                           sk          attributes
==================  ===========================  ==========  ====================================
call in progress    ``CALL#<contact id>``        ``FLOW``    ``kind=connect_flow``, ``state``
                                                             (switchboard.callstate), ``dialed``,
                                                             ``at`` (ms), ``ttl``
==================  ===========================  ==========  ====================================
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from switchboard import callstate
from switchboard.adapters.dynamo_codec import decode_item, encode_item
from switchboard.domain.callflow import CallState
from switchboard.ports import StorageError

FLOW_SK = "FLOW"
FLOW_KIND = "connect_flow"
# Longer than any forwarded call; only bounds how long a call whose end was lost lingers.
FLOW_HOURS = 12


def flow_key(contact_id: str) -> dict[str, Any]:
    return {"pk": {"S": f"CALL#{contact_id}"}, "sk": {"S": FLOW_SK}}


class DynamoFlowProgress:
    """The latest state of each Connect call, written by the flow's Lambda at every dial."""

    def __init__(self, client: Any, table_name: str) -> None:
        self._client = client
        self._table = table_name

    def save(self, contact_id: str, state: CallState, now_ms: int) -> None:
        item = {
            "pk": f"CALL#{contact_id}",
            "sk": FLOW_SK,
            "kind": FLOW_KIND,
            "dialed": state.dialed,
            "state": callstate.dump(state),
            "at": now_ms,
            "ttl": now_ms // 1000 + FLOW_HOURS * 3600,
        }
        try:
            self._client.put_item(TableName=self._table, Item=encode_item(item))
        except (ClientError, BotoCoreError) as error:
            raise StorageError(f"could not save the progress of contact {contact_id}: {error}") from error

    def load(self, contact_id: str) -> CallState | None:
        """The state saved at the call's last dial, or None (never dialled, or unreadable)."""
        try:
            item = self._client.get_item(
                TableName=self._table, Key=flow_key(contact_id), ConsistentRead=True
            ).get("Item")
        except (ClientError, BotoCoreError) as error:
            raise StorageError(f"could not read the progress of contact {contact_id}: {error}") from error
        if not item:
            return None
        return callstate.load(str(decode_item(item).get("state") or ""))
