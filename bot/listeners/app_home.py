"""App Home: the tab (published when opened) and its buttons: new forward, edit, remove."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient

from bot.deps import BotDeps
from bot.listeners import home_tab
from bot.listeners.common import apply_change, channel_of, just_ack, tell, user_of
from bot.listeners.forward_form import fill_new_form, open_new_form, open_number_form


def register(app: App, deps: BotDeps) -> None:
    def publish_home(event: dict[str, Any], client: WebClient) -> None:
        if event.get("tab", "home") == "home":
            home_tab.publish(deps, client, str(event.get("user", "")))

    def open_new(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        open_new_form(deps, client, body["trigger_id"], user_of(body), "")

    def fill_new(body: dict[str, Any], client: WebClient) -> None:
        fill_new_form(deps, client, body["trigger_id"], user_of(body), "")

    def open_edit(ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient) -> None:
        ack()
        open_number_form(
            deps, client, body["trigger_id"], user_of(body), str(action.get("value", ""))[:64], channel=""
        )

    def remove_from_button(body: dict[str, Any], action: dict[str, Any], client: WebClient) -> None:
        user = user_of(body)
        number = str(action.get("value", ""))
        _, message = apply_change(deps, user, lambda s: s.remove_forward(number, actor=user))
        tell(client, user, channel_of(body), message)
        if body.get("view", {}).get("type") == "home":
            home_tab.publish(deps, client, user)

    app.event("app_home_opened")(ack=just_ack, lazy=[publish_home])
    app.action("home_new")(ack=open_new, lazy=[fill_new])
    app.action("edit_forward")(open_edit)
    app.action("remove_forward")(ack=just_ack, lazy=[remove_from_button])
