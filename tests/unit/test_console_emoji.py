"""The terminal Slack console shows every emoji code the bot writes as a picture, as Slack does."""

from __future__ import annotations

import re
from pathlib import Path

from switchboard_local.slack.console import EMOJI

BOT = Path(__file__).resolve().parents[2] / "bot"
# Sphinx roles in docstrings (:class:`…`) and Slack's <tel:…> links look like emoji codes.
NOT_EMOJI = {"class", "data", "meth", "mod", "func", "attr", "tel"}


def test_every_emoji_the_bot_uses_has_a_picture_in_the_console() -> None:
    used = {
        code
        for path in BOT.glob("*.py")
        for code in re.findall(r":([a-z][a-z0-9_+-]*):", path.read_text())
        if code not in NOT_EMOJI
    }
    assert used, "the scan found no emoji at all"
    assert sorted(used - set(EMOJI)) == []
