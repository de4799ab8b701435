"""Scheduled job (``bot.expiry.handler``): put expired forwards' numbers back on the voice connector.

The SMA already treats an expired rule as inactive at the moment it expires (callers hear "not in
service" rather than being forwarded); this job makes the routing follow, so calls reach the phone
system again, removes the rule (history records the actor ``expiry``) and tells the channel.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot import views
from bot.config import slack_credentials
from switchboard.service import ChangeFailedError, ForwardingService
from switchboard.settings import Settings, load

logger = Logger(service="expiry")
ACTOR = "expiry"


def expire_forwards(
    service: ForwardingService, settings: Settings, client: WebClient | None
) -> dict[str, list[str]]:
    """Remove every forward whose ``expires_at`` has passed; returns what was done."""
    now = service.now()
    done: dict[str, list[str]] = {"removed": [], "failed": []}
    for rule in service.list_forwards():
        if rule.is_active(now):
            continue
        try:
            result = service.remove_forward(rule.number, actor=ACTOR)
        except ChangeFailedError as error:
            logger.error("could not expire the forward", extra={"number": rule.number, "reason": str(error)})
            done["failed"].append(rule.number)
            continue
        done["removed"].append(rule.number)
        if client is not None and settings.alert_channel and result.changed:
            text = f":alarm_clock: The forward on *{rule.number}* expired. " + views.change_text(
                result, ACTOR
            )
            try:
                client.chat_postMessage(channel=settings.alert_channel, text=text)
            except SlackApiError as error:
                logger.error("could not announce the expiry", extra={"reason": str(error)})
    return done


def handler(event: dict[str, Any], context: Any) -> dict[str, list[str]]:
    from switchboard.wiring import forwarding_service

    settings = load(required=("TABLE_NAME", "SIP_MEDIA_APPLICATION_ID"))
    credentials = slack_credentials(settings) if settings.alert_channel else None
    client = (
        WebClient(token=credentials.bot_token, base_url=settings.slack_api_url or WebClient.BASE_URL)
        if credentials
        else None
    )
    result = expire_forwards(forwarding_service(settings, need_routing=True), settings, client)
    logger.info("expiry run", extra=result)
    return result
