"""Composition root of the Slack bot Lambda (``bot.app.handler``, API Gateway HTTP API payload 2.0).

:func:`create_app` builds one bot from its settings; this module builds the Lambda's, once per
container, at import (``app``, ``deps``, ``handler``). Slack credentials come from the environment
or one Secrets Manager secret; AWS clients for the table and Chime SDK Voice are created on first
use, so the acknowledgement of ``/forward <number> to <destination>`` (parse + validate, no AWS
call) never pays for them. Signature verification stays on: Bolt rejects unsigned, forged or stale
(> 5 min) requests with 401.
"""

from __future__ import annotations

import base64
import binascii
import functools
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools import Logger
from slack_bolt import App
from slack_bolt.adapter.aws_lambda import SlackRequestHandler
from slack_sdk import WebClient
from slack_sdk.signature import SignatureVerifier

from bot.auth import Authorizer
from bot.config import SlackCredentials, slack_credentials
from bot.deps import BotDeps
from bot.listeners import register
from bot.people import SlackPeopleDirectory
from bot.slack_client import slack_client
from bot.transfers import Transfers
from switchboard.adapters.voicemail_messages import VoicemailMessages
from switchboard.people import PeopleResolver
from switchboard.policy import DestinationPolicy
from switchboard.ports import CallReader
from switchboard.service import ForwardingService
from switchboard.settings import Settings, load

logger = Logger(service="bot")

# A bot started on the stack's placeholder credentials reads the secret again at most this often.
PLACEHOLDER_RECHECK_SECONDS = 10.0

# Bolt's answer to a request whose signature does not verify.
UNSIGNED: dict[str, Any] = {
    "statusCode": 401,
    "body": '{"error": "invalid request"}',
    "headers": {"content-type": "application/json;charset=utf-8"},
}

# The answer to a signed request whose payload Bolt cannot read (a shape Slack never sends).
MALFORMED: dict[str, Any] = {
    "statusCode": 400,
    "body": '{"error": "malformed request"}',
    "headers": {"content-type": "application/json;charset=utf-8"},
}


@dataclass
class BotApp:
    """One bot: its Bolt app, what its listeners use, and the Lambda entry point to it."""

    settings: Settings
    client: WebClient
    app: App
    deps: BotDeps
    slack_handler: SlackRequestHandler
    forwarding_service: Callable[[], ForwardingService]  # cached: tests clear it with cache_clear()
    credentials: SlackCredentials
    placeholder_checked_at: float = float("-inf")

    def handler(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        if _malformed_timestamp(event):
            return UNSIGNED
        response = self._handle(event, context)
        if response.get("statusCode") == UNSIGNED["statusCode"] and self._replace_placeholders():
            response = self._handle(event, context)
        return response

    def _handle(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        # Bolt catches what listeners raise, but its own reading of a payload (user, team, view,
        # actions) raises IndexError / KeyError / TypeError on shapes Slack never sends; that
        # must be a 400, not an exception (an HTTP 500 for anyone holding a signature).
        try:
            response: dict[str, Any] = self.slack_handler.handle(event, context)  # type: ignore[no-untyped-call]
        except (IndexError, KeyError, TypeError, ValueError, AttributeError):
            # Bolt reads the payload before it checks the signature: a forged request stays a 401.
            if not self._signed(event):
                return UNSIGNED
            logger.exception("a Slack request whose payload cannot be read")
            return MALFORMED
        return response

    def _signed(self, event: dict[str, Any]) -> bool:
        headers = {str(k).lower(): str(v) for k, v in (event.get("headers") or {}).items()}
        body = event.get("body") or ""
        try:
            if event.get("isBase64Encoded"):
                body = base64.b64decode(body).decode()
        except (binascii.Error, UnicodeDecodeError):
            return False
        return SignatureVerifier(self.credentials.signing_secret).is_valid(
            body=body,
            timestamp=headers.get("x-slack-request-timestamp", ""),
            signature=headers.get("x-slack-signature", ""),
        )

    def _replace_placeholders(self) -> bool:
        """Read the secret again if this bot started on the stack's placeholders; True if replaced.

        A container started before the Slack app's values were stored (docs/deploy.md step 3)
        would refuse every request until Lambda recycled it. Only then, and at most every
        :data:`PLACEHOLDER_RECHECK_SECONDS` (forged requests cannot make it read the secret more
        often), the secret is read again and the bot rebuilt with the real values.
        """
        if not self.credentials.placeholder or not self.settings.slack_secret_arn:
            return False
        now = time.monotonic()
        if now - self.placeholder_checked_at < PLACEHOLDER_RECHECK_SECONDS:
            return False
        self.placeholder_checked_at = now
        try:
            fresh = slack_credentials(self.settings, fresh=True)
        except Exception:
            logger.exception("could not read the Slack credentials again")
            return False
        if fresh.placeholder:
            logger.warning("the Slack secret still holds placeholders: store the app's values (README)")
            return False
        rebuilt = create_app(self.settings, credentials=fresh)
        self.credentials, self.client, self.app = rebuilt.credentials, rebuilt.client, rebuilt.app
        self.deps, self.slack_handler = rebuilt.deps, rebuilt.slack_handler
        self.forwarding_service = rebuilt.forwarding_service
        logger.info("Slack credentials read again: the placeholders are replaced")
        return True


def create_app(
    settings: Settings, *, credentials: SlackCredentials | None = None, client: WebClient | None = None
) -> BotApp:
    """The bot for ``settings`` (credentials from them unless given)."""
    credentials = credentials or slack_credentials(settings)
    client = client or slack_client(credentials.bot_token, settings.slack_api_url)
    policy = DestinationPolicy(settings.default_country, settings.allowed_countries)

    @functools.cache
    def forwarding_service() -> ForwardingService:
        from switchboard.wiring import forwarding_service as build

        return build(settings, need_routing=bool(settings.sip_media_application_id))

    @functools.cache
    def call_log() -> CallReader:
        from switchboard.wiring import call_log as build

        return build(settings)

    @functools.cache
    def transfers() -> Transfers:
        from switchboard.wiring import call_control, chime_voice_client, own_numbers, transfer_queue

        chime = chime_voice_client()
        return Transfers(
            call_log(),
            call_control(settings, chime) if settings.sip_media_application_id else None,
            policy,
            deferred=transfer_queue(settings),
            is_ours=own_numbers(settings, chime),
        )

    @functools.cache
    def voicemails() -> VoicemailMessages:
        from switchboard.wiring import dynamodb_client

        return VoicemailMessages(dynamodb_client(), settings.table_name)

    app = App(
        signing_secret=credentials.signing_secret,
        client=client,
        process_before_response=True,  # Lambda: finish the ack before the response; slow work is lazy
        token_verification_enabled=False,  # no auth.test call at cold start
    )
    deps = BotDeps(
        settings=settings,
        policy=policy,
        authorizer=Authorizer(settings.forward_admins, client),  # logs malformed entries at cold start
        service=forwarding_service,
        call_log=call_log,
        transfers=transfers,
        voicemails=voicemails,
        people=lambda: PeopleResolver(SlackPeopleDirectory(client), policy),
        user_groups=SlackPeopleDirectory(client).groups,
    )
    register(app, deps)
    return BotApp(settings, client, app, deps, SlackRequestHandler(app), forwarding_service, credentials)


def _malformed_timestamp(event: dict[str, Any]) -> bool:
    """Slack's timestamp header is ASCII digits. Bolt's verifier passes anything else to int(),
    and the ValueError becomes an HTTP 500 for a request anyone on the internet can send."""
    headers = event.get("headers") if isinstance(event, dict) else None
    if not isinstance(headers, dict):
        return False
    for name, value in headers.items():
        if str(name).lower() == "x-slack-request-timestamp":
            return not (isinstance(value, str) and value.isascii() and value.isdigit())
    return False


# -- the Lambda's bot (once per container) ---------------------------------------------------------

lambda_bot = create_app(load(required=("TABLE_NAME",)))
settings = lambda_bot.settings
client = lambda_bot.client
app = lambda_bot.app
deps = lambda_bot.deps
forwarding_service = lambda_bot.forwarding_service


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return lambda_bot.handler(event, context)
