"""The buttons on channel alerts: "Try another destination", "Edit forward", "Remove forward".

Same rules as every other way of changing routing from Slack: only ``FORWARD_ADMINS`` (users and
members of its user groups) may; anyone else gets an ephemeral refusal and nothing happens.

* The two modal buttons open the forward form (:func:`bot.views.prefill`) with the number's current
  forward, inside the acknowledgement — Slack's ``trigger_id`` is only valid for 3 s. "Try another
  destination" also takes out the destinations that failed on the alerted call; nothing changes
  until the form is submitted (then the form's own listener applies it, with its optimistic-
  concurrency check against the version the form was opened on).
* "Remove forward" (confirmed in Slack first) acknowledges at once and removes in a lazy listener;
  the outcome is posted in the alert's thread, so the channel sees who acted on which alert.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot import alerts, failures, views
from bot.deps import BotDeps
from bot.listeners.common import just_ack, refusal, tell, user_of
from bot.listeners.forward_form import open_number_form
from switchboard.service import ChangeResult

log = logging.getLogger("bot")


def _where(body: dict[str, Any]) -> tuple[str, str]:
    """(channel, thread ts) of the alert the button was on: replies go in the alert's thread (the
    parent's, when the alert is itself a reply in a grouped thread)."""
    channel = str(
        (body.get("channel") or {}).get("id") or (body.get("container") or {}).get("channel_id") or ""
    )
    message = body.get("message") or {}
    thread = str(
        message.get("thread_ts") or message.get("ts") or (body.get("container") or {}).get("message_ts") or ""
    )
    return channel, thread


def _tell_thread(client: WebClient, channel: str, thread: str, user: str, result: ChangeResult) -> None:
    text = (
        views.change_text(result, user)
        if result.changed
        else f":information_source: <@{user}>: {alerts.escape(result.message)}"
    )
    try:
        client.chat_postMessage(channel=channel, thread_ts=thread or None, text=text)
    except SlackApiError as error:
        log.error("could not post the removal in the alert's thread: %s", error)
        tell(client, user, channel, text)


def register(app: App, deps: BotDeps) -> None:
    def open_form(client: WebClient, body: dict[str, Any], number: str, failed: tuple[str, ...] = ()) -> None:
        channel, _ = _where(body)
        open_number_form(
            deps, client, body["trigger_id"], user_of(body), number[:64], channel=channel, failed=failed
        )

    def ack_edit(ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient) -> None:
        ack()
        open_form(client, body, str(action.get("value", "")))

    def ack_try_another(ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient) -> None:
        ack()
        number, failed = alerts.try_another_value(str(action.get("value", "")))
        open_form(client, body, number, failed)

    def remove(body: dict[str, Any], action: dict[str, Any], client: WebClient) -> None:
        user = user_of(body)
        number = str(action.get("value", ""))
        channel, thread = _where(body)
        refused = refusal(deps, user)
        if refused:
            tell(client, user, channel, refused)
            return
        try:
            result = deps.service().remove_forward(number, actor=user)
        except Exception as error:  # a sentence for the user, the details in the log (bot.failures)
            tell(client, user, channel, failures.explain(error))
            return
        _tell_thread(client, channel, thread, user, result)

    app.action(alerts.EDIT_ACTION)(ack_edit)
    app.action(alerts.TRY_ANOTHER_ACTION)(ack_try_another)
    app.action(alerts.REMOVE_ACTION)(ack=just_ack, lazy=[remove])
