"""The DNIS pool on the shared table: one item per pair, claimed and released with conditional writes.

Item of a pair: ``pk=POOL#<sma number>``, ``sk=PAIR#<connect number>``, ``kind=dnis_pair``,
``sma_number``, ``connect_number``, ``gsi1pk=POOL`` / ``gsi1sk=<sma>#<connect>`` (the listing of
every pair), ``claim_count``, ``added_at``; while free only: ``free_pool=FREE`` and
``free_sk=<random>#<sma>#<connect>`` (the sparse ``free_pairs`` index); while claimed only:
``transaction_id``, ``original_calling_number``, ``claimed_at`` (epoch ms).

**Why a sparse index.** Only free pairs carry ``free_pool``/``free_sk``, so the ``free_pairs`` GSI
holds exactly the free pairs and a claimer reads nothing but candidates (the seed's ``in_use =
"false"`` index also holds every busy pair, under another key). A claim REMOVEs the two attributes,
which takes the pair out of the index; a release sets them again with a fresh random ``free_sk``,
so the index order is reshuffled on every release and, in a pool larger than one page of
candidates, claimers do not all crowd the same first page.

**Why claims are safe.** GSI reads are eventually consistent: a claimer may see a pair that was
claimed a moment ago. What decides is one conditional ``UpdateItem`` on the pair
(``attribute_exists(free_pool)``): of two calls that saw the same free pair, exactly one write
succeeds; the other gets ``ConditionalCheckFailed`` and tries its next candidate. Candidates are
tried in a random order (:func:`~switchboard.domain.pool.claim_order`) to spread concurrent
claimers; the number of writes per claim is bounded (``max_attempts``).

**Why nothing leaks.** When the index shows no free pair, the claimer lists the pool (``gsi1``,
``gsi1pk=POOL``: every pair, free or claimed) and takes over the oldest claim older than
``stale_after_seconds``, with a write conditional on that claim's transaction id *and* timestamp,
so two claimers cannot both take over the same stale claim and a pair released and re-claimed
meanwhile is left alone. A release is conditional on the releasing call still holding the pair,
so a late release (after a takeover) is a harmless no-op.

**Why a retried call gets the same pair.** PSTN Audio sends NEW_INBOUND_CALL again when it had no
answer within 5 s; the retry must not claim a second pair and orphan the first. Each claim write is
a ``TransactWriteItems`` of the pair's conditional update and a **claim marker**
(``pk=POOL#TX#<transaction id>``, ``sk=CLAIM``, ``kind=dnis_claim``, the pair, a one-hour ``ttl``)
put on condition that the transaction has none yet. The first claim costs the same single round
trip as before (twice the write units); a retry's transaction is cancelled by the marker, whose old
image (``ReturnValuesOnConditionCheckFailure``) names the pair; one consistent read confirms the
transaction still holds it, and the retry gets that very claim. If it no longer does (released,
taken over) the marker is replaced with the next claim. No read is added to a first claim.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from switchboard.adapters.dynamo_codec import (
    decode_item,
    encode,
    encode_item,
    is_condition_failure,
    query_all,
)
from switchboard.domain.defaults import DEFAULT_STALE_AFTER_SECONDS
from switchboard.domain.pool import (
    DEFAULT_MAX_ATTEMPTS,
    DnisPair,
    PairClaim,
    PairNotFoundError,
    PoolEntry,
    PoolExhaustedError,
    claim_order,
    stale_claims,
)
from switchboard.ports import StorageError

FREE_INDEX = "free_pairs"
LIST_INDEX = "gsi1"
FREE = "FREE"
POOL = "POOL"
KIND = "dnis_pair"
# Free pairs read per index query. A claim needs one; more candidates mean fewer lost races under
# contention, and 32 small items are a single 4 KB-ish read.
CANDIDATES = 32

_CLAIM = (
    "SET transaction_id = :tx, original_calling_number = :caller, claimed_at = :at, "
    "claim_count = if_not_exists(claim_count, :zero) + :one "
    "REMOVE free_pool, free_sk"
)
MARKER_PREFIX = "POOL#TX#"
MARKER_SK = "CLAIM"
MARKER_KIND = "dnis_claim"
# Retries arrive within PSTN Audio's 20 s; an hour is plenty and TTL tidies the markers away.
MARKER_TTL_SECONDS = 3600

_RELEASE = (
    "SET free_pool = :free, free_sk = :free_sk REMOVE transaction_id, original_calling_number, claimed_at"
)


def pair_key(pair: tuple[str, str]) -> dict[str, Any]:
    sma_number, connect_number = pair
    return {"pk": {"S": f"POOL#{sma_number}"}, "sk": {"S": f"PAIR#{connect_number}"}}


def entry_from_item(item: dict[str, Any]) -> PoolEntry:
    pair = DnisPair(item["sma_number"], item["connect_number"])
    claim = None
    if item.get("transaction_id") is not None and item.get("claimed_at") is not None:
        claim = PairClaim(
            pair=pair,
            transaction_id=item["transaction_id"],
            original_calling_number=item.get("original_calling_number") or "",
            claimed_at=int(item["claimed_at"]),
        )
    return PoolEntry(pair=pair, claim=claim, claim_count=int(item.get("claim_count") or 0))


def marker_key(transaction_id: str) -> dict[str, Any]:
    return {"pk": {"S": f"{MARKER_PREFIX}{transaction_id}"}, "sk": {"S": MARKER_SK}}


@dataclass(frozen=True, slots=True)
class _ClaimWrite:
    """What one claim write found: ``won``, or the pair the transaction's marker names (``held``),
    or neither (another call won the pair)."""

    won: bool = False
    held: DnisPair | None = None


class DynamoDnisPool:
    """:class:`~switchboard.ports.DnisPool` on the shared table (low-level client, own codec).

    ``rng`` orders the candidates and draws the random index keys; pass a seeded one for
    reproducible tests. The instance is safe to share between threads.
    """

    def __init__(
        self,
        client: Any,
        table_name: str,
        *,
        stale_after_seconds: int = DEFAULT_STALE_AFTER_SECONDS,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        rng: random.Random | None = None,
    ) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self._client = client
        self._table = table_name
        self._stale_after = stale_after_seconds
        self._max_attempts = max_attempts
        self._rng = rng or random.Random()  # noqa: S311 - spreading load, not a secret

    @property
    def stale_after_seconds(self) -> int:
        """How old a claim must be before another call may take its pair over."""
        return self._stale_after

    # ------------------------------------------------------------------------------ calls

    def claim(self, transaction_id: str, original_calling_number: str, now_ms: int) -> PairClaim:
        """Give a free pair, else the oldest stale claim's pair, to this call (see the module doc).

        Idempotent per transaction: a call that already holds a pair gets that claim back. Costs
        one index read and, without contention, one transactional write. Raises
        :class:`PoolExhaustedError` when no pair could be had within ``max_attempts`` writes, and
        :class:`~switchboard.ports.StorageError` when the table fails.
        """
        writes = 0
        lost: set[DnisPair] = set()
        stale_marker: DnisPair | None = None  # a marker naming a pair this call no longer holds

        def attempt(pair: DnisPair, previous: PairClaim | None) -> PairClaim | None:
            nonlocal stale_marker
            claim = PairClaim(pair, transaction_id, original_calling_number, now_ms)
            outcome = self._write_claim(claim, previous, replacing=stale_marker)
            if outcome.won:
                return claim
            if outcome.held is not None:
                held = self._held_claim(outcome.held, transaction_id)
                if held is not None:
                    return held
                stale_marker = outcome.held
            else:
                lost.add(pair)
            return None

        while writes < self._max_attempts:
            free = claim_order(self._free_pairs(), self._rng)
            if not free:
                break
            # A pair we just lost is most likely still held (or the index lags): others first.
            candidates = [p for p in free if p not in lost] + [p for p in free if p in lost]
            for pair in candidates[: self._max_attempts - writes]:
                writes += 1
                won = attempt(pair, None)
                if won is not None:
                    return won
        if writes >= self._max_attempts:
            raise PoolExhaustedError(
                f"no DNIS pair claimed: lost {writes} races for free pairs", attempts=writes
            )

        entries = self.list_pairs()
        # A retry finds its own claim here when the index shows nothing free (the pool is full).
        own = next((e.claim for e in entries if e.claim and e.claim.transaction_id == transaction_id), None)
        if own is not None:
            return own
        for entry in stale_claims(entries, now_ms, self._stale_after):
            if writes >= self._max_attempts:
                break
            writes += 1
            won = attempt(entry.pair, entry.claim)
            if won is not None:
                return won
        raise PoolExhaustedError(
            "no free DNIS pair: every pair is held by a call in Amazon Connect", attempts=writes
        )

    def release(self, pair: tuple[str, str], transaction_id: str) -> bool:
        """Free the pair if ``transaction_id`` still holds it; False (no error) if it does not."""
        response = self._conditional_update(
            f"release DNIS pair {DnisPair(*pair)}",
            Key=pair_key(pair),
            UpdateExpression=_RELEASE,
            ConditionExpression="transaction_id = :tx",
            ExpressionAttributeValues={
                ":free": {"S": FREE},
                ":free_sk": {"S": self._free_sk(DnisPair(*pair))},
                ":tx": {"S": transaction_id},
            },
        )
        return response is not None

    def find(self, sma_number: str, connect_number: str) -> PoolEntry | None:
        """The pair as stored (strongly consistent read), or None when it is not in the pool."""
        try:
            response = self._client.get_item(
                TableName=self._table, Key=pair_key((sma_number, connect_number)), ConsistentRead=True
            )
        except (ClientError, BotoCoreError) as error:
            pair = DnisPair(sma_number, connect_number)
            raise StorageError(f"could not read DNIS pair {pair}: {error}") from error
        item = response.get("Item")
        return entry_from_item(decode_item(item)) if item else None

    # ------------------------------------------------------------------------------ operator

    def add(self, pair: DnisPair) -> bool:
        """Put ``pair`` in the pool, free. Idempotent: an existing pair (maybe claimed) is untouched."""
        item = {
            "pk": f"POOL#{pair.sma_number}",
            "sk": f"PAIR#{pair.connect_number}",
            "kind": KIND,
            "sma_number": pair.sma_number,
            "connect_number": pair.connect_number,
            "gsi1pk": POOL,
            "gsi1sk": f"{pair.sma_number}#{pair.connect_number}",
            "free_pool": FREE,
            "free_sk": self._free_sk(pair),
            "claim_count": 0,
            "added_at": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        }
        try:
            self._client.put_item(
                TableName=self._table, Item=encode_item(item), ConditionExpression="attribute_not_exists(pk)"
            )
        except ClientError as error:
            if is_condition_failure(error):
                return False
            raise StorageError(f"could not add DNIS pair {pair}: {error}") from error
        except BotoCoreError as error:
            raise StorageError(f"could not add DNIS pair {pair}: {error}") from error
        return True

    def list_pairs(self) -> list[PoolEntry]:
        """Every pair, free or claimed (eventually consistent), by SMA number then Connect number."""
        entries: list[PoolEntry] = []
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": LIST_INDEX,
            "KeyConditionExpression": "gsi1pk = :pool",
            "ExpressionAttributeValues": {":pool": {"S": POOL}},
        }
        try:
            entries.extend(entry_from_item(item) for item in query_all(self._client, kwargs))
        except (ClientError, BotoCoreError) as error:
            raise StorageError(f"could not list the DNIS pool: {error}") from error
        return sorted(entries, key=lambda entry: entry.pair)

    def force_release(self, pair: tuple[str, str]) -> PairClaim | None:
        """Free ``pair`` whoever holds it; returns the claim dropped (None: it was free)."""
        response = self._conditional_update(
            f"release DNIS pair {DnisPair(*pair)}",
            Key=pair_key(pair),
            UpdateExpression=_RELEASE,
            ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeValues={
                ":free": {"S": FREE},
                ":free_sk": {"S": self._free_sk(DnisPair(*pair))},
            },
            ReturnValues="ALL_OLD",
        )
        if response is None:
            raise PairNotFoundError(f"{DnisPair(*pair)} is not in the DNIS pool")
        return entry_from_item(decode_item(response.get("Attributes", {}))).claim

    # ------------------------------------------------------------------------------ internals

    def _free_sk(self, pair: DnisPair) -> str:
        """A random sort key (then the pair, for readability and uniqueness) in the free index."""
        return f"{self._rng.getrandbits(32):08x}#{pair.sma_number}#{pair.connect_number}"

    def _free_pairs(self) -> list[DnisPair]:
        try:
            page = self._client.query(
                TableName=self._table,
                IndexName=FREE_INDEX,
                KeyConditionExpression="free_pool = :free",
                ExpressionAttributeValues={":free": {"S": FREE}},
                ProjectionExpression="sma_number, connect_number",
                Limit=CANDIDATES,
            )
        except (ClientError, BotoCoreError) as error:
            raise StorageError(f"could not read the free DNIS pairs: {error}") from error
        items = page.get("Items", [])
        return [DnisPair(item["sma_number"]["S"], item["connect_number"]["S"]) for item in items]

    def _write_claim(
        self, claim: PairClaim, previous: PairClaim | None, *, replacing: DnisPair | None
    ) -> _ClaimWrite:
        """One transactional write of the pair's claim and the transaction's marker."""
        values = {
            ":tx": encode(claim.transaction_id),
            ":caller": encode(claim.original_calling_number),
            ":at": encode(claim.claimed_at),
            ":zero": encode(0),
            ":one": encode(1),
        }
        if previous is None:
            condition = "attribute_exists(free_pool)"
        else:  # take over exactly this stale claim, not whatever holds the pair by now
            condition = "transaction_id = :old_tx AND claimed_at = :old_at"
            values[":old_tx"] = encode(previous.transaction_id)
            values[":old_at"] = encode(previous.claimed_at)
        marker: dict[str, Any] = {
            "TableName": self._table,
            "Item": encode_item(
                {
                    "pk": f"{MARKER_PREFIX}{claim.transaction_id}",
                    "sk": MARKER_SK,
                    "kind": MARKER_KIND,
                    "sma_number": claim.pair.sma_number,
                    "connect_number": claim.pair.connect_number,
                    "claimed_at": claim.claimed_at,
                    "ttl": claim.claimed_at // 1000 + MARKER_TTL_SECONDS,
                }
            ),
            "ConditionExpression": "attribute_not_exists(pk)",
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }
        if replacing is not None:  # the marker of a claim this call lost: replace exactly that one
            marker["ConditionExpression"] = (
                "attribute_not_exists(pk) OR (sma_number = :old_sma AND connect_number = :old_connect)"
            )
            marker["ExpressionAttributeValues"] = {
                ":old_sma": encode(replacing.sma_number),
                ":old_connect": encode(replacing.connect_number),
            }
        update = {
            "TableName": self._table,
            "Key": pair_key(claim.pair),
            "UpdateExpression": _CLAIM,
            "ConditionExpression": condition,
            "ExpressionAttributeValues": values,
        }
        try:
            self._client.transact_write_items(TransactItems=[{"Update": update}, {"Put": marker}])
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "TransactionCanceledException":
                raise StorageError(f"could not claim DNIS pair {claim.pair}: {error}") from error
            return _ClaimWrite(held=self._marked_pair(error, claim.transaction_id))
        except BotoCoreError as error:
            raise StorageError(f"could not claim DNIS pair {claim.pair}: {error}") from error
        return _ClaimWrite(won=True)

    def _marked_pair(self, error: ClientError, transaction_id: str) -> DnisPair | None:
        """The pair the transaction's marker names, when the marker is what cancelled the write."""
        reasons = error.response.get("CancellationReasons") or []
        marker = reasons[1] if len(reasons) > 1 else {}
        if marker.get("Code") != "ConditionalCheckFailed":
            return None  # the pair's condition (another call won it) or a conflict: a lost race
        item = marker.get("Item")
        if not item:  # old image not returned: read the marker (only ever on a retry)
            try:
                item = self._client.get_item(
                    TableName=self._table, Key=marker_key(transaction_id), ConsistentRead=True
                ).get("Item")
            except (ClientError, BotoCoreError) as read_error:
                raise StorageError(
                    f"could not read the DNIS claim of {transaction_id}: {read_error}"
                ) from None
            if not item:
                return None
        decoded = decode_item(item)
        return DnisPair(str(decoded["sma_number"]), str(decoded["connect_number"]))

    def _held_claim(self, pair: DnisPair, transaction_id: str) -> PairClaim | None:
        """The claim ``transaction_id`` holds on ``pair``, or None when it no longer holds it."""
        entry = self.find(*pair)
        if entry is None or entry.claim is None or entry.claim.transaction_id != transaction_id:
            return None
        return entry.claim

    def _conditional_update(self, what: str, **request: Any) -> dict[str, Any] | None:
        """``UpdateItem``; None when its condition failed, :class:`StorageError` on other failures."""
        try:
            response: dict[str, Any] = self._client.update_item(TableName=self._table, **request)
        except ClientError as error:
            if is_condition_failure(error):
                return None
            raise StorageError(f"could not {what}: {error}") from error
        except BotoCoreError as error:
            raise StorageError(f"could not {what}: {error}") from error
        return response
