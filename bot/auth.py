"""Who may change routing from Slack: ``FORWARD_ADMINS`` users and members of its user groups.

Reading is open to everyone in the workspace; changing where calls go (and transferring live calls)
is not. Group membership comes from ``usergroups.users.list`` and is cached for a few minutes per
container, so a busy channel does not cost one Slack API call per command.

Two failure modes are made loud instead of silent:

* A ``FORWARD_ADMINS`` entry that is not a Slack ID (``u0abc``, ``<@U0ABC>``, ``U0ABC U0DEF``) is
  logged when the container starts and named in every refusal, instead of being dropped quietly.
* When Slack cannot be asked (API error, network error, timeout), a membership read less than
  ``max_stale_seconds`` ago is still trusted, so a hiccup does not lock admins out; an older one is
  not (someone removed from the group an hour ago is no longer an admin), and the refusal then says
  that Slack could not be asked rather than "you may not".
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from http.client import HTTPException
from typing import Any

from slack_sdk.errors import SlackClientError

from bot import views

log = logging.getLogger("bot")

SLACK_ID = re.compile(r"^[UWS][A-Z0-9]{2,}$")
# What the Slack client raises when Slack cannot be asked: API errors, connection failures and
# timeouts (URLError and socket timeouts are OSErrors), truncated responses, unreadable JSON.
LOOKUP_ERRORS = (SlackClientError, OSError, HTTPException, ValueError)


def split_admins(admins: tuple[str, ...]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """``FORWARD_ADMINS`` entries → (valid Slack user/group IDs, malformed entries)."""
    valid = tuple(a for a in admins if SLACK_ID.match(a))
    return valid, tuple(a for a in admins if not SLACK_ID.match(a))


class Authorizer:
    def __init__(
        self,
        admins: tuple[str, ...],
        client: Any,
        ttl_seconds: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
        max_stale_seconds: float = 3600.0,
    ) -> None:
        valid, self.malformed = split_admins(admins)
        for entry in self.malformed:
            log.warning("FORWARD_ADMINS: %s", views.malformed_admin_text(entry))
        self._users = {a for a in valid if a.startswith(("U", "W"))}
        self._groups = [a for a in valid if a.startswith("S")]
        self._client = client
        self._ttl = ttl_seconds
        self._max_stale = max_stale_seconds
        self._clock = clock
        self._members: dict[str, tuple[float, frozenset[str]]] = {}
        self._unanswered: set[str] = set()  # groups Slack could not tell us about (latest try)

    @property
    def configured(self) -> bool:
        return bool(self._users or self._groups)

    def may_change(self, user_id: str) -> bool:
        if user_id in self._users:
            return True
        return any(user_id in self._group_members(group) for group in self._groups)

    def refusal(self, user_id: str) -> str:
        if not self.configured:
            return views.no_admins_text(self.malformed)
        if self._unanswered:
            return views.membership_unknown_text()
        return views.not_an_admin_text(user_id, self.malformed)

    def _group_members(self, group: str) -> frozenset[str]:
        now = self._clock()
        cached = self._members.get(group)
        if cached and now - cached[0] < self._ttl:
            return cached[1]
        try:
            response = self._client.usergroups_users_list(usergroup=group)
            members = frozenset(response.get("users") or [])
        except LOOKUP_ERRORS as error:
            # Fail closed, but keep a recent answer: a Slack hiccup should not lock out admins
            # who were allowed a minute ago, nor keep someone removed long ago in.
            log.warning("could not read the members of user group %s: %r", group, error)
            self._unanswered.add(group)
            if cached and now - cached[0] < self._max_stale:
                return cached[1]
            return frozenset()
        self._unanswered.discard(group)
        self._members[group] = (now, members)
        return members
