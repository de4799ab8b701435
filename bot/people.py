"""Slack's directory behind :class:`~switchboard.ports.PeopleDirectory`: profile phones and user groups.

Uses the bot's own ``WebClient`` (:func:`bot.slack_client.slack_client`): ``users.profile.get``
(scope ``users.profile:read``), ``usergroups.users.list`` and ``usergroups.list`` (the handles;
both ``usergroups:read``). Slack's
``missing_scope`` answer becomes :class:`~switchboard.ports.MissingScopeError`, so the person who
named someone hears which scope the app lacks while forwards to numbers keep working.
"""

from __future__ import annotations

from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from switchboard.domain.people import Group, Profile
from switchboard.ports import DirectoryError, MissingScopeError, NotInDirectoryError

PROFILE_SCOPE = "users.profile:read"
GROUPS_SCOPE = "usergroups:read"
_NOT_FOUND = {"user_not_found", "users_not_found", "no_such_subteam", "subteam_not_found"}


def _failure(error: SlackApiError, scope: str) -> DirectoryError:
    data: Any = error.response.data if error.response is not None else {}
    code = str(data.get("error", "")) if isinstance(data, dict) else ""
    if code == "missing_scope":
        return MissingScopeError(str(data.get("needed") or scope))
    if code in _NOT_FOUND:
        return NotInDirectoryError(code)
    return DirectoryError(code or "Slack did not answer")


class SlackPeopleDirectory:
    """One instance per resolver (one request, one sync run): the workspace's group handles are
    listed at most once per instance."""

    def __init__(self, client: WebClient) -> None:
        self._client = client
        self._handles: dict[str, str] | None = None

    def profile(self, user_id: str) -> Profile:
        try:
            response = self._client.users_profile_get(user=user_id)
        except SlackApiError as error:
            raise _failure(error, PROFILE_SCOPE) from error
        except (SlackClientError, OSError) as error:  # unreachable, timed out
            raise DirectoryError("Slack could not be reached") from error
        profile: dict[str, Any] = response.get("profile") or {}
        name = str(profile.get("display_name") or profile.get("real_name") or user_id)
        return Profile(user_id, name, str(profile.get("phone") or ""))

    def group(self, group_id: str, label: str = "") -> Group:
        try:
            response = self._client.usergroups_users_list(usergroup=group_id)
        except SlackApiError as error:
            raise _failure(error, GROUPS_SCOPE) from error
        except (SlackClientError, OSError) as error:  # unreachable, timed out
            raise DirectoryError("Slack could not be reached") from error
        members = tuple(str(user) for user in response.get("users") or ())
        # usergroups.users.list does not say the handle, and a group renamed since a forward named
        # it (``subteam_updated``) must show its new one: one usergroups.list per instance.
        return Group(group_id, self._handle(group_id) or label, members)

    def _handle(self, group_id: str) -> str:
        """The group's handle now; "" when it cannot be listed or is not listed (disabled): the
        caller keeps what it had."""
        if self._handles is None:
            self._handles = dict(self.groups() or ())
        return self._handles.get(group_id, "")

    def groups(self) -> list[tuple[str, str]] | None:
        """The workspace's user groups (id, handle) for the form's picker; None when they cannot be
        listed (no ``usergroups:read``, Slack failing): the form then offers people only."""
        try:
            response = self._client.usergroups_list()
        except (SlackClientError, OSError):
            return None
        return [
            (str(group.get("id")), str(group.get("handle") or ""))
            for group in response.get("usergroups") or ()
            if isinstance(group, dict) and group.get("id") and not group.get("date_delete")
        ]
