"""What every feature's listeners share: who sent a payload, how to tell them, how a change runs,
and the app-wide middleware and last-resort error answer."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from slack_bolt import Ack, App, BoltResponse
from slack_bolt.request import BoltRequest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot import failures, views
from bot.deps import BotDeps
from switchboard.service import ChangeResult, ForwardingService

log = logging.getLogger("bot")


def user_of(body: dict[str, Any]) -> str:
    """The Slack user who sent a slash command (``user_id``) or an interaction (``user.id``)."""
    return str(body.get("user_id") or (body.get("user") or {}).get("id") or "")


def channel_of(body: dict[str, Any]) -> str:
    """The channel an interaction came from; empty for App Home and modals."""
    return str((body.get("channel") or {}).get("id", "")) if body.get("channel") else ""


def tell(client: WebClient, user: str, channel: str, text: str) -> None:
    """Results of forms, buttons and refusals: ephemeral where it was asked, else (or when that
    fails) a DM."""
    try:
        if channel:
            client.chat_postEphemeral(channel=channel, user=user, text=text)
        else:
            client.chat_postMessage(channel=user, text=text)
    except SlackApiError:
        client.chat_postMessage(channel=user, text=text)


def refusal(deps: BotDeps, user: str) -> str | None:
    """The refusal for someone who may not change routing; None for someone who may."""
    if deps.authorizer.may_change(user):
        return None
    return ":no_entry: " + deps.authorizer.refusal(user)


def apply_change(
    deps: BotDeps, user: str, change: Callable[[ForwardingService], ChangeResult]
) -> tuple[ChangeResult | None, str]:
    """Run a change for ``user``: authorisation, then the service. Returns (result, message)."""
    refused = refusal(deps, user)
    if refused:
        return None, refused
    try:
        result = change(deps.service())
    except Exception as error:  # every failure becomes a sentence (details logged with a reference)
        return None, failures.explain(error)
    return result, views.change_done_text(result)


def just_ack(ack: Ack) -> None:
    ack()


def drop_slack_retries(
    req: BoltRequest, resp: BoltResponse, next: Callable[[], BoltResponse]
) -> BoltResponse:
    # Slack retries a request it thinks timed out; the first delivery is still being handled
    # (Lambda keeps running), so a retry must not apply the change a second time.
    if req.headers.get("x-slack-retry-num"):
        return BoltResponse(status=200, body="", headers={"x-slack-no-retry": "1"})
    return next()


def answer_instead_of_http_500(error: Exception, body: dict[str, Any]) -> BoltResponse:
    """Last resort for an error no listener expected: Slack gets a 200 and the person a sentence
    (with a reference to the log line), never "dispatch_failed" or a closed form."""
    text = failures.explain(error, changing=False)
    if body.get("type") == "view_submission":
        reply: dict[str, Any] = {
            "response_action": "update",
            "view": views.message_modal("Something went wrong", text),
        }
    elif body.get("command"):
        reply = {"text": text}
    else:
        return BoltResponse(status=200, body="")
    return BoltResponse(status=200, body=json.dumps(reply), headers={"content-type": "application/json"})


def register(app: App) -> None:
    app.middleware(drop_slack_retries)
    app.error(answer_instead_of_http_500)
