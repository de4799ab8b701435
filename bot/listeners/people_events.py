"""Slack's directory changed: re-resolve the forwards that name that user group or person.

``subteam_members_changed`` and ``subteam_updated`` name a group, ``user_change`` a person. Each is
only a hint of *what* to look at: the lazy listener re-reads Slack's current state
(:class:`switchboard.people.PeopleSync`), never the event's member list, so a duplicate, a late or an
out-of-order event re-resolves to the same state and writes nothing. Bolt has verified the request's
signature before any listener runs; an event changes only rules an admin set, and only to what Slack
says now. The hourly run (``bot.expiry.handler``, ``{"job": "people_sync"}``) repairs missed events.
"""

from __future__ import annotations

from typing import Any

from slack_bolt import App
from slack_sdk import WebClient

from bot.deps import BotDeps
from bot.listeners.common import just_ack, log
from bot.slack_client import post_in_channel
from switchboard.people import PeopleSync, SyncReport


def group_of(event: dict[str, Any]) -> str:
    """The user group an event names (``subteam_id``, or ``subteam.id`` in ``subteam_updated``)."""
    subteam = event.get("subteam")
    if isinstance(subteam, dict) and subteam.get("id"):
        return str(subteam["id"])
    return str(event.get("subteam_id") or "")


def user_of_event(event: dict[str, Any]) -> str:
    user = event.get("user")
    return str(user.get("id") or "") if isinstance(user, dict) else str(user or "")


def people_sync(deps: BotDeps, client: WebClient) -> PeopleSync:
    channel = deps.settings.alert_channel

    def warn(text: str) -> None:
        post_in_channel(client, channel, text, what="a people sync warning", log=log)

    return PeopleSync(deps.service(), deps.people, warn=warn)


def register(app: App, deps: BotDeps) -> None:
    def resync_group(event: dict[str, Any], client: WebClient) -> None:
        group = group_of(event)
        if group:
            _logged(people_sync(deps, client).refresh(groups=[group]), f"group {group}")

    def resync_renamed_group(event: dict[str, Any], client: WebClient) -> None:
        # A lazy function is found by its name on Lambda: one name per listener (subteam_updated).
        resync_group(event, client)

    def resync_user(event: dict[str, Any], client: WebClient) -> None:
        user = user_of_event(event)
        if user:
            _logged(people_sync(deps, client).refresh(users=[user]), f"user {user}")

    app.event("subteam_members_changed")(ack=just_ack, lazy=[resync_group])
    app.event("subteam_updated")(ack=just_ack, lazy=[resync_renamed_group])
    app.event("user_change")(ack=just_ack, lazy=[resync_user])


def _logged(report: SyncReport, what: str) -> None:
    if report.checked:
        log.info(
            "re-resolved forwards naming %s: %d updated, %d unchanged, %d kept, %d failed",
            what,
            len(report.updated),
            len(report.unchanged),
            len(report.kept),
            len(report.failed),
        )
