"""slack/manifest.yml stays in step with what the bot handles."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from bot.commands import ListForwards, ListLiveCalls, RemoveForward, ShowStatus, TransferCall, parse

MANIFEST = yaml.safe_load((Path(__file__).resolve().parents[2] / "slack" / "manifest.yml").read_text())


def test_the_forward_command_and_its_hint_cover_every_subcommand() -> None:
    (command,) = MANIFEST["features"]["slash_commands"]
    assert command["command"] == "/forward"
    assert command["url"].endswith("/slack/events")
    assert len(command["usage_hint"]) <= 1000
    assert len(command["description"]) <= 2000
    hint = command["usage_hint"]
    for word, kind in (
        ("list", ListForwards),
        ("calls", ListLiveCalls),
        ("status NUMBER", ShowStatus),
        ("transfer NUMBER to TARGET", TransferCall),
        ("remove NUMBER", RemoveForward),
    ):
        assert word in hint
        example = word.replace("NUMBER", "+12025550100").replace("TARGET", "+13125550199")
        assert isinstance(parse(example), kind)


def test_events_and_interactivity_go_to_the_bot() -> None:
    settings = MANIFEST["settings"]
    assert settings["interactivity"]["is_enabled"] is True
    assert settings["interactivity"]["request_url"].endswith("/slack/events")
    assert "app_home_opened" in settings["event_subscriptions"]["bot_events"]
    assert MANIFEST["features"]["app_home"]["home_tab_enabled"] is True


def _shipped_slack_calls() -> str:
    """The source of everything that ships (the local stand-in and console do not)."""
    root = Path(__file__).resolve().parents[2]
    paths = [*root.glob("bot/*.py"), *root.glob("switchboard/*.py"), *root.glob("switchboard/adapters/*.py")]
    return "\n".join(path.read_text() for path in paths)


# Scope → the Web API methods (as slack_sdk method names) that need it; a scope is requested only
# when the shipped code calls one of them (Slack's admins see, and must approve, every scope).
SCOPE_NEEDS = {
    "chat:write": ("chat_postMessage", "chat_update", "chat_postEphemeral", "respond"),
    "chat:write.public": ("chat_postMessage",),
    "usergroups:read": ("usergroups_users_list", "usergroups_list"),
    "users:read": ("users_info", "users_list", "users_lookupByEmail"),
    "users.profile:read": ("users_profile_get",),
    # Voicemail recordings shared in the alert thread (the external upload flow).
    "files:write": ("files_upload_v2", "files_getUploadURLExternal", "files_completeUploadExternal"),
}
# Scope → the event subscriptions that need it (Slack refuses a manifest subscribing without it).
EVENT_NEEDS = {
    "usergroups:read": ("subteam_members_changed", "subteam_updated"),
    "users:read": ("user_change",),
}


def test_people_events_are_subscribed_with_their_scopes() -> None:
    events = MANIFEST["settings"]["event_subscriptions"]["bot_events"]
    scopes = MANIFEST["oauth_config"]["scopes"]["bot"]
    assert {"subteam_members_changed", "subteam_updated", "user_change"} <= set(events)
    for scope, needing in EVENT_NEEDS.items():
        if any(event in events for event in needing):
            assert scope in scopes
    (command,) = MANIFEST["features"]["slash_commands"]
    assert command["should_escape"] is True  # people arrive as <@U…> mentions, not as "@alice"


def test_the_app_asks_only_for_scopes_the_code_uses() -> None:
    scopes = MANIFEST["oauth_config"]["scopes"]["bot"]
    assert "commands" in scopes  # the slash command
    source = _shipped_slack_calls()
    for scope in scopes:
        if scope == "commands":
            continue
        assert scope in SCOPE_NEEDS, f"{scope}: say which calls need it"
        used = any(re.search(rf"\b{call}\(", source) for call in SCOPE_NEEDS[scope])
        subscribed = set(EVENT_NEEDS.get(scope, ())) & set(
            MANIFEST["settings"]["event_subscriptions"]["bot_events"]
        )
        assert used or subscribed, f"{scope} is requested but never used"


def test_the_app_asks_for_every_scope_the_code_needs() -> None:
    scopes = set(MANIFEST["oauth_config"]["scopes"]["bot"])
    source = _shipped_slack_calls()
    for scope, calls in SCOPE_NEEDS.items():
        if scope == "chat:write.public":
            continue  # posting in channels the app was not invited to: a choice, not a need
        if any(re.search(rf"\b{call}\(", source) for call in calls):
            assert scope in scopes, f"the code calls {calls} but the manifest lacks {scope}"
