"""FORWARD_ADMINS and group membership: malformed entries are named, stale membership expires."""

from __future__ import annotations

import logging
import urllib.error
from typing import Any

import pytest
from slack_sdk.errors import SlackApiError

from bot.auth import Authorizer, split_admins


class Groups:
    """usergroups.users.list that answers, or fails the way the Slack client fails."""

    def __init__(self, members: dict[str, list[str]]) -> None:
        self.members = members
        self.error: Exception | None = None
        self.asked = 0

    def usergroups_users_list(self, usergroup: str) -> dict[str, Any]:
        self.asked += 1
        if self.error is not None:
            raise self.error
        return {"ok": True, "users": self.members.get(usergroup, [])}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_malformed_entries_are_split_off() -> None:
    assert split_admins(("U0ADMIN", "u0lower", "<@U0X>", "U1 U2", "S0OPS", "W0ENT")) == (
        ("U0ADMIN", "S0OPS", "W0ENT"),
        ("u0lower", "<@U0X>", "U1 U2"),
    )


def test_a_malformed_entry_is_logged_at_start_and_named_in_the_refusal(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="bot"):
        authorizer = Authorizer(("U0ADMIN", "u0lower"), Groups({}))
    assert "`u0lower` is not a Slack user ID" in caplog.text
    assert authorizer.may_change("U0ADMIN")
    refusal = authorizer.refusal("U0OTHER")
    assert "you may look at forwards but not change them" in refusal
    assert "`u0lower` is not a Slack user ID" in refusal


def test_only_malformed_entries_is_not_called_empty() -> None:
    refusal = Authorizer(("<@U0ADMIN>",), Groups({})).refusal("U0ADMIN")
    assert "`FORWARD_ADMINS` has no valid entry" in refusal
    assert "is empty" not in refusal


@pytest.mark.parametrize(
    "error",
    [
        SlackApiError("ratelimited", {"ok": False, "error": "ratelimited"}),
        urllib.error.URLError("connection refused"),
        TimeoutError("timed out"),
    ],
)
def test_membership_survives_a_slack_hiccup_for_an_hour_not_for_ever(error: Exception) -> None:
    groups, clock = Groups({"S0OPS": ["U0MEMBER"]}), Clock()
    authorizer = Authorizer(("S0OPS",), groups, ttl_seconds=300, clock=clock, max_stale_seconds=3600)
    assert authorizer.may_change("U0MEMBER")
    groups.error = error
    clock.now += 600  # past the cache, Slack failing: the recent answer is kept
    assert authorizer.may_change("U0MEMBER")
    clock.now += 3600  # an hour and more since Slack last answered: no longer trusted
    assert not authorizer.may_change("U0MEMBER")
    assert "Slack could not tell me just now" in authorizer.refusal("U0MEMBER")
    groups.error = None
    assert authorizer.may_change("U0MEMBER")
    assert "you may look at forwards" in authorizer.refusal("U0STRANGER")
