"""The bot's listeners as registered on one Bolt app (no request is sent)."""

from __future__ import annotations

from collections import Counter

from slack_bolt import App
from slack_sdk import WebClient

from bot.auth import Authorizer
from bot.deps import BotDeps
from bot.listeners import register
from switchboard.policy import DestinationPolicy
from switchboard.settings import Settings


def _unused() -> object:
    raise AssertionError("no AWS part is built while registering")


def test_lazy_listener_names_are_unique_because_lambda_finds_them_by_name() -> None:
    # On Lambda, Bolt runs a lazy listener in a second invocation that names it by __name__; two
    # lazy functions with one name would run the wrong one.
    client = WebClient(token="xoxb-test")
    app = App(
        signing_secret="secret", client=client, process_before_response=True, token_verification_enabled=False
    )
    settings = Settings(table_name="table")
    deps = BotDeps(
        settings=settings,
        policy=DestinationPolicy(settings.default_country, settings.allowed_countries),
        authorizer=Authorizer(("U0ADMIN",), client),
        service=_unused,  # type: ignore[arg-type]
        call_log=_unused,  # type: ignore[arg-type]
        transfers=_unused,  # type: ignore[arg-type]
    )
    register(app, deps)
    names = [lazy.__name__ for listener in app._listeners for lazy in listener.lazy_functions]
    assert len(names) >= 7  # /forward, the form, App Home (3), transfers, alert Remove
    assert [name for name, count in Counter(names).items() if count > 1] == []
