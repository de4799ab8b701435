"""Publishing a user's App Home tab: after opening it, and after a change made from it."""

from __future__ import annotations

import logging

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot import failures, views
from bot.deps import BotDeps
from switchboard.ports import StorageError

log = logging.getLogger("bot")


def publish(deps: BotDeps, client: WebClient, user: str) -> None:
    """The forwards, and the connected calls when they can be read (the tab still shows without)."""
    try:
        rules = deps.service().list_forwards()
    except Exception as error:
        view = views.home_problem_view(failures.explain(error, changing=False))
    else:
        try:
            live = deps.call_log().live_calls()
        except StorageError as error:
            log.error("App Home without live calls: %s", error)
            live = []
        view = views.home_view(rules, deps.authorizer.may_change(user), live)
    try:
        client.views_publish(user_id=user, view=view)
    except SlackApiError as error:
        log.error("could not publish App Home for %s: %s", user, error.response.get("error"))
