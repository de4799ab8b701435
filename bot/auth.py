"""Who may change routing from Slack: ``FORWARD_ADMINS`` users and members of its user groups.

Reading is open to everyone in the workspace; changing where calls go (and, later, transferring
live calls) is not. Group membership comes from ``usergroups.users.list`` and is cached for a few
minutes per container, so a busy channel does not cost one Slack API call per command.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from slack_sdk.errors import SlackApiError

HOW_TO_CONFIGURE = (
    "Ask whoever runs switchboard to add your Slack user ID (U…) or one of your user groups (S…) "
    "to `FORWARD_ADMINS`."
)


class Authorizer:
    def __init__(
        self,
        admins: tuple[str, ...],
        client: Any,
        ttl_seconds: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._users = {a for a in admins if a.startswith(("U", "W"))}
        self._groups = [a for a in admins if a.startswith("S")]
        self._client = client
        self._ttl = ttl_seconds
        self._clock = clock
        self._members: dict[str, tuple[float, frozenset[str]]] = {}

    @property
    def configured(self) -> bool:
        return bool(self._users or self._groups)

    def may_change(self, user_id: str) -> bool:
        if user_id in self._users:
            return True
        return any(user_id in self._group_members(group) for group in self._groups)

    def refusal(self, user_id: str) -> str:
        if not self.configured:
            return "Nobody may change forwards from Slack yet: `FORWARD_ADMINS` is empty. " + HOW_TO_CONFIGURE
        return f"Sorry <@{user_id}>, you may look at forwards but not change them. " + HOW_TO_CONFIGURE

    def _group_members(self, group: str) -> frozenset[str]:
        now = self._clock()
        cached = self._members.get(group)
        if cached and now - cached[0] < self._ttl:
            return cached[1]
        try:
            response = self._client.usergroups_users_list(usergroup=group)
            members = frozenset(response.get("users") or [])
        except SlackApiError:
            # Fail closed, but keep a stale answer if there is one: a Slack hiccup should not
            # lock out admins who were allowed a minute ago.
            return cached[1] if cached else frozenset()
        self._members[group] = (now, members)
        return members
