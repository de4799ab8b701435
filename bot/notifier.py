"""Channel alerts on call events and routing changes (``bot.notifier.handler``, fed by the table's
DynamoDB stream).

The event-source mapping (``template.yaml`` → ``NotifierCallEvents``) filters the stream down to
INSERTs of ``kind = call_event`` and ``kind = rule_history`` items; this handler checks again
(the filter is a cost saving, not the only guard) and skips anything else as a success.

**Every routing change is announced here, once.** The rule-history item is written in the same
transaction as the rule change, whichever surface made it (Slack, the form, App Home, alert
buttons, the CLI, the expiry job), so announcing from the stream means no surface can forget to,
and a change that was not stored is never announced. The text is
:func:`bot.views.history_text` (who, what, when), a plain channel message outside alert threads.
The rollback of a failed change is announced as such ("did not take effect"): see docs/alerts.md.

**Nothing lost.** Records are processed with Powertools' ``BatchProcessor`` and failures are
reported per record (``batchItemFailures``): a record whose alert could not be posted — Slack
unreachable, 5xx, rate limit beyond what we wait for, ``channel_not_found`` / ``not_in_channel``,
a malformed item — fails alone and is retried by the mapping (bisecting, bounded retries), then
lands in the SQS on-failure destination. It is never acknowledged without a post.

**Nothing doubled.** A failed record makes the mapping re-deliver it *and the records after it*, so
redelivery is normal. Each alert goes through Powertools Idempotency keyed on the event's
``event_id`` (an announcement: its history item's ``pk`` and ``sk``), stored in the shared table
(``pk = IDEMPOTENCY#notifier``, ``sk`` = the hashed key, ``ttl``). That is claim-before-post: an
``INPROGRESS`` record is written first, with a lease that ends when the invocation's time runs
out, then the post, then ``COMPLETED`` with the message's ``ts``. Crash windows, and why this order:

* crash or failure *before* the post → the claim is deleted (exception) or its lease runs out
  (timeout, crash) → the retry posts. Nothing lost.
* a concurrent delivery while the claim is live → ``IdempotencyAlreadyInProgressError`` → that
  record fails and is retried later, by when the first one completed → it is skipped.
* crash in the milliseconds *between* a successful post and writing ``COMPLETED`` → after the lease
  the retry posts again. This is the one duplicate left, chosen over the alternative (marking
  before posting would lose the alert in the same window): a missed alert is worse than a second one.

Once a post succeeded nothing after it may raise (the thread bookkeeping and the parent's count
update log their failures instead), because raising would release the claim and re-post.

**Grouping.** Failures on the same dialed number go into one Slack thread while they keep coming
less than ``WINDOW_SECONDS`` apart (at most ``MAX_THREAD_SECONDS`` after the first): the
first is a channel message, later ones reply in its thread and the parent is updated with the
count. The anchor (:mod:`switchboard.adapters.alert_threads`, which has those limits) is an item
``pk = ALERTTHREAD#<number>``, ``sk = THREAD`` whose ``ttl`` is the end
of the window; concurrent writers are serialised by a ``version`` condition, and the writer opening
a thread holds a short lease so a concurrent alert for the same number waits for its ``ts`` rather
than opening a second thread.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast

import boto3
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import BotoCoreError, ClientError
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot import alerts, views
from bot.alerts import VOICEMAIL_EVENT, Alert, MalformedEventError
from bot.config import slack_credentials
from bot.slack_client import slack_client
from bot.voicemail import VoicemailDelivery, VoicemailEvent
from switchboard.adapters.alert_threads import AlertThreads, Anchor, LostRaceError
from switchboard.adapters.dynamo_codec import decode_item
from switchboard.adapters.dynamodb import RULE_HISTORY_KIND, RuleChange, rule_change_from_item
from switchboard.adapters.transcription import Transcriber
from switchboard.adapters.voicemail_messages import VoicemailMessages
from switchboard.lambda_runtime import BACKGROUND_DYNAMODB, flush_metrics, metrics_namespace
from switchboard.settings import Settings, load

CALL_EVENT_KIND = "call_event"
IDEMPOTENCY_SECONDS = 7 * 86400  # far beyond the stream's 24 h retention and the mapping's retries
IDEMPOTENCY_PK = "IDEMPOTENCY#notifier"
CHANNEL_ERRORS = frozenset({"channel_not_found", "not_in_channel", "is_archived", "channel_is_archived"})
THREAD_GONE_ERRORS = frozenset({"thread_not_found", "message_not_found"})
DEFAULT_TIMEOUT_SECONDS = 120.0

logger = Logger(service="notifier")
metrics = Metrics(service="notifier", namespace=metrics_namespace())


class AlertChannelError(RuntimeError):
    """The bot cannot post in ALERT_CHANNEL (missing, archived, bot not invited)."""


class RetryLaterError(RuntimeError):
    """Another invocation is opening the thread for this number right now; retry the record."""


class _ThreadGoneError(RuntimeError):
    """The thread's parent message no longer exists in Slack."""


# -- posting -------------------------------------------------------------------------------------


class Notifier:
    """Posts alerts to one channel, grouping repeats per number into threads."""

    def __init__(
        self,
        client: WebClient,
        threads: AlertThreads,
        channel: str,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        busy_wait: float = 5.0,
    ) -> None:
        self._client = client
        self._threads = threads
        self._channel = channel
        self._clock = clock
        self._sleep = sleep
        self._busy_wait = busy_wait

    def post(self, alert: Alert) -> dict[str, str]:
        """Post ``alert``; returns ``{"channel", "ts", "thread_ts"}`` (``thread_ts`` empty for a parent)."""
        if not alert.dialed:
            ts = self._post(alerts.render(alert))
            metrics.add_metric(name="AlertsPosted", unit=MetricUnit.Count, value=1)
            return {"channel": self._channel, "ts": ts, "thread_ts": ""}
        waited = 0.0
        for _ in range(20):
            now = self._clock()
            anchor = _readable(self._threads.current(alert.dialed))
            if anchor is not None and anchor.is_open(now, self._channel):
                try:
                    return self._reply(anchor, alert, now)
                except _ThreadGoneError:
                    logger.info("the thread's parent is gone; starting a new thread")
            elif anchor is not None and anchor.is_being_opened(now):
                if waited >= self._busy_wait:
                    raise RetryLaterError(
                        f"a thread for {alert.dialed} is being opened by another invocation"
                    )
                self._sleep(0.25)
                waited += 0.25
                continue
            try:
                claimed = self._threads.claim(alert.dialed, anchor, alert.to_dict(), alert.at, now)
            except LostRaceError:
                continue
            return self._open_thread(claimed, alert)
        raise RetryLaterError(f"the thread anchor for {alert.dialed} keeps changing")

    def post_in_thread(self, dialed: str, rendered: alerts.Rendered) -> dict[str, str]:
        """A message that belongs in the number's open alert thread without being a failure of its
        own (a voicemail): a reply there that does not count as one more failure; a channel
        message when no thread is open (it never opens one: a thread's parent is a failure alert,
        re-rendered when failures join it)."""
        waited = 0.0
        while True:
            now = self._clock()
            anchor = _readable(self._threads.current(dialed)) if dialed else None
            if anchor is not None and anchor.is_being_opened(now) and waited < self._busy_wait:
                self._sleep(0.25)  # the call's bridge_failed alert is being posted: join its thread
                waited += 0.25
                continue
            if anchor is not None and anchor.is_open(now, self._channel):
                try:
                    ts = self._post(rendered, thread_ts=anchor.ts)
                except SlackApiError as error:
                    if _slack_error(error) not in THREAD_GONE_ERRORS:
                        raise
                else:
                    return {"channel": anchor.channel, "ts": ts, "thread_ts": anchor.ts}
            return {"channel": self._channel, "ts": self._post(rendered), "thread_ts": ""}

    def announce(self, change: RuleChange) -> dict[str, str]:
        """Post the announcement of one routing change as a channel message (never in a thread)."""
        ts = self._post(alerts.Rendered(views.history_text(change), []))
        metrics.add_metric(name="ChangesAnnounced", unit=MetricUnit.Count, value=1)
        return {"channel": self._channel, "ts": ts, "thread_ts": ""}

    def _open_thread(self, claimed: Anchor, alert: Alert) -> dict[str, str]:
        try:
            ts = self._post(alerts.render(alert))
        except BaseException:
            self._threads.release(claimed)
            raise
        metrics.add_metric(name="AlertsPosted", unit=MetricUnit.Count, value=1)
        try:
            self._threads.opened(claimed, self._channel, ts)
        except (ClientError, BotoCoreError) as error:
            # Posted: must not raise now. Without its ts the anchor lapses with its lease, and the
            # next failure on this number starts a new thread instead of joining this one.
            logger.error("could not record the alert thread", extra={"reason": str(error), "ts": ts})
        return {"channel": self._channel, "ts": ts, "thread_ts": ""}

    def _reply(self, anchor: Anchor, alert: Alert, now: float) -> dict[str, str]:
        try:
            ts = self._post(alerts.render(alert), thread_ts=anchor.ts)
        except SlackApiError as error:
            if _slack_error(error) in THREAD_GONE_ERRORS:
                raise _ThreadGoneError(anchor.ts) from error
            raise
        metrics.add_metric(name="AlertsPosted", unit=MetricUnit.Count, value=1)
        metrics.add_metric(name="AlertsThreaded", unit=MetricUnit.Count, value=1)
        # Posted: from here on failures are logged, never raised (that would re-post the reply).
        try:
            count = self._threads.joined(anchor, alert.at, now)
        except (ClientError, BotoCoreError) as error:
            logger.error("could not count the alert in its thread", extra={"reason": str(error)})
            count = anchor.count + 1
        parent = alerts.render_parent(Alert.from_dict(anchor.parent), count, alert.at)
        try:
            self._client.chat_update(
                channel=anchor.channel, ts=anchor.ts, text=parent.text, blocks=parent.blocks
            )
        except (SlackApiError, OSError) as error:
            logger.warning("could not update the thread's count", extra={"reason": str(error)})
        return {"channel": anchor.channel, "ts": ts, "thread_ts": anchor.ts}

    def _post(self, rendered: alerts.Rendered, thread_ts: str | None = None) -> str:
        kwargs: dict[str, Any] = {"channel": self._channel, "text": rendered.text}
        if rendered.blocks:
            kwargs["blocks"] = rendered.blocks
        if thread_ts:
            kwargs["thread_ts"] = thread_ts
        try:
            response = self._client.chat_postMessage(**kwargs)
        except SlackApiError as error:
            code = _slack_error(error)
            if code in CHANNEL_ERRORS:
                metrics.add_metric(name="AlertChannelErrors", unit=MetricUnit.Count, value=1)
                logger.error(
                    f"cannot post alerts in ALERT_CHANNEL {self._channel}: {code}. Check the channel "
                    "ID and invite the app to the channel (/invite @switchboard); the record is kept "
                    "and retried",
                    extra={"slack_error": code, "channel": self._channel},
                )
                raise AlertChannelError(f"{code} for channel {self._channel}") from error
            metrics.add_metric(name="AlertPostFailures", unit=MetricUnit.Count, value=1)
            logger.error(
                "Slack refused the alert; the record is kept and retried",
                extra={"slack_error": code, "status": error.response.status_code},
            )
            raise
        except OSError as error:  # URLError, timeouts, connection resets (after the client's retry)
            metrics.add_metric(name="AlertPostFailures", unit=MetricUnit.Count, value=1)
            logger.error("Slack is unreachable; the record is kept and retried", extra={"reason": str(error)})
            raise
        return str(response.get("ts") or "")


def _readable(anchor: Anchor | None) -> Anchor | None:
    """An anchor whose parent alert cannot be read is as good as none: the next claim replaces it."""
    if anchor is None:
        return None
    try:
        Alert.from_dict(anchor.parent)
    except MalformedEventError:
        return anchor.unreadable()
    return anchor


def _slack_error(error: SlackApiError) -> str:
    try:
        return str(error.response.get("error") or "")
    except (AttributeError, TypeError):
        return ""


# -- stream records ------------------------------------------------------------------------------


def inserted_kind(record: dict[str, Any]) -> str:
    """The ``kind`` of the item an INSERT record carries; ``""`` for anything else."""
    if record.get("eventName") != "INSERT":
        return ""
    image = (record.get("dynamodb") or {}).get("NewImage") or {}
    kind = image.get("kind") if isinstance(image, dict) else None
    return str(kind.get("S") or "") if isinstance(kind, dict) else ""


def is_call_event(record: dict[str, Any]) -> bool:
    """The event-source mapping's filter, again: an INSERT of a ``kind = call_event`` item."""
    return inserted_kind(record) == CALL_EVENT_KIND


def _new_image(record: dict[str, Any]) -> dict[str, Any]:
    try:
        return decode_item(record["dynamodb"]["NewImage"])
    except (TypeError, ValueError, AttributeError, KeyError) as error:
        raise MalformedEventError(f"unreadable NewImage: {error!r}") from error


def alert_from_record(record: dict[str, Any]) -> Alert | None:
    """The alert a stream record asks for; ``None`` for records that are not call events."""
    if not is_call_event(record):
        return None
    return Alert.from_item(_new_image(record))


def change_from_record(record: dict[str, Any]) -> dict[str, Any] | None:
    """The rule-history item an INSERT record carries (checked to be readable), ``None`` otherwise.

    The item comes back decoded and with ``event_id`` = its ``pk`` and ``sk``, which name the change
    uniquely (the version is in the ``sk``): the idempotency key of its announcement.
    """
    if inserted_kind(record) != RULE_HISTORY_KIND:
        return None
    item = _new_image(record)
    try:
        rule_change_from_item(item)
    except ValueError as error:
        raise MalformedEventError(str(error)) from error
    return {**item, "event_id": f"{item.get('pk')}|{item.get('sk')}"}


class _Deadline:
    """Stands in for a Lambda context when a local caller passes none: the idempotency lease must
    end, or a crash would block the event for the whole record lifetime."""

    def __init__(self, seconds: float) -> None:
        self._deadline = time.monotonic() + seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


@dataclass
class NotifierFunction:
    """One notifier: its Slack client, its idempotency store and the batch handler using them."""

    settings: Settings
    client: WebClient
    notifier: Notifier
    idempotency: IdempotencyConfig
    deliver: Callable[..., dict[str, str]]  # posts one alert, at most once per event_id
    deliver_voicemail: Callable[..., dict[str, str]]  # one voicemail message + audio, once per event_id
    announce: Callable[..., dict[str, str]]  # announces one change, at most once per history item
    processor: BatchProcessor = field(
        default_factory=lambda: BatchProcessor(
            event_type=EventType.DynamoDBStreams, raise_on_entire_batch_failure=False
        )
    )

    def record_handler(self, record: DynamoDBRecord) -> None:
        raw: dict[str, Any] = record.raw_event
        sequence = (raw.get("dynamodb") or {}).get("SequenceNumber", "")
        try:
            alert = alert_from_record(raw)
            change = change_from_record(raw) if alert is None else None
            voicemail = (
                VoicemailEvent.from_item(_new_image(raw))
                if alert is not None and alert.event_type == VOICEMAIL_EVENT
                else None
            )
        except MalformedEventError as error:
            metrics.add_metric(name="AlertMalformedEvents", unit=MetricUnit.Count, value=1)
            keys = (raw.get("dynamodb") or {}).get("Keys")
            logger.error(
                "malformed stream item; reported as failed", extra={"reason": str(error), "keys": keys}
            )
            raise
        if alert is not None:
            event_id = alert.event_id
        elif change is not None:
            event_id = str(change["event_id"])
        else:
            return  # neither a call event nor a rule change: nothing to say, and nothing to retry
        logger.append_keys(event_id=event_id, sequence_number=sequence)
        try:
            if voicemail is not None:
                self.deliver_voicemail(voicemail=voicemail.to_dict())
                metrics.add_metric(name="VoicemailsDelivered", unit=MetricUnit.Count, value=1)
            elif alert is not None:
                self.deliver(alert=alert.to_dict())
            else:
                self.announce(change=change)
        finally:
            logger.remove_keys(["event_id", "sequence_number"])

    def handler(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        """DynamoDB Streams batch → alerts; returns ``{"batchItemFailures": [...]}``."""
        has_deadline = hasattr(context, "get_remaining_time_in_millis")
        deadline = context if has_deadline else _Deadline(DEFAULT_TIMEOUT_SECONDS)
        self.idempotency.register_lambda_context(cast(LambdaContext, deadline))
        if hasattr(context, "aws_request_id"):
            logger.set_correlation_id(context.aws_request_id)
        try:
            response = cast(
                dict[str, Any],
                process_partial_response(
                    event=event, record_handler=self.record_handler, processor=self.processor, context=context
                ),
            )
        finally:
            flush_metrics(metrics, logger)
        failures = response.get("batchItemFailures") or []
        if failures:
            logger.warning(
                "some records failed and will be retried",
                extra={"failed": len(failures), "records": len(event.get("Records") or [])},
            )
        return response


def create_function(
    settings: Settings, *, client: WebClient | None = None, dynamodb: Any = None
) -> NotifierFunction:
    """The notifier for ``settings`` (needs TABLE_NAME and ALERT_CHANNEL)."""
    if client is None:
        credentials = slack_credentials(settings)
        client = slack_client(credentials.bot_token, settings.slack_api_url, timeout=10)
    if dynamodb is None:
        dynamodb = boto3.client("dynamodb", config=BACKGROUND_DYNAMODB)
    notifier = Notifier(client, AlertThreads(dynamodb, settings.table_name), settings.alert_channel)
    transcriber = (
        Transcriber(
            boto3.client("transcribe"),
            language=settings.transcribe_language,
            job_prefix=settings.transcription_job_prefix,
        )
        if settings.transcribe_language
        else None
    )
    voicemails = VoicemailDelivery(
        client,
        notifier.post_in_thread,
        VoicemailMessages(dynamodb, settings.table_name),
        boto3.client("s3"),
        transcriber,
    )
    persistence = DynamoDBPersistenceLayer(
        table_name=settings.table_name,
        key_attr="pk",
        sort_key_attr="sk",
        static_pk_value=IDEMPOTENCY_PK,
        expiry_attr="ttl",
        boto3_client=dynamodb,
    )
    idempotency = IdempotencyConfig(
        event_key_jmespath="event_id",
        raise_on_no_idempotency_key=True,
        expires_after_seconds=IDEMPOTENCY_SECONDS,
    )

    def post_alert(alert: dict[str, Any]) -> dict[str, str]:
        return notifier.post(Alert.from_dict(alert))

    def announce_change(change: dict[str, Any]) -> dict[str, str]:
        return notifier.announce(rule_change_from_item(change))

    def post_voicemail(voicemail: dict[str, Any]) -> dict[str, str]:
        return voicemails.deliver(VoicemailEvent.from_dict(voicemail))

    # All in one idempotency store, each with its own key prefix (the record keeps the result).
    deliver = idempotent_function(
        post_alert,
        data_keyword_argument="alert",
        persistence_store=persistence,
        config=idempotency,
        key_prefix="switchboard.notifier.alert",
    )
    announce = idempotent_function(
        announce_change,
        data_keyword_argument="change",
        persistence_store=persistence,
        config=idempotency,
        key_prefix="switchboard.notifier.change",
    )
    deliver_voicemail = idempotent_function(
        post_voicemail,
        data_keyword_argument="voicemail",
        persistence_store=persistence,
        config=idempotency,
        key_prefix="switchboard.notifier.voicemail",
    )
    return NotifierFunction(settings, client, notifier, idempotency, deliver, deliver_voicemail, announce)


# -- the Lambda's notifier (once per container) -----------------------------------------------------

function = create_function(load(required=("TABLE_NAME", "ALERT_CHANNEL")))
settings = function.settings
client = function.client


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """``bot.notifier.handler``: the table's stream → alerts and announcements."""
    return function.handler(event, context)
