"""The buttons on channel alerts: "Try another destination", "Edit forward", "Remove forward".

Same rules as every other way of changing routing from Slack: only ``FORWARD_ADMINS`` (users and
members of its user groups) may; anyone else gets an ephemeral refusal and nothing happens.

* The two modal buttons open the existing forward form (``bot.views.forward_modal``) pre-filled with
  the number's current forward, inside the acknowledgement — Slack's ``trigger_id`` is only valid
  for 3 s. "Try another destination" also takes out the destinations that failed on the alerted
  call, so the first empty line is where the new one goes, and says in a hint which ones it took out;
  nothing changes until the form is submitted (then the usual modal listener applies it, with its
  optimistic-concurrency check against the version the form was opened on).
* "Remove forward" (confirmed in Slack first) acknowledges at once and removes in a lazy listener;
  the outcome is posted in the alert's thread, so the channel sees who acted on which alert.

``bot.listeners`` imports this module, so this module must not import ``bot.listeners`` at runtime
(``BotDeps`` is only needed for typing).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Protocol

from slack_bolt import Ack, App
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot import alerts, failures, views
from switchboard.domain.rules import ForwardRule
from switchboard.service import ChangeResult

if TYPE_CHECKING:
    from bot.listeners import BotDeps

log = logging.getLogger("bot")
_REGISTERED = "_switchboard_alert_actions"


def _user(body: dict[str, Any]) -> str:
    return str(body.get("user", {}).get("id") or body.get("user_id") or "")


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


def prefill(
    rule: ForwardRule | None,
    number: str,
    channel: str,
    failed: tuple[str, ...] = (),
) -> dict[str, Any]:
    """The forward form for ``number`` (fixed), from its current rule if any, minus ``failed``
    destinations."""
    view = views.forward_modal([], rule, channel, number=number)
    blocks: list[dict[str, Any]] = view["blocks"]
    if not failed:
        return view
    current: tuple[str, ...] = tuple(rule.destinations) if rule is not None else ()
    kept = [d for d in current if d not in failed]
    by_id = {block.get("block_id"): block for block in blocks}
    for index, block_id in enumerate(views.DEST_BLOCKS):
        element = by_id[block_id]["element"]
        if index < len(kept):
            element["initial_value"] = kept[index]
        else:
            element.pop("initial_value", None)
    first_free = by_id[views.DEST_BLOCKS[min(len(kept), len(views.DEST_BLOCKS) - 1)]]
    first_free["hint"] = {
        "type": "plain_text",
        "text": f"Taken out after failing on the alerted call: {', '.join(failed)}"[:2000],
    }
    return view


class OpenNumberForm(Protocol):
    def __call__(
        self,
        client: WebClient,
        trigger_id: str,
        user: str,
        number: str,
        channel: str,
        *,
        failed: tuple[str, ...] = (),
    ) -> None: ...


def register_alert_actions(app: App, deps: BotDeps, open_number_form: OpenNumberForm) -> None:
    """Add the alert buttons' listeners to ``app`` (a second call on the same app does nothing).

    ``open_number_form`` is the listeners' own (authorisation, one table read, the form).
    """
    if getattr(app, _REGISTERED, False):
        return
    setattr(app, _REGISTERED, True)

    def refuse(client: WebClient, channel: str, user: str, text: str) -> None:
        try:
            client.chat_postEphemeral(channel=channel or user, user=user, text=text)
        except SlackApiError:
            client.chat_postMessage(channel=user, text=text)

    def open_form(client: WebClient, body: dict[str, Any], number: str, failed: tuple[str, ...] = ()) -> None:
        channel, _ = _where(body)
        open_number_form(client, body["trigger_id"], _user(body), number[:64], channel, failed=failed)

    def ack_edit(ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient) -> None:
        ack()
        open_form(client, body, str(action.get("value", "")))

    def ack_try_another(ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient) -> None:
        ack()
        number, failed = alerts.try_another_value(str(action.get("value", "")))
        open_form(client, body, number, failed)

    def just_ack(ack: Ack) -> None:
        ack()

    def remove(body: dict[str, Any], action: dict[str, Any], client: WebClient) -> None:
        user = _user(body)
        number = str(action.get("value", ""))
        channel, thread = _where(body)
        if not deps.authorizer.may_change(user):
            refuse(client, channel, user, ":no_entry: " + deps.authorizer.refusal(user))
            return
        try:
            result = deps.service().remove_forward(number, actor=user)
        except Exception as error:  # a sentence for the user, the details in the log (bot.failures)
            refuse(client, channel, user, failures.explain(error))
            return
        tell_thread(client, channel, thread, user, result)

    def tell_thread(client: WebClient, channel: str, thread: str, user: str, result: ChangeResult) -> None:
        text = (
            views.change_text(result, user)
            if result.changed
            else f":information_source: <@{user}>: {alerts.escape(result.message)}"
        )
        try:
            client.chat_postMessage(channel=channel, thread_ts=thread or None, text=text)
        except SlackApiError as error:
            log.error("could not post the removal in the alert's thread: %s", error)
            refuse(client, channel, user, text)

    app.action(alerts.EDIT_ACTION)(ack_edit)
    app.action(alerts.TRY_ANOTHER_ACTION)(ack_try_another)
    app.action(alerts.REMOVE_ACTION)(ack=just_ack, lazy=[remove])
