"""The bot's listeners, one module per feature, each with ``register(app, deps)`` (the layout of
Slack's Bolt starter template).

Every Slack request is answered within Slack's 3 s: the *ack* functions only parse, validate what
needs no AWS call, and acknowledge (or open a modal, which needs the request's short-lived
trigger_id). Anything that reads the table, changes routing or waits on Slack runs in *lazy*
listeners, which Bolt runs after the acknowledgement. On Lambda that is a second invocation that
names the lazy function by its ``__name__``: every lazy function's name is unique in the app
(tests/unit/test_bot_listeners.py).
"""

from __future__ import annotations

from slack_bolt import App

from bot.deps import BotDeps
from bot.listeners import (
    alert_buttons,
    app_home,
    common,
    forward_command,
    forward_form,
    people_events,
    transfers,
    voicemail_buttons,
)


def register(app: App, deps: BotDeps) -> None:
    common.register(app)
    forward_command.register(app, deps)
    forward_form.register(app, deps)
    app_home.register(app, deps)
    transfers.register(app, deps)
    alert_buttons.register(app, deps)
    voicemail_buttons.register(app, deps)
    people_events.register(app, deps)
