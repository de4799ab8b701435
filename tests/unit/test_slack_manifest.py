"""slack/manifest.yml stays in step with what the bot handles."""

from __future__ import annotations

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
