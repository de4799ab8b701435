"""Transfers of connected calls: the "Transfer" button's form, and the transfer itself (also run by
``/forward transfer``), which reports how it went and announces it in the alert channel."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient

from bot import failures, views
from bot.deps import BotDeps
from bot.listeners import home_tab
from bot.listeners.common import channel_of, refusal, tell, user_of
from bot.slack_client import post_in_channel
from bot.transfers import Result, TransferRefusedError, parse_target, ringing_refusal
from switchboard.settings import ConfigurationError

log = logging.getLogger("bot")


def transfer(
    deps: BotDeps,
    client: WebClient,
    user: str,
    reference: str,
    target_text: str,
    *,
    say: Callable[[str], None],
) -> None:
    """Authorise, find the call, ask the SMA to transfer it, then report how it went."""
    refused = refusal(deps, user)
    if refused:
        say(refused)
        return
    try:
        transfers = deps.transfers()
    except ConfigurationError as error:
        say(views.transfers_not_set_up_text(str(error)))
        return
    try:
        target = parse_target(target_text, deps.policy, deps.settings)
        entry = transfers.find_call(reference)
        transfers.request(entry, target, actor=user)
    except TransferRefusedError as error:
        say(views.refused_text(str(error)))
        return
    if entry.on_connect:
        # Carried out when the callee hangs up, maybe minutes from now: nothing to wait for here.
        say(views.transfer_queued(entry, str(target), deps.settings.alert_channel))
        post_in_channel(
            client,
            deps.settings.alert_channel,
            views.transfer_text(entry, str(target), user, views.queued_result(entry)),
            what="the transfer",
            log=log,
        )
        return
    say(views.transfer_started(entry, str(target)))
    outcome = transfers.await_outcome(entry, target)
    connected = {Result.CONNECTED: True, Result.FAILED: False}.get(outcome.result)
    say(views.transfer_outcome(connected, outcome.detail))
    post_in_channel(
        client,
        deps.settings.alert_channel,
        views.transfer_text(entry, str(target), user, outcome.detail),
        what="the transfer",
        log=log,
    )


def _form_target(deps: BotDeps, form: views.TransferInput) -> None:
    """Raises TransferRefusedError for a target the transfer form must not accept."""
    if len(form.target) > views.MAX_INPUT_LENGTH:  # a forged submission ignores max_length
        raise TransferRefusedError("That is too long for a phone number or a SIP user.")
    parse_target(form.target, deps.policy, deps.settings)


def open_transfer_form(deps: BotDeps, client: WebClient, body: dict[str, Any], transaction_id: str) -> None:
    """(ack) The transfer form for a connected call, or why there is none."""
    user = user_of(body)
    channel = channel_of(body)
    refused = refusal(deps, user)
    if refused:
        tell(client, user, channel, refused)
        return
    try:
        entry = deps.call_log().live_call(transaction_id)
    except Exception as error:
        tell(client, user, channel, failures.explain(error, changing=False))
        return
    if entry is None:
        tell(client, user, channel, views.call_ended_text(transaction_id))
        return
    ringing = ringing_refusal(entry, int(time.time() * 1000))
    if ringing:
        tell(client, user, channel, views.refused_text(ringing))
        return
    from_home = body.get("view", {}).get("type") == "home"
    client.views_open(
        trigger_id=body["trigger_id"], view=views.transfer_modal(entry, channel, from_home=from_home)
    )


def register(app: App, deps: BotDeps) -> None:
    def open_transfer(ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient) -> None:
        ack()
        open_transfer_form(deps, client, body, str(action.get("value", ""))[:64])

    def ack_transfer_modal(ack: Ack, view: dict[str, Any]) -> None:
        form = views.read_transfer_modal(view)
        try:
            _form_target(deps, form)
        except TransferRefusedError as error:
            ack(response_action="errors", errors={views.TRANSFER_BLOCK: str(error)[:150]})
            return
        ack()

    def apply_transfer_modal(body: dict[str, Any], view: dict[str, Any], client: WebClient) -> None:
        form = views.read_transfer_modal(view)
        user = user_of(body)
        try:
            _form_target(deps, form)
        except TransferRefusedError:
            return  # sent back with the error by the ack
        try:
            transfer(
                deps,
                client,
                user,
                form.transaction_id,
                form.target,
                say=lambda text: tell(client, user, form.channel_id, text),
            )
        except Exception as error:
            tell(client, user, form.channel_id, failures.explain(error))
        if form.from_home:
            home_tab.publish(deps, client, user)  # the call now shows its new callee (or is gone)

    app.action(views.TRANSFER_ACTION)(open_transfer)
    app.view(views.TRANSFER_CALLBACK)(ack=ack_transfer_modal, lazy=[apply_transfer_modal])
