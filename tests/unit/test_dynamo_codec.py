"""switchboard.adapters.dynamo_codec: Python values to DynamoDB attribute values and back."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from switchboard.adapters.dynamo_codec import decode, decode_item, encode, encode_item


@pytest.mark.parametrize(
    ("value", "attribute"),
    [
        (None, {"NULL": True}),
        (True, {"BOOL": True}),
        (False, {"BOOL": False}),  # bool before int: False must not become {"N": "0"}
        (0, {"N": "0"}),
        (-42, {"N": "-42"}),
        (2**63, {"N": "9223372036854775808"}),
        (1.5, {"N": "1.5"}),
        ("", {"S": ""}),
        ("+12025550100", {"S": "+12025550100"}),
        ([], {"L": []}),
        ((1, "a"), {"L": [{"N": "1"}, {"S": "a"}]}),
        ({"a": [None, {"b": False}]}, {"M": {"a": {"L": [{"NULL": True}, {"M": {"b": {"BOOL": False}}}]}}}),
        ({1: "x"}, {"M": {"1": {"S": "x"}}}),  # map keys are always strings
    ],
)
def test_encode(value: Any, attribute: dict[str, Any]) -> None:
    assert encode(value) == attribute


@pytest.mark.parametrize("value", [{1, 2}, b"bytes", object(), Decimal("1.5"), frozenset()])
def test_encode_refuses_what_it_does_not_know(value: Any) -> None:
    with pytest.raises(TypeError, match="cannot store"):
        encode(value)


def test_encode_refuses_unknown_values_nested_too() -> None:
    with pytest.raises(TypeError, match="set"):
        encode({"ok": [1, {"bad": {3}}]})


@pytest.mark.parametrize(
    ("attribute", "value"),
    [
        ({"S": "x"}, "x"),
        ({"N": "7"}, 7),
        ({"N": "-7"}, -7),
        ({"N": "7.25"}, 7.25),
        ({"N": "-0.5"}, -0.5),
        ({"N": "1e3"}, 1000.0),
        ({"BOOL": False}, False),
        ({"NULL": True}, None),
        ({"L": [{"N": "1"}, {"S": "2"}]}, [1, "2"]),
        ({"M": {"k": {"M": {"n": {"N": "3"}}}}}, {"k": {"n": 3}}),
        ({"SS": ["a", "b", "a"]}, {"a", "b"}),
    ],
)
def test_decode(attribute: dict[str, Any], value: Any) -> None:
    decoded = decode(attribute)
    assert decoded == value
    assert type(decoded) is type(value)


@pytest.mark.parametrize("attribute", [{"B": b"x"}, {"NS": ["1"]}, {"BS": []}])
def test_decode_refuses_types_we_never_store(attribute: dict[str, Any]) -> None:
    with pytest.raises(TypeError, match="unsupported DynamoDB attribute type"):
        decode(attribute)


@pytest.mark.parametrize("attribute", [{}, {"S": "a", "N": "1"}])
def test_decode_needs_exactly_one_type_key(attribute: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="unpack"):
        decode(attribute)


def test_encode_item_drops_top_level_none_but_keeps_nested_null() -> None:
    item = encode_item({"pk": "RULE#+12025550100", "expires_at": None, "extra": {"note": None}})
    assert item == {"pk": {"S": "RULE#+12025550100"}, "extra": {"M": {"note": {"NULL": True}}}}


def test_decode_item_decodes_every_attribute() -> None:
    assert decode_item({"pk": {"S": "a"}, "version": {"N": "3"}, "gone": {"NULL": True}}) == {
        "pk": "a",
        "version": 3,
        "gone": None,
    }


json_like = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=25,
)


@given(json_like)
def test_decode_inverts_encode(value: Any) -> None:
    decoded = decode(encode(value))
    assert decoded == value
    if isinstance(value, int) and not isinstance(value, bool):
        assert type(decoded) is int  # versions and timestamps stay ints


@given(st.dictionaries(st.text(min_size=1, max_size=8), json_like, max_size=6))
def test_decode_item_inverts_encode_item_apart_from_dropped_nones(item: dict[str, Any]) -> None:
    assert decode_item(encode_item(item)) == {k: v for k, v in item.items() if v is not None}


def test_a_rule_read_again_is_decoded_again_only_when_its_item_changed() -> None:
    """Call-path containers read the same number's rule on every call: an unchanged item gives the
    rule decoded last time, a changed one (any attribute) is decoded afresh, never served stale."""
    import copy

    from switchboard.adapters.dynamo_codec import encode_item
    from switchboard.adapters.dynamodb import DynamoForwardRepository, rule_to_item
    from switchboard.domain.rules import ForwardRule

    first = ForwardRule(number="+12025550100", destinations=("+12065550111",), version=1)
    second = first.with_changes(destinations=("+13125550122",), version=2)

    class Client:
        def __init__(self) -> None:
            self.item: dict[str, object] = {}

        def get_item(self, **_: object) -> dict[str, object]:
            return {"Item": copy.deepcopy(self.item)}  # a fresh dict per response, as botocore's

    client = Client()
    repository = DynamoForwardRepository(client, "t")
    client.item = encode_item(rule_to_item(first))

    once, again = repository.get(first.number), repository.get(first.number)
    client.item = encode_item(rule_to_item(second))
    changed = repository.get(first.number)
    client.item = {}

    assert once == first
    assert again is once
    assert changed == second
    assert repository.get(first.number) is None
