"""The "Mark handled" button on voicemail messages (``bot.alerts.render_voicemail``).

Authorisation as for the other alert buttons (``FORWARD_ADMINS``): anyone else gets the ephemeral
refusal and nothing is recorded. The first press records who handled the voicemail and when (one
conditional write, so two people pressing at once cannot both win) and re-renders the message for
everyone: the button gives way to "Handled by @who". A press that lost — two people looking at
the same message — is told who handled it already, so nobody calls the caller back twice.
"Try another destination" and "Edit forward" on the same message are the alert buttons'
listeners (``bot.listeners.alert_buttons``).
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from typing import Any

from slack_bolt import App
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot import alerts, failures
from bot.deps import BotDeps
from bot.listeners.common import channel_of, just_ack, refusal, tell, user_of
from bot.voicemail import refresh_message

log = logging.getLogger("bot")


def register(app: App, deps: BotDeps) -> None:
    def mark_voicemail_handled(body: dict[str, Any], action: dict[str, Any], client: WebClient) -> None:
        user = user_of(body)
        channel = channel_of(body) or str((body.get("container") or {}).get("channel_id") or "")
        refused = refusal(deps, user)
        if refused:
            tell(client, user, channel, refused)
            return
        transaction_id = str(action.get("value", ""))[:200]
        if deps.voicemails is None or not transaction_id:
            tell(client, user, channel, alerts.VOICEMAIL_GONE)
            return
        store = deps.voicemails()
        now = datetime.fromtimestamp(time.time(), UTC).isoformat(timespec="milliseconds")
        now = now.replace("+00:00", "Z")
        try:
            voicemail, _ = store.mark_handled(transaction_id, user, now)
        except Exception as error:  # a sentence for the user, the details in the log (bot.failures)
            tell(client, user, channel, failures.explain(error, changing=False))
            return
        if voicemail is None:
            tell(client, user, channel, alerts.VOICEMAIL_GONE)
            return
        try:
            refresh_message(client, store, transaction_id)
        except SlackApiError as error:
            log.error("could not update the voicemail message: %s", error)
        tell(client, user, channel, alerts.voicemail_handled_text(voicemail, user))

    app.action(alerts.HANDLED_ACTION)(ack=just_ack, lazy=[mark_voicemail_handled])
