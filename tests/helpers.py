"""Shared test helpers: event fixtures and a driver that plays PSTN Audio's part in a call."""

from __future__ import annotations

import copy
import importlib
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any, Protocol

from switchboard_local.environ import patched_environ
from switchboard_local.pstn.schema import response_errors

EVENTS = Path(__file__).parent / "events"
ROOT = Path(__file__).resolve().parents[1]
# The repository's Python packages, tests aside: what the source-scanning tests read.
PACKAGES = (
    "switchboard",
    "switchboard_local",
    "sma",
    "bot",
    "connect_lambda",
    "deploy",
    "reliability",
    "bench",
)


def python_files(*packages: str) -> list[Path]:
    """Every ``.py`` file below the named top-level folders, in a stable order."""
    return [path for package in packages for path in sorted((ROOT / package).rglob("*.py"))]


@contextmanager
def connect_lambda_modules(prompt_base: str) -> Iterator[tuple[ModuleType, ModuleType]]:
    """``connect_lambda.app`` and ``connect_lambda.contact_events`` loaded afresh (they build their
    clients and read their settings at import) with the prompts at ``prompt_base``."""
    with patched_environ({"CONNECT_PROMPT_BASE_URL": prompt_base}):
        import connect_lambda.app
        import connect_lambda.contact_events

        yield importlib.reload(connect_lambda.app), importlib.reload(connect_lambda.contact_events)


class HasEnv(Protocol):
    """A local stack, or anything else that says which environment points at it."""

    def env(self) -> dict[str, str]: ...


def switchboard_environment(stack: HasEnv, **env: str) -> dict[str, str]:
    """The environment of a fresh process pointed at ``stack`` (and ``env``), as a person would set
    it in another shell: none of this process's AWS settings leak in."""
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("AWS_", "TABLE_NAME", "PROMPT_", "SIP_", "VOICE_"))
    }
    environment.update(stack.env())
    environment.update(env)
    environment["PYTHONPATH"] = str(ROOT)
    return environment


def run_switchboard(stack: HasEnv, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """``python -m switchboard.cli *args`` in a fresh process pointed at ``stack`` (and ``env``)."""
    return subprocess.run(
        [sys.executable, "-m", "switchboard.cli", *args],
        env=switchboard_environment(stack, **env),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def load_event(name: str) -> dict[str, Any]:
    """A fresh copy of ``tests/events/<name>.json``."""
    data: dict[str, Any] = json.loads((EVENTS / f"{name}.json").read_text())
    return data


def action_types(response: dict[str, Any]) -> list[str]:
    return [action["Type"] for action in response["Actions"]]


class CallDriver:
    """Feed events of one call to a handler the way PSTN Audio does.

    It carries the TransactionAttributes of each response into the next event, checks every
    response against the PSTN Audio schema, and keeps the transcript for assertions.
    """

    def __init__(self, handler: Callable[[dict[str, Any], Any], dict[str, Any]], transaction_id: str) -> None:
        self.handler = handler
        self.transaction_id = transaction_id
        self.attributes: dict[str, str] = {}
        self.responses: list[dict[str, Any]] = []
        self.sequence = 0

    def send(self, name_or_event: str | dict[str, Any], **overrides: Any) -> dict[str, Any]:
        event = load_event(name_or_event) if isinstance(name_or_event, str) else copy.deepcopy(name_or_event)
        self.sequence += 1
        event["Sequence"] = self.sequence
        event["CallDetails"]["TransactionId"] = self.transaction_id
        event["CallDetails"]["TransactionAttributes"] = dict(self.attributes)
        for key, value in overrides.items():
            apply_override(event, key, value)
        response = self.handler(event, None)
        errors = response_errors(response)
        assert not errors, f"invalid PSTN Audio response to {event['InvocationEventType']}: {errors}"
        self.attributes = dict(response.get("TransactionAttributes", self.attributes))
        self.responses.append(response)
        return response


def apply_override(event: dict[str, Any], key: str, value: Any) -> None:
    """``to``/``caller`` set LEG-A's To/From; ``error`` sets ActionData.ErrorType; ``destination``
    sets LEG-B's To."""
    participants = event["CallDetails"]["Participants"]
    if key == "to":
        participants[0]["To"] = value
    elif key == "caller":
        participants[0]["From"] = value
    elif key == "error":
        event["ActionData"]["ErrorType"] = value
    elif key == "destination":
        for participant in participants:
            if participant["ParticipantTag"] == "LEG-B":
                participant["To"] = value
        endpoints = event.get("ActionData", {}).get("Parameters", {}).get("Endpoints")
        if endpoints:
            endpoints[0]["Uri"] = value
    else:
        raise KeyError(key)
