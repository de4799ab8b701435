"""Scheduled job (``bot.expiry.handler``): put expired forwards' numbers back on the voice connector.

The SMA already treats an expired rule as inactive at the moment it expires (callers hear "not in
service" rather than being forwarded); this job makes the routing follow, so calls reach the phone
system again and removes the rule (history records the actor ``expiry``). The channel hears of the
removal from that history item, through the table's stream (``bot.notifier``), like every other
change.

Each rule is handled on its own: whatever goes wrong with one (refused, storage, routing, a raw
AWS error, a bug) is logged, counted (``ExpiryFailures``) and listed in ONE alert-channel message
per run, and the job goes on with the next rule; the failed ones are retried on the next run.
A rule changed since the job listed it (set again, edited, removed) is skipped: the job removes
only the version it found expired.

The same function runs the hourly re-resolution of forwards that name Slack people (its schedule
passes ``{"job": "people_sync"}``; :func:`people_sync_run`): it changes forwards, posts in the alert
channel and reads Slack exactly as expiry does, so it shares expiry's permissions and its one-at-a-
time concurrency instead of adding a function with a copy of them. It repairs whatever a missed
Slack event left stale (docs/slack.md, "People and user groups").
"""

from __future__ import annotations

import os
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from slack_sdk import WebClient

from bot import views
from bot.config import slack_credentials
from bot.people import SlackPeopleDirectory
from bot.slack_client import post_in_channel, slack_client
from switchboard.people import PeopleResolver, PeopleSync, SyncReport
from switchboard.policy import DestinationPolicy
from switchboard.service import ChangeFailedError, ConcurrentChangeError, ForwardingService, RefusedError
from switchboard.settings import Settings, load

logger = Logger(service="expiry")
metrics = Metrics(service="expiry", namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or "Switchboard")
ACTOR = views.EXPIRY_ACTOR


def expire_forwards(
    service: ForwardingService, settings: Settings, client: WebClient | None
) -> dict[str, list[str]]:
    """Remove every forward whose ``expires_at`` has passed; returns what was done."""
    now = service.now()
    done: dict[str, list[str]] = {"removed": [], "skipped": [], "failed": []}
    reasons: dict[str, str] = {}
    for rule in service.list_forwards():
        if rule.is_active(now):
            continue
        try:
            service.remove_forward(rule.number, actor=ACTOR, expected=rule)
        except ConcurrentChangeError as error:
            logger.info(
                "the forward changed since it was listed; not expiring it",
                extra={"number": rule.number, "listed_version": rule.version, "reason": str(error)},
            )
            done["skipped"].append(rule.number)
            continue
        except Exception as error:  # one rule must never stop the others expiring
            detail = error.detail if isinstance(error, ChangeFailedError) else ""
            logger.exception(
                "could not expire the forward",
                extra={"number": rule.number, "reason": str(error), "detail": detail},
            )
            done["failed"].append(rule.number)
            # Our own errors are plain sentences (a refusal says what to fix); anything else may
            # carry AWS details and stays in the log.
            reasons[rule.number] = str(error) if isinstance(error, (RefusedError, ChangeFailedError)) else ""
            continue
        done["removed"].append(rule.number)
    metrics.add_metric(name="ForwardsExpired", unit=MetricUnit.Count, value=len(done["removed"]))
    if done["failed"]:
        metrics.add_metric(name="ExpiryFailures", unit=MetricUnit.Count, value=len(done["failed"]))
        post_in_channel(
            client,
            settings.alert_channel,
            views.expiry_failures_text(reasons),
            what="the failed expiries",
            log=logger,
        )
    return done


PEOPLE_SYNC_JOB = "people_sync"


def people_sync_run(service: ForwardingService, settings: Settings, client: WebClient) -> SyncReport:
    """Re-resolve every forward that names Slack people from Slack's state now."""
    policy = DestinationPolicy(settings.default_country, settings.allowed_countries)

    def warn(text: str) -> None:
        post_in_channel(client, settings.alert_channel, text, what="a people sync warning", log=logger)

    sync = PeopleSync(service, lambda: PeopleResolver(SlackPeopleDirectory(client), policy), warn=warn)
    report = sync.refresh_all()
    metrics.add_metric(name="PeopleForwardsUpdated", unit=MetricUnit.Count, value=len(report.updated))
    if report.failed or report.kept:
        metrics.add_metric(
            name="PeopleSyncProblems", unit=MetricUnit.Count, value=len(report.failed) + len(report.kept)
        )
    return report


@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, list[str]]:
    from switchboard.wiring import forwarding_service

    settings = load(required=("TABLE_NAME", "SIP_MEDIA_APPLICATION_ID"))
    people_job = isinstance(event, dict) and event.get("job") == PEOPLE_SYNC_JOB
    credentials = slack_credentials(settings) if settings.alert_channel or people_job else None
    client = slack_client(credentials.bot_token, settings.slack_api_url) if credentials else None
    service = forwarding_service(settings, need_routing=True)
    if people_job and client is not None:
        report = people_sync_run(service, settings, client)
        done = {"updated": report.updated, "kept": report.kept, "failed": report.failed}
        logger.info("people sync run", extra=done)
        return done
    result = expire_forwards(service, settings, client)
    logger.info("expiry run", extra=result)
    return result
