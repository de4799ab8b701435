"""Amazon Connect flow events as they appear in the wild (issue 15 item 7): ``Queue`` as a string,
an object or null; null endpoints; ``Name`` ``ContactFlowEvent`` or ``ContactFlowExecution``;
``Channel`` ``VOICE`` or ``Voice``; keys nobody documented. Each combination must reach the same
decision through the whole entry point's parsing and the forwarding app."""

from __future__ import annotations

import copy
import itertools
from typing import Any

import pytest

from connect_lambda.events import parse_event
from switchboard.domain.rules import ForwardRule, GreetingMode
from tests.helpers import load_event
from tests.unit.test_connect_forwarding import CALLER, D1, OURS, Flow

QUEUES: list[Any] = [
    None,
    "BasicQueue",
    {"ARN": "arn:aws:connect:us-east-1:123456789012:instance/x/queue/y", "Name": "BasicQueue"},
]
NAMES = ["ContactFlowEvent", "ContactFlowExecution"]
CHANNELS = ["VOICE", "Voice"]


def _variant(queue: Any, name: str, channel: str, *, extra: bool) -> dict[str, Any]:
    event = copy.deepcopy(load_event("connect_forward_start"))
    contact = event["Details"]["ContactData"]
    contact["Queue"] = queue
    contact["Channel"] = channel
    event["Name"] = name
    if extra:
        event["Undocumented"] = {"anything": [1, 2]}
        contact["Tags"] = {"aws:connect:instanceId": "x"}
        contact["SegmentAttributes"] = None
        contact["SystemEndpoint"]["Country"] = "US"
    return event


@pytest.mark.parametrize(
    ("queue", "name", "channel", "extra"),
    list(itertools.product(QUEUES, NAMES, CHANNELS, [False, True])),
)
def test_every_shape_seen_in_the_wild_dials_the_same_way(
    queue: Any, name: str, channel: str, extra: bool
) -> None:
    raw = _variant(queue, name, channel, extra=extra)
    event = parse_event(raw)
    assert (event.purpose_key, event.dialed, event.caller, event.channel) == ("start", OURS, CALLER, "VOICE")

    flow = Flow(ForwardRule(number=OURS, destinations=(D1,), greeting=GreetingMode.NONE))
    reply = flow.app.handle(event)

    assert (reply["op"], reply["dial_to"]) == ("dial", D1)


@pytest.mark.parametrize("endpoint", ["CustomerEndpoint", "SystemEndpoint"])
def test_a_null_endpoint_is_an_empty_address_not_a_crash(endpoint: str) -> None:
    raw = _variant(None, "ContactFlowEvent", "VOICE", extra=False)
    raw["Details"]["ContactData"][endpoint] = None
    event = parse_event(raw)

    reply = Flow(ForwardRule(number=OURS, destinations=(D1,))).app.handle(event)

    if endpoint == "CustomerEndpoint":  # a withheld caller: forwarded as usual, our number shown
        assert (event.caller, reply["op"], reply["cid"]) == ("", "dial", OURS)
    else:  # no dialed number: nothing to forward; the caller hears the error prompt, no dead air
        assert (event.dialed, reply["op"]) == ("", "play_hangup")
