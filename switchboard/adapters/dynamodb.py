"""The shared single table: forward rules, their history, call records and call events.

Key design (generic ``pk``/``sk`` so every feature shares one table and one stream):

=================  ==========================  ==============================  =====================
item               pk                          sk                              gsi1pk / gsi1sk
=================  ==========================  ==============================  =====================
forward rule       ``NUMBER#<our number>``     ``RULE``                        ``RULES`` / number
                   (``home_routing``: ``{product_type, voice_connectors}`` before the first forward)
change guard       ``NUMBER#<our number>``     ``CHANGE``
rule history       ``NUMBER#<our number>``     ``HISTORY#<iso time>#<version>``
call record        ``CALL#<transaction id>``   ``RECORD``                      ``CALLS#<dialed>`` / time
call event         ``CALL#<transaction id>``   ``EVENT#<type>``
live call          ``CALL#<transaction id>``   ``LIVE``                        ``LIVE`` / number#tx
=================  ==========================  ==============================  =====================

Every item carries ``kind`` so the stream's event-source filter (and the notifier itself) can pick
out ``call_event`` items. Call records and events expire through the table's ``ttl`` attribute.

A *live call* item exists while a call is bridged (written when the bridge is answered, deleted in
the same request as the call's record) so Slack can list calls and transfer them: Chime SDK Voice
has no API to list a SIP media application's calls. If the end of a call is never recorded (the
table failed at that moment) the item expires: readers ignore it after ``LIVE_CALL_HOURS`` and TTL
deletes it.

Rule changes are one ``TransactWriteItems``: the rule write is conditional on the version the
writer read, and the history item goes in the same transaction, so the audit trail can never
disagree with the rule and two racing edits cannot both win. A set also carries a
``ConditionCheck`` that each destination has no rule, so the loop check it made holds at the write.

The *change guard* is held by one change of a number at a time (set, edit, remove, expiry) from
before its first read of the rule until its routing is done: a conditional put
(``attribute_not_exists(pk) OR lease_until < :now``) with an owner token, deleted by its owner
afterwards; a crashed holder's lease runs out (``ttl`` cleans it up later). See
docs/architecture.md.
"""

from __future__ import annotations

import functools
import hashlib
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from switchboard.adapters.dynamo_codec import (
    decode_item,
    encode,
    encode_item,
    is_condition_failure,
    query_all,
)
from switchboard.domain.events import Attempt, CallEvent, CallRecord, LiveCall, LiveCallEntry, Voicemail
from switchboard.domain.rules import DEFAULT_VOICEMAIL_SECONDS, ForwardRule, NumberHome
from switchboard.ports import ConflictError, StorageError

if TYPE_CHECKING:
    from switchboard.domain.hours import BusinessHours
    from switchboard.domain.people import DestinationSource

RULE_SK = "RULE"
CHANGE_SK = "CHANGE"
RULE_HISTORY_KIND = "rule_history"
# ForwardingService records the rollback of a failed change under "<actor> (undo)".
UNDO_SUFFIX = " (undo)"
RULES_INDEX = "gsi1"
CALL_RECORD_DAYS = 90
CALL_EVENT_DAYS = 30
LIVE_CALL_SK = "LIVE"
LIVE_CALLS = "LIVE"
# Longer than any call we expect to stay bridged; only bounds how long a lost hang-up lingers.
LIVE_CALL_HOURS = 12
# Rule history (the audit trail) is kept this long unless HISTORY_RETENTION_DAYS says otherwise.
DEFAULT_HISTORY_RETENTION_DAYS = 400


class RuleNotFoundError(LookupError):
    """There is no forward on that number."""


def _alive(item: dict[str, Any], now_s: float) -> bool:
    """False for an item whose ``ttl`` has passed: DynamoDB deletes it days later, not at once."""
    ttl = item.get("ttl")
    return ttl is None or int(ttl) > now_s


def rule_key(number: str) -> dict[str, Any]:
    return {"pk": {"S": f"NUMBER#{number}"}, "sk": {"S": RULE_SK}}


def change_key(number: str) -> dict[str, Any]:
    return {"pk": {"S": f"NUMBER#{number}"}, "sk": {"S": CHANGE_SK}}


def rule_to_item(rule: ForwardRule) -> dict[str, Any]:
    return {
        "pk": f"NUMBER#{rule.number}",
        "sk": RULE_SK,
        "kind": "forward_rule",
        "gsi1pk": "RULES",
        "gsi1sk": rule.number,
        "number": rule.number,
        "destinations": list(rule.destinations),
        "greeting": rule.greeting.value,
        "failure": rule.failure.value,
        "caller_id": rule.caller_id.value,
        "ring_timeout": rule.ring_timeout,
        "voicemail_max_seconds": rule.voicemail_max_seconds,
        "expires_at": rule.expires_at,
        "created_by": rule.created_by,
        "updated_by": rule.updated_by,
        "updated_at": rule.updated_at,
        "version": rule.version,
        "home_routing": _home_to_item(rule.home),
        "hours": _hours_to_item(rule.hours),
        "else_destinations": list(rule.else_destinations) if rule.hours is not None else None,
        "sources": _sources_to_item(rule.sources),
        "else_sources": _sources_to_item(rule.else_sources),
    }


def _hours_to_item(hours: BusinessHours | None) -> dict[str, Any] | None:
    """Business hours as their canonical text (``mon-fri 09:00-17:30``) and IANA zone: readable
    in the console, and parsed back by the same code that reads people's input."""
    return None if hours is None else {"window": hours.spec, "timezone": hours.timezone}


def _hours_from_item(value: Any) -> BusinessHours | None:
    if not isinstance(value, dict) or not value.get("window"):
        return None
    return _stored_hours(str(value["window"]), str(value.get("timezone") or ""))


@functools.lru_cache(maxsize=256)
def _stored_hours(window: str, timezone: str) -> BusinessHours:
    """Parsed once per warm container: the SMA reads the rule on every call and need not re-parse
    its hours each time (BusinessHours is immutable, so sharing one is safe)."""
    # Imported for the rules that have hours: the SMA's cold start need not load zoneinfo for the rest.
    from switchboard.domain.hours import parse_hours  # noqa: PLC0415

    return parse_hours(window, timezone)


def _sources_to_item(sources: tuple[DestinationSource, ...]) -> list[dict[str, Any]] | None:
    """``[{kind, id, label, people: [{user, name, number}]}]``; absent for numbers-only forwards."""
    if not sources:
        return None
    return [
        {
            "kind": source.kind.value,
            "id": source.id,
            "label": source.label,
            "people": [{"user": p.user_id, "name": p.name, "number": p.number} for p in source.people],
        }
        for source in sources
    ]


def _sources_from_item(value: Any) -> tuple[DestinationSource, ...]:
    if not isinstance(value, list) or not value:
        return ()
    # Imported for the forwards that name people (the call path never needs them otherwise).
    from switchboard.domain.people import DestinationSource, Person, SourceKind  # noqa: PLC0415

    return tuple(
        DestinationSource(
            kind=SourceKind(str(entry["kind"])),
            id=str(entry["id"]),
            label=str(entry.get("label") or ""),
            people=tuple(
                Person(str(p["user"]), str(p.get("name") or ""), str(p.get("number") or ""))
                for p in entry.get("people") or ()
            ),
        )
        for entry in value
        if isinstance(entry, dict)
    )


def _home_to_item(home: NumberHome | None) -> dict[str, Any] | None:
    if home is None:
        return None
    item: dict[str, Any] = {
        "product_type": home.product_type,
        "voice_connectors": list(home.voice_connectors),
    }
    if home.contact_flow:
        item["contact_flow"] = home.contact_flow
    return item


def _home_from_item(value: Any) -> NumberHome | None:
    if not isinstance(value, dict) or not value.get("product_type"):
        return None
    return NumberHome(
        product_type=str(value["product_type"]),
        voice_connectors=tuple(str(v) for v in value.get("voice_connectors") or ()),
        contact_flow=str(value.get("contact_flow") or ""),
    )


def rule_from_item(item: dict[str, Any]) -> ForwardRule:
    return ForwardRule(
        number=item["number"],
        destinations=tuple(item["destinations"]),
        greeting=item.get("greeting", "loop"),
        failure=item.get("failure", "prompt"),
        caller_id=item.get("caller_id", "dialed"),
        ring_timeout=int(item.get("ring_timeout", 30)),
        voicemail_max_seconds=int(item.get("voicemail_max_seconds", DEFAULT_VOICEMAIL_SECONDS)),
        expires_at=int(item["expires_at"]) if item.get("expires_at") is not None else None,
        created_by=item.get("created_by", ""),
        updated_by=item.get("updated_by", ""),
        updated_at=item.get("updated_at", ""),
        version=int(item.get("version", 0)),
        home=_home_from_item(item.get("home_routing")),
        hours=_hours_from_item(item.get("hours")),
        else_destinations=tuple(item.get("else_destinations") or ()),
        sources=_sources_from_item(item.get("sources")),
        else_sources=_sources_from_item(item.get("else_sources")),
    )


def _rule_snapshot(rule: ForwardRule | None) -> dict[str, Any] | None:
    if rule is None:
        return None
    snapshot = rule_to_item(rule)
    for key in ("pk", "sk", "kind", "gsi1pk", "gsi1sk", "ttl"):
        snapshot.pop(key, None)
    return {k: v for k, v in snapshot.items() if v is not None}


@dataclass(frozen=True, slots=True)
class RuleChange:
    """One rule-history item: who changed which number's forward, when, from what to what.

    ``old`` is the rule before the change, ``new`` the rule after it (``None`` for a removal).
    """

    number: str
    action: str  # "set" | "remove"
    actor: str
    at: str
    old: ForwardRule | None
    new: ForwardRule | None

    @property
    def is_undo(self) -> bool:
        """Written by the rollback of a change whose routing step failed."""
        return self.actor.endswith(UNDO_SUFFIX)

    @property
    def by(self) -> str:
        """Who made the change (for an undo: who made the change that was undone)."""
        return self.actor.removesuffix(UNDO_SUFFIX)


def rule_change_from_item(item: dict[str, Any]) -> RuleChange:
    """The :class:`RuleChange` in a decoded history item; ``ValueError`` if it is not one."""
    try:
        action = str(item["action"])
        if action not in ("set", "remove"):
            raise ValueError(f"unknown history action {action!r}")
        old, new = item.get("old"), item.get("new")
        return RuleChange(
            number=str(item["number"]),
            action=action,
            actor=str(item.get("actor") or "someone"),
            at=str(item.get("at") or ""),
            old=rule_from_item(old) if isinstance(old, dict) else None,
            new=rule_from_item(new) if isinstance(new, dict) else None,
        )
    except (KeyError, TypeError, ValueError) as error:
        raise ValueError(f"not a rule-history item: {error!r}") from error


def _now_iso() -> str:
    # time.time(), not datetime.now(): the one wall clock a scripted story can move (StoryClock).
    return _iso_ms(int(time.time() * 1000))


def _iso_ms(epoch_ms: int) -> str:
    return (
        datetime.fromtimestamp(epoch_ms / 1000, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    )


# Attributes of a stored rule that only the bot and the CLI read (bookkeeping, where the number
# lives, the people behind the destinations). A call reads every other attribute rule_to_item
# writes, so one added later reaches the call path unless it is named here on purpose.
RULE_BOOKKEEPING = frozenset(
    {
        "pk",
        "sk",
        "kind",
        "gsi1pk",
        "gsi1sk",
        "created_by",
        "updated_by",
        "updated_at",
        "version",
        "home_routing",
        "sources",
        "else_sources",
    }
)


class DynamoCallPathRules:
    """Forward rules as a call reads them: one consistent ``GetItem`` projected to the attributes a
    call uses (all but :data:`RULE_BOOKKEEPING`), so the SIP media application parses half the item
    on every new call. Its rules carry no version, authorship, home routing or people: never write
    them back (the bot and the CLI use :class:`DynamoForwardRepository`)."""

    def __init__(self, client: Any, table: str) -> None:
        self._client = client
        self._table = table
        sample = ForwardRule(number="+12025550100", destinations=("+12025550101",))
        wanted = [name for name in rule_to_item(sample) if name not in RULE_BOOKKEEPING]
        self._names = {f"#a{index}": name for index, name in enumerate(wanted)}
        self._projection = ", ".join(self._names)

    def get(self, number: str) -> ForwardRule | None:
        try:
            response = self._client.get_item(
                TableName=self._table,
                Key=rule_key(number),
                ConsistentRead=True,
                ProjectionExpression=self._projection,
                ExpressionAttributeNames=self._names,
            )
        except (ClientError, BotoCoreError) as error:
            raise StorageError(f"could not read the forward for {number}: {error}") from error
        item = response.get("Item")
        return rule_from_item(decode_item(item)) if item else None


class DynamoForwardRepository:
    """:class:`~switchboard.ports.ForwardRepository` on the shared table (low-level client).

    History items expire ``history_retention_days`` after they are written. Rules carry no
    ``ttl``: only the expiry job removes an expired rule, after routing its number back home (a
    TTL deletion would leave the number on the SIP media application with no rule, and lose its
    ``home_routing``). Every reader treats a rule past ``expires_at`` as inactive meanwhile.
    """

    def __init__(
        self,
        client: Any,
        table_name: str,
        *,
        history_retention_days: int = DEFAULT_HISTORY_RETENTION_DAYS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._client = client
        self._table = table_name
        self._history_retention_days = history_retention_days
        self._clock = clock
        # The last rule item read and its rule (see :meth:`_rule_of`).
        self._last_read: tuple[dict[str, Any], ForwardRule] | None = None

    @property
    def history_retention_days(self) -> int:
        return self._history_retention_days

    def get(self, number: str) -> ForwardRule | None:
        try:
            response = self._client.get_item(TableName=self._table, Key=rule_key(number), ConsistentRead=True)
        except (ClientError, BotoCoreError) as error:
            raise StorageError(f"could not read the forward for {number}: {error}") from error
        item = response.get("Item")
        return self._rule_of(item) if item else None

    def _rule_of(self, item: dict[str, Any]) -> ForwardRule:
        """The rule an item read holds. A warm call-path container reads the same number's rule
        call after call: comparing the raw item with the last one costs a fraction of decoding and
        validating it again, and the rule is immutable, so an unchanged item gives the same rule."""
        last = self._last_read
        if last is not None and last[0] == item:
            return last[1]
        rule = rule_from_item(decode_item(item))
        self._last_read = (item, rule)
        return rule

    def list_rules(self) -> list[ForwardRule]:
        rules: list[ForwardRule] = []
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": RULES_INDEX,
            "KeyConditionExpression": "gsi1pk = :rules",
            "ExpressionAttributeValues": {":rules": {"S": "RULES"}},
        }
        try:
            rules.extend(rule_from_item(item) for item in query_all(self._client, kwargs))
        except (ClientError, BotoCoreError) as error:
            raise StorageError(f"could not list forwards: {error}") from error
        return sorted(rules, key=lambda r: r.number)

    def save(
        self,
        rule: ForwardRule,
        *,
        actor: str,
        previous: ForwardRule | None = None,
        unforwarded: Sequence[str] = (),
    ) -> ForwardRule:
        # The history item records the replaced rule: the caller usually has just read it (the
        # write is conditional on its version, so a stale one can never be recorded as replaced).
        if not rule.version:
            previous = None
        elif previous is None or previous.version != rule.version or previous.number != rule.number:
            previous = self.get(rule.number)
        now = _now_iso()
        stored = rule.with_changes(
            version=rule.version + 1,
            updated_at=now,
            updated_by=actor,
            created_by=rule.created_by or actor,
        )
        put: dict[str, Any] = {"TableName": self._table, "Item": encode_item(rule_to_item(stored))}
        if rule.version == 0:
            put["ConditionExpression"] = "attribute_not_exists(pk)"
        else:
            put["ConditionExpression"] = "version = :expected"
            put["ExpressionAttributeValues"] = {":expected": encode(rule.version)}
        history = self._history_item(
            rule.number, action="set", actor=actor, at=now, version=stored.version, old=previous, new=stored
        )
        checks = [
            {
                "ConditionCheck": {
                    "TableName": self._table,
                    "Key": rule_key(number),
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            }
            for number in dict.fromkeys(unforwarded)
            if number != rule.number
        ]
        self._transact([{"Put": put}, {"Put": history}, *checks], rule.number)
        return stored

    def claim_change(self, number: str, *, owner: str, now: float, lease_seconds: float) -> bool:
        until = int(now + lease_seconds)
        item = {
            "pk": f"NUMBER#{number}",
            "sk": CHANGE_SK,
            "kind": "change_guard",
            "number": number,
            "owner": owner,
            "lease_until": until,
            "ttl": until + 3600,
        }
        try:
            self._client.put_item(
                TableName=self._table,
                Item=encode_item(item),
                ConditionExpression="attribute_not_exists(pk) OR lease_until < :now",
                ExpressionAttributeValues={":now": encode(int(now))},
            )
        except ClientError as error:
            if is_condition_failure(error):
                return False
            raise StorageError(f"could not claim the change guard of {number}: {error}") from error
        except BotoCoreError as error:
            raise StorageError(f"could not claim the change guard of {number}: {error}") from error
        return True

    def release_change(self, number: str, *, owner: str) -> None:
        try:
            self._client.delete_item(
                TableName=self._table,
                Key=change_key(number),
                ConditionExpression="#owner = :owner",
                ExpressionAttributeNames={"#owner": "owner"},
                ExpressionAttributeValues={":owner": {"S": owner}},
            )
        except ClientError as error:
            if is_condition_failure(error):
                return  # already gone, or taken over after our lease ran out: not ours to delete
            raise StorageError(f"could not release the change guard of {number}: {error}") from error
        except BotoCoreError as error:
            raise StorageError(f"could not release the change guard of {number}: {error}") from error

    def delete(
        self, number: str, *, expected_version: int, actor: str, previous: ForwardRule | None = None
    ) -> ForwardRule:
        if previous is None or previous.version != expected_version or previous.number != number:
            previous = self.get(number)
        if previous is None:
            raise RuleNotFoundError(f"there is no forward on {number}")
        if previous.version != expected_version:
            raise ConflictError(f"the forward on {number} changed since it was read; look again and retry")
        now = _now_iso()
        delete = {
            "TableName": self._table,
            "Key": rule_key(number),
            "ConditionExpression": "version = :expected",
            "ExpressionAttributeValues": {":expected": encode(expected_version)},
        }
        history = self._history_item(
            number, action="remove", actor=actor, at=now, version=expected_version + 1, old=previous, new=None
        )
        self._transact([{"Delete": delete}, {"Put": history}], number)
        return previous

    def history(self, number: str, limit: int = 20) -> list[dict[str, Any]]:
        """Most recent changes first: ``{"action", "actor", "at", "old", "new"}``."""
        try:
            page = self._client.query(
                TableName=self._table,
                KeyConditionExpression="pk = :pk AND begins_with(sk, :history)",
                ExpressionAttributeValues={":pk": {"S": f"NUMBER#{number}"}, ":history": {"S": "HISTORY#"}},
                ScanIndexForward=False,
                Limit=limit,
            )
        except (ClientError, BotoCoreError) as error:
            raise StorageError(f"could not read the history of {number}: {error}") from error
        now = self._clock()
        return [entry for entry in map(decode_item, page.get("Items", [])) if _alive(entry, now)]

    def _history_item(
        self,
        number: str,
        *,
        action: str,
        actor: str,
        at: str,
        version: int,
        old: ForwardRule | None,
        new: ForwardRule | None,
    ) -> dict[str, Any]:
        return {
            "TableName": self._table,
            "Item": encode_item(
                {
                    "pk": f"NUMBER#{number}",
                    "sk": f"HISTORY#{at}#{version:08d}",
                    "kind": RULE_HISTORY_KIND,
                    "number": number,
                    "action": action,
                    "actor": actor,
                    "at": at,
                    "old": _rule_snapshot(old),
                    "new": _rule_snapshot(new),
                    "ttl": int(self._clock()) + self._history_retention_days * 86400,
                }
            ),
        }

    def _transact(self, items: list[dict[str, Any]], number: str) -> None:
        try:
            self._client.transact_write_items(TransactItems=items)
        except ClientError as error:
            if is_condition_failure(error):
                raise ConflictError(
                    f"the forward on {number} changed since it was read; look again and retry"
                ) from error
            raise StorageError(f"could not change the forward on {number}: {error}") from error
        except BotoCoreError as error:
            raise StorageError(f"could not change the forward on {number}: {error}") from error


def live_call_key(transaction_id: str) -> dict[str, Any]:
    return {"pk": {"S": f"CALL#{transaction_id}"}, "sk": {"S": LIVE_CALL_SK}}


def live_call_item(transaction_id: str, live: LiveCall) -> dict[str, Any]:
    """The live entry of a call (decoded form), listed under ``gsi1pk=LIVE`` until it ends."""
    return {
        "pk": f"CALL#{transaction_id}",
        "sk": LIVE_CALL_SK,
        "kind": "live_call",
        "gsi1pk": LIVE_CALLS,
        "gsi1sk": f"{live.dialed}#{transaction_id}",
        "transaction_id": transaction_id,
        "dialed": live.dialed,
        "caller": live.caller,
        "callee": live.callee,
        "since": live.since_ms,
        "started": live.started_ms,
        "via_connect": live.via_connect,
        "transferred": live.transferred,
        "ttl": live.since_ms // 1000 + LIVE_CALL_HOURS * 3600,
    }


def _live_entry(item: dict[str, Any]) -> LiveCallEntry:
    return LiveCallEntry(
        backend=str(item.get("backend") or ""),
        ring_until_ms=int(item.get("ring_until") or 0),
        transaction_id=str(item["transaction_id"]),
        call=LiveCall(
            dialed=str(item["dialed"]),
            caller=str(item.get("caller", "")),
            callee=str(item.get("callee", "")),
            since_ms=int(item.get("since", 0)),
            started_ms=int(item.get("started", 0)),
            via_connect=bool(item.get("via_connect", False)),
            transferred=bool(item.get("transferred", False)),
        ),
    )


def _current(entries: list[LiveCallEntry], now_ms: int | None) -> list[LiveCallEntry]:
    """Drop entries older than the bound: their hang-up was lost; TTL deletes them in time."""
    now = int(time.time() * 1000) if now_ms is None else now_ms
    oldest = now - LIVE_CALL_HOURS * 3600 * 1000
    kept = [e for e in entries if e.call.since_ms >= oldest]
    return sorted(kept, key=lambda e: (e.call.dialed, e.call.since_ms))


def _voicemail_dict(voicemail: Voicemail) -> dict[str, Any]:
    """The message as the call record keeps it (where it is, how long, what ended it)."""
    return {
        "bucket": voicemail.bucket,
        "key": voicemail.key,
        "prefix": voicemail.prefix,
        "duration_seconds": voicemail.duration_s,
        "ended_by": voicemail.ended_by.value,
    }


def _voicemail_fields(voicemail: Voicemail) -> dict[str, Any]:
    """A ``voicemail`` call event's own fields (shape agreed with the notifier in NOTES.md)."""
    return {
        "recording_bucket": voicemail.bucket,
        "recording_key": voicemail.key,
        "recording_prefix": voicemail.prefix,
        "duration_seconds": voicemail.duration_s,
        "ended_by": voicemail.ended_by.value,
        "max_seconds": voicemail.max_seconds,
    }


def _attempt_dict(attempt: Attempt) -> dict[str, Any]:
    return {"destination": attempt.destination, "result": attempt.result, "ring_ms": attempt.ring_ms}


def check_failed(error: ClientError, index: int) -> bool:
    """Whether item ``index`` of a cancelled transaction is the one whose condition failed."""
    response = error.response
    if response.get("Error", {}).get("Code") != "TransactionCanceledException":
        return False
    reasons = response.get("CancellationReasons")
    if isinstance(reasons, list) and len(reasons) > index:
        return bool(reasons[index].get("Code") == "ConditionalCheckFailed")
    # Some SDKs/emulators only list the reasons in the message: "... [None, ConditionalCheckFailed]".
    listed = re.search(r"\[([^\]]*)\]", str(response.get("Error", {}).get("Message", "")))
    codes = [code.strip() for code in listed.group(1).split(",")] if listed else []
    return len(codes) > index and codes[index] == "ConditionalCheckFailed"


def conflicted(error: ClientError) -> bool:
    """Whether a transaction was cancelled because another one wrote one of its items meanwhile
    (nothing of it was applied; the same request may simply be sent again)."""
    response = error.response
    if response.get("Error", {}).get("Code") != "TransactionCanceledException":
        return False
    reasons = response.get("CancellationReasons")
    if isinstance(reasons, list) and reasons:
        return any(reason.get("Code") == "TransactionConflict" for reason in reasons)
    return "TransactionConflict" in str(response.get("Error", {}).get("Message", ""))


class DynamoCallLog:
    """:class:`~switchboard.ports.CallLog`: a call's record and events in a single request.

    The request carries a client token derived from the transaction id, so if PSTN Audio retries
    the invocation (it does after 5 s without an answer) the same write is not applied twice.
    """

    def __init__(
        self,
        client: Any,
        table_name: str,
        *,
        clock: Callable[[], float] = time.time,
        record_once: bool = False,
        record_fields: Mapping[str, Any] | None = None,
        listed_from_dial: bool = False,
    ) -> None:
        """``record_once``: the first record of a call wins and later ones are dropped without an
        error (Amazon Connect: its retries and the contact-event handler may each record a call;
        their records differ in time, so a client token would refuse rather than dedupe them).
        ``record_fields`` are added to every record (e.g. ``backend``). ``listed_from_dial``: the
        call has a live entry whether or not it was answered (Amazon Connect lists calls from their
        dial), so every record deletes it."""
        self._client = client
        self._table = table_name
        self._clock = clock
        self._record_once = record_once
        self._record_fields = dict(record_fields or {})
        self._listed_from_dial = listed_from_dial

    def record_call(self, transaction_id: str, record: CallRecord) -> None:
        record_item, events, listed = self._record_items(transaction_id, record)
        # A voicemail's record is first-wins too: PSTN Audio retries the recording's last event
        # after 5 s, with another "now", and that retry must neither fail on the client token nor
        # rewrite the event whose message the notifier may already have posted.
        if self._record_once or record.voicemail is not None:
            self._record_first(transaction_id, record_item, events, was_live=listed)
            return
        try:
            if not events and not listed:
                self._client.put_item(TableName=self._table, Item=encode_item(record_item))
                return
            items: list[dict[str, Any]] = [
                {"Put": {"TableName": self._table, "Item": encode_item(record_item)}},
                *({"Put": {"TableName": self._table, "Item": encode_item(e)}} for e in events),
            ]
            if listed:
                items.append({"Delete": {"TableName": self._table, "Key": live_call_key(transaction_id)}})
            token = hashlib.sha256(f"call-record:{transaction_id}".encode()).hexdigest()[:36]
            self._client.transact_write_items(TransactItems=items, ClientRequestToken=token)
        except (ClientError, BotoCoreError) as error:
            raise StorageError(f"could not store the record of call {transaction_id}: {error}") from error

    def record_call_unless(
        self, transaction_id: str, record: CallRecord, condition_check: Mapping[str, Any]
    ) -> bool:
        """:meth:`record_call` (first record wins) in one transaction with ``condition_check`` (a
        ``ConditionCheck`` on another item); False, and nothing written, when that check fails.

        Amazon Connect: the record of a call whose callee hung up, unless a transfer is queued
        for it; the queue is read only when there is one, so a call still reads the table once."""
        record_item, events, listed = self._record_items(transaction_id, record)
        return self._record_first(
            transaction_id, record_item, events, was_live=listed, condition_check=condition_check
        )

    def _record_items(
        self, transaction_id: str, record: CallRecord
    ) -> tuple[dict[str, Any], list[dict[str, Any]], bool]:
        ended_s = record.ended_ms // 1000
        record_item = {
            "pk": f"CALL#{transaction_id}",
            "sk": "RECORD",
            "kind": "call_record",
            "gsi1pk": f"CALLS#{record.dialed}",
            "gsi1sk": f"{_iso_ms(record.started_ms)}#{transaction_id}",
            "transaction_id": transaction_id,
            "dialed": record.dialed,
            "caller": record.caller,
            "outcome": record.outcome.value,
            "attempts": [_attempt_dict(a) for a in record.attempts],
            "destinations_tried": list(record.destinations_tried),
            "started_at": _iso_ms(record.started_ms),
            "ended_at": _iso_ms(record.ended_ms),
            "duration_ms": record.duration_ms,
            "talk_ms": record.talk_ms,
            "ttl": ended_s + CALL_RECORD_DAYS * 86400,
            **({"voicemail": _voicemail_dict(record.voicemail)} if record.voicemail else {}),
            **self._record_fields,
        }
        events = [self._event_item(transaction_id, event) for event in record.events()]
        return record_item, events, record.was_live or self._listed_from_dial

    def _record_first(
        self,
        transaction_id: str,
        record_item: dict[str, Any],
        events: list[dict[str, Any]],
        *,
        was_live: bool,
        condition_check: Mapping[str, Any] | None = None,
    ) -> bool:
        """The record and its events, only if the call has no record yet (one atomic write), and
        only if ``condition_check`` holds: False when it does not."""
        condition = {"ConditionExpression": "attribute_not_exists(pk)"}
        items: list[dict[str, Any]] = [
            {"Put": {"TableName": self._table, "Item": encode_item(record_item), **condition}},
            *({"Put": {"TableName": self._table, "Item": encode_item(e)}} for e in events),
        ]
        if was_live:
            items.append({"Delete": {"TableName": self._table, "Key": live_call_key(transaction_id)}})
        if condition_check is not None:
            items.append({"ConditionCheck": {"TableName": self._table, **condition_check}})
        try:
            if len(items) == 1:
                self._client.put_item(**items[0]["Put"])
            else:
                self._client.transact_write_items(TransactItems=items)
        except ClientError as error:
            if condition_check is not None and check_failed(error, len(items) - 1):
                return False
            if is_condition_failure(error):
                return True  # recorded already (a retry, or the other writer got there first)
            raise StorageError(f"could not store the record of call {transaction_id}: {error}") from error
        except BotoCoreError as error:
            raise StorageError(f"could not store the record of call {transaction_id}: {error}") from error
        return True

    def call_live(self, transaction_id: str, live: LiveCall) -> None:
        """The call is bridged (again, after a transfer): list it until its record is written."""
        item = live_call_item(transaction_id, live)
        try:
            self._client.put_item(TableName=self._table, Item=encode_item(item))
        except (ClientError, BotoCoreError) as error:
            raise StorageError(f"could not list call {transaction_id} as live: {error}") from error

    def live_calls(self, dialed: str | None = None, *, now_ms: int | None = None) -> list[LiveCallEntry]:
        """Calls bridged now, to ``dialed`` or to any of our numbers, ordered by number then age."""
        values: dict[str, Any] = {":live": {"S": LIVE_CALLS}}
        condition = "gsi1pk = :live"
        if dialed:
            condition += " AND begins_with(gsi1sk, :number)"
            values[":number"] = {"S": f"{dialed}#"}
        request: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": RULES_INDEX,
            "KeyConditionExpression": condition,
            "ExpressionAttributeValues": values,
        }
        try:
            found = [_live_entry(item) for item in query_all(self._client, request)]
        except (ClientError, BotoCoreError) as error:
            raise StorageError(f"could not read the live calls: {error}") from error
        return _current(found, now_ms)

    def call_record(self, transaction_id: str) -> dict[str, Any] | None:
        """The stored record of a call that has ended, or None (still going, or unknown)."""
        try:
            item = self._client.get_item(
                TableName=self._table,
                Key={"pk": {"S": f"CALL#{transaction_id}"}, "sk": {"S": "RECORD"}},
                ConsistentRead=True,
            ).get("Item")
        except (ClientError, BotoCoreError) as error:
            raise StorageError(f"could not read the record of call {transaction_id}: {error}") from error
        record = decode_item(item) if item else None
        return record if record is not None and _alive(record, self._clock()) else None

    def live_call(self, transaction_id: str, *, now_ms: int | None = None) -> LiveCallEntry | None:
        """The live call with this transaction id, or None when it is not (or no longer) bridged."""
        try:
            item = self._client.get_item(
                TableName=self._table, Key=live_call_key(transaction_id), ConsistentRead=True
            ).get("Item")
        except (ClientError, BotoCoreError) as error:
            raise StorageError(f"could not read call {transaction_id}: {error}") from error
        if not item:
            return None
        entries = _current([_live_entry(decode_item(item))], now_ms)
        return entries[0] if entries else None

    def recent_calls(self, dialed: str, limit: int = 10) -> list[dict[str, Any]]:
        """The latest call records for one of our numbers, newest first."""
        try:
            page = self._client.query(
                TableName=self._table,
                IndexName=RULES_INDEX,
                KeyConditionExpression="gsi1pk = :calls",
                ExpressionAttributeValues={":calls": {"S": f"CALLS#{dialed}"}},
                ScanIndexForward=False,
                Limit=limit,
            )
        except (ClientError, BotoCoreError) as error:
            raise StorageError(f"could not read recent calls for {dialed}: {error}") from error
        now = self._clock()
        return [record for record in map(decode_item, page.get("Items", [])) if _alive(record, now)]

    def calls_between(self, dialed: str, since_ms: int, until_ms: int) -> list[dict[str, Any]]:
        """Call records of ``dialed`` that started in [since, until), oldest first (every page)."""
        request: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": RULES_INDEX,
            "KeyConditionExpression": "gsi1pk = :calls AND gsi1sk BETWEEN :since AND :until",
            "ExpressionAttributeValues": {
                ":calls": {"S": f"CALLS#{dialed}"},
                ":since": {"S": _iso_ms(since_ms)},
                # The sort key is "<start>#<transaction id>", longer than a bare time: a call that
                # started at ``until`` exactly sorts above it (excluded), one at ``since`` below.
                ":until": {"S": _iso_ms(until_ms)},
            },
        }
        try:
            records = query_all(self._client, request)
        except (ClientError, BotoCoreError) as error:
            raise StorageError(f"could not read the calls of {dialed}: {error}") from error
        now = self._clock()
        return [record for record in records if _alive(record, now)]

    def _event_item(self, transaction_id: str, event: CallEvent) -> dict[str, Any]:
        return {
            "pk": f"CALL#{transaction_id}",
            "sk": f"EVENT#{event.type.value}",
            "kind": "call_event",
            "event_type": event.type.value,
            "event_id": f"{transaction_id}:{event.type.value}",
            "transaction_id": transaction_id,
            "dialed": event.dialed,
            "caller": event.caller,
            "at": _iso_ms(event.at_ms),
            "all_failed": event.all_failed,
            "attempts": [_attempt_dict(a) for a in event.attempts],
            "ttl": event.at_ms // 1000 + CALL_EVENT_DAYS * 86400,
            **({"transfer_target": event.transfer_target} if event.transfer_target else {}),
            # Which backend the call was on (Amazon Connect), so its alert says where calls go.
            **({"backend": self._record_fields["backend"]} if "backend" in self._record_fields else {}),
            **(_voicemail_fields(event.voicemail) if event.voicemail else {}),
        }
