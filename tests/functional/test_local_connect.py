"""The local stack's Amazon Connect side end to end, as an operator would use it: the CLI forwards a
number claimed in the emulated instance (associating the forwarding flow), `switchboard call` runs
a call through the shipped flow and the real Lambda, and the removal puts the old flow back."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from switchboard_local.stack import CONNECT_NUMBERS, LocalStack
from tests.helpers import run_switchboard

pytestmark = pytest.mark.functional

NUMBER = CONNECT_NUMBERS[0]
D1, D2 = "+12065550111", "+13125550122"


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    with LocalStack() as running:
        yield running


def flow_name(stack: LocalStack) -> str:
    return stack.connect.flows.get(stack.connect.flow_of(NUMBER), "")


def test_forward_call_and_remove_a_connect_number(stack: LocalStack) -> None:
    assert flow_name(stack) == "Main IVR"

    done = run_switchboard(stack, "forward", "set", NUMBER, D1, D2, "--timeout", "15", "--greeting", "none")
    assert done.returncode == 0, done.stderr
    assert flow_name(stack) == "switchboard forwarding"

    call = run_switchboard(stack, "call", NUMBER, "--no-answer")
    assert call.returncode == 0, call.stdout + call.stderr
    assert f"dials {D1}" in call.stdout
    assert f"{D1} does not answer" in call.stdout
    assert f"{D2} answers" in call.stdout
    assert "outcome bridged" in call.stdout
    assert "FLAG" not in call.stdout

    removed = run_switchboard(stack, "forward", "remove", NUMBER)
    assert removed.returncode == 0, removed.stderr
    assert flow_name(stack) == "Main IVR"


def test_a_connect_number_without_a_forward_keeps_its_own_flow(stack: LocalStack) -> None:
    call = run_switchboard(stack, "call", NUMBER)

    assert call.returncode == 0, call.stderr
    assert "not the forwarding flow" in call.stdout
