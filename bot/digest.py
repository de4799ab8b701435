"""Scheduled job (``bot.digest.handler``): once a day, yesterday's calls per number in ALERT_CHANNEL.

Alerts tell people about each failed call as it happens; the digest shows what alerts cannot: how
many calls each forwarded number took, how many reached someone, and whether failures are a pattern
or a one-off. It reads the call records the SMA already writes (one ``Query`` per number on the
``CALLS#<number>`` index) — nothing extra on the call path.

The day is claimed with a conditional marker item (``DIGEST#<date>``, written by
:class:`switchboard.adapters.digest_marker.DynamoDayMarker`) before posting and released
if Slack refuses the post, so a retried or duplicated schedule invocation posts one digest a day.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from aws_lambda_powertools import Logger
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.alerts import escape
from switchboard.domain.durations import describe_duration

logger = Logger(service="digest")
DAY_MS = 24 * 3600 * 1000

REACHED = frozenset({"bridged", "transferred"})
FAILED = frozenset({"no-answer", "all-failed", "transfer-failed", "error", "pool-exhausted"})


class CallRecords(Protocol):
    def calls_between(self, dialed: str, since_ms: int, until_ms: int) -> list[dict[str, Any]]: ...


class DayMarker(Protocol):
    def claim(self, day: str) -> bool:
        """True for the first claim of ``day``; False when a digest for it was already posted."""
        ...

    def release(self, day: str) -> None: ...


@dataclass(frozen=True, slots=True)
class NumberDay:
    """One number's calls over the period."""

    number: str
    calls: int = 0
    reached: int = 0
    failed: int = 0
    abandoned: int = 0
    not_in_service: int = 0
    talk_ms: int = 0
    failed_destinations: tuple[tuple[str, int], ...] = field(default=())

    @property
    def reach_rate(self) -> float:
        answerable = self.calls - self.not_in_service
        return self.reached / answerable if answerable else 0.0


def summarise(number: str, records: Iterable[Mapping[str, Any]]) -> NumberDay:
    """Count one number's call records by outcome; destinations that failed, most often first."""
    calls = reached = failed = abandoned = not_in_service = talk_ms = 0
    failures: dict[str, int] = {}
    for record in records:
        outcome = str(record.get("outcome", ""))
        calls += 1
        if outcome in REACHED:
            reached += 1
        elif outcome in FAILED:
            failed += 1
        elif outcome == "abandoned":
            abandoned += 1
        elif outcome == "not-in-service":
            not_in_service += 1
        talk_ms += int(record.get("talk_ms") or 0)
        for attempt in record.get("attempts") or []:
            result = str(attempt.get("result", ""))
            if result not in ("answered", "abandoned"):
                destination = str(attempt.get("destination", ""))
                failures[destination] = failures.get(destination, 0) + 1
    ranked = tuple(sorted(failures.items(), key=lambda item: (-item[1], item[0])))
    return NumberDay(number, calls, reached, failed, abandoned, not_in_service, talk_ms, ranked)


def _day(epoch_ms: int) -> str:
    return datetime.fromtimestamp(epoch_ms / 1000, UTC).strftime("%Y-%m-%d")


def _stamp(epoch_ms: int) -> str:
    return datetime.fromtimestamp(epoch_ms / 1000, UTC).strftime("%Y-%m-%d %H:%M")


def digest_message(days: list[NumberDay], since_ms: int, until_ms: int) -> tuple[str, list[dict[str, Any]]]:
    """The digest as (notification text, Block Kit blocks); pure, so its wording is unit-tested."""
    busy = [d for d in days if d.calls]
    total = sum(d.calls for d in busy)
    reached = sum(d.reached for d in busy)
    failed = sum(d.failed for d in busy)
    period = f"{_stamp(since_ms)} – {_stamp(until_ms)} UTC"
    text = f":bar_chart: Calls in the last 24 h: {total} ({reached} reached someone, {failed} failed)"
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": ":bar_chart: Daily call digest"}},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": period}]},
    ]
    if not busy:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": "No calls to our numbers."}})
        return text, blocks
    for day in sorted(busy, key=lambda d: (-d.calls, d.number))[:45]:
        parts = [f"*{escape(day.number)}* — {day.calls} call{'s' if day.calls != 1 else ''}"]
        parts.append(f"{day.reached} reached someone ({day.reach_rate:.0%})")
        if day.failed:
            parts.append(f":x: {day.failed} failed")
        if day.abandoned:
            parts.append(f"{day.abandoned} hung up while ringing")
        if day.not_in_service:
            parts.append(f"{day.not_in_service} not in service")
        if day.talk_ms:
            parts.append(f"{describe_duration(day.talk_ms // 1000)} talked")
        line = " · ".join(parts)
        if day.failed_destinations:
            worst = ", ".join(f"{escape(d)} ×{n}" for d, n in day.failed_destinations[:3])
            line += f"\n_did not answer or failed most:_ {worst}"
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": line[:3000]}})
    return text, blocks


def post_digest(
    calls: CallRecords,
    numbers: Iterable[str],
    *,
    marker: DayMarker,
    client: WebClient,
    channel: str,
    now_ms: int,
) -> str:
    """Post the digest of the 24 h before ``now_ms`` once per UTC day; says what it did."""
    until_ms = now_ms
    since_ms = now_ms - DAY_MS
    day = _day(now_ms)
    if not marker.claim(day):
        return f"already posted for {day}"
    try:
        summaries = [summarise(n, calls.calls_between(n, since_ms, until_ms)) for n in sorted(set(numbers))]
        text, blocks = digest_message(summaries, since_ms, until_ms)
        client.chat_postMessage(channel=channel, text=text, blocks=blocks)
    except BaseException:
        marker.release(day)  # let the retry (or the next run) post it
        raise
    return f"posted for {day}: {sum(s.calls for s in summaries)} call(s) on {len(summaries)} number(s)"


def handler(event: dict[str, Any], context: Any) -> dict[str, str]:
    from bot.config import slack_credentials
    from bot.slack_client import slack_client
    from switchboard.adapters.digest_marker import DynamoDayMarker
    from switchboard.settings import load
    from switchboard.wiring import call_log, dynamodb_client, forwarding_service

    settings = load(required=("TABLE_NAME", "ALERT_CHANNEL"))
    credentials = slack_credentials(settings)
    client = slack_client(credentials.bot_token, settings.slack_api_url)
    dynamodb = dynamodb_client()
    service = forwarding_service(settings, need_routing=False, dynamodb=dynamodb)
    # Forwarded numbers (expired ones linger a week) and the managed inventory: where calls come in.
    numbers = {rule.number for rule in service.list_forwards()} | set(settings.managed_numbers)
    try:
        result = post_digest(
            call_log(settings, dynamodb),
            numbers,
            marker=DynamoDayMarker(dynamodb, settings.table_name),
            client=client,
            channel=settings.alert_channel,
            now_ms=int(time.time() * 1000),
        )
    except SlackApiError as error:
        logger.error("could not post the digest", extra={"reason": str(error)})
        raise
    logger.info("digest", extra={"result": result})
    return {"result": result}
