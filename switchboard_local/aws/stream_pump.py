"""Local delivery of DynamoDB stream records to a Lambda handler, like an event-source mapping.

On AWS, ``NotifierCallEvents`` (an ``AWS::Lambda::EventSourceMapping`` in ``template.yaml``) polls
the table's stream and invokes ``bot.notifier.handler`` with batches of records. Locally there is no
mapping, so :class:`StreamPump` plays its part against moto's DynamoDB Streams API (the unmodified
boto3 ``dynamodbstreams`` client: ``DescribeStream`` / ``GetShardIterator`` / ``GetRecords``)::

    pump = StreamPump("switchboard-local", bot.notifier.handler)   # settings from template.yaml
    pump.run_once()        # one poll: read every shard, deliver what matches, retry what failed
    pump.start(); ...; pump.stop()          # or poll in a background thread (``switchboard dev``)

What it reproduces of the mapping, with the mapping's settings read from the template
(:meth:`MappingConfig.from_template`), so local runs exercise the deployed configuration:

* records in the Lambda event shape: ``{"Records": [{"eventID", "eventName", "eventVersion",
  "eventSource": "aws:dynamodb", "awsRegion", "dynamodb": {"ApproximateCreationDateTime" (epoch
  seconds), "Keys", "NewImage", "OldImage", "SequenceNumber", "SizeBytes", "StreamViewType"},
  "eventSourceARN"}]}``;
* ``FilterCriteria``: records no filter matches are dropped before the handler sees them (and count
  as processed), with the event-filtering syntax the template uses (exact values, ``prefix``,
  ``exists``, ``anything-but``; :func:`matches`);
* ``BatchSize``, in-order delivery per shard; ``ReportBatchItemFailures``: processing resumes at the
  lowest failed sequence number, so records after it are delivered again (as on AWS — the handler
  must be idempotent); ``BisectBatchOnFunctionError``: a batch whose invocation raised is split in
  two; ``MaximumRetryAttempts``: a record still failing after that many retries is skipped and a
  record in the shape Lambda sends to an on-failure destination (``DDBStreamBatchInfo``) goes to
  :attr:`StreamPump.failures` and the ``on_failure`` callback.

Differences, on purpose: retries happen on the next poll rather than with Lambda's back-off;
bisection is modelled as narrowing straight down to the failing record; iterators start at
``TRIM_HORIZON`` by default (a local table is new, and a pump started a moment after the first
write must not miss it), where the template's mapping starts at ``LATEST``.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from switchboard_local.aws.template import TEMPLATE, load_template

log = logging.getLogger("switchboard_local.aws.stream_pump")

Handler = Callable[[dict[str, Any], Any], Any]
MAPPING = "NotifierCallEvents"
FUNCTION = "switchboard-notifier"
_MISSING = object()


# -- event filtering ------------------------------------------------------------------------------


def matches(pattern: Mapping[str, Any], data: Any) -> bool:
    """Whether ``data`` (a record as Lambda sees it) matches one event-filtering ``pattern``."""
    if not isinstance(data, Mapping):
        return False
    for key, rule in pattern.items():
        value = data.get(key, _MISSING)
        if isinstance(rule, Mapping):
            if not matches(rule, value):
                return False
        elif isinstance(rule, list):
            if not any(_leaf(condition, value) for condition in rule):
                return False
        else:
            raise ValueError(f"filter pattern values must be objects or arrays, not {rule!r} at {key!r}")
    return True


def _leaf(condition: Any, value: Any) -> bool:
    if isinstance(value, list):
        return any(_leaf(condition, item) for item in value)
    if isinstance(condition, Mapping):
        ((operator, argument),) = condition.items()
        if operator == "exists":
            return (value is not _MISSING) == bool(argument)
        if value is _MISSING:
            return False
        if operator == "prefix":
            return isinstance(value, str) and value.startswith(str(argument))
        if operator == "anything-but":
            excluded = argument if isinstance(argument, list) else [argument]
            return value not in excluded
        raise NotImplementedError(f"filter operator {operator!r} is not supported locally")
    return value is not _MISSING and value == condition


# -- the mapping's settings -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MappingConfig:
    """The event-source mapping settings the pump honours."""

    batch_size: int = 10
    maximum_retry_attempts: int = 5
    bisect_on_function_error: bool = True
    report_batch_item_failures: bool = True
    filters: tuple[Mapping[str, Any], ...] = ()
    function_name: str = FUNCTION

    def accepts(self, record: Mapping[str, Any]) -> bool:
        return not self.filters or any(matches(pattern, record) for pattern in self.filters)

    @classmethod
    def from_template(cls, logical_id: str = MAPPING, path: Path = TEMPLATE) -> MappingConfig:
        resource = load_template(path)["Resources"][logical_id]
        if resource["Type"] != "AWS::Lambda::EventSourceMapping":
            raise ValueError(f"{logical_id} is a {resource['Type']}, not an AWS::Lambda::EventSourceMapping")
        props: dict[str, Any] = resource["Properties"]
        filters = tuple(
            json.loads(entry["Pattern"]) for entry in (props.get("FilterCriteria") or {}).get("Filters") or []
        )
        retries = props.get("MaximumRetryAttempts", -1)
        return cls(
            batch_size=int(props.get("BatchSize", 100)),
            maximum_retry_attempts=10_000
            if int(retries) < 0
            else int(retries),  # -1: until the record expires
            bisect_on_function_error=bool(props.get("BisectBatchOnFunctionError", False)),
            report_batch_item_failures="ReportBatchItemFailures"
            in (props.get("FunctionResponseTypes") or []),
            filters=filters,
        )


# -- the pump -------------------------------------------------------------------------------------


@dataclass
class BatchInvocation:
    """One handler invocation: how many records, which failed, how long it took."""

    records: int
    failed: list[str]
    seconds: float
    error: str = ""


@dataclass
class _Shard:
    shard_id: str
    iterator: str | None
    pending: list[dict[str, Any]] = field(default_factory=list)
    batch_size: int = 0  # lowered by bisection, back to the configured size after a success
    attempts: dict[str, int] = field(default_factory=dict)  # sequence number → failed deliveries
    last_sequence: str = ""  # of the last record read: each poll resumes after it


class StreamPump:
    """Poll ``table_name``'s stream and deliver matching records to ``handler`` (see module doc)."""

    def __init__(
        self,
        table_name: str,
        handler: Handler,
        *,
        config: MappingConfig | None = None,
        interval: float = 0.25,
        starting_position: str = "TRIM_HORIZON",
        streams_client: Any | None = None,
        dynamodb_client: Any | None = None,
        context_factory: Callable[[], Any] | None = None,
        on_failure: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        self.table_name = table_name
        self.handler = handler
        self.config = config or MappingConfig.from_template()
        self.interval = interval
        self.starting_position = starting_position
        self.on_failure = on_failure
        self.failures: list[dict[str, Any]] = []
        self.invocations: deque[BatchInvocation] = deque(maxlen=10_000)
        self.filtered = 0
        self._streams = streams_client
        self._dynamodb = dynamodb_client
        self._context_factory = context_factory or self._default_context
        self._stream_arn = ""
        self._region = "us-east-1"
        self._shards: dict[str, _Shard] = {}
        self._discovered_once = False
        self._discovered_at = 0.0
        self.rediscover_every = 10.0  # seconds; shards split every few hours on AWS, never on moto
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # ---------------------------------------------------------------- public API

    def run_once(self) -> int:
        """One poll of every shard; returns how many records were handed to the handler."""
        with self._lock:
            self._discover()
            delivered = 0
            for shard in list(self._shards.values()):
                self._read(shard)
                delivered += self._deliver(shard)
            return delivered

    def drain(self, timeout: float = 10.0) -> None:
        """Poll until nothing is pending and a poll brings nothing new (tests, demo)."""
        deadline = time.monotonic() + timeout
        while True:
            delivered = self.run_once()
            if delivered == 0 and not self.pending():
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"records still pending after {timeout} s: {self.pending()}")

    def pending(self) -> int:
        return sum(len(shard.pending) for shard in self._shards.values())

    def start(self) -> StreamPump:
        """Poll every :attr:`interval` seconds on a daemon thread until :meth:`stop`."""
        if self._thread is not None:
            return self
        self._stop.clear()
        with self._lock:
            self._discover()  # iterators now, so LATEST means "from start()"
        self._thread = threading.Thread(target=self._loop, name="stream-pump", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def __enter__(self) -> StreamPump:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---------------------------------------------------------------- internals

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_once()
            except Exception:  # the local stack going away, a handler bug: keep polling, say why
                log.exception("stream pump poll failed")
            self._stop.wait(self.interval)

    def _default_context(self) -> Any:
        from switchboard_local.aws.lambda_endpoint import LocalLambdaContext

        return LocalLambdaContext(self.config.function_name, timeout=120.0)

    def _clients(self) -> tuple[Any, Any]:
        if self._streams is None or self._dynamodb is None:
            import boto3

            self._streams = self._streams or boto3.client("dynamodbstreams")
            self._dynamodb = self._dynamodb or boto3.client("dynamodb")
        return self._streams, self._dynamodb

    def _discover(self) -> None:
        if self._discovered_once and time.monotonic() - self._discovered_at < self.rediscover_every:
            return
        streams, dynamodb = self._clients()
        if not self._stream_arn:
            table = dynamodb.describe_table(TableName=self.table_name)["Table"]
            arn = table.get("LatestStreamArn")
            if not arn:
                raise RuntimeError(f"table {self.table_name} has no stream (template.yaml declares one)")
            self._stream_arn = str(arn)
            self._region = self._stream_arn.split(":")[3] or self._region
        kwargs: dict[str, Any] = {"StreamArn": self._stream_arn}
        while True:
            description = streams.describe_stream(**kwargs)["StreamDescription"]
            for shard in description.get("Shards", []):
                shard_id = shard["ShardId"]
                if shard_id in self._shards:
                    continue
                # Shards appearing later are children of split shards: read them from their start.
                position = self.starting_position if not self._discovered_once else "TRIM_HORIZON"
                iterator = streams.get_shard_iterator(
                    StreamArn=self._stream_arn, ShardId=shard_id, ShardIteratorType=position
                )["ShardIterator"]
                self._shards[shard_id] = _Shard(shard_id, iterator, batch_size=self.config.batch_size)
            last = description.get("LastEvaluatedShardId")
            if not last:
                break
            kwargs["ExclusiveStartShardId"] = last
        self._discovered_once = True
        self._discovered_at = time.monotonic()

    def _read(self, shard: _Shard) -> None:
        streams, _ = self._clients()
        if shard.last_sequence:
            # A fresh iterator after the last record read, every poll: moto rolls a refused
            # TransactWriteItems back by swapping in a copy of the table, and an older iterator
            # would go on reading the replaced stream, which no write reaches any more.
            shard.iterator = streams.get_shard_iterator(
                StreamArn=self._stream_arn,
                ShardId=shard.shard_id,
                ShardIteratorType="AFTER_SEQUENCE_NUMBER",
                SequenceNumber=shard.last_sequence,
            )["ShardIterator"]
        while shard.iterator:
            page = streams.get_records(ShardIterator=shard.iterator, Limit=1000)
            shard.iterator = page.get("NextShardIterator")
            records = page.get("Records", [])
            for record in records:
                shard.last_sequence = str((record.get("dynamodb") or {}).get("SequenceNumber", ""))
                event = self._lambda_record(record)
                if self.config.accepts(event):
                    shard.pending.append(event)
                else:
                    self.filtered += 1
            if not records:
                break

    def _lambda_record(self, record: Mapping[str, Any]) -> dict[str, Any]:
        stream = dict(record.get("dynamodb") or {})
        created = stream.get("ApproximateCreationDateTime")
        if isinstance(created, datetime):
            stream["ApproximateCreationDateTime"] = int(created.timestamp())
        return {
            "eventID": record.get("eventID", uuid.uuid4().hex),
            "eventName": record.get("eventName"),
            "eventVersion": "1.1",
            "eventSource": "aws:dynamodb",
            "awsRegion": record.get("awsRegion", self._region),
            "dynamodb": stream,
            "eventSourceARN": self._stream_arn,
        }

    def _deliver(self, shard: _Shard) -> int:
        delivered = 0
        while shard.pending:
            batch = shard.pending[: max(1, shard.batch_size)]
            delivered += len(batch)
            failed_index, counts = self._invoke(shard, batch)
            if failed_index is None:
                del shard.pending[: len(batch)]
                shard.batch_size = self.config.batch_size
                continue
            del shard.pending[:failed_index]  # the records before the failure are done
            if not counts:
                break  # bisected: the smaller batch goes on the next poll
            first = shard.pending[0]
            sequence = str(first["dynamodb"].get("SequenceNumber", ""))
            shard.attempts[sequence] = shard.attempts.get(sequence, 0) + 1
            if shard.attempts[sequence] > self.config.maximum_retry_attempts:
                shard.pending.pop(0)
                shard.attempts.pop(sequence, None)
                self._discard(shard, first)
                continue
            break  # retried on the next poll, like the mapping's retry
        return delivered

    def _invoke(self, shard: _Shard, batch: list[dict[str, Any]]) -> tuple[int | None, bool]:
        """Deliver ``batch``: (``None`` when all succeeded, else the index of the first record to
        retry; whether that failure counts against the record's retry attempts)."""
        started = time.perf_counter()
        try:
            response = self.handler({"Records": batch}, self._context_factory())
        except Exception as error:
            seconds = time.perf_counter() - started
            self.invocations.append(BatchInvocation(len(batch), ["*"], seconds, repr(error)))
            log.warning("handler raised on a batch of %d: %r", len(batch), error)
            if self.config.bisect_on_function_error and len(batch) > 1:
                shard.batch_size = max(1, len(batch) // 2)
                return 0, False  # bisection does not use up retry attempts on AWS either
            return 0, True
        seconds = time.perf_counter() - started
        failures = self._failures(response) if self.config.report_batch_item_failures else []
        self.invocations.append(BatchInvocation(len(batch), failures or [], seconds))
        if failures is None:
            return 0, True  # an unreadable response fails the whole batch, as on AWS
        if not failures:
            return None, True
        sequences = [str(record["dynamodb"].get("SequenceNumber", "")) for record in batch]
        indexes = [sequences.index(item) for item in failures if item in sequences]
        if len(indexes) != len(failures):
            return 0, True  # an identifier that is not in the batch: the whole batch is retried
        return min(indexes), True

    @staticmethod
    def _failures(response: Any) -> list[str] | None:
        if response is None:
            return []
        if not isinstance(response, Mapping):
            return None
        items = response.get("batchItemFailures")
        if items is None:
            return []
        if not isinstance(items, Sequence):
            return None
        identifiers: list[str] = []
        for item in items:
            if not isinstance(item, Mapping) or not item.get("itemIdentifier"):
                return None
            identifiers.append(str(item["itemIdentifier"]))
        return identifiers

    def _discard(self, shard: _Shard, record: dict[str, Any]) -> None:
        """Retries exhausted: what Lambda sends to the on-failure destination (SQS / SNS / S3)."""
        sequence = str(record["dynamodb"].get("SequenceNumber", ""))
        created = record["dynamodb"].get("ApproximateCreationDateTime")
        arrival = (
            datetime.fromtimestamp(float(created), UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z")
            if isinstance(created, int | float)
            else ""
        )
        message = {
            "requestContext": {
                "requestId": str(uuid.uuid4()),
                "functionArn": (
                    f"arn:aws:lambda:{self._region}:123456789012:function:{self.config.function_name}"
                ),
                "condition": "RetryAttemptsExhausted",
                "approximateInvokeCount": self.config.maximum_retry_attempts + 1,
            },
            "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": ""},
            "version": "1.0",
            "timestamp": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "DDBStreamBatchInfo": {
                "shardId": shard.shard_id,
                "startSequenceNumber": sequence,
                "endSequenceNumber": sequence,
                "approximateArrivalOfFirstRecord": arrival,
                "approximateArrivalOfLastRecord": arrival,
                "batchSize": 1,
                "streamArn": self._stream_arn,
            },
        }
        log.error(
            "stream record %s failed %d times; sent to the on-failure destination",
            sequence,
            self.config.maximum_retry_attempts + 1,
        )
        self.failures.append(message)
        if self.on_failure is not None:
            self.on_failure(message)
